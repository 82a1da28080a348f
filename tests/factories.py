"""Factories for Claude Code log lines, in the real on-disk format (camelCase; see shared/corpus/FORMAT.md).

Each ``make_*`` returns one line as a dict (``make_streamed`` a list of them) with realistic defaults; keyword
overrides are deep-merged into it, and ``DROP`` removes a key::

    make_user("fix the bug", cwd="/w/app")
    make_assistant("done", usage=usage(input=3, output=40), message={"stop_reason": "tool_use"})
    make_user("no session", sessionId=DROP)

Ids and timestamps come from deterministic counters (``reset()`` restarts them; conftest does so before every
test), so two lines made in a row get distinct ids and increasing timestamps. Pass ``timestamp=at(...)`` when a
test depends on the exact time.

``write_jsonl`` / ``make_claude_dir`` put lines on disk; entries given as ``str``/``bytes`` are written verbatim,
so malformed lines are easy to mix in.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

SESSION = "5e551000-0000-4000-8000-000000000001"
SESSION2 = "5e551000-0000-4000-8000-000000000002"
PROJECT = "-home-user-proj"
CWD = "/home/user/proj"
MODEL = "claude-sonnet-4-5-20250929"  # priced: in 3e-6, out 1.5e-5, read 3e-7, write 5m 3.75e-6, 1h 6e-6
VERSION = "2.1.30"
BASE = dt.datetime(2026, 1, 10, 10, 0, 0, tzinfo=dt.UTC)

DROP = object()  # override value that removes a key

_n = 0  # id counter
_t = 0  # clock, seconds after BASE


def reset() -> None:
    global _n, _t
    _n = 0
    _t = 0


def _next() -> int:
    global _n
    _n += 1
    return _n


def iso(t: dt.datetime) -> str:
    """The transcript spelling: UTC, milliseconds, ``Z``."""
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def at(minutes: float = 0, base: dt.datetime = BASE) -> str:
    """An ISO timestamp ``minutes`` after ``base``."""
    return iso(base + dt.timedelta(minutes=minutes))


def tick(seconds: int = 1) -> str:
    """The next timestamp of the factories' clock."""
    global _t
    _t += seconds
    return iso(BASE + dt.timedelta(seconds=_t))


def new_uuid() -> str:
    n = _next()
    return f"{n:08x}-0000-4000-8000-{n:012x}"


def new_msg_id() -> str:
    return f"msg_01{_next():022d}"


def new_request_id() -> str:
    return f"req_01{_next():022d}"


def new_tool_id() -> str:
    return f"toolu_01{_next():020d}"


def merge(base: dict, overrides: dict) -> dict:
    """Deep-merge ``overrides`` into ``base`` (in place); dict values merge, ``DROP`` deletes."""
    for k, v in overrides.items():
        if v is DROP:
            base.pop(k, None)
        elif isinstance(v, dict) and isinstance(base.get(k), dict):
            merge(base[k], v)
        else:
            base[k] = v
    return base


def envelope(kind: str, **overrides: Any) -> dict:
    """The fields every user/assistant/system line carries."""
    line = {
        "parentUuid": None,
        "isSidechain": False,
        "userType": "external",
        "cwd": CWD,
        "sessionId": SESSION,
        "version": VERSION,
        "gitBranch": "main",
        "type": kind,
        "uuid": new_uuid(),
        "timestamp": tick(),
    }
    return merge(line, overrides)


# ---------------------------------------------------------------- user / assistant / system


def make_user(text: str | list = "Please fix the failing test", **overrides: Any) -> dict:
    """A user line; ``text`` may be a string or a list of content blocks."""
    line = envelope("user", message={"role": "user", "content": text})
    return merge(line, overrides)


