"""Read: bytes of a JSONL log (from a byte offset) -> column lists; bad lines -> ParseIssue.

This is the only module that knows the log's camelCase field names. Every field
is optional; unknown line types are counted and kept out of the tables; a bad
line never stops a file. A half-written last line (a live session) is left for
the next build: the returned offset points just after the last complete line.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import msgspec

from .rawvalues import classify_user, input_summary, raw_text, system_content, tool_result_agent_id

log = logging.getLogger(__name__)

# ---------------------------------------------------------------- raw records (camelCase, as in the file)


_EMPTY = msgspec.Raw(b"")

#: the largest token count one response may claim: a thousand times any context window. A count outside
#: 0..MAX_TOKENS (negative, or a corrupt 2**63 that no 64-bit column holds and whose sums wrap) is an odd
#: field: dropped and reported like a field of the wrong type, the rest of the line kept
MAX_TOKENS = 10**12
Tokens = Annotated[int, msgspec.Meta(ge=0, le=MAX_TOKENS)]
#: the same for a line's own cost (USD)
MAX_LINE_COST = 1e9
LineCost = Annotated[float, msgspec.Meta(ge=0, le=MAX_LINE_COST)]
#: times outside these (epoch ms; 1990-01-01 and 2200-01-01 UTC) are junk, read as unknown: a year 0001 or
#: 9999 in a log is a corrupt line, and dates that far out overflow Python's datetime arithmetic downstream
MIN_TS_MS, MAX_TS_MS = 631_152_000_000, 7_258_118_400_000


class CacheCreation(msgspec.Struct):
    ephemeral_5m_input_tokens: Tokens = 0
    ephemeral_1h_input_tokens: Tokens = 0


class Usage(msgspec.Struct):
    input_tokens: Tokens = 0
    output_tokens: Tokens = 0
    cache_creation_input_tokens: Tokens = 0
    cache_read_input_tokens: Tokens = 0
    cache_creation: CacheCreation | None = None
    speed: str | None = None


class Source(msgspec.Struct):
    type: str | None = None
    media_type: str | None = None
    data: str | None = None
    url: str | None = None


class Block(msgspec.Struct):
    type: str | None = None
    text: str | None = None
    thinking: str | None = None
    id: str | None = None
    name: str | None = None
    input: msgspec.Raw = _EMPTY
    tool_use_id: str | None = None
    content: msgspec.Raw = _EMPTY
    is_error: bool | None = None
    source: Source | None = None


class Message(msgspec.Struct):
    role: str | None = None
    id: str | None = None
    model: str | None = None
    content: str | list[Block] | None = None
    usage: Usage | None = None
    stop_reason: str | None = None


class Line(msgspec.Struct):
    type: str | None = None
    uuid: str | None = None
    parentUuid: str | None = None
    logicalParentUuid: str | None = None
    sessionId: str | None = None
    timestamp: str | None = None
    isSidechain: bool | None = None
    cwd: str | None = None
    version: str | None = None
    gitBranch: str | None = None
    slug: str | None = None
    agentId: str | None = None
    requestId: str | None = None
    promptId: str | None = None
    isMeta: bool | None = None
    isCompactSummary: bool | None = None
    isApiErrorMessage: bool | None = None
    costUSD: LineCost | None = None
    message: Message | None = None
    toolUseResult: msgspec.Raw = _EMPTY
    subtype: str | None = None
    content: msgspec.Raw = _EMPTY
    level: str | None = None
    summary: str | None = None
    leafUuid: str | None = None
    aiTitle: str | None = None
    customTitle: str | None = None
    agentName: str | None = None
    lastPrompt: str | None = None
    durationMs: float | None = None


class HistoryLine(msgspec.Struct):
    display: str | None = None
    timestamp: int | float | str | None = None
    project: str | None = None
    sessionId: str | None = None
    pastedContents: dict[str, Any] | None = None


_line_decoder = msgspec.json.Decoder(Line)
_any_decoder = msgspec.json.Decoder()
_hist_decoder = msgspec.json.Decoder(HistoryLine)

# line types that are conversation rows
CONVERSATION_TYPES = frozenset({"user", "assistant", "system"})
# line types we know and deliberately keep out of the entries table
KNOWN_TYPES = frozenset(
    {
        "user", "assistant", "system", "summary", "ai-title", "custom-title", "agent-name", "last-prompt",
        "progress", "file-history-snapshot", "attachment", "permission-mode", "queue-operation", "mode",
        "agent-color", "frame-link", "agent-setting", "pr-link", "started", "result",
    }
)
META_TYPES = {"summary": "summary", "ai-title": "aiTitle", "custom-title": "customTitle", "agent-name": "agentName"}

#: stored text of one tool result / tool input is capped at this many characters (full size is kept)
TEXT_CAP = 20_000

# ---------------------------------------------------------------- columns


ENTRY_COLS = (
    "file_id", "line_no", "uuid", "parent_uuid", "logical_parent_uuid", "session_id", "project", "agent_id",
    "is_sidechain", "kind", "subtype", "timestamp", "model", "msg_id", "request_id", "text", "user_kind",
    "is_meta", "is_compact_summary", "has_thinking", "has_tool_use", "has_tool_result", "has_image",
    "is_api_error", "version", "git_branch", "cwd", "slug", "prompt_id", "stop_reason", "duration_ms",
)
USAGE_COLS = (
    "file_id", "line_no", "uuid", "session_id", "project", "agent_id", "is_sidechain", "msg_id", "request_id",
    "model", "timestamp", "input_tokens", "output_tokens", "cache_creation_tokens", "cache_5m_tokens",
    "cache_1h_tokens", "cache_read_tokens", "speed", "cost_usd_line",
)
BLOCK_COLS = (
    "file_id", "line_no", "uuid", "session_id", "idx", "btype", "text", "tool_id", "tool_name", "input_json",
    "summary", "is_error", "size", "media_type", "data", "result_agent_id",
)
META_COLS = ("file_id", "line_no", "session_id", "kind", "value", "leaf_uuid")
HISTORY_COLS = ("file_id", "line_no", "display", "timestamp_ms", "project_path", "session_id", "pasted")

#: the raw tables' column types (str, i64, bool, f64), without Polars so the cache can check its format
#: cheaply; ccsgen.tables turns them into Polars schemas
RAW_TYPES: dict[str, dict[str, str]] = {
    "entries": {
        "file_id": "i64", "line_no": "i64", "uuid": "str", "parent_uuid": "str", "logical_parent_uuid":
        "str", "session_id": "str", "project": "str", "agent_id": "str", "is_sidechain": "bool", "kind":
        "str", "subtype": "str", "timestamp": "str", "model": "str", "msg_id": "str", "request_id": "str",
        "text": "str", "user_kind": "str", "is_meta": "bool", "is_compact_summary": "bool", "has_thinking":
        "bool", "has_tool_use": "bool", "has_tool_result": "bool", "has_image": "bool", "is_api_error":
        "bool", "version": "str", "git_branch": "str", "cwd": "str", "slug": "str", "prompt_id": "str",
        "stop_reason": "str", "duration_ms": "f64",
    },
    "usage": {
        "file_id": "i64", "line_no": "i64", "uuid": "str", "session_id": "str", "project": "str",
        "agent_id": "str", "is_sidechain": "bool", "msg_id": "str", "request_id": "str", "model": "str",
        "timestamp": "str", "input_tokens": "i64", "output_tokens": "i64", "cache_creation_tokens": "i64",
        "cache_5m_tokens": "i64", "cache_1h_tokens": "i64", "cache_read_tokens": "i64", "speed": "str",
        "cost_usd_line": "f64",
    },
    "blocks": {
        "file_id": "i64", "line_no": "i64", "uuid": "str", "session_id": "str", "idx": "i64", "btype":
        "str", "text": "str", "tool_id": "str", "tool_name": "str", "input_json": "str", "summary": "str",
        "is_error": "bool", "size": "i64", "media_type": "str", "data": "str", "result_agent_id": "str",
    },
    "meta": {
        "file_id": "i64", "line_no": "i64", "session_id": "str", "kind": "str", "value": "str", "leaf_uuid":
        "str",
    },
    "history": {
        "file_id": "i64", "line_no": "i64", "display": "str", "timestamp_ms": "i64", "project_path": "str",
        "session_id": "str", "pasted": "i64",
    },
    "issues": {
        "file_id": "i64", "path": "str", "line_no": "i64", "reason": "str",
    },
}


@dataclass(slots=True)
class ParseIssue:
    path: str
    line: int
    reason: str


@dataclass
class Chunk:
    """Columns read from one file (or one appended part of it)."""

    entries: dict[str, list] = field(default_factory=lambda: {c: [] for c in ENTRY_COLS})
    usage: dict[str, list] = field(default_factory=lambda: {c: [] for c in USAGE_COLS})
    blocks: dict[str, list] = field(default_factory=lambda: {c: [] for c in BLOCK_COLS})
    meta: dict[str, list] = field(default_factory=lambda: {c: [] for c in META_COLS})
    history: dict[str, list] = field(default_factory=lambda: {c: [] for c in HISTORY_COLS})
    issues: list[ParseIssue] = field(default_factory=list)
    unknown_types: Counter = field(default_factory=Counter)
    lines: int = 0
    file_id: int = 0
    bytes_read: int = 0
    end_offset: int = 0
    end_line: int = 0


# ---------------------------------------------------------------- splitting


def complete_part(data: bytes, at_eof_ok: bool = True) -> int:
    """Length of the prefix of ``data`` made of complete lines.

    A trailing fragment without a newline counts as complete only when it is a
    whole JSON value (a file whose writer omitted the final newline); a
    half-written line is left for the next read.
    """
    last = data.rfind(b"\n")
    tail = data[last + 1 :]
    if tail.strip() and at_eof_ok:
        try:
            _any_decoder.decode(tail)
            return len(data)
        except (msgspec.DecodeError, UnicodeDecodeError):
            pass
    return last + 1


#: a \\uD800-\\uDBFF escape not followed by a low one, or a \\uDC00-\\uDFFF escape not preceded by a high one
_LONE_SURROGATE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def repair(raw: bytes) -> tuple[bytes, str] | None:
    """Bytes msgspec refuses but JSON.parse (Claude Code, ccusage) reads: invalid UTF-8, lone UTF-16 surrogate
    escapes (a string cut mid-emoji), a UTF-8 byte order mark an editor put first. Returns (fixed bytes, reason)
    or None."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:], "byte order mark (recovered)"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace").encode("utf-8"), "invalid utf-8 (recovered)"
    if b"\\u" in raw and _LONE_SURROGATE.search(raw):
        return _LONE_SURROGATE.sub(rb"\\ufffd", raw), "lone surrogate (recovered)"
    return None


