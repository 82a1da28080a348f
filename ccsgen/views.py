"""The ccsinfo surface as pure functions: Catalog + parameters -> JSON-ready values.

The server's root routes and the CLI's query commands both call these, so a
CLI ``--json`` prints exactly what the matching route returns. Wire shapes
follow seeds/000 and seeds/ccsinfo-openapi.json; see API-NOTES.md for where
ccsgen deliberately differs from the reference implementation (one spelling
per field, UTC ``Z`` timestamps, 404 for every unknown id, sort then limit,
unique id prefixes accepted).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import polars as pl

from . import __version__, stats
from .catalog import NotFound
from .stats import iso

if TYPE_CHECKING:
    from .catalog import Catalog

TASK_STATUSES = ("pending", "in_progress", "completed")
LIMIT_MIN, LIMIT_MAX = 1, 500
DAYS_MIN, DAYS_MAX = 1, 365


class BadRequest(ValueError):
    """A parameter the seed validates by hand (400), e.g. an invalid task status."""


# ---------------------------------------------------------------- models


def session_summary(row: dict) -> dict:
    """ccsinfo's SessionSummary (plus ``title``)."""
    return {
        "id": row["session_id"],
        "project_path": row.get("project_path") or row.get("cwd") or row["project"],
        "project_name": row.get("project_name") or row["project"],
        "created_at": iso(row["first_ts"]),
        "updated_at": iso(row["last_ts"]),
        "message_count": int(row["message_count"]),
        "is_active": bool(row.get("is_active", False)),
        "title": row.get("title"),
    }


def session_detail(row: dict) -> dict:
    """ccsinfo's Session: SessionSummary + ``file_path`` (+ what ccsgen knows beyond it)."""
    d = session_summary(row)
    d.update({
        "file_path": row.get("path"),
        "project_id": row["project"],
        "slug": row.get("slug"),
        "cwd": row.get("cwd"),
        "git_branch": row.get("git_branch"),
        "version": row.get("version"),
        "models": list(row.get("models") or []),
        "duration_seconds": round(float(row.get("duration_s") or 0.0), 3),
        "user_messages": int(row["user_messages"]),
        "assistant_messages": int(row["assistant_messages"]),
        "tool_calls": int(row["tool_calls"]),
        "tool_errors": int(row["tool_errors"]),
        "subagents": int(row["subagents"]),
        "input_tokens": int(row["input_tokens"]),
        "output_tokens": int(row["output_tokens"]),
        "cache_creation_tokens": int(row["cache_creation_tokens"]),
        "cache_read_tokens": int(row["cache_read_tokens"]),
        "total_tokens": int(row["total_tokens"]),
        "cost_usd": round(float(row["cost_usd"]), 6),
    })
    return d


def project_model(row: dict) -> dict:
    """ccsinfo's Project."""
    return {
        "id": row["id"],
        "name": row["name"],
        "path": row["path"],
        "session_count": int(row["session_count"]),
        "last_activity": iso(row["last_activity"]),
    }


def task_model(row: dict) -> dict:
    """ccsinfo's Task (+ ``session_id``)."""
    try:
        meta = json.loads(row.get("metadata") or "{}")
    except ValueError:
        meta = {}
    return {
        "id": row["id"],
        "subject": row["subject"] or "",
        "description": row["description"] or "",
        "status": row["status"] if row["status"] in TASK_STATUSES else "pending",
        "owner": row.get("owner"),
        "blockedBy": list(row.get("blocked_by") or []),
        "blocks": list(row.get("blocks") or []),
        "activeForm": row.get("active_form"),
        "metadata": meta,
        "created_at": iso(row.get("created_at")),
        "session_id": row["session_id"],
    }


# ---------------------------------------------------------------- validation


def check_limit(limit: int, name: str = "limit", lo: int = LIMIT_MIN, hi: int = LIMIT_MAX) -> int:
    if not isinstance(limit, int) or limit < lo or limit > hi:
        raise ValueError(f"{name} must be between {lo} and {hi}")
    return limit


def check_status(status: str | None) -> str | None:
    if status is not None and status not in TASK_STATUSES:
        raise BadRequest(f"Invalid status: {status}. Valid values: {', '.join(TASK_STATUSES)}")
    return status


# ---------------------------------------------------------------- sessions


def _sessions_with_projects(cat: Catalog) -> pl.DataFrame:
    p = cat.projects.select(pl.col("id").alias("project"), pl.col("path").alias("project_path"),
                            pl.col("name").alias("project_name"))
    return cat.sessions.join(p, on="project", how="left")


def _summaries(df: pl.DataFrame, limit: int | None = None) -> list[dict]:
    df = df.sort(["last_ts", "session_id"], descending=[True, False], nulls_last=True)
    if limit is not None:
        df = df.head(limit)
    return [session_summary(r) for r in df.iter_rows(named=True)]


