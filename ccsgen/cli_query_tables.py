"""How the query commands print: tables (Rich) fitted to the terminal, key/value lists, errors.

Plain text when stdout is not a terminal (no ANSI codes, no trailing blanks) or ``NO_COLOR`` is set; log
text is never read as Rich markup. Used by :mod:`ccsgen.cli_query` and ``ccsgen report``.
"""

from __future__ import annotations

import html
import json
import os
import re
import sys
from collections.abc import Callable
from typing import Any

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text


def die(msg: str, code: int) -> typer.Exit:
    """Print ``error: msg`` to stderr (no traceback) and return the Exit to raise."""
    err = Console(stderr=True, no_color=bool(os.environ.get("NO_COLOR")), highlight=False, soft_wrap=True)
    err.print(f"[red]error:[/red] {escape(msg)}")
    return typer.Exit(code)


def show(render: Callable[[Any, Console], None], value: Any) -> None:
    """Render to the terminal; when stdout is not one, as plain text without trailing blanks."""
    con = out_console()
    if con.is_terminal:
        render(value, con)
        return
    with con.capture() as cap:
        render(value, con)
    text = "\n".join(line.rstrip() for line in cap.get().splitlines())
    sys.stdout.write(text + "\n" if text else "")


def out_console() -> Console:
    """Plain text when NO_COLOR is set or stdout is not a terminal (then 120 columns, or $COLUMNS)."""
    tty = sys.stdout.isatty()
    width = None
    if not tty:
        try:
            width = int(os.environ.get("COLUMNS", "")) or 120
        except ValueError:
            width = 120
    return Console(no_color=bool(os.environ.get("NO_COLOR")) or not tty, highlight=False, width=width,
                   emoji=False)


# ---------------------------------------------------------------- formatting helpers


def _txt(v: Any, limit: int | None = None) -> Text:
    """A table cell: log text is never read as Rich markup."""
    if v is None:
        return Text("—", style="dim")
    s = str(v)
    if limit and len(s) > limit:
        s = s[: limit - 1] + "…"
    return Text(s)


def _ts(v: str | None) -> str:
    """``2026-01-10T10:00:01.000Z`` -> ``2026-01-10 10:00`` (UTC)."""
    if not v:
        return "—"
    return v[:16].replace("T", " ")


def _one_line(s: str | None) -> str:
    return " ".join((s or "").split())


#: free-text columns: (narrowest, widest) they get; they wrap (_WRAP) or are cut with … when the terminal is
#: too narrow. Ids may be cut too, never below 13 characters (any unique prefix works as an id). Every
#: other column (dates, numbers) keeps the width of its longest cell.
_WRAP = frozenset({"content", "snippet", "prompt"})
_FREE = {"title": (16, 70), "path": (16, 60), "subject": (16, 60), "input": (16, 70), "project": (8, 30),
         "name": (8, 30), "tool": (8, 30), "id": (13, None), "content": (20, None), "snippet": (20, None),
         "prompt": (20, None)}


def _table(title: str | None, *cols: str, right: tuple[str, ...] = ()) -> Table:
    t = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False, show_edge=False)
    for c in cols:
        t.add_column(c, justify="right" if c in right else "left", no_wrap=c not in _WRAP,
                     overflow="fold" if c in _WRAP else "ellipsis", max_width=_FREE.get(c, (0, None))[1])
    return t