def _decode(raw: bytes, decoder: msgspec.json.Decoder, path: str, line_no: int, issues: list[ParseIssue],
            salvage):
    """Decode one line with ``decoder``; repair bad bytes; hand valid JSON of an odd shape to ``salvage``.

    Never raises: what cannot be read becomes a ParseIssue and ``None``.
    """
    try:
        return decoder.decode(raw)
    except msgspec.ValidationError:
        pass
    except (msgspec.DecodeError, UnicodeDecodeError):
        fixed = repair(raw)
        if fixed is None:
            issues.append(ParseIssue(path, line_no, "invalid json"))
            return None
        got = _decode(fixed[0], decoder, path, line_no, issues, salvage)
        if got is not None:
            issues.append(ParseIssue(path, line_no, fixed[1]))
        return got
    # valid JSON that does not fit the typed record: not an object, or a field of an odd type
    try:
        obj = _any_decoder.decode(raw)
    except (msgspec.MsgspecError, UnicodeDecodeError):
        issues.append(ParseIssue(path, line_no, "invalid json"))
        return None
    if not isinstance(obj, dict):
        issues.append(ParseIssue(path, line_no, "not an object"))
        return None
    return salvage(obj, path, line_no, issues)


def _decode_line(raw: bytes, path: str, line_no: int, issues: list[ParseIssue]) -> Line | None:
    return _decode(raw, _line_decoder, path, line_no, issues, _lenient)