def sessions_list(cat: Catalog, project_id: str | None = None, active_only: bool = False, limit: int = 50) -> list:
    check_limit(limit)
    df = _sessions_with_projects(cat)
    if project_id:
        df = df.filter(pl.col("project") == cat.resolve_project(project_id))
    if active_only:
        df = df.filter(pl.col("is_active"))
    return _summaries(df, limit)


def sessions_active(cat: Catalog) -> list:
    return _summaries(_sessions_with_projects(cat).filter(pl.col("is_active")))


def _session_row(cat: Catalog, session_id: str) -> dict:
    sid = cat.resolve_session(session_id)
    return _sessions_with_projects(cat).filter(pl.col("session_id") == sid).row(0, named=True)


def session_show(cat: Catalog, session_id: str) -> dict:
    return session_detail(_session_row(cat, session_id))


def session_messages(cat: Catalog, session_id: str, role: str | None = None, limit: int = 100) -> list:
    """The conversation: human-typed user messages and assistant responses (streamed lines merged), main
    transcript only, in file order. Their number is the session's ``message_count``."""
    check_limit(limit)
    sid = cat.resolve_session(session_id)
    if role is not None and role not in ("user", "assistant"):
        raise ValueError("role must be user or assistant")
    ent = cat.entries(sid, columns=["uuid", "parent_uuid", "kind", "user_kind", "timestamp", "text", "msg_id",
                                    "request_id", "is_sidechain", "file_id", "line_no", "model"])
    ent = ent.filter(~pl.col("is_sidechain") & (
        (pl.col("kind") == "assistant") | ((pl.col("kind") == "user") & pl.col("user_kind").is_in(
            ["prompt", "command", "bash"]))))
    if role:
        ent = ent.filter(pl.col("kind") == role)
    blocks = cat.blocks(sid, columns=["uuid", "idx", "btype", "text", "tool_id", "tool_name", "input_json",
                                      "file_id", "line_no"])
    by_uuid: dict[str, list] = {}
    for b in blocks.filter(pl.col("btype").is_in(["text", "tool_use"])).iter_rows(named=True):
        by_uuid.setdefault(b["uuid"], []).append(b)
    out: list[dict] = []
    index: dict[str, dict] = {}
    for e in ent.iter_rows(named=True):
        if e["kind"] == "assistant":
            key = f"{e['msg_id']}:{e['request_id']}" if e["msg_id"] else e["uuid"]
            content = []
            for b in by_uuid.get(e["uuid"], []):
                if b["btype"] == "text":
                    content.append({"type": "text", "text": b["text"] or ""})
                else:
                    try:
                        inp = json.loads(b["input_json"] or "{}")
                    except ValueError:
                        inp = {"_truncated": b["input_json"]}
                    content.append({"type": "tool_use", "id": b["tool_id"], "name": b["tool_name"], "input": inp})
            if key in index:
                index[key]["message"]["content"].extend(content)
                continue
            msg = {"uuid": e["uuid"], "parent_message_uuid": e["parent_uuid"], "timestamp": iso(e["timestamp"]),
                   "type": "assistant", "message": {"role": "assistant", "content": content, "model": e["model"]}}
            index[key] = msg
        else:
            msg = {"uuid": e["uuid"], "parent_message_uuid": e["parent_uuid"], "timestamp": iso(e["timestamp"]),
                   "type": "user", "message": {"role": "user", "content": [{"type": "text", "text": e["text"] or ""}]}}
        out.append(msg)
    return out[:limit]


def session_tools(cat: Catalog, session_id: str) -> list:
    sid = cat.resolve_session(session_id)
    tc = cat.tool_calls.filter(pl.col("session_id") == sid)
    inputs = dict(cat.blocks(sid, columns=["tool_id", "input_json", "btype"]).filter(
        pl.col("btype") == "tool_use").select("tool_id", "input_json").iter_rows())
    out = []
    for r in tc.iter_rows(named=True):
        r["input_json"] = inputs.get(r["tool_id"])
        try:
            inp = json.loads(r["input_json"] or "{}")
        except ValueError:
            inp = {"_truncated": r["input_json"]}
        out.append({"id": r["tool_id"], "name": r["name"], "input": inp, "timestamp": iso(r["timestamp"]),
                    "is_error": bool(r["is_error"]), "result_size": int(r["result_size"]),
                    "is_sidechain": bool(r["is_sidechain"])})
    return out


def session_tasks(cat: Catalog, session_id: str) -> list:
    sid = cat.resolve_session(session_id)
    return [task_model(r) for r in cat.tasks.filter(pl.col("session_id") == sid).sort("id").iter_rows(named=True)]