def _fit(t: Table, width: int) -> Table:
    """Set every column's width: dates and numbers get their longest cell; the free-text columns share what
    is left (as much as they need up to their widest, at least their narrowest), so nothing is dropped."""
    need = {}
    for i, col in enumerate(t.columns):
        need[i] = max([len(str(c)) for c in col._cells] + [len(str(col.header))])
    free = [i for i, col in enumerate(t.columns) if str(col.header) in _FREE]
    fixed = sum(need[i] for i in need if i not in free)
    room = width - fixed - 3 * (len(t.columns) - 1)  # SIMPLE_HEAD: 3 spaces between columns
    want = {i: min(need[i], _FREE[str(t.columns[i].header)][1] or need[i]) for i in free}
    lo = {i: min(need[i], _FREE[str(t.columns[i].header)][0]) for i in free}
    give = dict(lo)
    left = room - sum(lo.values())
    while left > 0:  # hand out the room one character at a time to the columns still short of what they want
        short = [i for i in free if give[i] < want[i]]
        if not short:
            break
        for i in short:
            if left <= 0:
                break
            give[i] += 1
            left -= 1
    for i, col in enumerate(t.columns):
        col.width = give.get(i, need[i])
        col.min_width = col.max_width = None
    return t


def _empty(out: Console, what: str) -> bool:
    out.print(Text(f"No {what}."))
    return True


def _kv(out: Console, d: dict, title: str | None = None) -> None:
    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold")
    t.add_column(overflow="fold")
    for k, v in d.items():
        if isinstance(v, (dict, list)):
            v = json.dumps(v, ensure_ascii=False) if v else "—"
        elif isinstance(v, float):
            v = f"{v:,.4f}".rstrip("0").rstrip(".") if "cost" not in k else f"${v:,.2f}"
        elif isinstance(v, int) and not isinstance(v, bool):
            v = f"{v:,}"
        t.add_row(Text(k), _txt(v))
    if title:
        out.print(Text(title, style="bold"))
    out.print(_fit(t, out.width))


# ---------------------------------------------------------------- renderers


def render_sessions(rows: list, out: Console) -> None:
    if not rows:
        _empty(out, "sessions")
        return
    active = any(r["is_active"] for r in rows)  # the column only when it says something
    cols = ("id", "project", "updated (UTC)", "messages", *(("active",) if active else ()), "title")
    t = _table(None, *cols, right=("messages",))
    for r in rows:
        flag = ("yes" if r["is_active"] else "",) if active else ()
        t.add_row(_txt(r["id"]), _txt(r["project_name"]), _ts(r["updated_at"]), f"{r['message_count']:,}",
                  *flag, _txt(_one_line(r.get("title"))))
    out.print(_fit(t, out.width))
    out.print(Text(f"{len(rows)} session{'s' if len(rows) != 1 else ''}", style="dim"))


def render_detail(d: dict, out: Console) -> None:
    _kv(out, d)


def _content_text(msg: dict) -> str:
    parts = []
    for b in msg.get("message", {}).get("content", []):
        if b.get("type") == "text":
            parts.append(_one_line(b.get("text")))
        elif b.get("type") == "tool_use":
            inp = b.get("input") or {}
            summary = next((str(inp[k]) for k in ("command", "file_path", "pattern", "path", "url", "query",
                                                  "description", "prompt") if inp.get(k)), "")
            parts.append(f"[{b.get('name')}] {_one_line(summary)}".rstrip())
    return " ".join(p for p in parts if p)


def render_messages(rows: list, out: Console) -> None:
    if not rows:
        _empty(out, "messages")
        return
    t = _table(None, "time (UTC)", "role", "content")
    for m in rows:
        t.add_row(_ts(m.get("timestamp"))[5:], m.get("type", ""), _txt(_content_text(m), 300))
    out.print(_fit(t, out.width))


def render_tools(rows: list, out: Console) -> None:
    if not rows:
        _empty(out, "tool calls")
        return
    t = _table(None, "time (UTC)", "tool", "input", "error", "result size", right=("result size",))
    for r in rows:
        inp = r.get("input") or {}
        summary = next((str(inp[k]) for k in ("command", "file_path", "pattern", "path", "url", "query",
                                              "description", "prompt") if inp.get(k)), "")
        if not summary and inp:
            summary = json.dumps(inp, ensure_ascii=False)
        name = (r.get("name") or "") + (" (subagent)" if r.get("is_sidechain") else "")
        t.add_row(_ts(r.get("timestamp"))[5:], _txt(name), _txt(_one_line(summary), 80),
                  "error" if r.get("is_error") else "", f"{r.get('result_size', 0):,}")
    out.print(_fit(t, out.width))
    errors = sum(1 for r in rows if r.get("is_error"))
    out.print(Text(f"{len(rows)} tool calls, {errors} errors", style="dim"))


