"""The query commands (ccsgen sessions/projects/tasks/stats/search) in local mode.

A small Claude dir (``write_corpus``): two projects, three sessions (two share the prefix ``5e55``), tool
calls, tasks in every status, history. Each command's ``--json`` must equal the matching ``views`` function
(the function the server's route calls), tables must carry no ANSI codes off a terminal, ids accept unique
prefixes, and errors exit 1 (not found) or 2 (usage) with a message and no traceback.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import factories as F
import pytest
import typer
from typer.testing import CliRunner

from ccsgen import cli_query, views
from ccsgen.catalog import Catalog
from ccsgen.config import Config

P1, P1_CWD = F.PROJECT, F.CWD  # -home-user-proj
P2, P2_CWD = "-home-user-other", "/home/user/other"
S1, S2 = F.SESSION, F.SESSION2  # 5e551000-…-0001 / …-0002: "5e55" is ambiguous
S3 = "abcdef00-1111-4000-8000-000000000003"


def write_corpus(root: Path) -> Path:
    """The Claude dir of these tests (also used by test_cli_query_remote.py)."""
    F.reset()
    u1 = F.make_user("fix the failing test ZZQUERYONEZZ", timestamp=F.at(0))
    streamed = F.make_streamed(3, parentUuid=u1["uuid"], timestamp=F.at(0.1))
    bash = F.make_tool_use("Bash", {"command": "pytest -x"}, timestamp=F.at(0.2))
    bash_res = F.make_tool_result(bash, "Error: exit code 1", is_error=True, timestamp=F.at(0.3))
    read = F.make_tool_use("Read", {"file_path": "/home/user/proj/a.py"}, timestamp=F.at(0.4))
    read_res = F.make_tool_result(read, "print('hi')", timestamp=F.at(0.5))
    done = F.make_assistant("Fixed [bold]not markup[/bold]: the test passes now.", timestamp=F.at(0.6))
    u2 = F.make_user("now refactor it", timestamp=F.at(5))
    a2 = F.make_assistant("Refactored.", timestamp=F.at(5.5))
    s2 = [F.make_user("explain the build", sessionId=S2, timestamp=F.at(0, F.BASE.replace(day=11))),
          F.make_assistant("It uses make.", sessionId=S2, timestamp=F.at(1, F.BASE.replace(day=11)))]
    s3 = [F.make_user("hello other project", sessionId=S3, cwd=P2_CWD, timestamp=F.at(0, F.BASE.replace(day=12))),
          F.make_assistant("Hi.", sessionId=S3, cwd=P2_CWD, timestamp=F.at(1, F.BASE.replace(day=12)),
                           model="claude-opus-4-5-20251101")]
    layout = {
        F.session_path(S1): [u1, *streamed, bash, bash_res, read, read_res, done, u2, a2,
                             F.make_ai_title("Fix the failing test")],
        F.session_path(S2): s2,
        F.session_path(S3, P2): s3,
        f"tasks/{S1}/1.json": F.make_task("1", "Write tests", "pending"),
        f"tasks/{S1}/2.json": F.make_task("2", "Fix bug", "in_progress", owner="carol", blockedBy=["1"]),
        f"tasks/{S3}/1.json": F.make_task("1", "Ship it", "completed"),
        "history.jsonl": [F.make_history("fix the failing test ZZQUERYONEZZ", 1768039200000),
                          F.make_history("hello other project", 1768212000000, project=P2_CWD, session=S3)],
    }
    claude = F.make_claude_dir(root, layout)
    old = time.time() - 3600  # no session is "active" (written in the last 5 minutes)
    for p in claude.rglob("*"):
        if p.is_file():
            os.utime(p, (old, old))
    return claude


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-query")
    claude = write_corpus(root)
    cfg = Config(claude_dirs=(claude,), cache_dir=root / "cache", data_dir=root / "data", prices_file=None)
    return claude, cfg, Catalog.open(cfg)


def make_app() -> typer.Typer:
    """The CLI with the query sub-apps: ccsgen.cli.app once cli.py registers them, else a fresh app."""
    from ccsgen import cli

    names = {g.name for g in cli.app.registered_groups}
    if {"sessions", "projects", "tasks", "stats", "search"} <= names:
        return cli.app
    app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
    cli_query.register(app)
    return app


APP = make_app()


def run(corpus, *args: str, env: dict | None = None):
    """``ccsgen <group> <command> <local dirs> <args…>`` (the dirs first, so ``--`` in args still works)."""
    claude, cfg, _ = corpus
    local = ["--claude-dir", str(claude), "--cache-dir", str(cfg.cache_dir), "--data-dir", str(cfg.data_dir)]
    env = {"COLUMNS": "200", **(env or {})}  # tables fit the terminal: make it wide enough for whole cells
    return CliRunner().invoke(APP, [*args[:2], *local, *args[2:]], env=env, catch_exceptions=False)


def js(res):
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


# ---------------------------------------------------------------- --json equals the views (= the routes)

CASES = [
    (("sessions", "list"), lambda c: views.sessions_list(c, None, False, 50)),
    (("sessions", "list", "--project", P2), lambda c: views.sessions_list(c, P2, False, 50)),
    (("sessions", "list", "--active"), lambda c: views.sessions_list(c, None, True, 50)),
    (("sessions", "list", "--limit", "1"), lambda c: views.sessions_list(c, None, False, 1)),
    (("sessions", "active"), lambda c: views.sessions_active(c)),
    (("sessions", "show", S1), lambda c: views.session_show(c, S1)),
    (("sessions", "messages", S1), lambda c: views.session_messages(c, S1, None, 50)),
    (("sessions", "messages", S1, "--role", "user", "--limit", "1"), lambda c: views.session_messages(c, S1, "user", 1)),
    (("sessions", "tools", S1), lambda c: views.session_tools(c, S1)),
    (("projects", "list"), lambda c: views.projects_list(c)),
    (("projects", "show", "--", P1), lambda c: views.project_show(c, P1)),
    (("projects", "stats", "--", P2), lambda c: views.project_stats(c, P2)),
    (("tasks", "list"), lambda c: views.tasks_list(c)),
    (("tasks", "list", "--session", S1, "--status", "pending"), lambda c: views.tasks_list(c, S1, "pending")),
    (("tasks", "show", "2", "--session", S1), lambda c: views.task_show(c, "2", S1)),
    (("tasks", "pending"), lambda c: views.tasks_pending(c)),
    (("stats", "global"), lambda c: views.stats_global(c)),
    (("stats", "daily", "--days", "365"), lambda c: views.stats_daily(c, 365)),
    (("stats", "trends"), lambda c: views.stats_trends(c)),
]


@pytest.mark.parametrize("args,expect", CASES, ids=[" ".join(a) for a, _ in CASES])
def test_json_is_the_views_value(corpus, args, expect):
    got = js(run(corpus, *args[:2], "--json", *args[2:]))
    assert got == json.loads(json.dumps(expect(corpus[2])))


def test_json_is_printed_indented_and_nothing_else(corpus):
    res = run(corpus, "stats", "global", "--json")
    assert res.stdout == json.dumps(views.stats_global(corpus[2]), indent=2) + "\n"


def test_json_has_real_content(corpus):
    """The corpus is not trivially empty: the comparisons above compare something."""
    assert len(js(run(corpus, "sessions", "list", "--json"))) == 3
    assert [t["name"] for t in js(run(corpus, "sessions", "tools", S1, "--json"))] == ["Bash", "Read"]
    assert {t["status"] for t in js(run(corpus, "tasks", "list", "--json"))} == {"pending", "in_progress", "completed"}
    assert js(run(corpus, "stats", "daily", "--days", "365", "--json"))  # 2026-01 is within a year


# ---------------------------------------------------------------- tables


def test_tables_are_plain_text_off_a_terminal(corpus):
    for args in (("sessions", "list"), ("sessions", "show", S1), ("sessions", "messages", S1),
                 ("sessions", "tools", S1), ("projects", "list"), ("projects", "stats", "proj"), ("tasks", "list"),
                 ("stats", "global"), ("stats", "daily", "--days", "365"), ("stats", "trends")):
        res = run(corpus, *args)
        assert res.exit_code == 0, (args, res.output)
        assert "\x1b[" not in res.stdout, args
        assert res.stdout.strip(), args
        assert all(line == line.rstrip() for line in res.stdout.splitlines()), args


def test_tables_show_the_data(corpus):
    out = run(corpus, "sessions", "list").stdout
    assert S1 in out and S3 in out and "Fix the failing test" in out and "3 sessions" in out
    out = run(corpus, "sessions", "tools", S1).stdout
    assert "pytest -x" in out and "error" in out and "2 tool calls, 1 errors" in out
    out = run(corpus, "tasks", "list").stdout
    assert "Write tests" in out and "in_progress" in out and "carol" in out
    assert "total_sessions" in run(corpus, "stats", "global").stdout


@pytest.mark.parametrize("cols", [80, 100, 120])
def test_narrow_terminals_cut_text_not_columns(corpus, cols):
    out = run(corpus, "sessions", "list", env={"COLUMNS": str(cols)}).stdout
    lines = out.splitlines()
    assert all(len(line) <= cols for line in lines), out
    assert lines[0].split() == ["id", "project", "updated", "(UTC)", "messages", "title"]
    ids = [line.split()[0] for line in lines[2:5]]
    assert all(len(i.rstrip("…")) >= 13 and (S1.startswith(i.rstrip("…")) or S2.startswith(i.rstrip("…"))
                                               or S3.startswith(i.rstrip("…"))) for i in ids), ids


def test_log_text_is_not_rich_markup(corpus):
    out = run(corpus, "sessions", "messages", S1, "--limit", "500").stdout
    assert "[bold]not markup[/bold]" in out


def test_no_color_env_is_respected(corpus):
    res = run(corpus, "sessions", "list", env={"NO_COLOR": "1"})
    assert res.exit_code == 0 and "\x1b[" not in res.stdout


def test_empty_results_say_so(corpus):
    res = run(corpus, "sessions", "active")
    assert res.exit_code == 0 and res.stdout.strip() == "No sessions."
    assert js(run(corpus, "sessions", "active", "--json")) == []


# ---------------------------------------------------------------- ids


def test_session_prefix(corpus):
    assert js(run(corpus, "sessions", "show", "abcdef", "--json"))["id"] == S3
    assert js(run(corpus, "sessions", "messages", "abcdef0", "--json")) == views.session_messages(corpus[2], S3,
                                                                                                 limit=50)
    assert js(run(corpus, "tasks", "list", "--session", "abcd", "--json"))[0]["session_id"] == S3
    assert js(run(corpus, "tasks", "show", "1", "--session", "abcd", "--json"))["subject"] == "Ship it"


def test_ambiguous_prefix_is_not_found(corpus):
    res = run(corpus, "sessions", "show", "5e55")
    assert res.exit_code == 1
    assert "matches 2 ids" in res.stderr and "Traceback" not in res.output


def test_project_ids_by_prefix_without_dash_and_by_name(corpus):
    want = views.project_show(corpus[2], P2)
    for arg in (("--", P2), ("--", "-home-user-o"), ("home-user-other",), ("home-user-o",), ("other",)):
        assert js(run(corpus, "projects", "show", "--json", *arg)) == want, arg
    assert len(js(run(corpus, "sessions", "list", "--project", "other", "--json"))) == 1
    assert len(js(run(corpus, "sessions", "list", "-p", P1, "--json"))) == 2
    assert len(js(run(corpus, "sessions", "list", f"--project={P2}", "--json"))) == 1


@pytest.mark.parametrize("args,msg", [
    (("sessions", "show", "ffffffff"), "Session not found"),
    (("sessions", "messages", "nope"), "Session not found"),
    (("sessions", "tools", "nope"), "Session not found"),
    (("projects", "show", "nope"), "Project not found"),
    (("projects", "stats", "nope"), "Project not found"),
    (("sessions", "list", "--project", "nope"), "Project not found"),
    (("tasks", "show", "9", "--session", S1), "Task not found"),
    (("tasks", "show", "1", "--session", "ffff"), "Session not found"),
])
def test_not_found_exits_1(corpus, args, msg):
    res = run(corpus, *args)
    assert res.exit_code == 1, res.output
    assert msg in res.stderr and res.stdout == "" and "Traceback" not in res.output


# ---------------------------------------------------------------- usage errors


@pytest.mark.parametrize("args,msg", [
    (("tasks", "list", "--status", "done"), "Invalid status: done. Valid values: pending, in_progress, completed"),
    (("sessions", "messages", S1, "--role", "system"), "invalid --role"),
    (("sessions", "list", "--limit", "0"), "--limit"),
    (("sessions", "list", "--limit", "501"), "--limit"),
    (("stats", "daily", "--days", "0"), "--days"),
    (("stats", "daily", "--days", "366"), "--days"),
    (("tasks", "show", "1"), "--session"),
    (("search", "messages", "  "), "empty"),
    (("sessions", "list", "--server-url", "ftp://x"), "server URL"),
])
def test_usage_errors_exit_2(corpus, args, msg):
    res = run(corpus, *args)
    assert res.exit_code == 2, res.output
    assert msg in res.output and "Traceback" not in res.output


def test_unreachable_server_exits_3(corpus):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = run(corpus, "stats", "global", "--server-url", f"http://127.0.0.1:{port}")
    assert res.exit_code == 3
    assert "cannot reach http://127.0.0.1:" in res.stderr and "ccsgen serve" in res.stderr
    res = run(corpus, "stats", "global", env={"CCSGEN_SERVER_URL": f"http://127.0.0.1:{port}"})
    assert res.exit_code == 3


def test_missing_claude_dir_is_a_usage_error(tmp_path):
    res = CliRunner().invoke(APP, ["stats", "global", "--claude-dir", str(tmp_path / "none"), "--cache-dir",
                                   str(tmp_path / "c")])
    assert res.exit_code == 2 and "no Claude config dir" in res.output


# ---------------------------------------------------------------- search (engine from ccsgen/search)

def needs_search(fn):  # search is part of the Catalog now; kept as a marker of the search tests
    return fn


@needs_search
@pytest.mark.parametrize("args,expect", [
    (("search", "sessions", "abcdef"), lambda c: views.search_sessions(c, "abcdef", 50)),
    (("search", "messages", "failing"), lambda c: views.search_messages(c, "failing", 50)),
    (("search", "history", "other", "--limit", "5"), lambda c: views.search_history(c, "other", 5)),
])
def test_search_json_is_the_views_value(corpus, args, expect):
    got = js(run(corpus, *args, "--json"))
    assert got == json.loads(json.dumps(expect(corpus[2])))
    assert got, "the corpus has a match for each query"
    res = run(corpus, *args)
    assert res.exit_code == 0 and "\x1b[" not in res.stdout


def test_search_unavailable_exits_3(corpus, monkeypatch):
    for m in ("search_sessions", "search_messages_ccsinfo", "search_prompts"):
        monkeypatch.setattr(Catalog, m, None, raising=False)
    res = run(corpus, "search", "messages", "failing")
    assert res.exit_code == 3 and "search is not available" in res.stderr


def test_resolve_project_arg():
    ps = [{"id": "-home-a-app", "name": "app"}, {"id": "-home-a-api", "name": "api"},
          {"id": "-home-b-app", "name": "app"}]
    r = cli_query.resolve_project_arg
    assert r("-home-a", ps) == "-home-a"          # a real prefix: left to the view (ambiguous there)
    assert r("home-a-app", ps) == "-home-a-app"   # without the dash
    assert r("api", ps) == "-home-a-api"          # by name
    assert r("app", ps) == "app"                  # two projects named app: left as is
    assert r("zzz", ps) == "zzz"