def session_progress(cat: Catalog, session_id: str) -> dict:
    row = _session_row(cat, session_id)
    tasks = [t for t in session_tasks(cat, row["session_id"]) if t["status"] in ("pending", "in_progress")]
    return {"session_id": row["session_id"], "is_active": bool(row["is_active"]),
            "last_activity": iso(row["last_ts"]), "message_count": int(row["message_count"]), "active_tasks": tasks}


def session_summary_view(cat: Catalog, session_id: str) -> dict:
    row = _session_row(cat, session_id)
    d = session_summary(row)
    d.update({"slug": row.get("slug"), "git_branch": row.get("git_branch"), "models": list(row.get("models") or []),
              "tool_calls": int(row["tool_calls"]), "total_tokens": int(row["total_tokens"]),
              "cost_usd": round(float(row["cost_usd"]), 6)})
    return d


# ---------------------------------------------------------------- projects


def projects_list(cat: Catalog) -> list:
    df = cat.projects.sort(["last_activity", "id"], descending=[True, False], nulls_last=True)
    return [project_model(r) for r in df.iter_rows(named=True)]


def project_show(cat: Catalog, project_id: str) -> dict:
    return project_model(cat.project(project_id))


def project_sessions(cat: Catalog, project_id: str, limit: int = 50, active_only: bool = False) -> list:
    check_limit(limit)
    pid = cat.resolve_project(project_id)
    df = _sessions_with_projects(cat).filter(pl.col("project") == pid)
    if active_only:
        df = df.filter(pl.col("is_active"))
    return _summaries(df, None if active_only else limit)


def project_stats(cat: Catalog, project_id: str) -> dict:
    pid = cat.resolve_project(project_id)
    return stats.project_stats(cat.sessions, cat.projects, pid)


# ---------------------------------------------------------------- tasks


def tasks_list(cat: Catalog, session_id: str | None = None, status: str | None = None) -> list:
    check_status(status)
    t = cat.tasks
    if session_id:
        t = t.filter(pl.col("session_id") == _resolve_task_session(cat, session_id))
    if status:
        t = t.filter(pl.col("status") == status)
    return [task_model(r) for r in t.sort(["session_id", "id"]).iter_rows(named=True)]


def tasks_pending(cat: Catalog) -> list:
    return tasks_list(cat, status="pending")


def task_show(cat: Catalog, task_id: str, session_id: str) -> dict:
    sid = _resolve_task_session(cat, session_id)
    t = cat.tasks.filter((pl.col("session_id") == sid) & (pl.col("id") == task_id))
    if t.height == 0:
        raise NotFound("Task not found")
    return task_model(t.row(0, named=True))


def _resolve_task_session(cat: Catalog, session_id: str) -> str:
    ids = set(cat.tasks.get_column("session_id").to_list())
    if session_id in ids:
        return session_id
    try:
        return cat.resolve_session(session_id)
    except NotFound:
        m = [i for i in ids if i.startswith(session_id)]
        if len(m) == 1:
            return m[0]
        raise NotFound("Session not found") from None


# ---------------------------------------------------------------- stats


def stats_global(cat: Catalog) -> dict:
    return stats.ccsinfo_global(cat.sessions, cat.projects, cat.tool_calls)


def stats_daily(cat: Catalog, days: int = 30) -> list:
    check_limit(days, "days", DAYS_MIN, DAYS_MAX)
    return stats.ccsinfo_daily(cat.sessions, days)


def stats_trends(cat: Catalog) -> dict:
    return stats.trends(cat.sessions, cat.tool_calls, cat.projects)


# ---------------------------------------------------------------- search (engine in ccsgen/search)


def search_sessions(cat: Catalog, q: str, limit: int = 50) -> list:
    check_limit(limit)
    ids = cat.search_sessions(q, limit=limit)
    df = _sessions_with_projects(cat).filter(pl.col("session_id").is_in(ids))
    rows = {r["session_id"]: r for r in df.iter_rows(named=True)}
    return [session_summary(rows[i]) for i in ids if i in rows][:limit]


def search_messages(cat: Catalog, q: str, limit: int = 50) -> list:
    check_limit(limit)
    return cat.search_messages_ccsinfo(q, limit=limit)


def search_history(cat: Catalog, q: str, limit: int = 50) -> list:
    check_limit(limit)
    return cat.search_prompts(q, limit=limit)


# ---------------------------------------------------------------- health


def health(cat: Catalog) -> dict[str, str]:
    return {"status": "healthy"}


def info(cat: Catalog) -> dict[str, Any]:
    return {"version": __version__, "total_sessions": cat.sessions.height, "total_projects": cat.projects.height}
