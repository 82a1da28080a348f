"""The StackUnderflow surface (seeds/004): routes under ``/api/``, errors ``{"error": "…"}``.

Handlers take the request context (``ctx.cat``, ``ctx.state``, ``ctx.userdata``) and validated parameters and
return JSON-ready values. This module has the project, statistics and log-file routes and the route table;
api_services.py has search, Q&A, tags (the Catalog's methods, ``ccsgen/search``; when those are missing the
routes answer 503 and ``/api/health`` reports the service down), bookmarks, health and pricing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path
from urllib.parse import unquote

import orjson
import polars as pl

from .. import sources
from ..stats import su_global_stats
from . import su_stats
from .api_services import (  # the service routes' handlers, for the route table below
    bookmark_create,
    bookmark_delete,
    bookmark_get,
    bookmark_toggle,
    bookmark_update,
    bookmarks_by_session,
    bookmarks_list,
    health,
    pricing,
    pricing_refresh,
    qa_get,
    qa_list,
    qa_reindex,
    qa_stats,
    search,
    search_reindex,
    search_stats,
    tags_add,
    tags_browse,
    tags_cloud,
    tags_reindex,
    tags_remove,
    tags_session,
)
from .openapi import (
    ANY,
    BOOL,
    INT,
    NUM,
    OBJ,
    STR,
    ApiError,
    Body,
    P,
    Q,
    Route,
    arr,
    mapping,
    nullable,
    obj,
    ref,
)

MAX_DATE_RANGE_DAYS = 30
MESSAGES_INITIAL_LOAD = 50
PROJECTS_MAX_LIMIT = 1000
RECENT_PROJECTS = 20
PROJECT_SORTS = ("last_modified", "first_seen", "size", "name")
DATE_RE = r"^\d{4}-\d{2}-\d{2}$"


def dumps(value) -> bytes:
    """JSON of ``value``: orjson, or past what orjson encodes (nesting deeper than 255 levels, which a tool input
    in the logs can have, or an integer wider than 64 bits), the standard library's encoder."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS, default=str)
    except orjson.JSONEncodeError:
        return json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":")).encode()


class RawJSON(bytes):
    """Already-serialised JSON a handler returns as is (memoised responses)."""


# ---------------------------------------------------------------- current project


def _resolve(ctx, project: str | None) -> str:
    """The explicit ``project`` parameter, else the server's current project; 400 when neither."""
    pid = project or ctx.state.current_project
    if not pid:
        raise ApiError(400, "No project selected")
    ids = ctx.cat.projects.get_column("id")
    if (ids == pid).any():
        return pid
    try:
        return ctx.cat.resolve_project(pid)
    except LookupError:
        raise ApiError(404, f"Project not found in store: {pid} (run /api/refresh)") from None


def _log_dirs(ctx) -> dict[str, str]:
    """Project id -> its log dir (``<claude dir>/projects/<id>``), for the dirs that exist."""

    def build() -> dict[str, str]:
        out = {}
        for pid in ctx.cat.projects.get_column("id").to_list():
            for root in ctx.cat.cfg.claude_dirs:
                d = Path(root) / "projects" / pid
                if d.is_dir():
                    out[pid] = str(d)
                    break
        return out

    return ctx.cat.memo("su_log_dirs", build)


def _project_row(ctx, pid: str) -> dict:
    return ctx.cat.projects.filter(pl.col("id") == pid).row(0, named=True)


def get_project(ctx):
    pid = ctx.state.current_project
    if not pid or not (ctx.cat.projects.get_column("id") == pid).any():
        return {"status": "no_project", "message": "No project selected"}
    row = _project_row(ctx, pid)
    return {"status": "active", "project_path": row["path"], "log_path": _log_dirs(ctx).get(pid, ""),
            "log_dir_name": pid}


