"""Writing the site: a file is written only when its bytes changed; a manifest remembers what was written.

``site/.ccsgen-site.json`` lists every file of the last build (content hash, size) and each session's
fingerprint with the files it produced. A rebuild compares against it (and the size on disk), so an
unchanged page costs a dict lookup and a stat, and only files the manifest lists are ever removed:
pointing ``--out`` at a directory with other files in it never deletes them.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from .. import __version__

log = logging.getLogger(__name__)

MANIFEST = ".ccsgen-site.json"
MANIFEST_VERSION = 1


@dataclass
class Writer:
    """Writes files under ``out`` only when their content changed; remembers what it wrote."""

    out: Path
    prev_files: dict[str, list] = field(default_factory=dict)
    prev_sessions: dict[str, dict] = field(default_factory=dict)
    prev_extra: dict[str, dict] = field(default_factory=dict)
    files: dict[str, list] = field(default_factory=dict)
    sessions: dict[str, dict] = field(default_factory=dict)
    extra: dict[str, dict] = field(default_factory=dict)  # other units carried between builds (search index)
    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    bytes_written: int = 0

    @classmethod
    def open(cls, out: Path) -> Writer:
        w = cls(out)
        mf = out / MANIFEST
        if mf.is_file():
            try:
                m = orjson.loads(mf.read_bytes())
                if m.get("version") == MANIFEST_VERSION:
                    w.prev_files = dict(m.get("files") or {})
                    w.prev_sessions = dict(m.get("sessions") or {})
                    w.prev_extra = dict(m.get("extra") or {})
            except (OSError, orjson.JSONDecodeError):
                log.warning("unreadable site manifest %s: rewriting every page", mf)
        return w

    def put(self, rel: str, data: bytes) -> bool:
        """Write ``data`` to ``out/rel`` unless the same bytes are already there. True when written."""
        h = hashlib.blake2b(data, digest_size=16).hexdigest()
        entry = [h, len(data)]
        self.files[rel] = entry
        p = self.out / rel
        if self.prev_files.get(rel) == entry:
            try:
                if p.stat().st_size == len(data):
                    self.unchanged += 1
                    return False
            except OSError:
                pass
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, p)
        self.written.append(rel)
        self.bytes_written += len(data)
        return True

    def keep_session(self, sid: str) -> bool:
        """Carry an unchanged session's files over without rendering them (False if one is missing)."""
        prev = self.prev_sessions.get(sid)
        if not prev or not self.keep_files(prev.get("files") or []):
            return False
        self.sessions[sid] = prev
        return True

    def keep_files(self, files: list[str]) -> bool:
        """Carry files of the last build over unwritten, if they are all still there as written."""
        for rel in files:
            entry = self.prev_files.get(rel)
            try:
                if entry is None or (self.out / rel).stat().st_size != entry[1]:
                    return False
            except OSError:
                return False
        for rel in files:
            self.files[rel] = self.prev_files[rel]
        self.unchanged += len(files)
        return True

    def prune(self) -> list[str]:
        """Remove what the previous build wrote and this one did not; then empty directories."""
        removed = []
        for rel in self.prev_files:
            if rel in self.files:
                continue
            p = self.out / rel
            try:
                p.unlink()
                removed.append(rel)
            except FileNotFoundError:
                pass
            except OSError as e:
                log.warning("cannot remove stale %s: %s", p, e)
                continue
            d = p.parent
            while d != self.out and d.is_dir():
                try:
                    d.rmdir()
                except OSError:
                    break
                d = d.parent
        return removed

    def save(self) -> None:
        m = {"version": MANIFEST_VERSION, "generator": f"ccsgen {__version__}", "files": self.files,
             "sessions": self.sessions, "extra": self.extra}
        data = orjson.dumps(m, option=orjson.OPT_SORT_KEYS)
        mf = self.out / MANIFEST
        try:
            if mf.read_bytes() == data:
                return
        except OSError:
            pass
        tmp = mf.with_name(MANIFEST + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, mf)


    def merge(self, part: dict) -> None:
        """Fold in what a worker process wrote (see ``report``)."""
        self.files.update(part["files"])
        self.sessions.update(part["sessions"])
        self.written.extend(part["written"])
        self.unchanged += part["unchanged"]
        self.bytes_written += part["bytes_written"]

    def report(self) -> dict:
        return {"files": self.files, "sessions": self.sessions, "written": self.written,
                "unchanged": self.unchanged, "bytes_written": self.bytes_written}