def _lenient(obj: dict, path: str, line_no: int, issues: list[ParseIssue]) -> Line | None:
    """Drop the fields whose type is wrong (one at a time, as msgspec names them) and keep the rest."""
    dropped = []
    for _ in range(8):
        try:
            line = msgspec.convert(obj, Line, strict=False)
            issues.append(ParseIssue(path, line_no, "odd field type: " + ", ".join(dropped)))
            return line
        except msgspec.ValidationError as e:
            loc = str(e).rsplit("`$", 1)
            if len(loc) != 2:
                break
            keys = [k for k in loc[1].rstrip("`").replace("[", ".[").split(".") if k]
            if not _drop(obj, keys):
                break
            dropped.append("$" + loc[1].rstrip("`"))
    issues.append(ParseIssue(path, line_no, "unreadable record"))
    return None


def _drop(obj: Any, keys: list[str]) -> bool:
    cur = obj
    for k in keys[:-1]:
        if k.startswith("["):
            idx = int(k[1:-1])
            if not isinstance(cur, list) or idx >= len(cur):
                return False
            cur = cur[idx]
        else:
            if not isinstance(cur, dict) or k not in cur:
                return False
            cur = cur[k]
    last = keys[-1] if keys else ""
    if last.startswith("[") and isinstance(cur, list):
        cur.pop(int(last[1:-1]))
        return True
    if isinstance(cur, dict) and last in cur:
        del cur[last]
        return True
    return False


