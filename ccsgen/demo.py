"""Write a realistic, deterministic synthetic Claude config dir (``~/.claude``) for demos and benchmarks.

The layout and line shapes imitate real Claude Code logs (see the corpus's FORMAT.md): streamed assistant
responses split over several lines, tool use/results, both subagent layouts, progress lines, compaction,
odd line types, a few malformed lines, ``history.jsonl``, ``tasks/`` and ``todos/``.
Everything derives from one ``random.Random(seed)``, so a seed gives byte-identical output.

This module holds the public API (:func:`generate`, :func:`parse_size`, :class:`DemoSummary`) and ``_Gen``,
which owns the random state, ids, timestamps, file writing and the session driver. The rest is split by
stage: ``demo_model`` (versions, text pools, project/session/transcript state), ``demo_turns`` (user turns),
``demo_assistant`` (streamed responses and the tool loop), ``demo_tools`` (tool calls and subagents),
``demo_events`` (commands, compaction, errors, interrupts, attachments, task files); ``demo_text`` holds
the text. The four stage modules are mixins of ``_Gen`` and share its ``self``.
"""

from __future__ import annotations

import logging
import math
import os
import random
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from .demo_assistant import _AssistantMixin
from .demo_events import _EventsMixin
from .demo_model import _VERSIONS, _VT, _Pools, _Project, _Sess, _Transcript, _vidx
from .demo_text import _ADJ, _B62, _GER, _PROJECTS, _PROMPTS, _SLUGN, _VERBS
from .demo_tools import _ToolsMixin
from .demo_turns import _TurnsMixin

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_NOW", "MALFORMED_LINES", "DemoSummary", "generate", "parse_size"]

DEFAULT_NOW = datetime(2026, 11, 1, tzinfo=UTC)
_WINDOW_DAYS = 183

#: The exact malformed lines the generator sprinkles into transcripts (tests use this to tell them apart).
MALFORMED_LINES: tuple[bytes, ...] = (
    b'{"parentUuid":"8c1f5e2a-3d4b-4f6a-9e7d-2b1c0a9f8e7d","isSidechain":false,"type":"assistant","message":{"id":"msg_01',
    b"42",
    b"[1]",
    b'{"type":"user","message":{"role":"user","content":"caf\xe9 cr\xe8me br\xfbl\xe9e \xff\xfe"}}',
    b'"massive error"',
)


@dataclass(frozen=True)
class DemoSummary:
    """What :func:`generate` wrote. ``lines`` counts transcript lines under ``projects/`` (incl. malformed)."""

    out_dir: Path
    files: int
    bytes: int
    sessions: int
    projects: int
    lines: int
    seconds: float


_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(text: str) -> int:
    """Parse ``"50MB"``, ``"1GB"``, ``"200kb"``, ``"1.5GB"``, ``"1024"`` into bytes (binary units)."""
    m = _SIZE_RE.match(str(text))
    if not m:
        raise ValueError(f"invalid size: {text!r}")
    num, unit, suffix = m.groups()
    if not unit and suffix.lower() == "i":
        raise ValueError(f"invalid size: {text!r}")
    return int(float(num) * _UNITS[unit.lower()])


# ---------------------------------------------------------------------------------------------------------
# generator
# ---------------------------------------------------------------------------------------------------------


