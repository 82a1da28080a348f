"""What raw values in a log line mean: tool_result text, system content, the subagent a tool result names,
one-line summaries of tool inputs, and the kind of a ``user`` line. Pure functions over msgspec Raw values,
used by ccsgen.records while it turns lines into rows."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from .records import Line

_any_decoder = msgspec.json.Decoder()


def raw_text(raw: msgspec.Raw) -> tuple[str, int, list[dict]]:
    """Text of a tool_result ``content`` (str or list of blocks) -> (text, size, image blocks)."""
    if not len(raw):
        return "", 0, []
    try:
        val = _any_decoder.decode(raw)
    except msgspec.MsgspecError:
        return "", len(raw), []
    if isinstance(val, str):
        return val, len(val), []
    parts: list[str] = []
    images: list[dict] = []
    if isinstance(val, list):
        for b in val:
            if not isinstance(b, dict):
                continue
            t = b.get("type")
            if t == "text" and isinstance(b.get("text"), str):
                parts.append(b["text"])
            elif t == "image":
                images.append(b)
            elif t == "tool_reference" and b.get("tool_name"):
                parts.append(f"[tool: {b['tool_name']}]")
    text = "\n".join(parts)
    return text, len(text), images


def system_content(raw: msgspec.Raw) -> str:
    if not len(raw):
        return ""
    try:
        val = _any_decoder.decode(raw)
    except msgspec.MsgspecError:
        return ""
    if isinstance(val, str):
        return val
    if isinstance(val, list):
        return "\n".join(b.get("text", "") for b in val if isinstance(b, dict) and isinstance(b.get("text"), str))
    return ""


def tool_result_agent_id(raw: msgspec.Raw) -> str | None:
    if not len(raw) or b"agentId" not in bytes(raw):
        return None
    try:
        val = _any_decoder.decode(raw)
    except msgspec.MsgspecError:
        return None
    if isinstance(val, dict) and isinstance(val.get("agentId"), str):
        return val["agentId"]
    return None


_SUMMARY_KEYS = ("command", "file_path", "notebook_path", "pattern", "url", "query", "description", "path", "prompt",
                 "skill", "subject", "plan")


def input_summary(raw: bytes) -> str:
    """A short, one-line description of a tool input (the command, the file, the pattern …)."""
    try:
        val = _any_decoder.decode(raw)
    except msgspec.MsgspecError:
        return ""
    if not isinstance(val, dict):
        return ""
    for k in _SUMMARY_KEYS:
        v = val.get(k)
        if isinstance(v, str) and v.strip():
            return " ".join(v.split())[:200]
    todos = val.get("todos")
    if isinstance(todos, list):
        return f"{len(todos)} todos"
    return ""


#: context the harness puts before what a person typed, in the same message (the IDE extensions' open file
#: and selection, reminders): ``CONTEXT_PREFIX_RE`` (Rust regex syntax, for Polars) matches all of it
_CONTEXT_TAGS = ("ide_opened_file", "ide_selection", "system-reminder")
_TAG_ALT = "|".join(_CONTEXT_TAGS)
_CONTEXT_BLOCK = re.compile(rf"\s*<({_TAG_ALT})>(.*?)</\1>", re.DOTALL)
CONTEXT_PREFIX_RE = rf"^(?s)(?:\s*<(?:{_TAG_ALT})>.*?</(?:{_TAG_ALT})>)+\s*"


def split_context(text: str) -> tuple[list[tuple[str, str]], str]:
    """(the context blocks ``text`` starts with as (tag, body), what follows them). Without any: ([], text)."""
    blocks, pos = [], 0
    while (m := _CONTEXT_BLOCK.match(text, pos)) is not None:
        blocks.append((m.group(1), m.group(2)))
        pos = m.end()
    return blocks, (text[pos:].lstrip() if blocks else text)


def classify_user(text: str, line: Line, has_tool_result: bool) -> str:
    """What a ``user`` line is. Only ``prompt``, ``command`` and ``bash`` are typed by a person.

    A line that starts with context blocks (an IDE's open file or selection, a reminder) is classified by
    what follows them: a prompt typed in the VS Code extension arrives that way. Context alone is ``meta``."""
    if has_tool_result:
        return "tool_result"
    if line.isCompactSummary or text.startswith("This session is being continued from a previous conversation"):
        return "compact_summary"
    if line.isMeta:
        return "meta"
    s = text.lstrip()
    if s.startswith("<") and s[1:].startswith(_CONTEXT_TAGS):
        blocks, rest = split_context(s)
        if not blocks or not rest:
            return "meta"
        s = rest
    if s.startswith("[Request interrupted by user"):
        return "interrupt"
    if "<command-name>" in s[:300]:
        return "command"
    if s.startswith("<local-command-stdout>") or s.startswith("<local-command-caveat>") or s.startswith("Caveat: "):
        return "command_output"
    if s.startswith("<bash-input>"):
        return "bash"
    if s.startswith("<bash-stdout>") or s.startswith("<bash-stderr>"):
        return "bash_output"
    if s.startswith("<task-notification>"):
        return "task_notification"
    if s.startswith("<system-reminder>") or s.startswith("<ide_opened_file>") or s.startswith("<ide_selection>"):
        return "meta"
    if line.isSidechain and s == "Warmup":
        return "warmup"
    if not s:
        return "empty"
    return "prompt"
