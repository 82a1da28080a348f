"""Tool calls -> view objects for the transcript: one shape per kind of tool.

Bash shows its command and output, Edit/MultiEdit a diff of old and new text,
Write the written code, Read the file excerpt with its line numbers, TodoWrite a
checklist, Task/Agent the prompt, the answer and (attached by transcript.py) the
subagent's own thread. Every other tool shows its input as JSON.

Long inputs and outputs are cut to a few KB with a note saying how much was
left out: a transcript is for reading, the logs keep the rest.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from . import markdown as md

#: characters / lines of a tool result shown before it is cut
RESULT_MAX_CHARS = 3000
RESULT_MAX_LINES = 60
#: a Read excerpt: the file itself is in the repository, the transcript shows where Claude looked
READ_MAX_CHARS = 2000
READ_MAX_LINES = 40
#: characters of tool input (code, JSON) shown before it is cut
INPUT_MAX_CHARS = 3000
#: diff lines shown per edit
DIFF_MAX_LINES = 160
#: text given to difflib (diffing two huge strings is quadratic)
DIFF_MAX_CHARS = 12_000

AGENT_TOOLS = frozenset({"Task", "Agent"})
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")
_REMINDER = re.compile(r"\s*<system-reminder>.*?</system-reminder>\s*", re.DOTALL)
_READ_LINE = re.compile(r"^ *(\d+)(?:→|\t)(.*)$", re.MULTILINE)
_FIELD = r'"{}"\s*:\s*"((?:[^"\\]|\\.)*)"'


def strip_ansi(s: str) -> str:
    return _ANSI.sub("", s) if "\x1b" in s else s


def clean_output(s: str | None) -> str:
    """Tool output as shown: ANSI colours and harness reminders removed."""
    if not s:
        return ""
    s = strip_ansi(s)
    if "<system-reminder>" in s:
        s = _REMINDER.sub("\n", s).strip("\n")
    return s


def cap(s: str, max_chars: int, max_lines: int | None = None) -> tuple[str, int]:
    """(shown text, characters left out)."""
    out = s[:max_chars] if len(s) > max_chars else s
    if max_lines is not None and out.count("\n") >= max_lines:
        out = "\n".join(out.split("\n", max_lines)[:max_lines])
    return out, len(s) - len(out)


def parse_input(raw: str | None) -> tuple[dict, bool]:
    """(input object, complete). The reader keeps 20 KB of each input: a longer one is cut JSON, of which
    the plain string fields that survived are recovered."""
    if not raw:
        return {}, True
    try:
        v = json.loads(raw)
        return (v if isinstance(v, dict) else {"input": v}), True
    except ValueError:
        pass
    out: dict[str, Any] = {}
    for key in ("file_path", "command", "description", "pattern", "path", "url", "query", "subagent_type",
                "notebook_path", "skill", "prompt", "content", "new_string", "old_string"):
        m = re.search(_FIELD.format(key), raw)
        if m:
            try:
                out[key] = json.loads(f'"{m.group(1)}"')
            except ValueError:
                out[key] = m.group(1)
    return out, False


@dataclass(slots=True)
class DiffLine:
    op: str  # c (context) | del | add | hunk (separator between hunks)
    text: str


@dataclass(slots=True)
class Result:
    kind: str = "pre"  # pre | code | markdown | empty
    text: str = ""  # shown text (pre) / raw (markdown)
    html: Markup | None = None  # code or markdown
    gutter: str = ""  # line numbers of a Read excerpt, one per line
    is_error: bool = False
    size: int = 0  # characters of the full result
    omitted: int = 0  # characters left out
    images: int = 0


@dataclass(slots=True)
class ToolView:
    id: str
    name: str
    label: str
    kind: str
    summary: str = ""
    detail: str = ""
    code: str = ""  # Bash command / Write content / Notebook source
    code_omitted: int = 0
    lang: str = ""
    diffs: list[tuple[str, list[DiffLine], int]] = field(default_factory=list)  # (title, lines, omitted)
    todos: list[dict] = field(default_factory=list)
    body: Markup | None = None  # prompt / plan (markdown)
    input_json: str = ""
    input_omitted: int = 0
    input_complete: bool = True
    result: Result | None = None
    thread: list | None = None  # the subagent's messages (transcript.Msg)
    agent_id: str = ""
    agent_type: str = ""

    @property
    def is_error(self) -> bool:
        return bool(self.result and self.result.is_error)

    @property
    def pending(self) -> bool:
        return self.result is None

    def as_json(self) -> dict:
        """The call as the page's JSON twin lists it (inputs and outputs in full: the API's messages)."""
        r = self.result
        return {
            "id": self.id, "name": self.name, "summary": self.summary, "is_error": self.is_error,
            "result_size": None if r is None else r.size, "agent_id": self.agent_id or None,
        }


# ---------------------------------------------------------------- diff


def diff_lines(old: str, new: str) -> tuple[list[DiffLine], int]:
    a = old[:DIFF_MAX_CHARS].splitlines()
    b = new[:DIFF_MAX_CHARS].splitlines()
    out: list[DiffLine] = []
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    groups = list(sm.get_grouped_opcodes(3))
    for gi, group in enumerate(groups):
        if gi:
            out.append(DiffLine("hunk", "⋯"))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out.extend(DiffLine("c", x) for x in a[i1:i2])
                continue
            if tag in ("replace", "delete"):
                out.extend(DiffLine("del", x) for x in a[i1:i2])
            if tag in ("replace", "insert"):
                out.extend(DiffLine("add", x) for x in b[j1:j2])
    omitted = max(0, len(out) - DIFF_MAX_LINES)
    return out[:DIFF_MAX_LINES], omitted


# ---------------------------------------------------------------- results


def result_view(block: dict | None, tool: ToolView) -> Result | None:
    if block is None:
        return None
    raw = block.get("text") or ""
    size = int(block.get("size") or len(raw))
    is_error = bool(block.get("is_error"))
    text = clean_output(raw)
    if not text.strip():
        return Result(kind="empty", is_error=is_error, size=size)
    if tool.kind == "agent" and not is_error:
        shown, omitted = cap(text, RESULT_MAX_CHARS * 2)
        return Result(kind="markdown", text=shown, html=md.markdown(shown), is_error=is_error, size=size,
                      omitted=omitted + max(0, size - len(raw)))
    if tool.kind == "read" and not is_error:
        r = _read_excerpt(text, size)
        if r is not None:
            return r
    shown, omitted = cap(text, RESULT_MAX_CHARS, RESULT_MAX_LINES)
    return Result(kind="pre", text=shown, is_error=is_error, size=size, omitted=omitted + max(0, size - len(raw)))


def _read_excerpt(text: str, size: int) -> Result | None:
    """A Read result (``cat -n`` style: ``   12→code``) as line numbers + code.

    Not syntax-highlighted: Pygments costs ~2 ms and triples the HTML of every excerpt, and a
    transcript holds thousands of them."""
    shown, omitted = cap(text, READ_MAX_CHARS, READ_MAX_LINES)
    shown = shown.rstrip("\n")
    found = _READ_LINE.findall(shown)
    if not found or len(found) != shown.count("\n") + 1:
        return None
    return Result(kind="code", text="\n".join(c for _, c in found), gutter="\n".join(n for n, _ in found), size=size,
                  omitted=omitted + max(0, size - len(text)))


# ---------------------------------------------------------------- inputs


def _label(name: str) -> str:
    if name.startswith("mcp__"):
        parts = [p for p in name.split("__")[1:] if p]
        return " · ".join(parts) or name
    return name


def _one_line(s: Any, n: int = 160) -> str:
    s = " ".join(str(s or "").split())
    return s if len(s) <= n else s[: n - 1] + "…"


def _scalars(inp: dict) -> str:
    """``taskId=3 status=done``: the short plain values of an input no rule above knows."""
    parts = [f"{k}={v}" for k, v in inp.items() if isinstance(v, (str, int, float, bool)) and len(str(v)) <= 60]
    return " ".join(parts[:4])


def tool_view(block: dict, result_block: dict | None) -> ToolView:
    name = block.get("tool_name") or "(unknown tool)"
    inp, complete = parse_input(block.get("input_json"))
    t = ToolView(id=block.get("tool_id") or "", name=name, label=_label(name), kind="generic",
                 input_complete=complete)
    fp = inp.get("file_path") or inp.get("notebook_path") or inp.get("path")
    if name in ("Bash", "PowerShell", "BashOutput", "KillBash", "KillShell"):
        t.kind = "bash"
        cmd = str(inp.get("command") or inp.get("bash_id") or inp.get("shell_id") or "")
        shown, t.code_omitted = cap(cmd, INPUT_MAX_CHARS)
        t.code = shown
        t.summary = _one_line(cmd)
        t.detail = _one_line(inp.get("description"))
        if t.summary == cmd:  # the summary line already shows all of it
            t.code = ""
    elif name == "Edit" and ("old_string" in inp or "new_string" in inp):
        t.kind = "edit"
        t.summary = str(fp or "")
        lines, omitted = diff_lines(str(inp.get("old_string") or ""), str(inp.get("new_string") or ""))
        t.diffs = [("replace all" if inp.get("replace_all") else "", lines, omitted)]
    elif name == "MultiEdit" and isinstance(inp.get("edits"), list):
        t.kind = "edit"
        t.summary = str(fp or "")
        for i, e in enumerate(inp["edits"][:20]):
            if isinstance(e, dict):
                lines, omitted = diff_lines(str(e.get("old_string") or ""), str(e.get("new_string") or ""))
                t.diffs.append((f"edit {i + 1}", lines, omitted))
    elif name == "Write" and "content" in inp:
        t.kind = "write"
        t.summary = str(fp or "")
        content = str(inp.get("content") or "")
        shown, t.code_omitted = cap(content, INPUT_MAX_CHARS)
        t.code = shown
        n = content.count("\n") + (1 if content and not content.endswith("\n") else 0)
        t.detail = f"{n} line" if n == 1 else f"{n} lines"
    elif name == "NotebookEdit":
        t.kind = "write"
        t.summary = str(fp or "")
        src = str(inp.get("new_source") or "")
        shown, t.code_omitted = cap(src, INPUT_MAX_CHARS)
        t.code = shown
        t.detail = _one_line(f"{inp.get('edit_mode') or 'replace'} cell {inp.get('cell_id') or ''}")
    elif name == "Read":
        t.kind = "read"
        t.summary = str(fp or "")
        rng = [f"from line {inp['offset']}" if inp.get("offset") else "", f"{inp['limit']} lines" if inp.get(
            "limit") else ""]
        t.detail = ", ".join(x for x in rng if x)
    elif name == "TodoWrite" and isinstance(inp.get("todos"), list):
        t.kind = "todo"
        t.todos = [{"content": str(x.get("content") or ""), "status": str(x.get("status") or "pending")}
                   for x in inp["todos"] if isinstance(x, dict)]
        done = sum(1 for x in t.todos if x["status"] == "completed")
        t.summary = f"{done}/{len(t.todos)} done"
    elif name in AGENT_TOOLS:
        t.kind = "agent"
        t.agent_type = str(inp.get("subagent_type") or "")
        t.summary = _one_line(inp.get("description") or inp.get("prompt"))
        prompt = str(inp.get("prompt") or "")
        t.body = md.markdown(cap(prompt, INPUT_MAX_CHARS * 2)[0])
    elif name in ("ExitPlanMode", "exit_plan_mode") and inp.get("plan"):
        t.kind = "plan"
        t.body = md.markdown(cap(str(inp["plan"]), INPUT_MAX_CHARS * 2)[0])
        t.summary = "plan"
    else:
        t.summary = _one_line(
            inp.get("pattern") or inp.get("query") or inp.get("url") or inp.get("skill") or inp.get("subject")
            or inp.get("description") or fp or inp.get("prompt") or _scalars(inp))
        if name in ("Grep", "Glob") and inp.get("path"):
            t.detail = f"in {inp['path']}"
        if complete:
            pretty = json.dumps(inp, indent=2, ensure_ascii=False)
        else:
            pretty = block.get("input_json") or ""
        t.input_json, t.input_omitted = cap(pretty, INPUT_MAX_CHARS)
    t.result = result_view(result_block, t)
    return t