# ---------------------------------------------------------------- transcript reading


def _lines(data: bytes) -> list[bytes]:
    """The lines of ``data``; the empty piece after a final newline is not a line."""
    pieces = data.split(b"\n")
    if pieces and not pieces[-1]:
        pieces.pop()
    return pieces


def read_transcript(
    data: bytes,
    *,
    path: str,
    file_id: int,
    project: str,
    session_hint: str,
    agent_hint: str,
    kind: str,
    start_line: int = 0,
) -> Chunk:
    """Parse the complete lines in ``data`` (which starts at a line boundary)."""
    ch = Chunk()
    line_no = start_line
    issues = ch.issues
    fixed_session = session_hint if kind in ("main", "subagent") else ""
    for raw in _lines(data):
        line_no += 1
        if not raw.strip():
            continue
        ch.lines += 1
        try:
            _one_line(raw, path, line_no, ch, file_id, project, session_hint, agent_hint, kind, fixed_session)
        except Exception as e:  # noqa: BLE001 - one odd line must never stop a file
            log.debug("line %s:%d: %r", path, line_no, e)
            issues.append(ParseIssue(path, line_no, f"unreadable record: {e.__class__.__name__}"))
            _realign(ch)
    ch.end_line = line_no
    return ch


def _realign(ch: Chunk) -> None:
    """After a failed line, drop its partial rows so every column of a table has the same length."""
    for table in (ch.entries, ch.usage, ch.blocks, ch.meta):
        n = min(len(v) for v in table.values())
        for v in table.values():
            del v[n:]