def set_project(ctx, body):
    path = body.get("project_path")
    if not isinstance(path, str) or not path.strip():
        raise ApiError(400, "Project path is required")
    want = path.strip().rstrip("/\\") or path.strip()
    p = ctx.cat.projects
    hit = p.filter(pl.col("path").str.strip_chars_end("/\\") == want)
    if hit.height == 0:
        # only a yes/no about the path; nothing outside the configured dirs is read
        if "\x00" in want or not os.path.isabs(want) or not os.path.exists(want):
            raise ApiError(400, f"Project path does not exist: {path}")
        raise ApiError(404, f"Claude logs not found for project: {path}. Make sure you have used Claude with "
                       "this project.")
    row = hit.sort("last_activity", descending=True, nulls_last=True).row(0, named=True)
    ctx.state.set_project(row["id"])
    return {"status": "success", "project_path": row["path"], "log_path": _log_dirs(ctx).get(row["id"], ""),
            "log_dir_name": row["id"], "message": "Project set successfully. You can now view the dashboard."}


def set_project_by_dir(ctx, body):
    name = body.get("dir_name")
    if not isinstance(name, str) or not name.strip():
        raise ApiError(400, "Directory name is required")
    name = name.strip()
    decoded = unquote(unquote(name))
    if any(n in (".", "..") or "/" in n or "\\" in n or "\x00" in n or n.startswith("~") for n in (name, decoded)):
        raise ApiError(400, "Invalid path")
    if not (ctx.cat.projects.get_column("id") == name).any():
        raise ApiError(404, f"Log directory not found: {name}")
    row = _project_row(ctx, name)
    ctx.state.set_project(name)
    return {"status": "success", "project_path": row["path"], "log_path": _log_dirs(ctx).get(name, ""),
            "log_dir_name": name, "message": f"Now analyzing logs from: {name}"}


# ---------------------------------------------------------------- projects


def _epoch(t) -> float:
    return round(t.timestamp(), 3) if t is not None else 0.0


def list_projects(ctx, include_stats=False, sort_by="last_modified", limit=None, offset=0):
    p = ctx.cat.projects
    key = {"last_modified": ("last_write", True), "first_seen": ("first_activity", True),
           "size": ("file_bytes", True), "name": ("name", False)}[sort_by]
    p = p.sort([key[0], "id"], descending=[key[1], False], nulls_last=True)
    total = p.height
    page = p.slice(offset, min(limit or PROJECTS_MAX_LIMIT, PROJECTS_MAX_LIMIT))
    stats = ctx.cat.memo("su_project_stats", lambda: su_stats.project_stats(
        ctx.cat.projects, ctx.cat.sessions, ctx.cat.responses)) if include_stats else {}
    dirs = _log_dirs(ctx)
    rows = [{
        "dir_name": x["id"], "log_path": dirs.get(x["id"], ""), "file_count": int(x["files"] or 0),
        "total_size_mb": round((x["file_bytes"] or 0) / 1e6, 2), "last_modified": _epoch(x["last_write"]),
        "first_seen": _epoch(x["first_activity"]), "display_name": x["name"], "project_path": x["path"],
        "in_cache": True, "url_slug": x["id"], "stats": stats.get(x["id"]) if include_stats else None,
    } for x in page.iter_rows(named=True)]
    return {"projects": rows, "total_count": total, "has_more": offset + len(rows) < total,
            "cache_status": {"cached_count": total, "total_projects": total}}


def recent_projects(ctx):
    p = ctx.cat.projects.sort(["last_write", "id"], descending=[True, False], nulls_last=True).head(RECENT_PROJECTS)
    dirs = _log_dirs(ctx)
    return {"projects": [{"dir_name": x["id"], "log_path": dirs.get(x["id"], ""),
                          "last_modified": _epoch(x["last_write"]), "file_count": int(x["files"] or 0)}
                         for x in p.iter_rows(named=True)]}


def global_stats(ctx):
    d = ctx.cat.memo("su_global_stats", lambda: su_global_stats(ctx.cat.responses))
    return {**d, "config": {"max_date_range_days": MAX_DATE_RANGE_DAYS}}


# ---------------------------------------------------------------- project statistics


def _frames_of(ctx, pid: str):
    return ctx.cached("frames", pid, lambda: su_stats.project_frames(ctx.cat, pid))