def usage(
    input: int = 10,
    output: int = 100,
    cache_creation: int = 0,
    cache_read: int = 0,
    *,
    c5m: int | None = None,
    c1h: int | None = None,
    speed: str | None = None,
) -> dict:
    """A ``message.usage`` object. With ``c5m``/``c1h`` it gets the ``cache_creation`` split (v>=1.0.98)."""
    u: dict[str, Any] = {
        "input_tokens": input,
        "cache_creation_input_tokens": cache_creation,
        "cache_read_input_tokens": cache_read,
        "output_tokens": output,
        "service_tier": "standard",
    }
    if c5m is not None or c1h is not None:
        u["cache_creation"] = {"ephemeral_5m_input_tokens": c5m or 0, "ephemeral_1h_input_tokens": c1h or 0}
        if not cache_creation:
            u["cache_creation_input_tokens"] = (c5m or 0) + (c1h or 0)
    if speed is not None:
        u["speed"] = speed
    return u


def text_block(text: str) -> dict:
    return {"type": "text", "text": text}


def thinking_block(thinking: str = "Let me think.") -> dict:
    return {"type": "thinking", "thinking": thinking, "signature": "c2lnbmF0dXJl"}


def tool_use_block(name: str = "Bash", input: dict | None = None, tool_id: str | None = None) -> dict:
    return {
        "type": "tool_use",
        "id": tool_id or new_tool_id(),
        "name": name,
        "input": input if input is not None else {"command": "ls -la", "description": "List files"},
    }


def image_block(data: str = "iVBORw0KGgo=", media_type: str = "image/png") -> dict:
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def make_assistant(
    text: str | None = "Done: the test passes now.",
    *,
    model: str = MODEL,
    usage: dict | None = None,
    content: list | None = None,
    msg_id: str | None = None,
    request_id: str | None = None,
    stop_reason: str | None = "end_turn",
    **overrides: Any,
) -> dict:
    """An assistant line (one API response written as one line unless you pass several blocks)."""
    u = usage if usage is not None else globals()["usage"]()
    blocks = content if content is not None else [text_block(text or "")]
    line = envelope(
        "assistant",
        message={
            "id": msg_id or new_msg_id(),
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": blocks,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": u,
        },
        requestId=request_id or new_request_id(),
    )
    return merge(line, overrides)


def make_streamed(
    n: int = 3,
    *,
    usage: dict | None = None,
    partial_output: int = 7,
    blocks: list[dict] | None = None,
    model: str = MODEL,
    msg_id: str | None = None,
    request_id: str | None = None,
    **overrides: Any,
) -> list[dict]:
    """One streamed API response as Claude Code writes it: ``n`` lines (one content block each) sharing
    ``message.id`` and ``requestId``, chained by ``parentUuid``; every line but the last carries a partial
    ``output_tokens`` snapshot (``partial_output``), the last one the final ``usage``."""
    final = (
        usage
        if usage is not None
        else globals()["usage"](input=4, output=250, cache_creation=1000, cache_read=20_000)
    )
    mid, rid = msg_id or new_msg_id(), request_id or new_request_id()
    if blocks is None:
        blocks = [thinking_block()] + [text_block(f"part {i}") for i in range(1, n)]
    assert len(blocks) == n, "one block per line"
    lines = []
    parent = overrides.pop("parentUuid", None)
    for i, b in enumerate(blocks):
        last = i == n - 1
        u = dict(final) if last else {**final, "output_tokens": partial_output}
        line = make_assistant(
            content=[b],
            model=model,
            usage=u,
            msg_id=mid,
            request_id=rid,
            stop_reason="end_turn" if last else None,
            parentUuid=parent,
            **overrides,
        )
        parent = line["uuid"]
        lines.append(line)
    return lines


def make_tool_use(
    name: str = "Bash", input: dict | None = None, *, tool_id: str | None = None, **overrides: Any
) -> dict:
    """An assistant line with one ``tool_use`` block (``line["message"]["content"][0]["id"]`` is its id)."""
    line = make_assistant(content=[tool_use_block(name, input, tool_id)], stop_reason="tool_use")
    return merge(line, overrides)


