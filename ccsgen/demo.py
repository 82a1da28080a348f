"""Write a realistic, deterministic synthetic Claude config dir (``~/.claude``) for demos and benchmarks.

The layout and line shapes imitate real Claude Code logs (see the corpus's FORMAT.md): streamed assistant
responses split over several lines, tool use/results, both subagent layouts, progress lines, compaction,
odd line types, a few malformed lines, ``history.jsonl``, ``tasks/`` and ``todos/``.
Everything derives from one ``random.Random(seed)``, so a seed gives byte-identical output.
"""

from __future__ import annotations

import base64
import logging
import math
import os
import random
import re
import struct
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from .demo_text import (
    _ADJ,
    _AGENT_TASKS,
    _B62,
    _BULLETS,
    _CAVEAT,
    _CLOSINGS,
    _CMDS,
    _CODE_TEMPLATES,
    _COMPACT_INTRO,
    _ERRORS,
    _EXPLAIN,
    _EXT_GLOB,
    _FENCE,
    _FIELDS,
    _GER,
    _GIT_CMDS,
    _HEADERS,
    _HEADINGS,
    _LINT_OK,
    _NOUNS,
    _PATHS,
    _PREAMBLES,
    _PROJECTS,
    _PROMPTS,
    _PUSHBACKS,
    _QUESTIONS,
    _REJECT,
    _SLUGN,
    _STOP,
    _TEST_FAIL,
    _TEST_OK,
    _THINK,
    _TODOS,
    _UNICODE_ANSWERS,
    _UNICODE_PROMPTS,
    _URLS,
    _VERBS,
)

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
# static vocabulary
# ---------------------------------------------------------------------------------------------------------

_VERSIONS = (
    "1.0.17", "1.0.31", "1.0.44", "1.0.51", "1.0.58", "1.0.72", "1.0.98", "1.0.128", "2.0.5", "2.0.14",
    "2.0.28", "2.0.37", "2.0.42", "2.0.55", "2.0.76", "2.1.1", "2.1.9", "2.1.17", "2.1.29", "2.1.39",
    "2.1.52", "2.1.69", "2.1.81", "2.1.97", "2.1.114", "2.1.132",
)  # fmt: skip
_VT = tuple(tuple(int(x) for x in v.split(".")) for v in _VERSIONS)


def _vidx(v: str) -> int:
    return _VERSIONS.index(v)


SONNET4, OPUS4, OPUS41 = "claude-sonnet-4-20250514", "claude-opus-4-20250514", "claude-opus-4-1-20250805"
SONNET45, HAIKU45, OPUS45 = (
    "claude-sonnet-4-5-20250929",
    "claude-haiku-4-5-20251001",
    "claude-opus-4-5-20251101",
)
OPUS46, SONNET46, OPUS47 = "claude-opus-4-6", "claude-sonnet-4-6", "claude-opus-4-7"
_EXPERIMENTAL = "claude-experimental-9"


def _models_for(vt: tuple[int, ...]) -> tuple[tuple[str, ...], tuple[int, ...]]:
    if vt < (1, 0, 60):
        return (SONNET4, OPUS4), (7, 3)
    if vt < (2, 0, 0):
        return (SONNET4, OPUS41, OPUS4), (5, 3, 1)
    if vt < (2, 0, 50):
        return (SONNET45, HAIKU45, OPUS41), (6, 2, 2)
    if vt < (2, 1, 17):
        return (OPUS45, SONNET45, HAIKU45), (5, 4, 2)
    if vt < (2, 1, 90):
        return (OPUS46, SONNET46, HAIKU45, OPUS45), (5, 4, 2, 1)
    return (OPUS47, SONNET46, OPUS46, HAIKU45), (4, 4, 2, 1)


_PARTIALS = (1, 2, 3, 4, 5, 8, 9, 12, 17, 26)
_CHAIN = object()


def _fill(text: str, noun: str, verb: str, field: str, num: int) -> str:
    return (
        text.replace("@Noun", noun.capitalize())
        .replace("@noun", noun)
        .replace("@Verb", verb.capitalize())
        .replace("@verb", verb)
        .replace("@Field", field.capitalize())
        .replace("@field", field)
        .replace("#N#", str(num))
    )