class _Gen(_TurnsMixin, _AssistantMixin, _ToolsMixin, _EventsMixin):
    """The generator: one ``random.Random`` and the files written so far; the mixins write the lines."""

    def __init__(self, out_dir: Path, size: int, seed: int, now: datetime) -> None:
        self.out = out_dir
        self.size = max(0, int(size))
        self.rng = random.Random(seed)
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        self.now_ms = int(now.timestamp() * 1000)
        self.start_ms = self.now_ms - _WINDOW_DAYS * 86_400_000
        self.pools = _Pools(self.rng)
        self.total = 0
        self.files = 0
        self.lines = 0
        self.sessions = 0
        self._dirs: set[str] = set()
        self._iso_s = -1
        self._iso_p = ""
        self.history: list[tuple[int, bytes]] = []
        self.mal_countdown = 12
        self.mal_i = 0
        self.uni_i = -1
        self.tiny = self.size < 2 * 1024**2  # keep forced feature sessions short for small corpora
        mb = max(self.size, 1) / 1024**2
        n_proj = int(round(8 + 32 * min(max(math.log10(max(mb, 1.0)) / 3, 0.0), 1.0)))
        order = list(range(len(_PROJECTS)))
        self.rng.shuffle(order)
        self.projects = [_Project(*_PROJECTS[i], self.pools, self.rng, self.tiny) for i in order[:n_proj]]
        self.proj_weights = [1 / (i + 1) ** 0.8 for i in range(n_proj)]
        self.median = int(min(max(self.size / 30, 12_000), 400_000))
        self._build_calendar()

    # ---- small helpers ------------------------------------------------------------------------------
    def uuid(self) -> str:
        x = self.rng.getrandbits(128)
        h = f"{x:032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[x & 3]}{h[17:20]}-{h[20:]}"

    def b62(self, n: int) -> str:
        return "".join(self.rng.choices(_B62, k=n))

    def hexid(self, n: int) -> str:
        return f"{self.rng.getrandbits(4 * n):0{n}x}"

    def slug(self) -> str:
        r = self.rng
        return f"{r.choice(_ADJ)}-{r.choice(_GER)}-{r.choice(_SLUGN)}"

    def iso(self, ms: int) -> str:
        s, r = divmod(ms, 1000)
        if s != self._iso_s:
            self._iso_s = s
            self._iso_p = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s))
        return f"{self._iso_p}.{r:03d}Z"

    def write(self, path: Path, data: bytes, transcript: bool = False, mtime_ms: int | None = None) -> None:
        parent = str(path.parent)
        if parent not in self._dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(parent)
        with open(path, "wb", buffering=0) as f:
            f.write(data)
        if mtime_ms is not None:  # a log file was last written when its session last spoke
            os.utime(path, ns=(mtime_ms * 1_000_000, mtime_ms * 1_000_000))
        self.total += len(data)
        self.files += 1
        if transcript:
            self.lines += data.count(b"\n")

    def inject_malformed(self, tr: _Transcript) -> None:
        if self.mal_i < len(MALFORMED_LINES):
            bad = MALFORMED_LINES[self.mal_i]
            self.mal_countdown = self.rng.randint(10, 40)
        else:
            bad = self.rng.choice(MALFORMED_LINES)
            self.mal_countdown = self.rng.randint(2_500, 7_500)
        self.mal_i += 1
        tr.parts.append(bad)
        tr.size += len(bad) + 1

    def _build_calendar(self) -> None:
        days = []
        weights = []
        for d in range(_WINDOW_DAYS):
            wd = time.gmtime((self.start_ms // 1000) + d * 86400).tm_wday
            w = (1.0, 1.0, 1.0, 1.0, 0.9, 0.35, 0.25)[wd] * (0.6 + 0.8 * d / _WINDOW_DAYS)
            days.append(d)
            weights.append(w)
        self.days = days
        self.day_cum = list(_cumsum(weights))
        hw = (1, 0.5, 0.3, 0.2, 0.2, 0.3, 0.6, 1.5, 4, 7, 9, 9, 6, 8, 9, 9, 8, 6, 4, 3, 3, 3, 2.5, 1.5)
        self.hour_cum = list(_cumsum(hw))

    def pick_start(self, lo: float = 0.0, hi: float = 1.0) -> int:
        rng = self.rng
        for _ in range(200):
            d = rng.choices(self.days, cum_weights=self.day_cum)[0]
            if lo * _WINDOW_DAYS <= d < hi * _WINDOW_DAYS:
                break
        else:
            d = int((lo + (hi - lo) * rng.random()) * _WINDOW_DAYS)
        h = rng.choices(range(24), cum_weights=self.hour_cum)[0]
        ms = self.start_ms + d * 86_400_000 + h * 3_600_000 + rng.randrange(3_600_000)
        return min(ms, self.now_ms - 6 * 3_600_000)

    def version_for(self, start: int) -> int:
        f = (start - self.start_ms) / (self.now_ms - self.start_ms)
        i = int(f * len(_VERSIONS)) - (self.rng.random() < 0.2) - (self.rng.random() < 0.05)
        return min(max(i, 0), len(_VERSIONS) - 1)

    # ---- driver --------------------------------------------------------------------------------------
    def run(self) -> None:
        rng = self.rng
        (self.out / "projects").mkdir(parents=True, exist_ok=True)
        small = min(self.median, 30_000)
        forced: list[tuple[int, set[str], list[str]]] = [
            (_vidx("1.0.51"), {"summary", "hooknotice", "thinking", "err_next"},
             ["agent", "image", "shell", "question", "pushback", "unicode"]),
            (_vidx("2.0.42"), {"warmup", "queue", "thinking"}, ["agent", "slash_commit", "interrupt", "todo", "question"]),
            (_vidx("2.1.39"), {"hooks", "thinking", "tasks", "err_next"},
             ["agent", "test", "api_error", "experimental", "compact", "pushback", "agent"]),
            (_vidx("2.1.114"), {"hooks", "thinking", "custom_title", "frame", "tasks", "fast"},
             ["agent", "unicode", "slash_model", "todo", "shell", "question", "mcp"]),
            (_vidx("2.1.97"), {"orphan"}, ["agent"]),
        ]  # fmt: skip
        projects_seen = 0
        while True:
            if forced:
                vi, flags, kinds = forced.pop(0)
                flags.add("forced")
                start = self.pick_start(vi / len(_VERSIONS), (vi + 1) / len(_VERSIONS))
                proj = self.projects[projects_seen % len(self.projects)]
                projects_seen += 1
                target = small
            else:
                if self.total >= self.size:
                    break
                start = self.pick_start()
                vi = self.version_for(start)
                proj = rng.choices(self.projects, self.proj_weights)[0]
                flags = self._random_flags(vi)
                kinds = []
                t = self.median * math.exp(rng.gauss(0, 0.9))
                t = min(max(t, self.median / 6), self.median * 6)
                target = int(min(t, max(self.size - self.total, self.median / 4)))
            self.session(proj, vi, start, target, flags, kinds)
        self._extras()
        self._write_history()

    def _random_flags(self, vi: int) -> set[str]:
        rng = self.rng
        vt = _VT[vi]
        f: set[str] = set()
        if rng.random() < 0.6:
            f.add("thinking")
        if (2, 1, 17) <= vt and rng.random() < 0.5:
            f.add("hooks")
        if (2, 0, 0) <= vt <= (2, 0, 76) and rng.random() < 0.5:
            f.add("warmup")
        if vt <= (2, 0, 76) and rng.random() < 0.3:
            f.add("summary")
        if (1, 0, 43) <= vt <= (1, 0, 58) and rng.random() < 0.5:
            f.add("hooknotice")
        if vt >= (2, 0, 28) and rng.random() < 0.25:
            f.add("queue")
        if vt >= (2, 1, 17) and rng.random() < 0.3:
            f.add("tasks")
        if rng.random() < 0.02:
            f.add("custom_title")
        if vt >= (2, 1, 90) and rng.random() < 0.02:
            f.add("frame")
        return f

    def _extras(self) -> None:
        """The 0-byte session file."""
        proj = self.projects[min(1, len(self.projects) - 1)]
        self.write(self.out / "projects" / proj.dirname / f"{self.uuid()}.jsonl", b"", transcript=True)

    def _write_history(self) -> None:
        self.history.sort(key=lambda x: x[0])
        self.write(self.out / "history.jsonl", b"".join(line for _, line in self.history))

    # ---- a session -----------------------------------------------------------------------------------
    def session(
        self, proj: _Project, vi: int, start: int, target: int, flags: set[str], kinds: list[str]
    ) -> None:
        rng = self.rng
        s = _Sess(self, proj, vi, start, target, flags)
        tr = s.main
        vt = s.vt
        proj.created = True
        if "summary" in flags:
            leaf = proj.last_leaf or self.uuid()
            for _ in range(rng.randint(1, 3)):
                tr.obj(
                    {"type": "summary", "summary": self._title(rng.choice(_PROMPTS), proj), "leafUuid": leaf}
                )
        if s.new_order and ("forced" in flags or rng.random() < 0.8):
            tr.obj({"type": "permission-mode", "permissionMode": s.perm, "sessionId": s.sid})
        if s.progress and s.hooks:
            tid = self.uuid()
            tr.env("progress", {"data": {"type": "hook_progress", "hookEvent": "SessionStart",
                                         "hookName": "SessionStart:startup", "command": "~/.claude/hooks/session-start.sh"},
                                "parentToolUseID": tid, "toolUseID": tid}, s.t)  # fmt: skip
        if s.attachments:
            self._start_attachments(s)
        if "warmup" in flags:
            for _ in range(rng.randint(1, 4)):
                self._warmup(s)
        while (kinds or tr.size < s.target) and s.t < self.now_ms - 3_600_000:
            if s.n_turns and s.api.ctx > s.api.limit and vt >= (2, 0, 0):
                self._compact(s, "auto")
            kind = kinds.pop(0) if kinds else self._pick_kind(s)
            self._turn(s, kind)
            s.n_turns += 1
            if s.n_turns > 4000:
                break
        if "custom_title" in flags:
            tr.obj(
                {
                    "type": "custom-title",
                    "customTitle": f"{proj.name} {rng.choice(_VERBS)} work",
                    "sessionId": s.sid,
                }
            )
        if "frame" in flags:
            tr.obj({"type": "frame-link", "frameId": f"frm_{self.b62(20)}", "url": f"https://claude.ai/code/frames/"
                    f"{self.hexid(12)}", "sessionId": s.sid, "timestamp": self.iso(s.t)})  # fmt: skip
        if vt >= (2, 1, 52) and s.prompts:
            lp: dict[str, Any] = {
                "type": "last-prompt",
                "lastPrompt": s.prompts[-1][:200],
                "sessionId": s.sid,
            }
            if vt >= (2, 1, 97):
                lp["leafUuid"] = tr.last
            tr.obj(lp)
        proj.last_leaf = tr.last
        pdir = self.out / "projects" / proj.dirname
        if "orphan" not in flags:
            self.write(pdir / f"{s.sid}.jsonl", tr.data(), transcript=True, mtime_ms=s.t)
            self.sessions += 1
        if s.used_todo or rng.random() < 0.2:
            self.write(self.out / "todos" / f"{s.sid}-agent-{s.sid}.json", orjson.dumps(s.todos))
        if "tasks" in flags:
            self._tasks(s)


def _cumsum(xs: list[float] | tuple[float, ...]) -> list[float]:
    out = []
    acc = 0.0
    for x in xs:
        acc += x
        out.append(acc)
    return out


def generate(
    out_dir: Path, size_bytes: int = 50 * 1024**2, seed: int = 0, *, now: datetime | None = None
) -> DemoSummary:
    """Write a synthetic ``~/.claude`` of about ``size_bytes`` under ``out_dir``; deterministic for a seed."""
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    gen = _Gen(out_dir, size_bytes, seed, now or DEFAULT_NOW)
    gen.run()
    projects = sum(1 for p in gen.projects if p.created)
    secs = time.perf_counter() - t0
    log.info(
        "demo corpus: %d files, %.1f MB, %d sessions in %.2fs",
        gen.files,
        gen.total / 1024**2,
        gen.sessions,
        secs,
    )
    return DemoSummary(out_dir, gen.files, gen.total, gen.sessions, projects, gen.lines, secs)