def _frames(ctx, project):
    return _frames_of(ctx, _resolve(ctx, project))


def _stats_json(ctx, f, tz: int, with_costs: bool) -> RawJSON:
    return ctx.cached("json", ("stats", f.pid, tz, with_costs), lambda: RawJSON(dumps(
        su_stats.statistics(f, tz, with_costs))))


def stats(ctx, timezone_offset=0, project=None):
    f = _frames(ctx, project)
    return _stats_json(ctx, f, timezone_offset, True)


def dashboard_data(ctx, timezone_offset=0, project=None):
    f = _frames(ctx, project)
    reindexing = ctx.state.refreshing

    def build() -> RawJSON:
        total = f.messages.height
        page = su_stats.messages(ctx.cat, f, MESSAGES_INITIAL_LOAD)
        rest = {
            "messages_page": {"messages": page, "total": total, "page": 1, "per_page": MESSAGES_INITIAL_LOAD,
                              "total_pages": max(1, -(-total // MESSAGES_INITIAL_LOAD)), "start_index": 0,
                              "end_index": len(page)},
            "message_count": total,
            "is_reindexing": reindexing,
            "config": {"messages_initial_load": MESSAGES_INITIAL_LOAD, "max_date_range_days": MAX_DATE_RANGE_DAYS},
        }
        tail = dumps(rest)
        return RawJSON(b"".join((b'{"statistics":', _stats_json(ctx, f, timezone_offset, False), b",", tail[1:])))

    return ctx.cached("json", ("dashboard", f.pid, timezone_offset, reindexing), build)


def messages(ctx, limit=None, timezone_offset=0, project=None):
    f = _frames(ctx, project)
    return su_stats.messages(ctx.cat, f, limit)


def messages_summary(ctx, project=None):
    return su_stats.messages_summary(_frames(ctx, project))


def refresh(ctx, body):
    t0 = time.perf_counter()
    try:
        rep = ctx.refresh()
    except Exception as e:  # noqa: BLE001 - surfaced in the body, as the seed says
        raise ApiError(500, f"Refresh failed: {e}") from None
    ms = int((time.perf_counter() - t0) * 1000)
    msg = "Files changed - data refreshed successfully" if rep.changed else "No changes detected - using cached data"
    pid = ctx.state.current_project
    out = {"status": "success", "message": msg, "files_changed": bool(rep.changed), "refresh_time_ms": ms}
    s = ctx.cat.sessions
    if pid and (ctx.cat.projects.get_column("id") == pid).any():
        out["message_count"] = int(s.filter(pl.col("project") == pid).get_column("message_count").sum())
    else:
        changed = set(rep.changed_sessions)
        out["message_count"] = int(s.get_column("message_count").sum()) if s.height else 0
        out["projects_refreshed"] = s.filter(pl.col("session_id").is_in(list(changed))).get_column(
            "project").n_unique() if changed else 0
        out["total_projects"] = ctx.cat.projects.height
    return out


# ---------------------------------------------------------------- log files


def _project_files(ctx, pid: str) -> dict[str, dict]:
    """Relative path (inside the project's log dir) -> file row, for the project's transcript files."""

    def build() -> dict[str, dict]:
        f = ctx.cat.files.filter((pl.col("project") == pid) & pl.col("kind").is_in(sources.TRANSCRIPT_KINDS))
        out = {}
        for x in f.iter_rows(named=True):
            p = Path(x["path"])
            rel = None
            for root in ctx.cat.cfg.claude_dirs:
                base = Path(root) / "projects" / pid
                try:
                    rel = p.relative_to(base).as_posix()
                    break
                except ValueError:
                    continue
            if rel:
                out[rel] = x
        return out

    return ctx.cat.memo(f"su_files_index:{pid}", build)


def jsonl_files(ctx, project=None):
    pid = _resolve(ctx, project)
    f = _frames_of(ctx, pid)
    fs = ctx.cached("frames", ("files", pid), lambda: {
        x["file_id"]: x for x in su_stats.file_stats(ctx.cat, f).iter_rows(named=True)})
    titles = dict(f.sessions.select("session_id", "title").iter_rows())
    out = []
    for rel, x in _project_files(ctx, pid).items():
        st = fs.get(x["file_id"], {})
        sub = x["kind"] != sources.MAIN
        created = st.get("first_ts")
        out.append({
            "name": Path(rel).name, "path": rel, "is_subagent": sub,
            "created": _epoch(created) if created else _epoch(x["mtime"]), "modified": _epoch(x["mtime"]),
            "size": int(x["size"] or 0),
            "messages": int((st.get("user_messages") or 0) + (st.get("assistant_messages") or 0)),
            "user_messages": int(st.get("user_messages") or 0),
            "assistant_messages": int(st.get("assistant_messages") or 0),
            "input_tokens": int(st.get("input_tokens") or 0), "output_tokens": int(st.get("output_tokens") or 0),
            "model": st.get("model"), "title": None if sub else titles.get(x["session_hint"]),
            "tool_calls": int(st.get("tool_calls") or 0), "estimated_cost": round(float(st.get("cost_usd") or 0.0), 4),
            "session_id": x["session_hint"] or None,
        })
    out.sort(key=lambda d: (d["created"], d["path"]))
    return out


def _safe_file(ctx, pid: str, file: str) -> dict:
    """The project's file named by ``file`` (a path relative to the project's log dir, or a unique file name).
    Never builds a path from the request: it only picks among the files the Catalog indexed."""
    if not file or "\x00" in file or file.startswith(("/", "\\")) or ".." in Path(file).parts or ".." in file.split(
            "\\") or (len(file) > 1 and file[1] == ":"):
        raise ApiError(400, "Invalid file parameter")
    files = _project_files(ctx, pid)
    hit = files.get(file)
    if hit is None:
        by_name = [x for rel, x in files.items() if Path(rel).name == file]
        if len(by_name) == 1:
            hit = by_name[0]
    if hit is None:
        raise ApiError(404, f"Session file not found: {file}")
    real = os.path.realpath(hit["path"])
    roots = [os.path.realpath(Path(r) / "projects" / pid) for r in ctx.cat.cfg.claude_dirs]
    if not any(real.startswith(r + os.sep) for r in roots):
        raise ApiError(400, "Invalid file parameter: outside the project's log dir")
    return hit


def jsonl_content(ctx, file, project=None):
    pid = _resolve(ctx, project)
    hit = _safe_file(ctx, pid, file)
    lines, user, asst = [], 0, 0
    first = last = None
    cwd = None
    try:
        with open(os.path.realpath(hit["path"]), "rb") as fh:
            for raw in fh:
                try:
                    d = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    continue
                if not isinstance(d, dict):
                    continue
                lines.append(d)
                t = d.get("type")
                user += t == "user"
                asst += t == "assistant"
                ts = d.get("timestamp")
                if isinstance(ts, str):
                    first = ts if first is None or ts < first else first
                    last = ts if last is None or ts > last else last
                if cwd is None and isinstance(d.get("cwd"), str):
                    cwd = d["cwd"]
    except FileNotFoundError:
        raise ApiError(404, f"Session file not found: {file} (run /api/refresh)") from None
    dur = 0.0
    if first and last:
        try:
            a, b = (dt.datetime.fromisoformat(x.replace("Z", "+00:00")) for x in (first, last))
            # a time without an offset (or a bare date) is UTC, as Claude Code writes every time
            a, b = (x if x.tzinfo else x.replace(tzinfo=dt.UTC) for x in (a, b))
            dur = round((b - a).total_seconds() / 60.0, 1)
        except (ValueError, OverflowError):
            dur = 0.0
    return {"lines": lines, "total_lines": len(lines), "user_count": user, "assistant_count": asst,
            "metadata": {"session_id": hit["session_hint"] or None, "file_size": int(hit["size"] or 0),
                         "created": _epoch(hit["mtime"]), "modified": _epoch(hit["mtime"]), "first_timestamp": first,
                         "last_timestamp": last, "duration_minutes": dur, "cwd": cwd}}


# ---------------------------------------------------------------- schemas

_TOK = obj(input=INT, output=INT, cache_creation=INT, cache_read=INT)
_BOOKMARK = obj(
    required=["id", "session_id", "message_index", "title", "notes", "tags", "created_at", "updated_at"],
    id=STR, session_id=STR, message_index=nullable(INT), title=STR, notes=STR, tags=arr(STR), created_at=STR,
    updated_at=STR, session_first_ts=nullable(STR), session_last_ts=nullable(STR), session_message_count=INT,
)
_PROJECT = obj(
    required=["dir_name", "log_path", "file_count", "total_size_mb", "last_modified", "first_seen", "display_name",
              "in_cache", "url_slug", "stats"],
    dir_name=STR, log_path=STR, file_count=INT, total_size_mb=NUM, last_modified=NUM, first_seen=NUM,
    display_name=STR, project_path=STR, in_cache=BOOL, url_slug=STR, stats=nullable(OBJ),
)
_MESSAGE = obj(
    required=["session_id", "type", "role", "timestamp", "model", "content", "tools", "tokens", "input_tokens",
              "output_tokens"],
    session_id=STR, type=STR, role=STR, timestamp=nullable(STR), model=STR, content=STR, tools=arr(OBJ),
    tokens=_TOK, input_tokens=INT, output_tokens=INT,
)
_STATS_KEYS = ("overview", "tools", "sessions", "daily_stats", "hourly_pattern", "errors", "models",
               "user_interactions", "cache")
_COST_KEYS = ("session_costs", "command_costs", "tool_costs", "token_composition", "outliers", "retry_signals",
              "session_efficiency", "error_cost", "trends")
_OVERVIEW = obj(
    project_name=STR, log_dir_name=STR, project_path=STR, total_messages=INT,
    date_range=obj(start=nullable(STR), end=nullable(STR)), sessions=INT,
    message_types=obj(user=INT, assistant=INT), total_tokens=_TOK, total_cost=NUM,
)
_TOOLS = obj(usage_counts=mapping(INT), error_counts=mapping(INT), error_rates=mapping(NUM))
_DASH_STATS = obj(required=list(_STATS_KEYS), **{**{k: OBJ for k in _STATS_KEYS}, "overview": _OVERVIEW,
                                                 "tools": _TOOLS})
_FULL_STATS = obj(required=[*_STATS_KEYS, *_COST_KEYS], **{
    **{k: OBJ for k in (*_STATS_KEYS, *_COST_KEYS)}, "overview": _OVERVIEW, "tools": _TOOLS,
    "session_costs": arr(OBJ), "command_costs": arr(OBJ), "retry_signals": arr(OBJ), "session_efficiency": arr(OBJ)})
_SERVICE_ANY = {"anyOf": [OBJ, arr(ANY)]}
_PRICE_INFO = dict(source=STR, timestamp=nullable(STR), is_stale=BOOL)

COMPONENTS: dict[str, dict] = {
    "Bookmark": _BOOKMARK,
    "ProjectEntry": _PROJECT,
    "SUMessage": _MESSAGE,
    "DashboardStatistics": _DASH_STATS,
    "Statistics": _FULL_STATS,
}

PROJECT = Q("project", description="Log dir name of a project (overrides the current project)", max_length=1000)
TZ = Q("timezone_offset", "integer", default=0, minimum=-1440, maximum=1440,
       description="Minutes as Date.getTimezoneOffset() returns them (positive west of UTC)")
PAGE = Q("page", "integer", default=1, minimum=1, description="Result page (1-indexed)")
PER_PAGE = Q("per_page", "integer", default=20, minimum=1, description="Results per page (values above 100 count as 100)")
SID = P("session_id", max_length=200)
#: the detail lists' cap, in the OpenAPI description of the routes that carry them (docs/api-limits.md)
DETAILS_NOTE = (
    f"Detail lists are capped at {su_stats.MAX_DETAILS} entries each: `errors.error_details`, "
    "`errors.assistant_details` and `user_interactions.command_details` keep the most recent by timestamp, in "
    "the order of the full list; "
    "`command_costs` (`/api/stats`) the most expensive. Every count, total and rate covers every row "
    "(`errors.total`, `errors.by_category`, `user_interactions.*`, `daily_stats`, …). See docs/api-limits.md.")
_ANYBODY = Body(description="Any JSON object (may be {}).")
_BM_FIELDS = {"session_id": STR, "title": nullable(STR), "message_index": nullable({"type": "integer", "minimum": 0}),
              "notes": nullable(STR), "tags": nullable(arr(STR))}


#: GET routes whose answers the server caches (app.py, respcache.py), with what each depends on besides the
#: Catalog snapshot and its parameters. Not cached: bookmarks (cheap, and written often), the current project
#: and health (cheap), pricing (its staleness is a function of today), jsonl-content (reads the log file now).
_CACHEABLE: dict[str, tuple[str, ...]] = {
    "/projects": (), "/recent-projects": (), "/global-stats": (),
    "/stats": ("project",), "/dashboard-data": ("project",), "/messages": ("project",),
    "/messages/summary": ("project",), "/jsonl-files": ("project",),
    "/search": ("index",), "/search/stats": ("index",), "/qa": ("index",), "/qa/stats": ("index",),
    "/qa/{qa_id}": ("index",),
    "/tags": ("index", "userdata"), "/tags/browse/{tag}": ("index", "userdata"),
    "/tags/session/{session_id}": ("index", "userdata"),
}


def _r(method, path, handler, tag, summary, params=(), body=None, response=OBJ, status=200, errors=(),
       description=""):
    cache = method == "GET" and path in _CACHEABLE
    return Route(method, "/api" + path, handler, "api", tag, summary, tuple(params), body, response, status,
                 tuple(errors), description, cacheable=cache, depends=_CACHEABLE.get(path, ()) if cache else ())


ROUTES: list[Route] = [
    _r("GET", "/project", get_project, "projects", "The current project (server-wide)", [],
       response=obj(required=["status"], status=STR, message=STR, project_path=STR, log_path=STR, log_dir_name=STR)),
    _r("POST", "/project", set_project, "projects", "Select the current project by its real path",
       body=Body({"project_path": STR}, ("project_path",)),
       response=obj(status=STR, project_path=STR, log_path=STR, log_dir_name=STR, message=STR), errors=(404,)),
    _r("POST", "/project-by-dir", set_project_by_dir, "projects", "Select the current project by its log dir name",
       body=Body({"dir_name": STR}, ("dir_name",)),
       response=obj(status=STR, project_path=STR, log_path=STR, log_dir_name=STR, message=STR), errors=(404,)),
    _r("GET", "/projects", list_projects, "projects", "Every project with metadata; sorting and pagination",
       [Q("include_stats", "boolean", default=False), Q("sort_by", default="last_modified", enum=PROJECT_SORTS),
        Q("limit", "integer", minimum=1, description=f"Max results (at most {PROJECTS_MAX_LIMIT})"),
        Q("offset", "integer", default=0, minimum=0)],
       response=obj(projects=arr(ref("ProjectEntry")), total_count=INT, has_more=BOOL,
                    cache_status=obj(cached_count=INT, total_projects=INT))),
    _r("GET", "/recent-projects", recent_projects, "projects", "The 20 most recently active projects",
       response=obj(projects=arr(obj(dir_name=STR, log_path=STR, last_modified=NUM, file_count=INT)))),
    _r("GET", "/global-stats", global_stats, "projects", "Aggregates across all projects",
       response=obj(first_use_date=nullable(STR), last_use_date=nullable(STR),
                    daily_token_usage=arr(obj(date=STR, input=INT, output=INT)),
                    daily_costs=arr(obj(date=STR, cost=NUM, by_model=mapping(NUM))),
                    models=mapping(obj(count=INT, cost=NUM)), total_cache_read_tokens=INT,
                    total_cache_write_tokens=INT, config=obj(max_date_range_days=INT))),
    _r("GET", "/stats", stats, "dashboard", "The full statistics of the current project", [TZ, PROJECT],
       response=ref("Statistics"), errors=(404,), description=DETAILS_NOTE),
    _r("GET", "/dashboard-data", dashboard_data, "dashboard", "Statistics plus the first page of messages",
       [TZ, PROJECT], description=DETAILS_NOTE,
       response=obj(statistics=ref("DashboardStatistics"),
                    messages_page=obj(messages=arr(ref("SUMessage")), total=INT, page=INT, per_page=INT,
                                      total_pages=INT, start_index=INT, end_index=INT),
                    message_count=INT, is_reindexing=BOOL,
                    config=obj(messages_initial_load=INT, max_date_range_days=INT)), errors=(404,)),
    _r("GET", "/messages", messages, "dashboard", "Messages of the current project, oldest first",
       [Q("limit", "integer", minimum=1), TZ, PROJECT], response=arr(ref("SUMessage")), errors=(404,)),
    _r("GET", "/messages/summary", messages_summary, "dashboard", "Message counts and models", [PROJECT],
       response=obj(total=INT, by_type=obj(user=INT, assistant=INT), by_model=mapping(INT), total_tokens=INT),
       errors=(404,)),
    _r("POST", "/refresh", refresh, "dashboard", "Ingest what changed (incremental) and swap in new tables",
       body=_ANYBODY, response=obj(required=["status", "message", "files_changed", "refresh_time_ms"], status=STR,
                                   message=STR, files_changed=BOOL, message_count=INT, refresh_time_ms=INT,
                                   projects_refreshed=INT, total_projects=INT), errors=(500,)),
    _r("GET", "/jsonl-files", jsonl_files, "sessions", "The project's log files with per-file totals", [PROJECT],
       response=arr(obj(required=["name", "path", "is_subagent", "created", "modified", "size", "messages"],
                        name=STR, path=STR, is_subagent=BOOL, created=NUM, modified=NUM, size=INT, messages=INT,
                        user_messages=INT, assistant_messages=INT, input_tokens=INT, output_tokens=INT,
                        model=nullable(STR), title=nullable(STR), tool_calls=INT, estimated_cost=NUM,
                        session_id=nullable(STR))), errors=(404,)),
    _r("GET", "/jsonl-content", jsonl_content, "sessions", "The parsed lines of one of the project's log files",
       [Q("file", required=True, max_length=1000, description="File name or path inside the project's log dir"),
        PROJECT],
       response=obj(lines=arr(OBJ), total_lines=INT, user_count=INT, assistant_count=INT, metadata=OBJ),
       errors=(404,)),
    _r("GET", "/search", search, "search", "Full-text search over every message",
       [Q("q", default="", max_length=1000), Q("project", max_length=1000), Q("date_from", pattern=DATE_RE),
        Q("date_to", pattern=DATE_RE), Q("model", max_length=200), Q("role", enum=("user", "assistant")), PAGE,
        PER_PAGE, Q("order", default="relevance", enum=("relevance", "recency", "newest"))],
       response=obj(required=["results", "total", "page", "per_page", "total_pages"], results=arr(OBJ), total=INT,
                    page=INT, per_page=INT, total_pages=INT, query=STR), errors=(503,)),
    _r("POST", "/search/reindex", search_reindex, "search", "Rebuild the search index (blocking)", body=_ANYBODY,
       errors=(503,)),
    _r("GET", "/search/stats", search_stats, "search", "What the search index holds", errors=(503,)),
    _r("GET", "/qa", qa_list, "qa", "Question/answer pairs, filtered and paginated",
       [Q("project", max_length=1000), Q("date_from", pattern=DATE_RE), Q("date_to", pattern=DATE_RE),
        Q("search", max_length=1000), Q("resolution_status", enum=("resolved", "looped", "open")), PAGE, PER_PAGE],
       response=obj(required=["results", "total", "page", "per_page", "total_pages"], results=arr(OBJ), total=INT,
                    page=INT, per_page=INT, total_pages=INT), errors=(503,)),
    _r("GET", "/qa/stats", qa_stats, "qa", "Q&A index statistics", errors=(503,)),
    _r("GET", "/qa/{qa_id}", qa_get, "qa", "One Q&A pair", [P("qa_id", max_length=200)], errors=(404, 503)),
    _r("POST", "/qa/reindex", qa_reindex, "qa", "Re-extract every Q&A pair", body=_ANYBODY, errors=(503,)),
    _r("GET", "/tags", tags_cloud, "tags", "The tag cloud", errors=(503,)),
    _r("GET", "/tags/browse/{tag}", tags_browse, "tags", "Sessions carrying a tag", [P("tag", max_length=200)],
       errors=(404, 503)),
    _r("GET", "/tags/session/{session_id}", tags_session, "tags", "Tags of a session", [SID],
       response=_SERVICE_ANY, errors=(404, 503)),
    _r("POST", "/tags/session/{session_id}", tags_add, "tags", "Add a manual tag to a session", [SID],
       body=Body({"tag": STR}, ("tag",)), errors=(404, 503)),
    _r("DELETE", "/tags/session/{session_id}/{tag}", tags_remove, "tags", "Remove a manual tag",
       [SID, P("tag", max_length=200)], errors=(404, 503)),
    _r("POST", "/tags/reindex", tags_reindex, "tags", "Recompute the automatic tags", body=_ANYBODY, errors=(503,)),
    _r("GET", "/bookmarks", bookmarks_list, "bookmarks", "Bookmarks, optionally with a tag",
       [Q("tag", max_length=200), Q("sort_by", default="created_at",
                                    enum=("created_at", "updated_at", "title", "session_id", "message_index"))],
       response=obj(bookmarks=arr(ref("Bookmark"))), errors=(503,)),
    _r("POST", "/bookmarks", bookmark_create, "bookmarks", "Create a bookmark",
       body=Body(_BM_FIELDS, ("session_id",)), response=ref("Bookmark"), status=201, errors=(503,)),
    _r("POST", "/bookmarks/toggle", bookmark_toggle, "bookmarks",
       "Add the bookmark of (session_id, message_index), or remove it if it exists",
       body=Body(_BM_FIELDS, ("session_id",)),
       response=obj(required=["action"], action={"type": "string", "enum": ["added", "removed"]},
                    bookmark=ref("Bookmark"), bookmark_id=STR), errors=(503,)),
    _r("GET", "/bookmarks/session/{session_id}", bookmarks_by_session, "bookmarks", "Bookmarks of a session",
       [SID], response=obj(bookmarks=arr(ref("Bookmark"))), errors=(404, 503)),
    _r("GET", "/bookmarks/{bookmark_id}", bookmark_get, "bookmarks", "One bookmark", [P("bookmark_id", max_length=200)],
       response=ref("Bookmark"), errors=(404, 503)),
    _r("PUT", "/bookmarks/{bookmark_id}", bookmark_update, "bookmarks", "Update title, notes and/or tags",
       [P("bookmark_id", max_length=200)],
       body=Body({"title": nullable(STR), "notes": nullable(STR), "tags": nullable(arr(STR))}),
       response=ref("Bookmark"), errors=(404, 503)),
    _r("DELETE", "/bookmarks/{bookmark_id}", bookmark_delete, "bookmarks", "Remove a bookmark",
       [P("bookmark_id", max_length=200)], response=obj(status=STR, message=STR), errors=(404, 503)),
    _r("GET", "/health", health, "misc", "Which services are up",
       response=obj(status=STR, services=obj(search=BOOL, tags=BOOL, qa=BOOL, bookmarks=BOOL, pricing=BOOL))),
    _r("GET", "/pricing", pricing, "misc", "The per-model price table in use",
       response=obj(pricing=mapping(obj(input_cost_per_token=NUM, output_cost_per_token=NUM,
                                        cache_creation_cost_per_token=NUM, cache_read_cost_per_token=NUM)),
                    **_PRICE_INFO)),
    _r("POST", "/pricing/refresh", pricing_refresh, "misc",
       "Reload the bundled price table and local overrides (offline)", body=_ANYBODY,
       response=obj(required=["status", "message"], status=STR, message=STR, models=INT, **_PRICE_INFO)),
]
