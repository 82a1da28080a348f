"""A session's rows (entries + blocks, file order) -> the messages a transcript page shows.

- Streamed lines of one API response (same ``msg_id`` + ``request_id``) are one message,
  with the usage of that response (from the ``responses`` table, never summed per line).
- Tool calls are paired with their results by tool id; result lines are not messages of their own.
- A Task/Agent call carries its subagent's thread (``result_agent_id`` names the agent; for old
  logs without it, the thread whose first prompt is the call's prompt). Threads no call claims
  are listed after the conversation.
- Slash commands, ``!`` shell input, compaction boundaries and summaries, interruptions, task
  notifications and recaps get their own kinds; harness noise (meta text, hooks, reminders,
  warm-ups) is kept but marked ``noise`` (hidden unless the reader asks for it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from markupsafe import Markup

from ..rawvalues import split_context
from ..stats import iso
from . import markdown as md
from .filters import compact, duration
from .toolview import AGENT_TOOLS, ToolView, cap, clean_output, parse_input, strip_ansi, tool_view

#: a session with more top-level messages than this is split into pages of PAGE_SIZE
PAGINATE_ABOVE = 2000
PAGE_SIZE = 1000
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
TEXT_MAX_CHARS = 30_000  # one prompt / answer shown in full up to this size

ENTRY_COLUMNS = ["uuid", "parent_uuid", "session_id", "agent_id", "is_sidechain", "kind", "subtype", "timestamp", "model",
                 "msg_id", "request_id", "text", "user_kind", "is_meta", "is_api_error", "duration_ms",
                 "file_id", "line_no"]
BLOCK_COLUMNS = ["uuid", "idx", "btype", "text", "tool_id", "tool_name", "input_json", "is_error", "size",
                 "media_type", "data", "result_agent_id"]

_B64 = re.compile(r"[A-Za-z0-9+/\r\n]+={0,2}")


def _tag(text: str, name: str) -> str | None:
    i = text.find(f"<{name}>")
    if i < 0:
        return None
    j = text.find(f"</{name}>", i)
    return text[i + len(name) + 2: j if j >= 0 else len(text)]


@dataclass(slots=True)
class Part:
    type: str  # text | thinking | image | tool | pre
    html: Markup | None = None
    text: str = ""
    tool: ToolView | None = None
    chars: int = 0


@dataclass(slots=True)
class Msg:
    n: int  # anchor number, unique within the session ("m{n}")
    kind: str  # user command bash assistant compact boundary interrupt notice meta result
    role: str  # user | assistant | system
    ts: datetime | None
    uuid: str = ""
    noise: bool = False
    label: str = ""  # short caption (command name, notice title…)
    text: str = ""  # the raw text (JSON twin, search); tool output of commands
    html: Markup | None = None
    output: str = ""  # command / shell output
    output_error: bool = False
    parts: list[Part] = field(default_factory=list)
    chips: list[str] = field(default_factory=list)
    model: str | None = None
    show_model: bool = False  # the model changed since the previous response of this thread
    usage: dict | None = None
    usage_text: str = ""
    level: str = ""  # notice level: info | warning | error
    iso: str = ""
    clock: str = ""
    anchor: str = ""  # the element id: m-<uuid of the line> (stable across builds; search results link to it)

    def as_json(self) -> dict:
        d: dict = {"n": self.n, "kind": self.kind, "role": self.role, "timestamp": self.iso or None,
                   "uuid": self.uuid or None}
        if self.noise:
            d["noise"] = True
        if self.label:
            d["label"] = self.label
        if self.text:
            d["text"] = self.text
        if self.output:
            d["output"] = self.output
        if self.model:
            d["model"] = self.model
        if self.usage:
            d["usage"] = self.usage
        if self.parts:
            d["content"] = [_part_json(p) for p in self.parts]
        return d


def _part_json(p: Part) -> dict:
    if p.type == "tool" and p.tool is not None:
        d = {"type": "tool_use", **p.tool.as_json()}
        if p.tool.thread:
            d["thread"] = [m.as_json() for m in p.tool.thread]
        return d
    if p.type == "image":
        return {"type": "image", "media_type": p.text, "bytes": p.chars}
    if p.type == "thinking":
        return {"type": "thinking", "text": p.text, "redacted": not p.text}
    return {"type": p.type, "text": p.text}


def _usage_text(u: dict) -> str:
    s = f"{compact(u['input'])} in · {compact(u['output'])} out"
    if u["cache_read"]:
        s += f" · {compact(u['cache_read'])} cached"
    if u["cache_write"]:
        s += f" · {compact(u['cache_write'])} to cache"
    return s


@dataclass(slots=True)
class Thread:
    """A subagent transcript no tool call claimed (warm-ups, side questions, compaction agents…)."""

    key: str
    agent_id: str
    label: str
    messages: list[Msg]
    noise: bool


@dataclass(slots=True)
class Transcript:
    messages: list[Msg]
    threads: list[Thread]
    noise: int  # hidden-by-default messages at top level
    prompts: list[Msg]  # the person's prompts, for the page's outline

    def pages(self) -> list[list[Msg]]:
        m = self.messages
        if len(m) <= PAGINATE_ABOVE:
            return [m]
        return [m[i: i + PAGE_SIZE] for i in range(0, len(m), PAGE_SIZE)]


class Builder:
    """Builds one session's Transcript. ``responses`` are that session's rows of the responses table."""

    def __init__(self, entries: list[dict], blocks: Iterable[dict], responses: Iterable[dict], *,
                 images: bool = True):
        self.images = images
        self.n = 0
        self._last_model: str | None = None
        self.by_uuid: dict[str, list[dict]] = {}
        self.results: dict[str, dict] = {}
        for b in blocks:
            self.by_uuid.setdefault(b["uuid"], []).append(b)
            if b["btype"] == "tool_result" and b["tool_id"] and b["tool_id"] not in self.results:
                self.results[b["tool_id"]] = b
        self.usage_by_key: dict = {}
        for r in responses:
            u = {"input": r["input_tokens"], "output": r["output_tokens"],
                 "cache_write": r["cache_creation_tokens"], "cache_read": r["cache_read_tokens"],
                 "total": r["total_tokens"], "cost": r["cost_usd"]}
            if r["msg_id"] and r["request_id"]:
                self.usage_by_key[(r["msg_id"], r["request_id"])] = u
            else:
                self.usage_by_key[r["uuid"]] = u
        self.main: list[dict] = []
        self.side: dict[str, list[dict]] = {}
        chain_of: dict[str, str] = {}
        last_chain: dict[int, str] = {}
        for e in entries:
            if not e["is_sidechain"]:
                self.main.append(e)
                continue
            key = e["agent_id"]
            if not key:
                # the oldest logs keep subagent lines in the main file without an agent id: each run is a
                # chain of parentUuid links from a root line (parentUuid null)
                parent = e.get("parent_uuid")
                if parent is None:
                    key = f"chain-{e['uuid']}"
                else:
                    key = chain_of.get(parent) or last_chain.get(e["file_id"]) or f"chain-{e['uuid']}"
                chain_of[e["uuid"]] = key
                last_chain[e["file_id"]] = key
            self.side.setdefault(key, []).append(e)
        self.tool_ids = {b["tool_id"] for bl in self.by_uuid.values() for b in bl
                         if b["btype"] in ("tool_use", "server_tool_use") and b["tool_id"]}
        self.claimed: set[str] = set()
        self._by_prompt: dict[str, list[str]] = {}  # first prompt -> threads (for calls without an agent id)
        for key, rows in self.side.items():
            if rows[0]["kind"] == "user" and rows[0]["text"]:
                self._by_prompt.setdefault(rows[0]["text"].strip(), []).append(key)

    # ------------------------------------------------------------------ entry point

    def build(self) -> Transcript:
        msgs = self.thread(self.main)
        threads = []
        for key, rows in self.side.items():
            if key in self.claimed:
                continue
            agent = rows[0]["agent_id"] or ""
            warm = all(r["user_kind"] in ("warmup", None) or r["kind"] != "user" for r in rows) and any(
                r["user_kind"] == "warmup" for r in rows)
            label = "warm-up" if warm else (
                "side question" if "aside_question" in agent else
                "compaction" if "compact" in agent else "subagent")
            threads.append(Thread(key, agent, label, self.thread(rows), warm))
        prompts = [m for m in msgs if m.kind in ("user", "command", "bash")]
        return Transcript(msgs, threads, sum(1 for m in msgs if m.noise), prompts)

    def _next(self) -> int:
        self.n += 1
        return self.n

    # ------------------------------------------------------------------ one thread

    def thread(self, rows: list[dict], skip_prompt: str | None = None) -> list[Msg]:
        out: list[Msg] = []
        open_resp: dict = {}
        outer_model = self._last_model
        self._last_model = None
        for i, e in enumerate(rows):
            kind = e["kind"]
            if kind == "assistant":
                key = (e["msg_id"], e["request_id"]) if e["msg_id"] else e["uuid"]
                m = open_resp.get(key)
                if m is None:
                    m = self._assistant(e, key)
                    if m is None:
                        continue
                    open_resp[key] = m
                    out.append(m)
                else:
                    self._assistant_parts(m, e)
            elif kind == "user":
                if i == 0 and skip_prompt is not None and (e["text"] or "").strip() == skip_prompt:
                    continue
                m = self._user(e, out)
                if m is not None:
                    out.append(m)
            else:
                m = self._system(e, out)
                if m is not None:
                    out.append(m)
        self._last_model = outer_model
        return out

    def _msg(self, e: dict, kind: str, role: str, **kw) -> Msg:
        t = e["timestamp"]
        m = Msg(self._next(), kind, role, t, e["uuid"] or "", **kw)
        m.anchor = f"m-{m.uuid}" if m.uuid else f"m{m.n}"
        if t is not None:
            m.iso = iso(t)
            m.clock = m.iso[11:19]
        return m

    # ------------------------------------------------------------------ assistant

    def _assistant(self, e: dict, key) -> Msg | None:
        if e["is_api_error"]:
            text = e["text"] or "API error"
            return self._msg(e, "notice", "assistant", label="API error", text=text, level="error",
                             html=md.markdown(text))
        u = self.usage_by_key.get(key) or self.usage_by_key.get(e["uuid"])
        m = self._msg(e, "assistant", "assistant", model=e["model"], usage=u, usage_text=_usage_text(u) if u else "")
        m.show_model = bool(m.model) and m.model != self._last_model
        self._last_model = m.model or self._last_model
        self._assistant_parts(m, e)
        return m

    def _assistant_parts(self, m: Msg, e: dict) -> None:
        blocks = self.by_uuid.get(e["uuid"])
        if not blocks:
            if e["text"]:
                m.parts.append(self._text(e["text"]))
            return
        for b in blocks:
            bt = b["btype"]
            if bt == "text":
                if (b["text"] or "").strip():
                    m.parts.append(self._text(b["text"]))
            elif bt == "thinking" or bt == "redacted_thinking":
                t = b["text"] or ""
                m.parts.append(Part("thinking", md.markdown(t) if t.strip() else None, t, chars=len(t)))
            elif bt in ("tool_use", "server_tool_use"):
                m.parts.append(Part("tool", tool=self._tool(b)))
            elif bt == "image":
                p = self._image(b)
                if p is not None:
                    m.parts.append(p)

    def _text(self, text: str, breaks: bool = False) -> Part:
        shown, omitted = cap(text, TEXT_MAX_CHARS)
        p = Part("text", md.markdown(shown, breaks=breaks), text)
        p.chars = omitted
        return p

    def _tool(self, b: dict) -> ToolView:
        res = self.results.get(b["tool_id"]) if b["tool_id"] else None
        t = tool_view(b, res)
        if t.name in AGENT_TOOLS:
            key = res.get("result_agent_id") if res else None
            inp = None
            if not key or key not in self.side:
                inp, _ = parse_input(b["input_json"])
                same = self._by_prompt.get(str(inp.get("prompt") or "").strip(), [])
                key = next((k for k in same if k not in self.claimed), None)
            if key and key in self.side and key not in self.claimed:
                self.claimed.add(key)
                if inp is None:
                    inp, _ = parse_input(b["input_json"])
                t.agent_id = self.side[key][0]["agent_id"] or ""
                t.thread = self.thread(self.side[key], skip_prompt=str(inp.get("prompt") or "").strip())
        return t

    def _image(self, b: dict) -> Part | None:
        mt = (b["media_type"] or "").lower()
        data = b["data"] or ""
        size = int(b["size"] or len(data))
        if not self.images:
            return Part("image", text=mt, chars=size)  # omitted (published site)
        if mt not in IMAGE_TYPES or not data or not _B64.fullmatch(data):
            return Part("image", text=mt or "unknown", chars=size)
        return Part("image", Markup("data:{};base64,{}").format(mt, data), mt, chars=size)

    # ------------------------------------------------------------------ user

    def _user(self, e: dict, out: list[Msg]) -> Msg | None:
        uk = e["user_kind"]
        text = e["text"] or ""
        if uk == "tool_result":
            return self._orphan_results(e)
        chips: list[str] = []
        blocks, rest = split_context(text) if uk in ("prompt", "meta") and not e["is_meta"] else ([], text)
        if blocks:  # the IDE's open file or selection (or a reminder) sent along with what the person typed
            chips = [("IDE · " if name.startswith("ide_") else "reminder · ") + _one_line(body, 120)
                     for name, body in blocks]
            if rest.strip():
                text = rest.strip()
            elif all(name.startswith("ide_") for name, _ in blocks):
                return self._msg(e, "meta", "user", noise=True, label="IDE",
                                 text="; ".join(c.removeprefix("IDE · ") for c in chips))
        if uk == "prompt":
            m = self._prompt(e, text)
            m.chips = chips
            return m
        if uk == "command":
            name = (_tag(text, "command-name") or "").strip()
            if name and not name.startswith("/"):
                name = "/" + name
            args = (_tag(text, "command-args") or "").strip()
            body = _tag(text, "command-contents")
            m = self._msg(e, "command", "user", label=name or "/command", text=args)
            if body and body.strip():
                m.output = cap(body.strip(), 4000)[0]
            return m
        if uk == "bash":
            cmd = _tag(text, "bash-input") or text
            return self._msg(e, "bash", "user", label="!", text=cmd.strip())
        if uk == "bash_output":
            stdout = strip_ansi(_tag(text, "bash-stdout") or "")
            stderr = strip_ansi(_tag(text, "bash-stderr") or "")
            output = "\n".join(x for x in (stdout.rstrip(), stderr.rstrip()) if x)
            prev = out[-1] if out else None
            if prev is not None and prev.kind == "bash" and not prev.output:
                prev.output = cap(output, 4000, 120)[0]
                prev.output_error = bool(stderr.strip()) and not stdout.strip()
                return None
            return self._msg(e, "notice", "user", label="shell output", text=cap(output, 4000, 120)[0])
        if uk == "command_output":
            inner = _tag(text, "local-command-stdout")
            if inner is None:  # the "Caveat: … local commands" preamble
                return self._msg(e, "meta", "user", noise=True, label="caveat", text=text)
            inner = strip_ansi(inner).strip()
            prev = out[-1] if out else None
            if prev is not None and prev.kind == "command" and not prev.output:
                prev.output = cap(inner, 4000, 120)[0]
                return None
            return self._msg(e, "meta", "user", noise=inner in ("", "(no content)"), label="command output",
                             text=cap(inner, 4000, 120)[0])
        if uk == "compact_summary":
            return self._msg(e, "compact", "user", label="summary", text=text,
                             html=md.markdown(cap(text, TEXT_MAX_CHARS)[0]))
        if uk == "interrupt":
            return self._msg(e, "interrupt", "user", label="interrupted", text=text.strip("[] \n"))
        if uk == "task_notification":
            summary = (_tag(text, "summary") or "").strip() or "background task finished"
            status = (_tag(text, "status") or "").strip()
            return self._msg(e, "notice", "user", label="task " + (status or "notification"), text=summary,
                             level="error" if status in ("failed", "killed") else "info")
        # meta, warmup, empty, unknown kinds: kept, hidden by default
        label = {"warmup": "warm-up", "empty": "empty"}.get(uk or "", "meta")
        if uk == "empty" and not self.by_uuid.get(e["uuid"]):
            return None
        m = self._msg(e, "meta", "user", noise=True, label=label, text=cap(text, 4000, 80)[0])
        self._images_into(m, e)
        return m

    def _prompt(self, e: dict, text: str) -> Msg:
        m = self._msg(e, "user", "user", text=text)
        if text.strip():
            m.parts.append(self._text(text, breaks=True))
        self._images_into(m, e)
        return m

    def _images_into(self, m: Msg, e: dict) -> None:
        for b in self.by_uuid.get(e["uuid"], ()):
            if b["btype"] == "image":
                p = self._image(b)
                if p is not None:
                    m.parts.append(p)

    def _orphan_results(self, e: dict) -> Msg | None:
        """Tool results whose call is not in this session (cut logs), and text sent along with results."""
        parts = []
        for b in self.by_uuid.get(e["uuid"], ()):
            if b["btype"] == "tool_result" and b["tool_id"] not in self.tool_ids:
                text = clean_output(b["text"])
                parts.append(Part("pre", text=cap(text, 4000, 80)[0]))
            elif b["btype"] == "text" and (b["text"] or "").strip():
                parts.append(Part("pre", text=cap(b["text"], 4000, 80)[0]))
        if not parts:
            return None
        return self._msg(e, "result", "user", noise=True, label="tool result", parts=parts)

    # ------------------------------------------------------------------ system

    def _system(self, e: dict, out: list[Msg]) -> Msg | None:
        st = e["subtype"] or ""
        text = strip_ansi(e["text"] or "").strip()
        if st == "compact_boundary":
            return self._msg(e, "boundary", "system", label="conversation compacted", text=text)
        if st == "turn_duration":
            return self._msg(e, "meta", "system", noise=True, label="turn took",
                             text=duration((e["duration_ms"] or 0) / 1000))
        if st == "away_summary":
            return self._msg(e, "notice", "system", label="recap", text=text, level="info")
        if st == "local_command":
            inner = (_tag(text, "local-command-stdout") or text).strip()
            prev = out[-1] if out else None
            if prev is not None and prev.kind == "command" and not prev.output:
                prev.output = cap(inner, 4000, 120)[0]
                return None
            return self._msg(e, "meta", "system", noise=True, label="command output", text=inner)
        if st == "informational" and text:
            return self._msg(e, "notice", "system", label="info", text=text, level="warning")
        if st == "api_error" or "error" in st:
            return self._msg(e, "notice", "system", label=st.replace("_", " "), text=text, level="error")
        return self._msg(e, "meta", "system", noise=True, label=st.replace("_", " ") or "hook", text=text)


def _one_line(s: str, n: int) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1] + "…"


def build(entries: list[dict], blocks: Iterable[dict], responses: Iterable[dict], *,
          images: bool = True) -> Transcript:
    return Builder(entries, blocks, responses, images=images).build()