def _one_line(raw: bytes, path: str, line_no: int, ch: Chunk, file_id: int, project: str, session_hint: str,
              agent_hint: str, kind: str, fixed_session: str) -> None:
    E, U, B, M = ch.entries, ch.usage, ch.blocks, ch.meta
    issues = ch.issues
    line = _decode_line(raw, path, line_no, issues)
    if line is None:
        return
    t = line.type
    session_id = fixed_session or line.sessionId or session_hint
    if t in META_TYPES:
        val = getattr(line, META_TYPES[t])
        if isinstance(val, str) and val:
            M["file_id"].append(file_id)
            M["line_no"].append(line_no)
            M["session_id"].append(session_id)
            M["kind"].append(t)
            M["value"].append(val)
            M["leaf_uuid"].append(line.leafUuid)
        return
    if t is not None and t not in CONVERSATION_TYPES:
        if t not in KNOWN_TYPES:
            ch.unknown_types[t] += 1
        return
    msg = line.message
    if t is None:
        if msg is None or msg.usage is None:
            if msg is None:
                issues.append(ParseIssue(path, line_no, "no type"))
                return
        t = msg.role if msg.role in ("user", "assistant") else "assistant"
    agent_id = line.agentId or agent_hint or ""
    is_side = bool(line.isSidechain) or kind in ("subagent", "legacy_agent")
    model = msg.model if msg is not None else None
    if model == "<synthetic>":
        model = None
    msg_id = msg.id if msg is not None else None
    uuid = line.uuid or f"{file_id}:{line_no}"
    # --- usage: any line with message.usage (ccusage reads type-less lines too)
    if msg is not None and msg.usage is not None and msg.model != "<synthetic>" and t == "assistant":
        u = msg.usage
        cc = u.cache_creation
        c1h = cc.ephemeral_1h_input_tokens if cc else 0
        c5m = cc.ephemeral_5m_input_tokens if cc else 0
        if cc is None:
            c5m = u.cache_creation_input_tokens
        U["file_id"].append(file_id)
        U["line_no"].append(line_no)
        U["uuid"].append(uuid)
        U["session_id"].append(session_id)
        U["project"].append(project)
        U["agent_id"].append(agent_id)
        U["is_sidechain"].append(is_side)
        U["msg_id"].append(msg_id)
        U["request_id"].append(line.requestId)
        U["model"].append(msg.model)
        U["timestamp"].append(line.timestamp)
        U["input_tokens"].append(u.input_tokens or 0)
        U["output_tokens"].append(u.output_tokens or 0)
        U["cache_creation_tokens"].append(u.cache_creation_input_tokens or 0)
        U["cache_5m_tokens"].append(c5m or 0)
        U["cache_1h_tokens"].append(c1h or 0)
        U["cache_read_tokens"].append(u.cache_read_input_tokens or 0)
        U["speed"].append(u.speed)
        U["cost_usd_line"].append(line.costUSD)
    # --- content blocks
    text_parts: list[str] = []
    has_thinking = has_tool_use = has_tool_result = has_image = False
    if t == "system":
        text_parts.append(system_content(line.content))
    elif msg is not None:
        content = msg.content
        if isinstance(content, str):
            text_parts.append(content)
        elif content:
            result_agent = None
            for idx, b in enumerate(content):
                bt = b.type
                btext = None
                tool_id = tool_name = input_json = media = bdata = summary = None
                is_error = None
                size = 0
                if bt == "text":
                    btext = b.text or ""
                    text_parts.append(btext)
                    size = len(btext)
                elif bt == "thinking" or bt == "redacted_thinking":
                    has_thinking = True
                    btext = b.thinking or ""
                    size = len(btext)
                elif bt == "tool_use" or bt == "server_tool_use":
                    has_tool_use = True
                    tool_id, tool_name = b.id, b.name
                    ij = bytes(b.input) if len(b.input) else b"{}"
                    size = len(ij)
                    input_json = ij[:TEXT_CAP].decode("utf-8", "replace") if size > TEXT_CAP else ij.decode("utf-8", "replace")
                    summary = input_summary(ij)
                elif bt == "tool_result" or bt == "web_search_tool_result":
                    has_tool_result = True
                    tool_id = b.tool_use_id
                    is_error = bool(b.is_error)
                    rtext, size, imgs = raw_text(b.content)
                    btext = rtext[:TEXT_CAP]
                    if result_agent is None:
                        result_agent = tool_result_agent_id(line.toolUseResult)
                    if imgs:
                        has_image = True
                elif bt == "image":
                    has_image = True
                    src = b.source
                    if src is not None:
                        media, bdata = src.media_type, src.data
                        size = len(bdata or "")
                B["file_id"].append(file_id)
                B["line_no"].append(line_no)
                B["uuid"].append(uuid)
                B["session_id"].append(session_id)
                B["idx"].append(idx)
                B["btype"].append(bt or "unknown")
                B["text"].append(btext)
                B["tool_id"].append(tool_id)
                B["tool_name"].append(tool_name)
                B["input_json"].append(input_json)
                B["summary"].append(summary)
                B["is_error"].append(is_error)
                B["size"].append(size)
                B["media_type"].append(media)
                B["data"].append(bdata)
                B["result_agent_id"].append(result_agent if bt == "tool_result" else None)
    text = "\n".join(p for p in text_parts if p)
    user_kind = classify_user(text, line, has_tool_result) if t == "user" else None
    E["file_id"].append(file_id)
    E["line_no"].append(line_no)
    E["uuid"].append(uuid)
    E["parent_uuid"].append(line.parentUuid)
    E["logical_parent_uuid"].append(line.logicalParentUuid)
    E["session_id"].append(session_id)
    E["project"].append(project)
    E["agent_id"].append(agent_id)
    E["is_sidechain"].append(is_side)
    E["kind"].append(t)
    E["subtype"].append(line.subtype)
    E["timestamp"].append(line.timestamp)
    E["model"].append(model)
    E["msg_id"].append(msg_id)
    E["request_id"].append(line.requestId)
    E["text"].append(text)
    E["user_kind"].append(user_kind)
    E["is_meta"].append(bool(line.isMeta))
    E["is_compact_summary"].append(bool(line.isCompactSummary) or user_kind == "compact_summary")
    E["has_thinking"].append(has_thinking)
    E["has_tool_use"].append(has_tool_use)
    E["has_tool_result"].append(has_tool_result)
    E["has_image"].append(has_image)
    E["is_api_error"].append(bool(line.isApiErrorMessage) or (msg is not None and msg.model == "<synthetic>"))
    E["version"].append(line.version)
    E["git_branch"].append(line.gitBranch)
    E["cwd"].append(line.cwd)
    E["slug"].append(line.slug)
    E["prompt_id"].append(line.promptId)
    E["stop_reason"].append(msg.stop_reason if msg is not None else None)
    E["duration_ms"].append(line.durationMs)