def tool_id_of(line: dict) -> str:
    return line["message"]["content"][0]["id"]


def make_tool_result(
    tool_use: str | dict,
    content: str | list = "ok",
    *,
    is_error: bool | None = None,
    tool_use_result: Any = None,
    **overrides: Any,
) -> dict:
    """The user line answering a tool_use (pass the tool_use line or its id)."""
    tid = tool_id_of(tool_use) if isinstance(tool_use, dict) else tool_use
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": tid, "content": content}
    if is_error is not None:
        block["is_error"] = is_error
    line = make_user([block])
    if isinstance(tool_use, dict):
        line["parentUuid"] = tool_use["uuid"]
        line["sourceToolAssistantUUID"] = tool_use["uuid"]
    line["toolUseResult"] = (
        tool_use_result
        if tool_use_result is not None
        else {
            "stdout": content if isinstance(content, str) else "",
            "stderr": "",
            "interrupted": False,
            "isImage": False,
        }
    )
    return merge(line, overrides)


def make_system(
    content: str = "Conversation compacted", subtype: str | None = "informational", **overrides: Any
) -> dict:
    line = envelope("system", content=content, level="info", isMeta=False)
    if subtype is not None:
        line["subtype"] = subtype
    return merge(line, overrides)


def make_session(
    session: str = SESSION,
    *,
    prompt: str = "Please fix the failing test",
    title: str | None = None,
    **overrides: Any,
) -> list[dict]:
    """A typical short session: a prompt, a streamed answer, a tool call and its result, a closing answer (and an
    ai-title line when ``title`` is given). ``overrides`` go on every conversation line."""
    kw = {"sessionId": session, **overrides}
    user = make_user(prompt, **kw)
    streamed = make_streamed(3, parentUuid=user["uuid"], **kw)
    tu = make_tool_use("Bash", {"command": "pytest -q"}, parentUuid=streamed[-1]["uuid"], **kw)
    tr = make_tool_result(tu, "1 passed", **kw)
    done = make_assistant("All tests pass.", parentUuid=tr["uuid"], **kw)
    lines = [user, *streamed, tu, tr, done]
    if title is not None:
        lines.append(make_ai_title(title, session))
    return lines


# ---------------------------------------------------------------- metadata lines


def make_ai_title(title: str, session: str = SESSION, **overrides: Any) -> dict:
    return merge({"type": "ai-title", "aiTitle": title, "sessionId": session}, overrides)


def make_custom_title(title: str, session: str = SESSION, **overrides: Any) -> dict:
    return merge({"type": "custom-title", "customTitle": title, "sessionId": session}, overrides)


def make_summary(summary: str, leaf_uuid: str | None = None, **overrides: Any) -> dict:
    return merge({"type": "summary", "summary": summary, "leafUuid": leaf_uuid or new_uuid()}, overrides)


def make_agent_progress(mirrored: dict, agent_id: str = "a1b2c3d", **overrides: Any) -> dict:
    """A ``progress``/``agent_progress`` line that mirrors a subagent message (with its usage) into the parent."""
    line = envelope(
        "progress",
        data={
            "type": "agent_progress",
            "agentId": agent_id,
            "prompt": "do it",
            "message": {
                "type": mirrored.get("type"),
                "timestamp": mirrored.get("timestamp"),
                "uuid": mirrored.get("uuid"),
                "requestId": mirrored.get("requestId"),
                "message": mirrored.get("message"),
            },
            "normalizedMessages": [],
        },
        toolUseID="toolu_progress",
        parentToolUseID="toolu_parent",
    )
    line.pop("isSidechain")
    return merge(line, overrides)


def make_history(
    display: str, timestamp_ms: int, project: str = CWD, session: str | None = SESSION, **overrides: Any
) -> dict:
    """A ``~/.claude/history.jsonl`` line (timestamp in epoch milliseconds)."""
    line: dict[str, Any] = {
        "display": display,
        "pastedContents": {},
        "timestamp": timestamp_ms,
        "project": project,
    }
    if session is not None:
        line["sessionId"] = session
    return merge(line, overrides)


