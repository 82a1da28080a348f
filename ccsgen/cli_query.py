"""Query commands (ccsinfo's CLI): sessions, projects, tasks, stats, search.

Each command parses its options into a :class:`Query` — the function of :mod:`ccsgen.views` and the
ccsinfo route it maps to (seeds/000, "Command Mapping") — runs it locally on a Catalog or, with
``--server-url`` / ``CCSGEN_SERVER_URL``, against a server (:mod:`ccsgen.client`), and prints the value:
``--json`` exactly as the route returns it, else a table.

Exit codes: 0 ok; 1 not found (unknown or ambiguous id, HTTP 404); 2 usage error (bad option value,
invalid status, HTTP 400/422); 3 the server is unreachable or failed, or search is not available.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from .cli_common import CacheDirOpt, ClaudeDirOpt, DataDirOpt, JsonOpt
from .cli_query_tables import (
    die,
    render_daily,
    render_detail,
    render_history_hits,
    render_message_hits,
    render_messages,
    render_projects,
    render_sessions,
    render_tasks,
    render_tools,
    render_trends,
    show,
)
from .config import ENV_SERVER

EXIT_OK, EXIT_NOT_FOUND, EXIT_USAGE, EXIT_UNAVAILABLE = 0, 1, 2, 3

sessions_app = typer.Typer(help="Sessions: list, show, messages, tools (ccsinfo's `sessions`).\n\n"
                           "Example: ccsgen sessions list --limit 5", no_args_is_help=True)
projects_app = typer.Typer(help="Projects: list, show, stats (ccsinfo's `projects`).\n\n"
                           "Example: ccsgen projects list", no_args_is_help=True)
tasks_app = typer.Typer(help="Tasks of Claude Code's task lists (ccsinfo's `tasks`).\n\n"
                        "Example: ccsgen tasks pending", no_args_is_help=True)
stats_app = typer.Typer(help="Activity statistics (ccsinfo's `stats`).\n\nExample: ccsgen stats global",
                        no_args_is_help=True)
search_app = typer.Typer(help="Search sessions, messages and prompt history (ccsinfo's `search`).\n\n"
                         "Example: ccsgen search messages 'flaky test'", no_args_is_help=True)

# ---------------------------------------------------------------- options

ServerOpt = Annotated[str | None, typer.Option(
    "--server-url", envvar=ENV_SERVER, show_default=False,
    help="Query this ccsgen server (e.g. http://127.0.0.1:8080) instead of reading the logs.")]
LimitOpt = Annotated[int, typer.Option("--limit", "-n", min=1, max=500, help="Maximum rows (1-500).")]
SessionArg = Annotated[str, typer.Argument(help="Session id, or a unique prefix of one.", show_default=False)]
ProjectArg = Annotated[str, typer.Argument(
    help="Project id (its log dir name) or a unique prefix. Ids start with '-': write them after '--' "
         "(projects show -- -home-me-app), or drop the '-', or give the project's name.", show_default=False)]
QueryArg = Annotated[str, typer.Argument(help="What to search for.", show_default=False)]


@dataclass(frozen=True)
class Source:
    """Where a query runs: a server, or the logs (through a Catalog)."""

    server_url: str | None = None
    claude_dir: list[Path] | None = None
    cache_dir: Path | None = None
    data_dir: Path | None = None


@dataclass(frozen=True)
class Query:
    """One ccsinfo query: ``views.<view>(cat, **path, **params)`` locally, ``GET route`` remotely."""

    view: str
    route: str
    path: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    needs: str | None = None  # a Catalog method the view needs (search), checked before calling
    project_keys: tuple[str, ...] = ()  # path/params keys holding a project id (see resolve_project_arg)


# ---------------------------------------------------------------- running


def fetch(src: Source, q: Query) -> Any:
    """The JSON value of ``q``, from the server or the local Catalog. Errors become exits (see module doc)."""
    if src.server_url:
        return _fetch_remote(src.server_url, q)
    return _fetch_local(src, q)


def resolve_project_arg(arg: str, projects: list[dict]) -> str:
    """Project ids are log dir names and start with ``-`` (``-home-me-code-app``), awkward on a command line.
    Accept also the id without its leading dash (``home-me-code-app``, or a prefix of it) and the project's
    name (``app``) when that names one project; anything else is passed on unchanged, so the view or server
    answers with its own not-found or ambiguous error."""
    ids = [p["id"] for p in projects]
    if any(i.startswith(arg) for i in ids):
        return arg
    dashed = [i for i in ids if i.startswith("-" + arg)]
    if len(dashed) == 1:
        return dashed[0]
    named = [p["id"] for p in projects if p.get("name") == arg]
    return named[0] if len(named) == 1 else arg


def _with_projects(q: Query, projects: list[dict]) -> Query:
    path = {k: resolve_project_arg(v, projects) if k in q.project_keys and v else v for k, v in q.path.items()}
    params = {k: resolve_project_arg(v, projects) if k in q.project_keys and v else v for k, v in q.params.items()}
    return Query(q.view, q.route, path, params, q.needs)


def _fetch_remote(url: str, q: Query) -> Any:
    from .client import ApiError, Client, Unreachable

    try:
        client = Client(url)
    except ValueError as e:
        raise die(str(e), EXIT_USAGE) from None
    try:
        if any(q.path.get(k) or q.params.get(k) for k in q.project_keys):
            q = _with_projects(q, client.get("/projects"))
        return client.get(q.route, q.params, **q.path)
    except Unreachable as e:
        raise die(f"{e} (start one with `ccsgen serve`, or drop --server-url / CCSGEN_SERVER_URL to read the "
                  "logs directly)", EXIT_UNAVAILABLE) from None
    except ApiError as e:
        code = {404: EXIT_NOT_FOUND, 409: EXIT_NOT_FOUND, 400: EXIT_USAGE, 422: EXIT_USAGE}.get(
            e.status, EXIT_UNAVAILABLE)
        if e.status == 503:
            raise die(f"the server cannot answer this now: {e.detail} is not available (HTTP 503)", code) from None
        raise die(f"{e.detail} (HTTP {e.status})" if code == EXIT_UNAVAILABLE else e.detail, code) from None


def _fetch_local(src: Source, q: Query) -> Any:
    from . import views
    from .catalog import Ambiguous, NotFound
    from .cli_common import make_config, open_catalog

    cat = open_catalog(make_config(src.claude_dir, src.cache_dir, src.data_dir))
    if q.needs and not callable(getattr(cat, q.needs, None)):
        raise die("full-text search is not available in this installation (no search index)", EXIT_UNAVAILABLE)
    try:
        if any(q.path.get(k) or q.params.get(k) for k in q.project_keys):
            q = _with_projects(q, views.projects_list(cat))
        return getattr(views, q.view)(cat, **q.path, **q.params)
    except (NotFound, Ambiguous) as e:
        raise die(str(e), EXIT_NOT_FOUND) from None
    except ValueError as e:  # views.BadRequest and the range checks
        raise die(str(e), EXIT_USAGE) from None


def run(src: Source, q: Query, json_out: bool, render: Callable[[Any, Console], None]) -> None:
    value = fetch(src, q)
    if json_out:
        sys.stdout.write(json.dumps(value, indent=2) + "\n")
        return
    show(render, value)


# ---------------------------------------------------------------- validation shared by both modes


def _check_role(role: str | None) -> str | None:
    if role is not None and role not in ("user", "assistant"):
        raise die(f"invalid --role {role!r}: use user or assistant", EXIT_USAGE)
    return role


def _check_status(status: str | None) -> str | None:
    from .views import BadRequest, check_status

    try:
        return check_status(status)
    except BadRequest as e:
        raise die(str(e), EXIT_USAGE) from None


def _check_query(q: str) -> str:
    if not q.strip():
        raise die("the search query is empty", EXIT_USAGE)
    if len(q) > 1000:
        raise die("the search query is longer than 1000 characters", EXIT_USAGE)
    return q


# ---------------------------------------------------------------- sessions


@sessions_app.command("list")
def sessions_list(
    project: Annotated[str | None, typer.Option("--project", "-p", show_default=False,
                                                help="Only this project (id, unique prefix, or name).")] = None,
    active: Annotated[bool, typer.Option("--active", help="Only sessions Claude Code is running now.")] = False,
    limit: LimitOpt = 50,
    json_out: JsonOpt = False,
    server_url: ServerOpt = None,
    claude_dir: ClaudeDirOpt = None,
    cache_dir: CacheDirOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """List sessions, most recently updated first (GET /sessions).

    Example: ccsgen sessions list --project my-app --limit 10
    """
    run(Source(server_url, claude_dir, cache_dir, data_dir),
        Query("sessions_list", "/sessions", params={"project_id": project, "active_only": active, "limit": limit},
              project_keys=("project_id",)),
        json_out, render_sessions)


@sessions_app.command("active")
def sessions_active(json_out: JsonOpt = False, server_url: ServerOpt = None, claude_dir: ClaudeDirOpt = None,
                    cache_dir: CacheDirOpt = None, data_dir: DataDirOpt = None) -> None:
    """Sessions Claude Code is running now (GET /sessions/active).

    Example: ccsgen sessions active --json
    """
    run(Source(server_url, claude_dir, cache_dir, data_dir), Query("sessions_active", "/sessions/active"),
        json_out, render_sessions)


@sessions_app.command("show")
def sessions_show(session_id: SessionArg, json_out: JsonOpt = False, server_url: ServerOpt = None,
                  claude_dir: ClaudeDirOpt = None, cache_dir: CacheDirOpt = None,
                  data_dir: DataDirOpt = None) -> None:
    """One session: times, counts, tokens, cost, file (GET /sessions/{id}).

    Example: ccsgen sessions show 5e55
    """
    run(Source(server_url, claude_dir, cache_dir, data_dir),
        Query("session_show", "/sessions/{session_id}", path={"session_id": session_id}), json_out, render_detail)


@sessions_app.command("messages")
def sessions_messages(
    session_id: SessionArg,
    role: Annotated[str | None, typer.Option("--role", help="Only user or assistant messages.",
                                             show_default=False)] = None,
    limit: LimitOpt = 50,
    json_out: JsonOpt = False,
    server_url: ServerOpt = None,
    claude_dir: ClaudeDirOpt = None,
    cache_dir: CacheDirOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """The conversation: typed prompts and assistant responses, in order (GET /sessions/{id}/messages).

    Example: ccsgen sessions messages 5e55 --role user --limit 20
    """
    _check_role(role)
    run(Source(server_url, claude_dir, cache_dir, data_dir),
        Query("session_messages", "/sessions/{session_id}/messages", path={"session_id": session_id},
              params={"role": role, "limit": limit}), json_out, render_messages)


@sessions_app.command("tools")
def sessions_tools(session_id: SessionArg, json_out: JsonOpt = False, server_url: ServerOpt = None,
                   claude_dir: ClaudeDirOpt = None, cache_dir: CacheDirOpt = None,
                   data_dir: DataDirOpt = None) -> None:
    """Tool calls of a session, subagents' included (GET /sessions/{id}/tools).

    Example: ccsgen sessions tools 5e55
    """
    run(Source(server_url, claude_dir, cache_dir, data_dir),
        Query("session_tools", "/sessions/{session_id}/tools", path={"session_id": session_id}), json_out,
        render_tools)


# ---------------------------------------------------------------- projects


@projects_app.command("list")
def projects_list(json_out: JsonOpt = False, server_url: ServerOpt = None, claude_dir: ClaudeDirOpt = None,
                  cache_dir: CacheDirOpt = None, data_dir: DataDirOpt = None) -> None:
    """All projects, most recent activity first (GET /projects).

    Example: ccsgen projects list --json
    """
    run(Source(server_url, claude_dir, cache_dir, data_dir), Query("projects_list", "/projects"), json_out,
        render_projects)


@projects_app.command("show")
def projects_show(project_id: ProjectArg, json_out: JsonOpt = False, server_url: ServerOpt = None,
                  claude_dir: ClaudeDirOpt = None, cache_dir: CacheDirOpt = None,
                  data_dir: DataDirOpt = None) -> None:
    """One project: name, path, sessions, last activity (GET /projects/{id}).

    Example: ccsgen projects show my-app
    """
    run(Source(server_url, claude_dir, cache_dir, data_dir),
        Query("project_show", "/projects/{project_id}", path={"project_id": project_id},
              project_keys=("project_id",)), json_out, render_detail)


@projects_app.command("stats")
def projects_stats(project_id: ProjectArg, json_out: JsonOpt = False, server_url: ServerOpt = None,
                   claude_dir: ClaudeDirOpt = None, cache_dir: CacheDirOpt = None,
                   data_dir: DataDirOpt = None) -> None:
    """Totals of one project: sessions, messages, tool calls, tokens, cost (GET /projects/{id}/stats).

    Example: ccsgen projects stats home-me-code-my-app
    """
    run(Source(server_url, claude_dir, cache_dir, data_dir),
        Query("project_stats", "/projects/{project_id}/stats", path={"project_id": project_id},
              project_keys=("project_id",)), json_out, render_detail)


# ---------------------------------------------------------------- tasks


@tasks_app.command("list")
def tasks_list(
    session: Annotated[str | None, typer.Option("--session", "-s", help="Only tasks of this session (id or prefix).",
                                                show_default=False)] = None,
    status: Annotated[str | None, typer.Option("--status", help="pending, in_progress or completed.",
                                               show_default=False)] = None,
    json_out: JsonOpt = False,
    server_url: ServerOpt = None,
    claude_dir: ClaudeDirOpt = None,
    cache_dir: CacheDirOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Tasks, optionally of one session and one status (GET /tasks).

    Example: ccsgen tasks list --status in_progress
    """
    _check_status(status)
    run(Source(server_url, claude_dir, cache_dir, data_dir),
        Query("tasks_list", "/tasks", params={"session_id": session, "status": status}), json_out, render_tasks)