def _history_line(raw: bytes, path: str, line_no: int, issues: list[ParseIssue]) -> HistoryLine | None:
    return _decode(raw, _hist_decoder, path, line_no, issues, _history_salvage)


def _history_salvage(obj: dict, path: str, line_no: int, issues: list[ParseIssue]) -> HistoryLine:
    keep = {k: v for k, v in obj.items() if k in ("display", "project", "sessionId") and isinstance(v, str)}
    ts = obj.get("timestamp")
    if isinstance(ts, (int, float)) and not isinstance(ts, bool):
        keep["timestamp"] = ts
    issues.append(ParseIssue(path, line_no, "odd field type"))
    return HistoryLine(**keep)


def read_history(data: bytes, *, path: str, file_id: int, start_line: int = 0) -> Chunk:
    ch = Chunk()
    H = ch.history
    line_no = start_line
    for raw in _lines(data):
        line_no += 1
        if not raw.strip():
            continue
        ch.lines += 1
        h = _history_line(raw, path, line_no, ch.issues)
        if h is None:
            continue
        ts = h.timestamp  # epoch ms; a string, a bool or a time out of range is unknown
        if isinstance(ts, str | bool) or ts is None or not MIN_TS_MS <= ts < MAX_TS_MS:
            ts = None
        H["file_id"].append(file_id)
        H["line_no"].append(line_no)
        H["display"].append(h.display or "")
        H["timestamp_ms"].append(int(ts) if ts is not None else None)
        H["project_path"].append(h.project)
        H["session_id"].append(h.sessionId)
        H["pasted"].append(len(h.pastedContents or {}))
    ch.end_line = line_no
    return ch


#: the largest task or todo file read (Claude Code writes a few KB)
JSON_FILE_MAX_BYTES = 32 * 1024 * 1024


def read_json_file(path: Path) -> tuple[Any, ParseIssue | None]:
    try:
        with open(path, "rb") as f:
            data = f.read(JSON_FILE_MAX_BYTES + 1)
    except OSError as e:
        return None, ParseIssue(str(path), 0, f"unreadable: {e.__class__.__name__}")
    if len(data) > JSON_FILE_MAX_BYTES:
        return None, ParseIssue(str(path), 0, f"too big (over {JSON_FILE_MAX_BYTES >> 20} MB)")
    try:
        return _any_decoder.decode(data), None
    except (msgspec.MsgspecError, UnicodeDecodeError):
        fixed = repair(data)
        try:
            return (_any_decoder.decode(fixed[0]), None) if fixed else (None, ParseIssue(str(path), 0, "invalid json"))
        except (msgspec.MsgspecError, UnicodeDecodeError):
            return None, ParseIssue(str(path), 0, "invalid json")
