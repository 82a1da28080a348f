"""The ccsinfo surface (seeds/000): routes at the root, thin wrappers over :mod:`ccsgen.views`.

Each handler takes the request context and the validated parameters and returns what the matching view
returns; the CLI's ``--json`` prints the same values. Wire shapes follow seeds/ccsinfo-openapi.json (plus the
extra fields ccsgen documents in docs/definitions.md).
"""

from __future__ import annotations

from .. import views
from .openapi import (
    BOOL,
    DATE,
    DATETIME,
    INT,
    NUM,
    OBJ,
    STR,
    P,
    Q,
    Route,
    arr,
    nullable,
    obj,
    ref,
)

# ---------------------------------------------------------------- models (names and fields of the seed's schema)

_SUMMARY_FIELDS = dict(
    id=STR, project_path=STR, project_name=STR, created_at=nullable(DATETIME), updated_at=nullable(DATETIME),
    message_count=INT, is_active=BOOL,
)
COMPONENTS: dict[str, dict] = {
    "SessionSummary": obj(**_SUMMARY_FIELDS, title=nullable(STR)),
    "Session": obj(
        required=[*_SUMMARY_FIELDS, "file_path"], **_SUMMARY_FIELDS, title=nullable(STR), file_path=nullable(STR),
        project_id=STR, slug=nullable(STR), cwd=nullable(STR), git_branch=nullable(STR), version=nullable(STR),
        models=arr(STR), duration_seconds=NUM, user_messages=INT, assistant_messages=INT, tool_calls=INT,
        tool_errors=INT, subagents=INT, input_tokens=INT, output_tokens=INT, cache_creation_tokens=INT,
        cache_read_tokens=INT, total_tokens=INT, cost_usd=NUM,
    ),
    "Project": obj(id=STR, name=STR, path=STR, session_count=INT, last_activity=nullable(DATETIME)),
    "Task": obj(
        id=STR, subject=STR, description=STR, status={"type": "string", "enum": list(views.TASK_STATUSES)},
        owner=nullable(STR), blockedBy=arr(STR), blocks=arr(STR), activeForm=nullable(STR), metadata=OBJ,
        created_at=nullable(DATETIME), session_id=STR,
    ),
    "GlobalStats": obj(total_sessions=INT, total_projects=INT, total_messages=INT, total_tool_calls=INT),
    "DailyStats": obj(date=DATE, session_count=INT, message_count=INT),
    "ProjectStats": obj(
        required=["project_id", "project_name", "session_count", "message_count", "last_activity"],
        project_id=STR, project_name=STR, session_count=INT, message_count=INT, last_activity=nullable(DATETIME),
        tool_calls=INT, total_tokens=INT, cost_usd=NUM,
    ),
    "Message": obj(
        uuid=nullable(STR), parent_message_uuid=nullable(STR), timestamp=nullable(DATETIME), type=STR,
        message=obj(required=["role", "content"], role=STR, content=arr(obj(required=["type"], type=STR)),
                    model=nullable(STR)),
    ),
    "ToolCall": obj(required=["id", "name", "input"], id=nullable(STR), name=nullable(STR), input=OBJ,
                    timestamp=nullable(DATETIME), is_error=BOOL, result_size=INT, is_sidechain=BOOL),
    "Progress": obj(session_id=STR, is_active=BOOL, last_activity=nullable(DATETIME), message_count=INT,
                    active_tasks=arr(ref("Task"))),
    "Trends": obj(
        required=["sessions_last_7_days", "sessions_last_30_days", "messages_last_7_days", "messages_last_30_days",
                  "most_active_projects", "most_used_tools", "average_session_length"],
        sessions_last_7_days=INT, sessions_last_30_days=INT, messages_last_7_days=INT, messages_last_30_days=INT,
        most_active_projects=arr(obj(required=["project", "message_count"], project=STR, message_count=INT)),
        most_used_tools=arr(obj(tool=STR, count=INT)), average_session_length=NUM,
    ),
    "MessageMatch": obj(required=["session_id", "snippet"], session_id=STR, project_path=nullable(STR),
                        message_uuid=nullable(STR), message_type=nullable(STR), timestamp=nullable(DATETIME),
                        snippet=STR),
    "HistoryMatch": obj(required=["prompt"], project_path=nullable(STR), prompt=STR, session_id=nullable(STR),
                        timestamp=nullable(DATETIME)),
}