def _png(rng: random.Random) -> str:
    """A tiny valid PNG (a few hundred bytes), base64-encoded."""
    w = h = rng.choice((12, 16, 20, 24))
    c1 = bytes(rng.randrange(256) for _ in range(3))
    c2 = bytes(rng.randrange(256) for _ in range(3))
    rows = b"".join(
        b"\x00" + b"".join(c1 if (x // 4 + y // 4) % 2 else c2 for x in range(w)) for y in range(h)
    )
    noise = bytes(rng.randrange(256) for _ in range(rng.randrange(60, 200)))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    png = (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"tEXt", b"Comment\x00" + base64.b64encode(noise))
    )
    png += chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")
    return base64.b64encode(png).decode()


class _CodeFile:
    __slots__ = ("text", "lines", "_numbered")

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.split("\n")
        self._numbered: str | None = None

    def numbered(self) -> str:
        if self._numbered is None:
            self._numbered = "\n".join(f"{i:>6}→{ln}" for i, ln in enumerate(self.lines, 1))
        return self._numbered


class _Pools:
    """Pre-generated text so the per-line work stays cheap."""

    def __init__(self, rng: random.Random) -> None:
        def words() -> tuple[str, str, str, int]:
            return rng.choice(_NOUNS), rng.choice(_VERBS), rng.choice(_FIELDS), rng.randint(2, 9)

        self.files: dict[str, list[_CodeFile]] = {}
        self.snippets: dict[str, list[str]] = {}
        for lang, tpls in _CODE_TEMPLATES.items():
            self.snippets[lang] = [_fill(rng.choice(tpls), *words()) for _ in range(40)]
            if lang in _HEADERS:
                files = []
                for i in range(36):
                    k = rng.randint(2, 9) if i % 9 else rng.randint(18, 40)
                    body = "\n".join(_fill(rng.choice(tpls), *words()) for _ in range(k))
                    files.append(_CodeFile(_fill(_HEADERS[lang], *words()) + body))
                self.files[lang] = files
        self.signatures = [base64.b64encode(rng.randbytes(rng.randint(150, 900))).decode() for _ in range(48)]
        self.thinking = [self._think(rng, words) for _ in range(120)]
        self.answers = [self._answer(rng, words) for _ in range(240)]
        self.pngs = [_png(rng) for _ in range(6)]

    @staticmethod
    def _think(rng: random.Random, words: Any) -> str:
        parts = rng.sample(_THINK, rng.randint(1, 3))
        return (
            _fill("\n\n".join(parts), *words()).replace("@func", "the handler").replace("@rel", "the module")
        )

    def _answer(self, rng: random.Random, words: Any) -> str:
        out = [rng.choice(_HEADINGS)]
        out.append(" ".join(rng.sample(_EXPLAIN, rng.randint(1, 2))))
        out.append("\n\n")
        if rng.random() < 0.6:
            out.append("\n".join(rng.sample(_BULLETS, rng.randint(2, 4))))
            out.append("\n\n")
        if rng.random() < 0.7:
            lang = rng.choice(("python", "typescript", "rust", "go", "sql", "bash"))
            out.append(f"```{_FENCE[lang]}\n{rng.choice(self.snippets[lang])}```\n\n")
        if rng.random() < 0.12:
            out.append(
                "| file | change |\n|---|---|\n| `@nouns.py` | validation |\n| `test_@nouns.py` | new tests |\n\n"
            )
        out.append(rng.choice(_CLOSINGS))
        if rng.random() < 0.05:
            out.append(" ✨")
        return _fill("".join(out), *words())


# ---------------------------------------------------------------------------------------------------------
# per-project / per-session state
# ---------------------------------------------------------------------------------------------------------


class _Project:
    def __init__(self, name: str, lang: str, pools: _Pools, rng: random.Random, tiny: bool) -> None:
        self.name = name
        self.lang = lang
        self.cwd = f"/home/demo/code/{name}"
        self.dirname = re.sub(r"[^A-Za-z0-9]", "-", self.cwd)
        self.files: list[tuple[str, str, _CodeFile]] = []  # (abs path, rel path, content)
        seen: set[str] = set()
        while len(self.files) < 14:
            n = rng.choice(_NOUNS)
            rel = _fill(rng.choice(_PATHS[lang]), n, "load", "name", 1)
            if rel in seen:
                continue
            seen.add(rel)
            cf = rng.choice(pools.files[lang])
            if tiny and len(cf.text) > 6000:
                continue
            self.files.append((f"{self.cwd}/{rel}", rel, cf))
        self.branches = ["main", "main", "main", "main", "main", f"feature/{rng.choice(_NOUNS)}-{rng.choice(_VERBS)}",
                         f"fix/{rng.choice(_NOUNS)}-bug", "develop", "HEAD", ""]  # fmt: skip
        self.last_leaf: str | None = None
        self.created = False


class _Api:
    """Token accounting for one transcript's conversation context."""

    __slots__ = ("ctx", "cached", "share1h", "limit")

    def __init__(self, rng: random.Random, base: int, share1h: float) -> None:
        self.ctx = base
        self.cached = base if rng.random() < 0.5 else 0
        self.share1h = share1h
        self.limit = rng.randint(120_000, 165_000)

    def call(self, rng: random.Random, added: int, out: int) -> tuple[int, int, int]:
        new = self.ctx + added
        r = rng.random()
        if r < 0.04:
            cr = 0
        elif r < 0.08:
            cr = self.cached // 2
        else:
            cr = min(self.cached, new)
        cc = max(new - cr, 0)
        self.cached = new + out
        self.ctx = new + out
        inp = rng.randint(1, 8) if rng.random() < 0.93 else rng.randint(30, 3000)
        return inp, cc, cr


class _Transcript:
    """One JSONL file being built in memory (main session or subagent)."""

    def __init__(self, gen: _Gen, s: _Sess, agent_id: str | None = None, mirror: bool = False) -> None:
        self.gen = gen
        self.s = s
        self.agent_id = agent_id
        self.sidechain = agent_id is not None
        self.parts: list[bytes] = []
        self.size = 0
        self.last: str | None = None
        self.mirror: list[tuple[int, dict[str, Any]]] | None = [] if mirror else None
        self.refresh()

    def refresh(self) -> None:
        s = self.s
        static: dict[str, Any] = {"userType": "external"}
        if s.new_order:
            static["entrypoint"] = "cli"
        static.update(cwd=s.proj.cwd, sessionId=s.sid, version=s.version, gitBranch=s.branch)
        if not s.new_order and self.agent_id:
            static["agentId"] = self.agent_id
        if s.slug:
            static["slug"] = s.slug
        self.static = static

    def raw(self, b: bytes) -> None:
        self.parts.append(b)
        self.size += len(b) + 1
        gen = self.gen
        gen.mal_countdown -= 1
        if gen.mal_countdown <= 0:
            gen.inject_malformed(self)

    def obj(self, d: dict[str, Any]) -> None:
        self.raw(orjson.dumps(d))

    def env(
        self, type_: str, payload: dict[str, Any], ts: int, uuid: str | None = None, parent: Any = _CHAIN
    ) -> str:
        u = uuid or self.gen.uuid()
        d: dict[str, Any] = {
            "parentUuid": self.last if parent is _CHAIN else parent,
            "isSidechain": self.sidechain,
        }
        if self.s.new_order:
            if self.agent_id:
                d["agentId"] = self.agent_id
            d["type"] = type_
            d.update(payload)
            d["uuid"] = u
            d["timestamp"] = self.gen.iso(ts)
            d.update(self.static)
        else:
            d.update(self.static)
            d["type"] = type_
            d.update(payload)
            d["uuid"] = u
            d["timestamp"] = self.gen.iso(ts)
        self.obj(d)
        self.last = u
        return u

    def data(self) -> bytes:
        return b"\n".join(self.parts) + b"\n" if self.parts else b""


class _Sess:
    def __init__(self, gen: _Gen, proj: _Project, vi: int, start: int, target: int, flags: set[str]) -> None:
        rng = gen.rng
        self.proj = proj
        self.sid = gen.uuid()
        self.vi = vi
        self.version = _VERSIONS[vi]
        self.vt = _VT[vi]
        vt = self.vt
        models, weights = _models_for(vt)
        self.model = rng.choices(models, weights)[0]
        self.branch = rng.choice(proj.branches) if vt >= (1, 0, 55) or rng.random() < 0.5 else ""
        self.slug = gen.slug() if vt >= (2, 0, 55) else None
        self.new_order = vt >= (2, 1, 81)
        self.t = start
        self.target = target
        self.flags = flags
        self.hooks = "hooks" in flags
        self.thinking = 0.6 if "thinking" in flags else 0.0
        self.fast = self.model == OPUS46 and vt >= (2, 1, 81) and ("fast" in flags or rng.random() < 0.25)
        self.task_tool = "Task" if vt < (2, 1, 60) else "Agent"
        self.legacy_agents = vt <= (2, 1, 1)
        self.progress = (2, 1, 17) <= vt <= (2, 1, 81)
        self.attachments = vt >= (2, 1, 97)
        share = 0.0 if vt < (2, 1, 0) else (1.0 if vt >= (2, 1, 90) else rng.choice((0.0, 0.5, 1.0)))
        self.api = _Api(rng, rng.randint(11_000, 24_000), share)
        self.prompts: list[str] = []
        self.todos: list[dict[str, str]] = []
        self.used_todo = False
        self.prompt_id: str | None = None
        self.perm = rng.choice(("default", "acceptEdits", "acceptEdits", "bypassPermissions", "plan"))
        self.main = _Transcript(gen, self)
        self.n_turns = 0
        self.max_steps = 1 if gen.tiny else 8
        self.first_bash = True
        self.edited: list[str] = []
        if "fast" in flags and vt >= (2, 1, 81):
            self.model = OPUS46
            self.fast = True


# ---------------------------------------------------------------------------------------------------------
# generator
# ---------------------------------------------------------------------------------------------------------


class _Gen:
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

    def _pick_kind(self, s: _Sess) -> str:
        r = self.rng.random()
        if s.n_turns and r < 0.1:
            return "pushback"
        if r < 0.28:
            return "question"
        if r < 0.33:
            return "agent"
        if r < 0.36:
            return "test"
        if r < 0.38:
            return self.rng.choice(
                ("slash_commit", "slash_model", "slash_cost", "compact" if s.vt >= (2, 0, 0) else "shell")
            )
        if r < 0.40:
            return "shell"
        if r < 0.41:
            return "image"
        if r < 0.42:
            return "interrupt"
        if r < 0.425:
            return "api_error"
        if r < 0.43:
            return "unicode"
        if r < 0.45:
            return "todo"
        if r < 0.46:
            return "mcp"
        return "normal"

    # ---- text helpers --------------------------------------------------------------------------------
    def _ctx_words(self, s: _Sess) -> dict[str, str]:
        rng = self.rng
        path, rel, _ = rng.choice(s.proj.files)
        tests = [f for f in s.proj.files if "test" in f[1]]
        noun = rng.choice(_NOUNS)
        verb = rng.choice(_VERBS)
        return {
            "@file": rel, "@rel2": rng.choice(s.proj.files)[1], "@rel": rel, "@test": (rng.choice(tests) if tests else
            s.proj.files[0])[1], "@func": f"{verb}_{noun}", "@cmd": rng.choice(_CMDS[s.proj.lang])[0],
            "@error": rng.choice(_ERRORS), "@cwd": s.proj.cwd, "@branch": s.branch or "main",
        }  # fmt: skip

    def _say(self, s: _Sess, text: str) -> str:
        if "@" not in text and "#N#" not in text:
            return text
        for k, v in self._ctx_words(s).items():
            if k in text:
                text = text.replace(k, v)
        rng = self.rng
        return _fill(text, rng.choice(_NOUNS), rng.choice(_VERBS), rng.choice(_FIELDS), rng.randint(2, 9))

    def _title(self, prompt: str, proj: _Project) -> str:
        words = re.sub(r"[@`*:?]", "", prompt).split()[:7]
        while words and words[-1].lower() in _STOP:
            words.pop()
        return " ".join(w.capitalize() if i == 0 else w for i, w in enumerate(words)) or proj.name

    # ---- turns ---------------------------------------------------------------------------------------
    def _turn(self, s: _Sess, kind: str) -> None:
        rng = self.rng
        turn_start = s.t
        if kind == "compact":
            self._compact(s, "manual")
            return
        if kind == "shell":
            self._shell(s)
            return
        if kind == "slash_model" or kind == "slash_cost":
            self._local_command(s, kind)
            return
        steps = rng.choice((0, 1, 2, 3, 3, 4, 5, 6, 8))
        force_tool: str | None = None
        model: str | None = None
        if kind == "question":
            prompt: Any = self._say(s, rng.choice(_QUESTIONS))
            steps = rng.choice((0, 0, 1, 2))
        elif kind == "pushback":
            prompt = self._say(s, rng.choice(_PUSHBACKS))
            steps = max(steps, 1)
            force_tool = "Bash"
        elif kind == "unicode":
            self.uni_i += 1  # cycle, so even a tiny corpus gets accents, CJK and emoji
            prompt = self._say(s, _UNICODE_PROMPTS[self.uni_i % len(_UNICODE_PROMPTS)])
        elif kind == "slash_commit":
            prompt = self._slash_prompt(s, "commit")
            steps = 2
            force_tool = "Bash"
        elif kind == "image":
            prompt = self._say(s, "[Image #1] the @noun list overlaps the sidebar on mobile, can you fix it?")
        elif kind == "test":
            prompt = self._say(s, rng.choice(("run the tests", "Run the test suite and fix any failures",
                                              "can you check that `@cmd` passes?")))  # fmt: skip
            force_tool = "Bash"
            steps = max(steps, 2)
        elif kind == "agent":
            prompt = self._say(s, rng.choice((
                "Use a subagent to explore how @nouns are stored, then summarise", "Investigate why @test is flaky",
                "Plan the migration that adds @field to @nouns", "review my uncommitted changes")))  # fmt: skip
            force_tool = "Task"
            steps = max(steps, 1)
        elif kind == "todo":
            prompt = self._say(s, rng.choice(_PROMPTS))
            force_tool = "TodoWrite"
            steps = max(steps, 3)
        elif kind == "mcp":
            prompt = self._say(s, f"Look at issue #{rng.randint(10, 400)} on GitHub and fix it")
            force_tool = "mcp__github__get_issue"
            steps = max(steps, 2)
        else:
            prompt = self._say(s, rng.choice(_PROMPTS))
            if kind == "experimental":
                model = _EXPERIMENTAL
        steps = min(steps, s.max_steps)
        if kind != "slash_commit":
            self._user_prompt(s, prompt, image=kind == "image")
        if kind == "api_error":
            self._api_error(s)
            self._user_prompt(s, rng.choice(("try again", "continue", "retry please")))
        if kind == "interrupt":
            self._interrupt(s)
            return
        self._work(s, s.main, s.api, steps, force_tool, model, final_kind=kind)
        self._end_turn(s, turn_start)

    def _user_prompt(self, s: _Sess, text: str, image: bool = False, history: str | None = None,
                     meta: bool = False, record: bool = True) -> str:  # fmt: skip
        rng = self.rng
        vt = s.vt
        tr = s.main
        s.t += rng.randint(15_000, 600_000) if s.n_turns else rng.randint(1_000, 20_000)
        u = self.uuid()
        if vt >= (1, 0, 98) and not meta:
            backups: dict[str, Any] = {}
            for p in s.edited[-3:]:
                backups[p] = {"backupFileName": f"{self.hexid(16)}@v{rng.randint(1, 6)}", "version": rng.randint(1, 6),
                              "backupTime": self.iso(s.t - 2000)}  # fmt: skip
            tr.obj({"type": "file-history-snapshot", "messageId": u, "snapshot": {"messageId": u,
                    "trackedFileBackups": backups, "timestamp": self.iso(s.t)}, "isSnapshotUpdate": False})  # fmt: skip
        if "queue" in s.flags and not meta and (not s.prompts or rng.random() < 0.15):
            tr.obj({"type": "queue-operation", "operation": "enqueue", "timestamp": self.iso(s.t - 900),
                    "sessionId": s.sid, "content": text if isinstance(text, str) else "(image)"})  # fmt: skip
            tr.obj({"type": "queue-operation", "operation": "dequeue", "timestamp": self.iso(s.t - 899),
                    "sessionId": s.sid})  # fmt: skip
        if vt >= (2, 1, 81) and not meta:
            s.prompt_id = self.uuid()
        content: Any = text
        if image:
            img = {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                               "data": rng.choice(self.pools.pngs)}}  # fmt: skip
            content = (
                [{"type": "text", "text": text}, img]
                if vt >= (2, 0, 0)
                else [img, {"type": "text", "text": text}]
            )
        payload: dict[str, Any] = {}
        if s.prompt_id:
            payload["promptId"] = s.prompt_id
        payload["message"] = {"role": "user", "content": content}
        if meta:
            payload["isMeta"] = True
        elif record:
            if vt >= (2, 1, 17):
                payload["permissionMode"] = s.perm
            if image and vt >= (2, 0, 0):
                payload["imagePasteIds"] = [1]
            if s.thinking and rng.random() < 0.3:
                payload["thinkingMetadata"] = ({"level": "high", "disabled": False, "triggers": []} if vt >= (2, 1, 0)
                                               else {"maxThinkingTokens": 31999})  # fmt: skip
            if (2, 0, 55) <= vt <= (2, 1, 42) and s.todos and rng.random() < 0.2:
                payload["todos"] = s.todos
        tr.env("user", payload, s.t, uuid=u)
        if record and not meta:
            s.prompts.append(text)
            disp = history if history is not None else text
            self.history.append((s.t, orjson.dumps({"display": disp, "pastedContents": {}, "timestamp": s.t,
                                                    "project": s.proj.cwd, "sessionId": s.sid}) + b"\n"))  # fmt: skip
            s.api.ctx += len(text) // 4 + (1500 if image else 0)
            if s.attachments and rng.random() < 0.2:
                self._attachment(s)
            if len(s.prompts) == 1 and vt >= (2, 1, 90):
                tr.obj({"type": "ai-title", "aiTitle": self._title(text, s.proj), "sessionId": s.sid})
        return u

    def _slash_prompt(self, s: _Sess, name: str) -> str:
        """Prompt-type slash command: the command line plus its isMeta expansion."""
        tr = s.main
        s.t += self.rng.randint(20_000, 300_000)
        cmd = f"<command-message>{name} is running…</command-message>\n<command-name>/{name}</command-name>"
        if s.vt >= (2, 1, 81):
            s.prompt_id = self.uuid()
        payload: dict[str, Any] = {"promptId": s.prompt_id} if s.vt >= (2, 1, 81) else {}
        payload["message"] = {"role": "user", "content": cmd}
        tr.env("user", payload, s.t)
        self.history.append((s.t, orjson.dumps({"display": f"/{name}", "pastedContents": {}, "timestamp": s.t,
                                                "project": s.proj.cwd, "sessionId": s.sid}) + b"\n"))  # fmt: skip
        body = ("## Context\n\n- Current git status: !`git status`\n- Current git diff: !`git diff HEAD`\n\n## Your task\n\n"
                "Based on the above changes, create a single git commit with a clear message.")  # fmt: skip
        p2 = dict(payload)
        p2["message"] = {"role": "user", "content": [{"type": "text", "text": body}]}
        p2["isMeta"] = True
        tr.env("user", p2, s.t + 1)
        s.prompts.append(f"/{name}")
        return f"/{name}"

    def _local_command(self, s: _Sess, kind: str) -> None:
        rng = self.rng
        tr = s.main
        s.t += rng.randint(20_000, 300_000)
        name = "model" if kind == "slash_model" else "cost"
        if name == "model":
            models, _ = _models_for(s.vt)
            s.model = rng.choice(models)
            arg = s.model.split("-")[1]
            out = f"Set model to \x1b[1m{arg} ({s.model})\x1b[22m"
        else:
            arg = ""
            out = (
                f"Total cost:            ${rng.randint(0, 40)}.{rng.randint(0, 99):02d}\nTotal duration (API):  "
                f"{rng.randint(1, 59)}m {rng.randint(0, 59)}s\nTotal code changes:    {rng.randint(0, 900)} lines added"
            )
        if s.vt >= (2, 1, 81):
            s.prompt_id = self.uuid()
        base: dict[str, Any] = {"promptId": s.prompt_id} if s.vt >= (2, 1, 81) else {}
        caveat = _CAVEAT if s.vt < (2, 0, 0) else f"<local-command-caveat>{_CAVEAT}</local-command-caveat>"
        tr.env("user", {**base, "message": {"role": "user", "content": caveat}, "isMeta": True}, s.t)
        cmd = (f"<command-name>/{name}</command-name>\n            <command-message>{name}</command-message>\n"
               f"            <command-args>{arg}</command-args>")  # fmt: skip
        tr.env("user", {**base, "message": {"role": "user", "content": cmd}}, s.t)
        stdout = f"<local-command-stdout>{out}</local-command-stdout>"
        if s.vt >= (2, 1, 0):
            tr.env(
                "system",
                {"subtype": "local_command", "content": stdout, "level": "info", "isMeta": False},
                s.t + 5,
            )
        else:
            tr.env("user", {**base, "message": {"role": "user", "content": stdout}}, s.t + 5)
        self.history.append(
            (
                s.t,
                orjson.dumps(
                    {
                        "display": f"/{name} {arg}".strip(),
                        "pastedContents": {},
                        "timestamp": s.t,
                        "project": s.proj.cwd,
                        "sessionId": s.sid,
                    }
                )
                + b"\n",
            )
        )

    def _shell(self, s: _Sess) -> None:
        rng = self.rng
        tr = s.main
        s.t += rng.randint(10_000, 200_000)
        cmd, out = rng.choice(_GIT_CMDS)
        out = self._say(s, out)
        if s.vt < (2, 0, 0):
            tr.env("user", {"message": {"role": "user", "content": _CAVEAT}, "isMeta": True}, s.t)
        tr.env("user", {"message": {"role": "user", "content": f"<bash-input>{cmd}</bash-input>"}}, s.t)
        tr.env("user", {"message": {"role": "user", "content": f"<bash-stdout>{out}</bash-stdout><bash-stderr>"
                                                               f"</bash-stderr>"}}, s.t + rng.randint(30, 900))  # fmt: skip
        self.history.append((s.t, orjson.dumps({"display": f"!{cmd}", "pastedContents": {}, "timestamp": s.t,
                                                "project": s.proj.cwd, "sessionId": s.sid}) + b"\n"))  # fmt: skip

    def _end_turn(self, s: _Sess, turn_start: int) -> None:
        tr = s.main
        rng = self.rng
        if s.hooks and s.vt >= (2, 1, 17) and (s.n_turns == 0 or rng.random() < 0.5):
            tr.env("system", {"subtype": "stop_hook_summary", "hookCount": 1, "hookInfos": [
                {"command": "~/.claude/hooks/notify.sh", "durationMs": rng.randint(20, 400)}], "hookErrors": [],
                "preventedContinuation": False, "stopReason": "", "hasOutput": False, "level": "suggestion",
                "toolUseID": self.uuid()}, s.t + 30)  # fmt: skip
        if s.vt >= (2, 1, 97):
            tr.env("system", {"subtype": "turn_duration", "durationMs": s.t - turn_start,
                              "messageCount": rng.randint(2, 60), "isMeta": False}, s.t + 31)  # fmt: skip

    # ---- assistant responses -------------------------------------------------------------------------
    def _usage(
        self, s: _Sess, api: _Api, inp: int, cc: int, cr: int, out: int, model: str, fetches: int
    ) -> dict:
        vt = s.vt
        u: dict[str, Any] = {
            "input_tokens": inp,
            "cache_creation_input_tokens": cc,
            "cache_read_input_tokens": cr,
        }
        if vt >= (1, 0, 98):
            h = int(cc * api.share1h)
            u["cache_creation"] = {"ephemeral_5m_input_tokens": cc - h, "ephemeral_1h_input_tokens": h}
        u["output_tokens"] = out
        if vt >= (2, 1, 39):
            u["server_tool_use"] = {"web_search_requests": 0, "web_fetch_requests": fetches}
        u["service_tier"] = "standard"
        if vt >= (2, 1, 38):
            u["inference_geo"] = "not_available"
        if vt >= (2, 1, 100):
            it = {k: u[k] for k in ("input_tokens", "output_tokens", "cache_read_input_tokens",
                                    "cache_creation_input_tokens")}  # fmt: skip
            if "cache_creation" in u:
                it["cache_creation"] = u["cache_creation"]
            it["type"] = "message"
            u["iterations"] = [it]
        if vt >= (2, 1, 81):
            u["speed"] = "fast" if (s.fast and model == OPUS46) else "standard"
        return u

    def _respond(self, s: _Sess, tr: _Transcript, api: _Api, blocks: list[dict], added: int, stop: str,
                 model: str | None = None) -> list[str]:  # fmt: skip
        """Write one streamed API response: one line per content block, shared message.id + requestId.

        Returns the uuid of each block's line."""
        rng = self.rng
        vt = s.vt
        model = model or (s.model if rng.random() > 0.002 else _EXPERIMENTAL)
        chars = 0
        fetches = 0
        for b in blocks:
            bt = b["type"]
            if bt == "text":
                chars += len(b["text"])
            elif bt == "thinking":
                chars += len(b["thinking"]) or rng.randint(200, 3000)
            else:
                chars += 40 + sum(len(v) if isinstance(v, str) else 60 for v in b["input"].values())
                fetches += b["name"] == "WebFetch"
        out = max(chars * 10 // 36 + rng.randint(0, 60), 2)
        inp, cc, cr = api.call(rng, added, out)
        final = self._usage(s, api, inp, cc, cr, out, model, fetches)
        if len(blocks) > 1:
            partial = dict(final)
            partial["output_tokens"] = min(out - 1, rng.choice(_PARTIALS))
            if "iterations" in partial:
                partial["iterations"] = [dict(final["iterations"][0], output_tokens=partial["output_tokens"])]
        mid = f"msg_01{self.b62(22)}"
        req = f"req_011C{self.b62(16)}"
        s.t += rng.randint(1_500, 25_000)
        last = len(blocks) - 1
        uuids = []
        for i, b in enumerate(blocks):
            msg: dict[str, Any] = {"model": model, "id": mid, "type": "message", "role": "assistant", "content": [b],
                                   "stop_reason": stop if i == last else None, "stop_sequence": None}  # fmt: skip
            if vt >= (2, 1, 100):
                msg["stop_details"] = None
            msg["usage"] = final if i == last else partial
            u = tr.env("assistant", {"message": msg, "requestId": req}, s.t)
            uuids.append(u)
            if tr.mirror is not None and len(tr.mirror) < 8:
                tr.mirror.append((s.t, {"type": "assistant", "timestamp": self.iso(s.t), "message": msg,
                                        "requestId": req, "uuid": u}))  # fmt: skip
            s.t += rng.randint(40, 1_500)
        return uuids

    def _think_block(self, s: _Sess) -> dict:
        rng = self.rng
        empty = rng.random() < (0.7 if s.vt >= (2, 1, 17) else 0.25)
        return {"type": "thinking", "thinking": "" if empty else rng.choice(self.pools.thinking),
                "signature": rng.choice(self.pools.signatures)}  # fmt: skip

    def _tool_block(self, s: _Sess, name: str, inp: dict) -> dict:
        b = {"type": "tool_use", "id": f"toolu_01{self.b62(22)}", "name": name, "input": inp}
        if s.vt >= (2, 1, 90):
            b["caller"] = {"type": "direct"}
        return b

    def _work(self, s: _Sess, tr: _Transcript, api: _Api, steps: int, force_tool: str | None, model: str | None,
              final_kind: str = "normal", sub: bool = False) -> str:  # fmt: skip
        """Assistant/tool loop followed by a final text answer; returns the final text."""
        rng = self.rng
        added = 0
        for step in range(steps):
            blocks: list[dict] = []
            if s.thinking and rng.random() < s.thinking:
                blocks.append(self._think_block(s))
            if rng.random() < 0.7:
                blocks.append({"type": "text", "text": self._say(s, rng.choice(_PREAMBLES))})
            n_tools = 1 if rng.random() < 0.8 else rng.randint(2, 3)
            calls = []
            for j in range(n_tools):
                name = force_tool if (force_tool and step == 0 and j == 0) else self._pick_tool(s, sub, step)
                if name == "Task" and sub:
                    name = "Read"
                if name == "Task":
                    name = s.task_tool
                inp, res = self._tool(s, name)
                blk = self._tool_block(s, name, inp)
                blocks.append(blk)
                calls.append((blk, res))
            line_uuids = self._respond(s, tr, api, blocks, added, "tool_use", model)
            first_tool = len(blocks) - len(calls)
            added = 0
            for j, (blk, res) in enumerate(calls):
                added += self._tool_result(s, tr, blk, res, line_uuids[first_tool + j], sub)
            if (
                force_tool == "Bash"
                and step == 0
                and final_kind in ("pushback", "test")
                and rng.random() < 0.5
            ):
                force_tool = "Edit"
        # final answer
        blocks = []
        if s.thinking and rng.random() < s.thinking * 0.5:
            blocks.append(self._think_block(s))
        if final_kind == "unicode":
            text = self._say(s, _UNICODE_ANSWERS[self.uni_i % len(_UNICODE_ANSWERS)])
        elif sub:
            text = self._say(s, "Here is what I found:\n\n" + rng.choice(self.pools.answers))
        else:
            text = rng.choice(self.pools.answers)
            if rng.random() < 0.5:
                text = self._say(s, "I've updated `@rel`.") + ("\n\n" if text[0] == "#" else " ") + text
        blocks.append({"type": "text", "text": text})
        self._respond(s, tr, api, blocks, added, "end_turn", model)
        return text

    def _pick_tool(self, s: _Sess, sub: bool, step: int) -> str:
        r = self.rng.random()
        if sub:
            return ("Read", "Read", "Grep", "Glob", "Bash")[int(r * 5)]
        if r < 0.30:
            return "Bash"
        if r < 0.52:
            return "Read"
        if r < 0.70:
            return "Edit"
        if r < 0.75:
            return "Write"
        if r < 0.82:
            return "Grep"
        if r < 0.88:
            return "Glob"
        if r < 0.91:
            return "TodoWrite"
        if r < 0.94:
            return "WebFetch"
        if r < 0.96:
            return "MultiEdit"
        if r < 0.97:
            return "mcp__github__get_issue"
        return "Task"

    # ---- tools ---------------------------------------------------------------------------------------
    def _tool(self, s: _Sess, name: str) -> tuple[dict, tuple]:
        """Return (tool input, (content, toolUseResult, is_error))."""
        rng = self.rng
        proj = s.proj
        lang = proj.lang
        path, rel, cf = rng.choice(proj.files)
        err = rng.random() < 0.05
        if "err_next" in s.flags and name in ("Bash", "Read", "Edit", "MultiEdit"):
            s.flags.discard("err_next")  # forced sessions guarantee at least one failing tool call
            err = True
        if name == "Bash":
            r = rng.random()
            if r < 0.55:
                cmd, kind = rng.choice(_CMDS[lang])
                fail = err or (kind == "test" and rng.random() < 0.04)
                if kind == "test":
                    out = _TEST_FAIL[lang] if fail else _TEST_OK[lang]
                else:
                    out = _TEST_FAIL[lang] if fail else _LINT_OK[lang]
                cmd = self._say(s, cmd)
                out = self._say(s, out)
                err = fail
            else:
                cmd, out = rng.choice(_GIT_CMDS)
                out = self._say(s, out)
            inp = {"command": cmd, "description": rng.choice(("Run tests", "Check status", "Run linter",
                                                               "Show recent commits", "Build the project"))}  # fmt: skip
            if err:
                text = f"Error: Exit code 1\n{out}"
                return inp, (text, text, True)
            tur = {"stdout": out, "stderr": "", "interrupted": False, "isImage": False}
            if s.vt >= (2, 1, 0):
                tur["noOutputExpected"] = False
            return inp, (out, tur, False)
        if name == "Read":
            inp = {"file_path": path}
            if err:
                msg = "<tool_use_error>File does not exist.</tool_use_error>"
                return inp, (msg, "Error: File does not exist.", True)
            content = cf.numbered()
            n = len(cf.lines)
            tur = {"type": "text", "file": {"filePath": path, "content": cf.text, "numLines": n, "startLine": 1,
                                            "totalLines": n}}  # fmt: skip
            return inp, (content, tur, False)
        if name in ("Edit", "MultiEdit"):
            lines = cf.lines
            a = rng.randrange(max(len(lines) - 6, 1))
            old = "\n".join(lines[a : a + rng.randint(1, 5)])
            new = (
                old.replace("return", "return  # validated", 1)
                if "return" in old
                else old + "\n# TODO: handle errors"
            )
            if name == "Edit":
                inp = {"file_path": path, "old_string": old, "new_string": new}
                if rng.random() < 0.1:
                    inp["replace_all"] = False
            else:
                inp = {"file_path": path, "edits": [{"old_string": old, "new_string": new},
                                                    {"old_string": "import logging", "new_string": "import logging\nimport os"}]}  # fmt: skip
            if err:
                msg = rng.choice(("File has not been read yet. Read it first before writing to it.",
                                  f"String to replace not found in file.\nString: {old[:80]}"))  # fmt: skip
                return inp, (f"<tool_use_error>{msg}</tool_use_error>", f"Error: {msg}", True)
            s.edited.append(path)
            patch = [{"oldStart": a + 1, "oldLines": old.count("\n") + 1, "newStart": a + 1,
                      "newLines": new.count("\n") + 1, "lines": [f"-{x}" for x in old.split("\n")]
                      + [f"+{x}" for x in new.split("\n")]}]  # fmt: skip
            if s.vt >= (2, 0, 0):
                content = f"The file {path} has been updated successfully."
            else:
                snippet = "\n".join(f"{i:>6}→{ln}" for i, ln in enumerate(lines[a : a + 8], a + 1))
                content = (f"The file {path} has been updated. Here's the result of running `cat -n` on a snippet of "
                           f"the edited file:\n{snippet}")  # fmt: skip
            if name == "Edit":
                tur = {"filePath": path, "oldString": old, "newString": new, "originalFile": cf.text,
                       "replaceAll": False, "structuredPatch": patch, "userModified": False}  # fmt: skip
            else:
                tur = {"filePath": path, "edits": inp["edits"], "originalFileContents": cf.text,
                       "structuredPatch": patch, "userModified": False}  # fmt: skip
            return inp, (content, tur, False)
        if name == "Write":
            src = rng.choice(self.pools.files[lang])
            new_path = (
                path.rsplit("/", 1)[0]
                + f"/{rng.choice(_NOUNS)}_{rng.choice(_VERBS)}."
                + path.rsplit(".", 1)[-1]
            )
            inp = {"file_path": new_path, "content": src.text}
            s.edited.append(new_path)
            tur = {"type": "create", "filePath": new_path, "content": src.text, "structuredPatch": []}
            return inp, (f"File created successfully at: {new_path}", tur, False)
        if name == "Grep":
            pat = rng.choice(
                (f"def {rng.choice(_VERBS)}_", rng.choice(_NOUNS).capitalize(), "TODO|FIXME", "cache")
            )
            files = [f[0] for f in rng.sample(proj.files, rng.randint(0, 5))]
            if rng.random() < 0.7:
                inp = {"pattern": pat, "output_mode": "files_with_matches"}
                content = f"Found {len(files)} file{'s' if len(files) != 1 else ''}\n" + "\n".join(files)
                if not files:
                    content = "No files found"
                tur = {"mode": "files_with_matches", "filenames": files, "numFiles": len(files)}
            else:
                inp = {"pattern": pat, "path": proj.cwd, "output_mode": "content", "-n": True}
                body = "\n".join(f"{f}:{rng.randint(1, 300)}:    {pat.split('|')[0]}" for f in files)
                content = body or "No matches found"
                tur = {
                    "mode": "content",
                    "numFiles": 0,
                    "filenames": [],
                    "content": body,
                    "numLines": len(files),
                }
            return inp, (content, tur, False)
        if name == "Glob":
            files = [f[0] for f in rng.sample(proj.files, rng.randint(1, 8))]
            inp = {"pattern": _EXT_GLOB[lang]}
            tur = {
                "filenames": files,
                "durationMs": rng.randint(5, 400),
                "numFiles": len(files),
                "truncated": False,
            }
            return inp, ("\n".join(files), tur, False)
        if name == "TodoWrite":
            picks = rng.sample(_TODOS, rng.randint(3, 6))
            k = rng.randrange(len(picks))
            noun = rng.choice(_NOUNS)
            new = [{"content": c.replace("@noun", noun), "status": "completed" if i < k else ("in_progress" if i == k
                    else "pending"), "activeForm": a.replace("@noun", noun)} for i, (c, a) in enumerate(picks)]  # fmt: skip
            old = s.todos
            s.todos = new
            s.used_todo = True
            msg = ("Todos have been modified successfully. Ensure that you continue to use the todo list to track your "
                   "progress. Please proceed with the current tasks if applicable")  # fmt: skip
            return {"todos": new}, (msg, {"oldTodos": old, "newTodos": new}, False)
        if name == "WebFetch":
            url = rng.choice(_URLS)
            inp = {"url": url, "prompt": "Summarise the relevant API and its edge cases"}
            text = rng.choice(self.pools.answers)
            tur = {"bytes": rng.randint(8_000, 120_000), "code": 200, "codeText": "OK", "result": text,
                   "durationMs": rng.randint(300, 6_000), "url": url}  # fmt: skip
            return inp, (text, tur, False)
        if name == "mcp__github__get_issue":
            num = rng.randint(10, 400)
            inp = {"owner": "demo-org", "repo": proj.name, "issue_number": num}
            issue = orjson.dumps({"number": num, "title": self._say(s, rng.choice(_QUESTIONS)), "state": "open",
                                  "user": {"login": "octocat"}, "labels": [{"name": "bug"}],
                                  "body": self._say(s, "Steps to reproduce:\n1. call @func with an empty list\n"
                                                       "2. observe @error")}).decode()  # fmt: skip
            return inp, ([{"type": "text", "text": issue}], [{"type": "text", "text": issue}], False)
        # Task / Agent
        desc, atype, prompt = rng.choice(_AGENT_TASKS)
        inp = {"description": self._say(s, desc), "prompt": self._say(s, prompt), "subagent_type": atype}
        return inp, ("__agent__", atype, False)

    def _tool_result(self, s: _Sess, tr: _Transcript, blk: dict, res: tuple, a_uuid: str, sub: bool) -> int:
        """Write the user line answering a tool_use; returns the approximate tokens it adds to the context."""
        rng = self.rng
        content, tur, is_error = res
        tid = blk["id"]
        if content == "__agent__":
            content, tur = self._subagent(s, blk, tur)
        hooks = s.hooks and s.progress and not sub
        if hooks:
            tr.env("progress", {"data": {"type": "hook_progress", "hookEvent": "PreToolUse",
                                         "hookName": f"PreToolUse:{blk['name']}", "command": "~/.claude/hooks/guard.sh"},
                                "parentToolUseID": tid, "toolUseID": tid}, s.t)  # fmt: skip
        dur = rng.randint(80, 4_000) if blk["name"] != "Bash" else rng.randint(300, 40_000)
        if (
            blk["name"] == "Bash"
            and s.progress
            and not sub
            and (s.first_bash or (dur > 3_000 and rng.random() < 0.6))
        ):
            s.first_bash = False
            dur = max(dur, 3_000)
            out = content if isinstance(content, str) else ""
            n = rng.randint(1, 3)
            for k in range(n):
                part = out[: (k + 1) * max(len(out) // (n + 1), 1)]
                tr.env("progress", {"data": {"type": "bash_progress", "output": part, "fullOutput": part,
                                             "elapsedTimeSeconds": (k + 1) * dur // (n + 1) // 1000,
                                             "totalLines": part.count("\n") + 1, "timeoutMs": 120000},
                                    "toolUseID": f"bash-progress-{k}", "parentToolUseID": tid},
                       s.t + (k + 1) * dur // (n + 1))  # fmt: skip
        s.t += dur
        block: dict[str, Any] = {"tool_use_id": tid, "type": "tool_result", "content": content}
        if is_error:
            block["is_error"] = True
        elif blk["name"] == "Bash":
            block["is_error"] = False
        payload: dict[str, Any] = {}
        if s.prompt_id and not sub:
            payload["promptId"] = s.prompt_id
        payload["message"] = {"role": "user", "content": [block]}
        payload["toolUseResult"] = tur
        if s.vt >= (2, 1, 17):
            payload["sourceToolAssistantUUID"] = a_uuid
        u = tr.env("user", payload, s.t)
        if hooks:
            tr.env("progress", {"data": {"type": "hook_progress", "hookEvent": "PostToolUse",
                                         "hookName": f"PostToolUse:{blk['name']}", "command": "~/.claude/hooks/format.sh"},
                                "parentToolUseID": tid, "toolUseID": tid}, s.t + 15)  # fmt: skip
        if tr.mirror is not None and len(tr.mirror) < 8:
            tr.mirror.append((s.t, {"type": "user", "message": payload["message"], "uuid": u,
                                    "timestamp": self.iso(s.t)}))  # fmt: skip
        if "hooknotice" in s.flags and blk["name"] in ("Edit", "Write", "MultiEdit") and not sub:
            tr.env("system", {"content": f"\x1b[1mPostToolUse:{blk['name']}\x1b[22m [~/.claude/hooks/format.sh] "
                                         "completed successfully", "isMeta": False, "level": "info",
                              "toolUseID": tid}, s.t + 20)  # fmt: skip
        size = len(content) if isinstance(content, str) else sum(len(c.get("text", "")) for c in content)
        return size // 4 + 20

    # ---- subagents ----------------------------------------------------------------------------------
    def _subagent(self, s: _Sess, blk: dict, atype: str) -> tuple[list[dict], dict]:
        rng = self.rng
        legacy = s.legacy_agents
        agent_id = self.hexid(8) if legacy else "a" + self.hexid(16)
        sub = _Transcript(self, s, agent_id=agent_id, mirror=s.progress)
        api = _Api(rng, rng.randint(4_000, 14_000), s.api.share1h)
        saved_model, saved_thinking, t0 = s.model, s.thinking, s.t
        if atype == "Explore" and s.vt >= (2, 0, 17):
            s.model = HAIKU45
        s.thinking = 0.0
        prompt = blk["input"]["prompt"]
        u = sub.env("user", {"message": {"role": "user", "content": prompt}}, s.t + 50, parent=None)
        if sub.mirror is not None:
            sub.mirror.append((s.t + 50, {"type": "user", "message": {"role": "user", "content": [
                {"type": "text", "text": prompt}]}, "uuid": u, "timestamp": self.iso(s.t + 50)}))  # fmt: skip
        api.ctx += len(prompt) // 4
        steps = rng.randint(1, 2) if self.tiny else rng.randint(2, 6)
        final = self._work(s, sub, api, steps, None, None, sub=True)
        s.model, s.thinking = saved_model, saved_thinking
        pdir = self.out / "projects" / s.proj.dirname
        if legacy:
            self.write(pdir / f"agent-{agent_id}.jsonl", sub.data(), transcript=True, mtime_ms=s.t)
        else:
            adir = pdir / s.sid / "subagents"
            self.write(adir / f"agent-{agent_id}.jsonl", sub.data(), transcript=True, mtime_ms=s.t)
            self.write(adir / f"agent-{agent_id}.meta.json", orjson.dumps(
                {"agentType": atype, "description": blk["input"]["description"]}))  # fmt: skip
        if sub.mirror:
            tr = s.main
            toolu = f"agent_msg_01{self.b62(22)}"
            for ts, m in sub.mirror:
                tr.env("progress", {"data": {"message": m, "normalizedMessages": [], "type": "agent_progress",
                                             "prompt": prompt, "agentId": agent_id},
                                    "toolUseID": toolu, "parentToolUseID": blk["id"]}, ts)  # fmt: skip
        dur = s.t - t0
        total = api.ctx
        tools = steps
        usage = {"input_tokens": rng.randint(10, 200), "cache_creation_input_tokens": rng.randint(1000, 8000),
                 "cache_read_input_tokens": max(total - 8000, 0), "output_tokens": rng.randint(300, 3000),
                 "service_tier": "standard"}  # fmt: skip
        note = (f"agentId: {agent_id} (for resuming to continue this agent's work if needed)\n<usage>total_tokens: "
                f"{total}\ntool_uses: {tools}\nduration_ms: {dur}</usage>")  # fmt: skip
        content = [{"type": "text", "text": final}, {"type": "text", "text": note}]
        tur = {"status": "completed", "prompt": prompt, "agentId": agent_id, "content": [{"type": "text", "text": final}],
               "totalDurationMs": dur, "totalTokens": total, "totalToolUseCount": tools, "usage": usage}  # fmt: skip
        if s.task_tool == "Agent":
            tur["agentType"] = atype
        return content, tur

    def _warmup(self, s: _Sess) -> None:
        rng = self.rng
        agent_id = self.hexid(8)
        sub = _Transcript(self, s, agent_id=agent_id)
        api = _Api(rng, rng.randint(3_000, 12_000), 0.0)
        t = s.t - rng.randint(500, 5_000)
        sub.env("user", {"message": {"role": "user", "content": "Warmup"}}, t, parent=None)
        saved = s.t
        s.t = t
        text = ("I'm ready to help you search and analyze this codebase. What would you like me to look for? I can find "
                "files, search for patterns, and explain how things fit together.")  # fmt: skip
        self._respond(s, sub, api, [{"type": "text", "text": text}], 0, "end_turn",
                      HAIKU45 if s.vt >= (2, 0, 17) else s.model)  # fmt: skip
        s.t = saved
        self.write(
            self.out / "projects" / s.proj.dirname / f"agent-{agent_id}.jsonl", sub.data(), transcript=True
        )

    # ---- special turns -------------------------------------------------------------------------------
    def _compact(self, s: _Sess, trigger: str) -> None:
        rng = self.rng
        tr = s.main
        pre = s.api.ctx
        if trigger == "manual":
            self._local_compact_cmd(s)
        s.t += rng.randint(20_000, 90_000)
        b = tr.env("system", {"subtype": "compact_boundary", "content": "Conversation compacted", "isMeta": False,
                              "level": "info", "logicalParentUuid": tr.last,
                              "compactMetadata": {"trigger": trigger, "preTokens": pre}}, s.t, parent=None)  # fmt: skip
        if rng.random() < 0.5 and s.slug:
            s.slug = self.slug()
            tr.refresh()
        recent = "\n".join(f"   - {p[:160]}" for p in s.prompts[-4:])
        summary = (f"{_COMPACT_INTRO}Analysis:\nThe conversation is about the {s.proj.name} project.\n\nSummary:\n"
                   f"1. Primary Request and Intent:\n{recent}\n\n2. Key Technical Concepts:\n   - {s.proj.lang} codebase"
                   f", tests, caching\n\n3. Files and Code Sections:\n" + "\n".join(f"   - {p}" for p in s.edited[-5:])
                   + "\n\n4. Pending Tasks:\n   - Finish the remaining items\n\nPlease continue the conversation from "
                   "where we left it off without asking the user any further questions.")  # fmt: skip
        tr.env("user", {"message": {"role": "user", "content": summary}, "isVisibleInTranscriptOnly": True,
                        "isCompactSummary": True}, s.t + 5, parent=b)  # fmt: skip
        s.api.ctx = rng.randint(18_000, 40_000)
        s.api.cached = 0

    def _local_compact_cmd(self, s: _Sess) -> None:
        tr = s.main
        s.t += self.rng.randint(20_000, 200_000)
        tr.env("user", {"message": {"role": "user", "content": f"<local-command-caveat>{_CAVEAT}</local-command-caveat>"},
                        "isMeta": True}, s.t)  # fmt: skip
        tr.env("user", {"message": {"role": "user", "content": "<command-name>/compact</command-name>\n            "
                        "<command-message>compact</command-message>\n            <command-args></command-args>"}},
               s.t)  # fmt: skip
        self.history.append((s.t, orjson.dumps({"display": "/compact", "pastedContents": {}, "timestamp": s.t,
                                                "project": s.proj.cwd, "sessionId": s.sid}) + b"\n"))  # fmt: skip

    def _api_error(self, s: _Sess) -> None:
        s.t += self.rng.randint(2_000, 60_000)
        msg = {"id": self.uuid(), "model": "<synthetic>", "role": "assistant", "stop_reason": "stop_sequence",
               "stop_sequence": "", "type": "message",
               "usage": {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0,
                         "cache_read_input_tokens": 0, "server_tool_use": {"web_search_requests": 0},
                         "service_tier": None}, "content": [{"type": "text", "text":
               'API Error: 529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'}]}  # fmt: skip
        s.main.env("assistant", {"message": msg, "isApiErrorMessage": True}, s.t)

    def _interrupt(self, s: _Sess) -> None:
        rng = self.rng
        tr = s.main
        if rng.random() < 0.5:
            self._respond(
                s, tr, s.api, [{"type": "text", "text": self._say(s, rng.choice(_PREAMBLES))}], 0, "end_turn"
            )
            s.t += rng.randint(1_000, 10_000)
            tr.env("user", {"message": {"role": "user", "content": "[Request interrupted by user]"}}, s.t)
        else:
            inp, _ = self._tool(s, "Bash")
            blk = self._tool_block(s, "Bash", inp)
            a = self._respond(
                s, tr, s.api, [{"type": "text", "text": "Let me run the full suite."}, blk], 0, "tool_use"
            )[-1]
            s.t += rng.randint(1_000, 10_000)
            payload: dict[str, Any] = {"message": {"role": "user", "content": [
                {"type": "tool_result", "content": _REJECT, "is_error": True, "tool_use_id": blk["id"]}]},
                "toolUseResult": "Error: The user doesn't want to proceed with this tool use."}  # fmt: skip
            if s.vt >= (2, 1, 17):
                payload["sourceToolAssistantUUID"] = a
            tr.env("user", payload, s.t)
            tr.env("user", {"message": {"role": "user", "content": [
                {"type": "text", "text": "[Request interrupted by user for tool use]"}]}}, s.t + 3)  # fmt: skip

    def _start_attachments(self, s: _Sess) -> None:
        tr = s.main
        rng = self.rng
        if s.hooks:
            tr.env("attachment", {"attachment": {"type": "hook_success", "hookName": "SessionStart:startup",
                   "toolUseID": self.uuid(), "hookEvent": "SessionStart", "content": "", "stdout": "ok\n", "stderr": "",
                   "exitCode": 0, "command": "~/.claude/hooks/session-start.sh", "durationMs": rng.randint(20, 1500)}},
                   s.t, parent=None)  # fmt: skip
        tr.env("attachment", {"attachment": {"type": "skill_listing", "content": "- simplify: Review changed code for "
               "reuse, quality, and efficiency.\n- loop: Run a prompt on a recurring interval.",
               "skillCount": 2, "isInitial": True}}, s.t)  # fmt: skip
        names = ["AskUserQuestion", "EnterPlanMode", "ExitPlanMode", "NotebookEdit", "TaskCreate", "TaskGet",
                 "TaskList", "TaskUpdate", "WebFetch", "WebSearch", "mcp__github__get_issue"]  # fmt: skip
        tr.env("attachment", {"attachment": {"type": "deferred_tools_delta", "addedNames": names, "addedLines": names,
                                             "removedNames": []}}, s.t)  # fmt: skip

    def _attachment(self, s: _Sess) -> None:
        rng = self.rng
        if s.edited and rng.random() < 0.5:
            a: dict[str, Any] = {"type": "edited_text_file", "filename": s.edited[-1],
                                 "snippet": "\n".join(rng.choice(s.proj.files)[2].lines[:6])}  # fmt: skip
        else:
            tasks = [{"id": str(i + 1), "subject": self._say(s, c), "description": self._say(s, c), "activeForm":
                      self._say(s, f), "status": rng.choice(("pending", "in_progress", "completed")), "blocks": [],
                      "blockedBy": []} for i, (c, f) in enumerate(rng.sample(_TODOS, 3))]  # fmt: skip
            a = {"type": "task_reminder", "content": tasks, "itemCount": len(tasks)}
        s.main.env("attachment", {"attachment": a}, s.t + 2)

    def _tasks(self, s: _Sess) -> None:
        rng = self.rng
        d = self.out / "tasks" / s.sid
        n = rng.randint(2, 6)
        for i, (c, f) in enumerate(rng.sample(_TODOS, n), 1):
            t: dict[str, Any] = {"id": str(i), "subject": self._say(s, c),
                                 "description": self._say(s, c + " in @rel, then run `@cmd`."), "activeForm": self._say(s, f),
                                 "status": rng.choice(("pending", "in_progress", "completed", "completed")),
                                 "blocks": [str(i + 1)] if i < n and rng.random() < 0.3 else [],
                                 "blockedBy": [str(i - 1)] if i > 1 and rng.random() < 0.3 else []}  # fmt: skip
            if rng.random() < 0.3:
                t["owner"] = rng.choice(("alice", "bob", "carol"))
            if rng.random() < 0.2:
                t["metadata"] = {"source": "plan"}
            self.write(d / f"{i}.json", orjson.dumps(t, option=orjson.OPT_INDENT_2))


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