def render_projects(rows: list, out: Console) -> None:
    if not rows:
        _empty(out, "projects")
        return
    t = _table(None, "id", "name", "sessions", "last activity (UTC)", "path", right=("sessions",))
    for r in rows:
        t.add_row(_txt(r["id"]), _txt(r["name"]), f"{r['session_count']:,}", _ts(r.get("last_activity")),
                  _txt(r.get("path")))
    out.print(_fit(t, out.width))


def render_tasks(rows: list, out: Console) -> None:
    if not rows:
        _empty(out, "tasks")
        return
    t = _table(None, "session", "id", "status", "subject", "owner", "blocked by")
    for r in rows:
        t.add_row(_txt(r["session_id"][:8]), _txt(r["id"]), _txt(r["status"]), _txt(_one_line(r["subject"]), 70),
                  _txt(r.get("owner")), _txt(", ".join(r.get("blockedBy") or []) or None))
    out.print(_fit(t, out.width))


def render_daily(rows: list, out: Console) -> None:
    if not rows:
        _empty(out, "sessions in this window")
        return
    t = _table(None, "date (UTC)", "sessions", "messages", right=("sessions", "messages"))
    for r in rows:
        t.add_row(r["date"], f"{r['session_count']:,}", f"{r['message_count']:,}")
    out.print(_fit(t, out.width))


def render_trends(d: dict, out: Console) -> None:
    _kv(out, {k: v for k, v in d.items() if not isinstance(v, list)})
    projects = d.get("most_active_projects") or []
    if projects:
        out.print()
        out.print(Text("most active projects (messages)", style="bold"))
        t = _table(None, "project", "messages", right=("messages",))
        for r in projects:
            t.add_row(_txt(r["project"]), f"{r['message_count']:,}")
        out.print(_fit(t, out.width))
    tools = d.get("most_used_tools") or []
    if tools:
        out.print()
        out.print(Text("most used tools (sessions that used each)", style="bold"))
        t = _table(None, "tool", "sessions", right=("sessions",))
        for r in tools:
            t.add_row(_txt(r["tool"]), f"{r['count']:,}")
        out.print(_fit(t, out.width))


_MARK = re.compile(r"<mark>(.*?)</mark>", re.S)


def _snippet(s: str) -> Text:
    """A search snippet; ``<mark>`` spans (when the engine marks matches) are shown bold."""
    s = _one_line(s)
    if "<mark>" not in s:
        return Text(s)
    t = Text()
    pos = 0
    for m in _MARK.finditer(s):
        t.append(html.unescape(s[pos:m.start()]))
        t.append(html.unescape(m.group(1)), style="bold")
        pos = m.end()
    t.append(html.unescape(s[pos:]))
    return t


def render_message_hits(rows: list, out: Console) -> None:
    if not rows:
        _empty(out, "matching messages")
        return
    t = _table(None, "session", "time (UTC)", "type", "snippet")
    for r in rows:
        t.add_row(_txt((r.get("session_id") or "")[:8]), _ts(r.get("timestamp")), _txt(r.get("message_type")),
                  _snippet(r.get("snippet") or ""))
    out.print(_fit(t, out.width))


def render_history_hits(rows: list, out: Console) -> None:
    if not rows:
        _empty(out, "matching prompts")
        return
    t = _table(None, "time (UTC)", "project", "session", "prompt")
    for r in rows:
        proj = r.get("project_path") or ""
        t.add_row(_ts(r.get("timestamp")), _txt(proj.rstrip("/").rsplit("/", 1)[-1] or None),
                  _txt((r.get("session_id") or "")[:8] or None), _txt(_one_line(r.get("prompt")), 100))
    out.print(_fit(t, out.width))