def make_task(
    task_id: str = "1", subject: str = "Write tests", status: str = "pending", **overrides: Any
) -> dict:
    """A ``tasks/<session>/<id>.json`` file (TaskCreate / TaskUpdate)."""
    return merge(
        {
            "id": task_id,
            "subject": subject,
            "description": f"{subject} in detail",
            "activeForm": f"{subject}ing",
            "status": status,
            "blocks": [],
            "blockedBy": [],
        },
        overrides,
    )


def make_todos(*items: tuple[str, str]) -> list[dict]:
    """A ``todos/<session>-agent-<id>.json`` file: [(content, status), ...]."""
    return [{"content": c, "status": s, "activeForm": c + "…"} for c, s in items]


# ---------------------------------------------------------------- disk


def dumps(line: Any) -> bytes:
    if isinstance(line, bytes):
        return line
    if isinstance(line, str):
        return line.encode("utf-8")
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def jsonl_bytes(lines: Iterable[Any], *, final_newline: bool = True) -> bytes:
    data = b"\n".join(dumps(x) for x in lines)
    return data + b"\n" if final_newline and data else data


def write_jsonl(path: Path, lines: Iterable[Any], *, final_newline: bool = True) -> Path:
    """Write lines (dicts as compact JSON; str/bytes verbatim), one per line. Creates parent dirs."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(jsonl_bytes(lines, final_newline=final_newline))
    return path


def append_jsonl(path: Path, lines: Iterable[Any], *, final_newline: bool = True) -> int:
    """Append lines to ``path``; returns the number of bytes appended."""
    data = jsonl_bytes(lines, final_newline=final_newline)
    with open(path, "ab") as f:
        f.write(data)
    return len(data)


def append_bytes(path: Path, data: bytes) -> int:
    with open(path, "ab") as f:
        f.write(data)
    return len(data)


def make_claude_dir(tmp_path: Path, layout: dict[str, Any], name: str = "claude") -> Path:
    """Create a Claude config dir under ``tmp_path / name`` and return it.

    ``layout`` maps relative paths to contents: for ``*.jsonl`` a list of lines (see ``write_jsonl``); for
    other files a dict/list (written as JSON) or str/bytes (verbatim); ``None`` makes an empty directory.
    """
    root = Path(tmp_path) / name
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in layout.items():
        p = root / rel
        if content is None:
            p.mkdir(parents=True, exist_ok=True)
        elif rel.endswith(".jsonl") and isinstance(content, list):
            write_jsonl(p, content)
        else:
            p.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, (dict, list)):
                p.write_text(json.dumps(content, ensure_ascii=False), encoding="utf-8")
            else:
                p.write_bytes(dumps(content))
    return root


def session_path(session: str = SESSION, project: str = PROJECT) -> str:
    """``projects/<project>/<session>.jsonl`` (relative, for ``make_claude_dir`` layouts)."""
    return f"projects/{project}/{session}.jsonl"


# ---------------------------------------------------------------- building


def config(claude: Path | list[Path], cache: Path, prices_file: Path | None = None):
    from ccsgen.config import Config

    dirs = tuple(claude) if isinstance(claude, (list, tuple)) else (claude,)
    return Config(
        claude_dirs=tuple(Path(d) for d in dirs),
        cache_dir=Path(cache),
        data_dir=Path(cache) / "data",
        prices_file=prices_file,
    )


def build_catalog(
    claude: Path | list[Path], cache: Path, *, full: bool = False, prices_file: Path | None = None
):
    """Ingest ``claude`` into ``cache`` (incrementally) and return the Catalog."""
    from ccsgen.catalog import Catalog

    return Catalog.open(config(claude, cache, prices_file), full=full)