LIMIT50 = Q("limit", "integer", default=50, minimum=views.LIMIT_MIN, maximum=views.LIMIT_MAX,
            description="Maximum results")
SESSION_ID = P("session_id", description="Session id or a unique prefix of one")
PROJECT_ID = P("project_id", description="Project id (the log dir name) or a unique prefix of one")
QUERY = Q("q", required=True, description="Search query", max_length=1000)


# ---------------------------------------------------------------- handlers (context, params) -> JSON value


def _search(ctx, method: str):
    ctx.require_service("search", method)


def list_sessions(ctx, project_id=None, active_only=False, limit=50):
    return views.sessions_list(ctx.cat, project_id, active_only, limit)


def active_sessions(ctx):
    return views.sessions_active(ctx.cat)


def get_session(ctx, session_id):
    return views.session_show(ctx.cat, session_id)


def session_messages(ctx, session_id, role=None, limit=100):
    return views.session_messages(ctx.cat, session_id, role, limit)


def session_tools(ctx, session_id):
    return views.session_tools(ctx.cat, session_id)


def session_tasks(ctx, session_id):
    return views.session_tasks(ctx.cat, session_id)


def session_progress(ctx, session_id):
    return views.session_progress(ctx.cat, session_id)


def session_summary(ctx, session_id):
    return views.session_summary_view(ctx.cat, session_id)


def list_projects(ctx):
    return views.projects_list(ctx.cat)


def get_project(ctx, project_id):
    return views.project_show(ctx.cat, project_id)


def project_sessions(ctx, project_id, limit=50):
    return views.project_sessions(ctx.cat, project_id, limit)


def project_active_sessions(ctx, project_id):
    return views.project_sessions(ctx.cat, project_id, active_only=True)


def project_stats(ctx, project_id):
    return views.project_stats(ctx.cat, project_id)


def list_tasks(ctx, session_id=None, status=None):
    return views.tasks_list(ctx.cat, session_id, status)


def pending_tasks(ctx):
    return views.tasks_pending(ctx.cat)


def get_task(ctx, task_id, session_id):
    return views.task_show(ctx.cat, task_id, session_id)


def global_stats(ctx):
    return views.stats_global(ctx.cat)


def daily_stats(ctx, days=30):
    return views.stats_daily(ctx.cat, days)


def trends(ctx):
    return views.stats_trends(ctx.cat)


def search_sessions(ctx, q, limit=50):
    _search(ctx, "search_sessions")
    return views.search_sessions(ctx.cat, q, limit)


def search_messages(ctx, q, limit=50):
    _search(ctx, "search_messages_ccsinfo")
    return views.search_messages(ctx.cat, q, limit)


def search_history(ctx, q, limit=50):
    _search(ctx, "search_prompts")
    return views.search_history(ctx.cat, q, limit)


def health(ctx):
    return views.health(ctx.cat)


def info(ctx):
    return views.info(ctx.cat)


# ---------------------------------------------------------------- the table

_SESSIONS = arr(ref("SessionSummary"))


def _r(method, path, handler, tag, summary, params=(), response=OBJ, errors=(), description=""):
    # a function of the Catalog snapshot; search also of the search index (which can change on its own: its
    # fingerprint is part of the cache key, see respcache.py)
    return Route(method, path, handler, "ccsinfo", tag, summary, tuple(params), None, response, 200, tuple(errors),
                 description, cacheable=True, depends=("index",) if path.startswith("/search") else ())


