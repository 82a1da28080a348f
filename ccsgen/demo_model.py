"""Data model of the demo generator: versions, models, text pools and per-project / per-session state.

Holds the Claude Code version list and which models each version uses; the pre-generated text pools
(``_Pools``: code files, snippets, thinking, answers, PNGs); a project (``_Project``); token accounting for one
conversation context (``_Api``); one JSONL transcript being built in memory (``_Transcript``, which writes
the envelope fields in each version's key order); and one session's state (``_Sess``). The generator in
:mod:`ccsgen.demo` drives these.
"""

from __future__ import annotations

import base64
import random
import re
import struct
import zlib
from typing import TYPE_CHECKING, Any

import orjson

from .demo_text import (
    _BULLETS,
    _CLOSINGS,
    _CODE_TEMPLATES,
    _EXPLAIN,
    _FENCE,
    _FIELDS,
    _HEADERS,
    _HEADINGS,
    _NOUNS,
    _PATHS,
    _THINK,
    _VERBS,
)

if TYPE_CHECKING:
    from .demo import _Gen


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