@tasks_app.command("show")
def tasks_show(
    task_id: Annotated[str, typer.Argument(help="Task id (unique only within its session).", show_default=False)],
    session: Annotated[str, typer.Option("--session", "-s", help="The task's session (id or prefix). Required.",
                                         show_default=False)],
    json_out: JsonOpt = False,
    server_url: ServerOpt = None,
    claude_dir: ClaudeDirOpt = None,
    cache_dir: CacheDirOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """One task (GET /tasks/{id}?session_id=…).

    Example: ccsgen tasks show 1 --session 5e55
    """
    run(Source(server_url, claude_dir, cache_dir, data_dir),
        Query("task_show", "/tasks/{task_id}", path={"task_id": task_id}, params={"session_id": session}),
        json_out, render_detail)


@tasks_app.command("pending")
def tasks_pending(json_out: JsonOpt = False, server_url: ServerOpt = None, claude_dir: ClaudeDirOpt = None,
                  cache_dir: CacheDirOpt = None, data_dir: DataDirOpt = None) -> None:
    """Pending tasks across all sessions (GET /tasks/pending).

    Example: ccsgen tasks pending
    """
    run(Source(server_url, claude_dir, cache_dir, data_dir), Query("tasks_pending", "/tasks/pending"), json_out,
        render_tasks)


# ---------------------------------------------------------------- stats


@stats_app.command("global")
def stats_global(json_out: JsonOpt = False, server_url: ServerOpt = None, claude_dir: ClaudeDirOpt = None,
                 cache_dir: CacheDirOpt = None, data_dir: DataDirOpt = None) -> None:
    """Totals across all projects and sessions (GET /stats).

    Example: ccsgen stats global
    """
    run(Source(server_url, claude_dir, cache_dir, data_dir), Query("stats_global", "/stats"), json_out,
        render_detail)


@stats_app.command("daily")
def stats_daily(
    days: Annotated[int, typer.Option("--days", "-d", min=1, max=365, help="Window in days (1-365).")] = 30,
    json_out: JsonOpt = False,
    server_url: ServerOpt = None,
    claude_dir: ClaudeDirOpt = None,
    cache_dir: CacheDirOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Sessions and messages per day, by each session's first activity (GET /stats/daily).

    Example: ccsgen stats daily --days 7
    """
    run(Source(server_url, claude_dir, cache_dir, data_dir), Query("stats_daily", "/stats/daily",
                                                                   params={"days": days}), json_out, render_daily)


@stats_app.command("trends")
def stats_trends(json_out: JsonOpt = False, server_url: ServerOpt = None, claude_dir: ClaudeDirOpt = None,
                 cache_dir: CacheDirOpt = None, data_dir: DataDirOpt = None) -> None:
    """Last 7 and 30 days, most active projects, most used tools (GET /stats/trends).

    Example: ccsgen stats trends --json
    """
    run(Source(server_url, claude_dir, cache_dir, data_dir), Query("stats_trends", "/stats/trends"), json_out,
        render_trends)


# ---------------------------------------------------------------- search


@search_app.command("sessions")
def search_sessions(q: QueryArg, limit: LimitOpt = 50, json_out: JsonOpt = False, server_url: ServerOpt = None,
                    claude_dir: ClaudeDirOpt = None, cache_dir: CacheDirOpt = None,
                    data_dir: DataDirOpt = None) -> None:
    """Sessions whose id, slug, working dir, branch or project path match (GET /search).

    Example: ccsgen search sessions feature/login
    """
    run(Source(server_url, claude_dir, cache_dir, data_dir),
        Query("search_sessions", "/search", params={"q": _check_query(q), "limit": limit}, needs="search_sessions"),
        json_out, render_sessions)


@search_app.command("messages")
def search_messages(q: QueryArg, limit: LimitOpt = 50, json_out: JsonOpt = False, server_url: ServerOpt = None,
                    claude_dir: ClaudeDirOpt = None, cache_dir: CacheDirOpt = None,
                    data_dir: DataDirOpt = None) -> None:
    """Full-text search over user and assistant messages, with snippets (GET /search/messages).

    Example: ccsgen search messages "race condition" --limit 10
    """
    run(Source(server_url, claude_dir, cache_dir, data_dir),
        Query("search_messages", "/search/messages", params={"q": _check_query(q), "limit": limit},
              needs="search_messages_ccsinfo"), json_out, render_message_hits)


@search_app.command("history")
def search_history(q: QueryArg, limit: LimitOpt = 50, json_out: JsonOpt = False, server_url: ServerOpt = None,
                   claude_dir: ClaudeDirOpt = None, cache_dir: CacheDirOpt = None,
                   data_dir: DataDirOpt = None) -> None:
    """Search the prompts you typed (history.jsonl) (GET /search/history).

    Example: ccsgen search history "write tests"
    """
    run(Source(server_url, claude_dir, cache_dir, data_dir),
        Query("search_history", "/search/history", params={"q": _check_query(q), "limit": limit},
              needs="search_prompts"), json_out, render_history_hits)


#: (name, sub-app) pairs for ``app.add_typer(sub, name=name)`` in cli.py
SUB_APPS: tuple[tuple[str, typer.Typer], ...] = (
    ("sessions", sessions_app), ("projects", projects_app), ("tasks", tasks_app), ("stats", stats_app),
    ("search", search_app),
)


def register(app: typer.Typer) -> None:
    """Add the query sub-apps to ``app`` (idempotent: skips names already registered)."""
    have = {g.name for g in app.registered_groups}
    for name, sub in SUB_APPS:
        if name not in have:
            app.add_typer(sub, name=name)