ROUTES: list[Route] = [
    _r("GET", "/sessions", list_sessions, "sessions", "List sessions, most recently updated first",
       [Q("project_id", description="Filter by project"),
        Q("active_only", "boolean", default=False, description="Show only active sessions"), LIMIT50],
       _SESSIONS, [404]),
    _r("GET", "/sessions/active", active_sessions, "sessions", "Sessions Claude Code is running now", [], _SESSIONS),
    _r("GET", "/sessions/{session_id}", get_session, "sessions", "One session, with file_path", [SESSION_ID],
       ref("Session"), [404]),
    _r("GET", "/sessions/{session_id}/messages", session_messages, "sessions",
       "The conversation: typed user messages and assistant responses, in file order",
       [SESSION_ID, Q("role", enum=("user", "assistant")),
        Q("limit", "integer", default=100, minimum=views.LIMIT_MIN, maximum=views.LIMIT_MAX)],
       arr(ref("Message")), [404]),
    _r("GET", "/sessions/{session_id}/tools", session_tools, "sessions", "Tool calls of a session", [SESSION_ID],
       arr(ref("ToolCall")), [404]),
    _r("GET", "/sessions/{session_id}/tasks", session_tasks, "sessions", "Tasks of a session", [SESSION_ID],
       arr(ref("Task")), [404]),
    _r("GET", "/sessions/{session_id}/progress", session_progress, "sessions", "Activity and open tasks",
       [SESSION_ID], ref("Progress"), [404]),
    _r("GET", "/sessions/{session_id}/summary", session_summary, "sessions", "A lightweight session summary",
       [SESSION_ID], obj(required=list(_SUMMARY_FIELDS), **_SUMMARY_FIELDS), [404]),
    _r("GET", "/projects", list_projects, "projects", "All projects, most recent activity first", [],
       arr(ref("Project"))),
    _r("GET", "/projects/{project_id}", get_project, "projects", "One project", [PROJECT_ID], ref("Project"), [404]),
    _r("GET", "/projects/{project_id}/sessions", project_sessions, "projects", "Sessions of a project",
       [PROJECT_ID, LIMIT50], _SESSIONS, [404]),
    _r("GET", "/projects/{project_id}/sessions/active", project_active_sessions, "projects",
       "Active sessions of a project", [PROJECT_ID], _SESSIONS, [404]),
    _r("GET", "/projects/{project_id}/stats", project_stats, "projects", "Per-project totals", [PROJECT_ID],
       ref("ProjectStats"), [404]),
    _r("GET", "/tasks", list_tasks, "tasks", "Tasks, optionally of one session and one status",
       [Q("session_id"), Q("status", description="pending, in_progress or completed (else 400)")],
       arr(ref("Task")), [400, 404]),
    _r("GET", "/tasks/pending", pending_tasks, "tasks", "Pending tasks across all sessions", [], arr(ref("Task"))),
    _r("GET", "/tasks/{task_id}", get_task, "tasks", "One task (task ids are unique only within a session)",
       [P("task_id"), Q("session_id", required=True,
                        description="Session ID (required since task IDs are only unique within a session)")],
       ref("Task"), [404]),
    _r("GET", "/stats", global_stats, "stats", "Totals across all projects and sessions", [], ref("GlobalStats")),
    _r("GET", "/stats/daily", daily_stats, "stats", "Sessions and messages per day (by first timestamp, UTC)",
       [Q("days", "integer", default=30, minimum=views.DAYS_MIN, maximum=views.DAYS_MAX)], arr(ref("DailyStats"))),
    _r("GET", "/stats/trends", trends, "stats", "Last 7/30 days, top projects and tools", [], ref("Trends")),
    _r("GET", "/search", search_sessions, "search", "Sessions matching id, slug, cwd, branch or project path",
       [QUERY, LIMIT50], _SESSIONS, [503]),
    _r("GET", "/search/messages", search_messages, "search", "Full-text search over messages, with snippets",
       [QUERY, LIMIT50], arr(ref("MessageMatch")), [503]),
    _r("GET", "/search/history", search_history, "search", "Search the prompt history (history.jsonl)",
       [QUERY, LIMIT50], arr(ref("HistoryMatch")), [503]),
    _r("GET", "/health", health, "health", "Health check", [], obj(status=STR)),
    _r("GET", "/info", info, "health", "Version and totals", [],
       obj(version=STR, total_sessions=INT, total_projects=INT)),
]
