"""Discover: config dirs -> [SourceFile].

Layouts (see shared/corpus/FORMAT.md §1):

- ``projects/<dir>/<uuid>.jsonl``                         main session
- ``projects/<dir>/<uuid>/subagents/**/agent-*.jsonl``    subagent (new layout, + ``.meta.json``)
- ``projects/<dir>/agent-*.jsonl``                        subagent (legacy flat layout)
- any other ``*.jsonl`` under ``projects/``               e.g. ccusage's ``project/session/chat.jsonl``
- ``history.jsonl``, ``tasks/<session>/*.json``, ``todos/*.json``
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)

log = logging.getLogger(__name__)

# kinds
MAIN = "main"
SUBAGENT = "subagent"  # new layout, under <session>/subagents/
LEGACY_AGENT = "legacy_agent"  # projects/<dir>/agent-*.jsonl
OTHER = "other"  # any other jsonl under projects/
HISTORY = "history"
TASK = "task"
TODO = "todo"

TRANSCRIPT_KINDS = (MAIN, SUBAGENT, LEGACY_AGENT, OTHER)


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: Path
    kind: str
    root: Path  # the config dir it was found in
    project: str = ""  # dir name under projects/ ("" for history/todos)
    session_hint: str = ""  # session id known from the layout ("" when only the lines know)
    agent_id: str = ""  # for subagent files: the id in agent-<id>.jsonl

    @property
    def key(self) -> str:
        return str(self.path)


def _utf8(name: str) -> bool:
    """Whether a file name is valid UTF-8. Claude Code writes only such names; one that is not (bytes Python
    keeps as surrogates) cannot be stored in a table or a JSON manifest, so its file is skipped, with a warning."""
    try:
        name.encode("utf-8")
        return True
    except UnicodeEncodeError:
        log.warning("skipped %s: its name is not valid UTF-8", name.encode("utf-8", "surrogateescape")
                    .decode("utf-8", "replace"))
        return False


def _agent_id(name: str) -> str:
    stem = name[:-6] if name.endswith(".jsonl") else name
    return stem[6:] if stem.startswith("agent-") else stem


def discover(claude_dirs: tuple[Path, ...] | list[Path]) -> list[SourceFile]:
    """Every log file under the given config dirs, in a stable order. Never raises for a missing dir."""
    out: list[SourceFile] = []
    roots_seen: set[str] = set()
    for root in claude_dirs:
        root = Path(root)
        if not root.is_dir() or os.path.realpath(root) in roots_seen:
            continue
        roots_seen.add(os.path.realpath(root))
        projects = root / "projects"
        if projects.is_dir():
            for proj in sorted(projects.iterdir(), key=lambda p: p.name):
                if not proj.is_dir() or not _utf8(proj.name):
                    continue
                out.extend(_project_files(root, proj))
        hist = root / "history.jsonl"
        if hist.is_file():
            out.append(SourceFile(hist, HISTORY, root))
        root_real = os.path.realpath(root)
        tasks = root / "tasks"
        if tasks.is_dir():
            for sdir in sorted(tasks.iterdir()):
                if sdir.is_dir() and _utf8(sdir.name):
                    for f in _json_files(sdir, root_real):
                        out.append(SourceFile(f, TASK, root, session_hint=sdir.name))
        todos = root / "todos"
        if todos.is_dir():
            for f in _json_files(todos, root_real):
                sid = f.stem.split("-agent-")[0]
                out.append(SourceFile(f, TODO, root, session_hint=sid))
    return out


def _json_files(d: Path, root_real: str) -> list[Path]:
    """The ``*.json`` regular files of ``d``, sorted: not a FIFO (its read would block), not a link out of the
    Claude dir (to /dev/zero, say). File types come from the directory listing: a stat only for links."""
    try:
        with os.scandir(d) as it:
            ents = sorted((e for e in it if e.name.endswith(".json")), key=lambda e: e.name)
    except OSError:
        return []
    out = []
    for e in ents:
        try:
            ok = _utf8(e.name) and (e.is_file(follow_symlinks=False) or (
                e.is_symlink() and e.is_file() and _inside(Path(e.path), root_real)))
        except OSError:
            ok = False
        if ok:
            out.append(Path(e.path))
    return out


def _inside(path: Path, root_real: str) -> bool:
    """False for a symlink that leads out of the Claude dir (never read what the user did not point us at)."""
    real = os.path.realpath(path)
    return real == root_real or real.startswith(root_real + os.sep)


def _project_files(root: Path, proj: Path) -> list[SourceFile]:
    out: list[SourceFile] = []
    pname = proj.name
    root_real = os.path.realpath(root)
    if not _inside(proj, root_real):
        return out

    def walk(dpath: Path, rel: tuple[str, ...]) -> None:
        try:
            with os.scandir(dpath) as it:
                ents = sorted(it, key=lambda d: d.name)
        except OSError:
            return
        files, dirs = [], []
        for d in ents:  # DirEntry: file type from the directory listing, no stat per file
            if not _utf8(d.name):
                continue
            try:
                if d.is_dir():  # follows a symlinked dir, like os.walk's listing did (its files are checked below)
                    if not d.is_symlink():
                        dirs.append(d)
                elif d.name.endswith(".jsonl") and d.is_file():  # a regular file: a FIFO would block the read
                    files.append(d)
            except OSError:
                continue
        for d in files:
            fn = d.name
            fpath = dpath / fn
            if d.is_symlink() and not _inside(fpath, root_real):
                continue
            stem = fn[:-6]
            if not rel:
                if fn.startswith("agent-"):
                    out.append(SourceFile(fpath, LEGACY_AGENT, root, pname, "", _agent_id(fn)))
                else:
                    out.append(SourceFile(fpath, MAIN, root, pname, stem))
            elif len(rel) >= 2 and rel[1] == "subagents" and fn.startswith("agent-"):
                out.append(SourceFile(fpath, SUBAGENT, root, pname, rel[0], _agent_id(fn)))
            elif "memory" in rel or "tool-results" in rel:
                continue
            else:
                # ccusage's nested layout: projects/<project>/<session>/chat.jsonl
                out.append(SourceFile(fpath, OTHER, root, pname, rel[0] if not UUID_RE.match(stem) else stem))
        for d in dirs:
            walk(dpath / d.name, (*rel, d.name))

    walk(proj, ())
    return out


def agent_meta_path(sf: SourceFile) -> Path:
    return sf.path.with_name(sf.path.name[:-6] + ".meta.json")
