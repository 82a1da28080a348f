"""Remote mode: every query command with ``--server-url`` against a live server (make_app under waitress on a
free loopback port). Its ``--json`` must equal the HTTP body of the matching route, and the local output."""

from __future__ import annotations

import json
import threading
import urllib.request

import pytest
import waitress
from test_cli_query import APP, P1, P2, S1, S3, write_corpus
from typer.testing import CliRunner

from ccsgen.catalog import Catalog
from ccsgen.config import Config
from ccsgen.server import app as app_mod

_LIVE: dict = {}


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """(local dirs, server URL): one corpus, read by the server (own cache) and by local-mode commands."""
    root = tmp_path_factory.mktemp("cli-remote")
    claude = write_corpus(root)
    srv_cfg = Config(claude_dirs=(claude,), cache_dir=root / "srv-cache", data_dir=root / "srv-data",
                     prices_file=None)
    cat = Catalog.open(srv_cfg)
    _LIVE["cat"] = cat
    app = app_mod.make_app(cat, app_mod.Settings(host="127.0.0.1", port=None))
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    local = ["--claude-dir", str(claude), "--cache-dir", str(root / "cli-cache"), "--data-dir", str(root / "cli-data")]
    yield local, f"http://127.0.0.1:{server.effective_port}"
    server.close()
    t.join(timeout=5)


def cli(args: list[str], extra: list[str], env=None):
    return CliRunner().invoke(APP, [*args[:2], *extra, *args[2:]], env=env, catch_exceptions=False)


def http_get(url: str):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


# (command line, the route and query the seed maps it to)
CASES = [
    (["sessions", "list"], "/sessions?limit=50&active_only=false"),
    (["sessions", "list", "--project", P2, "--limit", "5"], f"/sessions?project_id={P2}&limit=5"),
    (["sessions", "list", "--active"], "/sessions?active_only=true"),
    (["sessions", "active"], "/sessions/active"),
    (["sessions", "show", S1], f"/sessions/{S1}"),
    (["sessions", "show", "abcd"], f"/sessions/{S3}"),
    (["sessions", "messages", S1], f"/sessions/{S1}/messages?limit=50"),
    (["sessions", "messages", S1, "--role", "assistant", "--limit", "2"], f"/sessions/{S1}/messages?role=assistant&limit=2"),
    (["sessions", "tools", S1], f"/sessions/{S1}/tools"),
    (["projects", "list"], "/projects"),
    (["projects", "show", "--", P1], f"/projects/{P1}"),
    (["projects", "show", "other"], f"/projects/{P2}"),
    (["projects", "stats", "home-user-proj"], f"/projects/{P1}/stats"),
    (["tasks", "list"], "/tasks"),
    (["tasks", "list", "--session", S1, "--status", "in_progress"], f"/tasks?session_id={S1}&status=in_progress"),
    (["tasks", "show", "1", "--session", S3], f"/tasks/1?session_id={S3}"),
    (["tasks", "pending"], "/tasks/pending"),
    (["stats", "global"], "/stats"),
    (["stats", "daily", "--days", "365"], "/stats/daily?days=365"),
    (["stats", "trends"], "/stats/trends"),
]
SEARCH_CASES = [
    (["search", "sessions", "abcdef"], "/search?q=abcdef"),
    (["search", "messages", "failing", "--limit", "3"], "/search/messages?q=failing&limit=3"),
    (["search", "history", "other"], "/search/history?q=other"),
]


@pytest.mark.parametrize("args,route", CASES + SEARCH_CASES, ids=[" ".join(a) for a, _ in CASES + SEARCH_CASES])
def test_remote_json_is_the_route_body_and_the_local_output(live, args, route):
    local, url = live
    remote = cli([*args[:2], "--json", *args[2:]], ["--server-url", url])
    assert remote.exit_code == 0, remote.output
    assert json.loads(remote.stdout) == http_get(url + route)
    assert remote.stdout == json.dumps(http_get(url + route), indent=2) + "\n"
    here = cli([*args[:2], "--json", *args[2:]], local)
    assert here.exit_code == 0, here.output
    assert json.loads(here.stdout) == json.loads(remote.stdout)


def test_remote_tables_equal_local_tables(live):
    local, url = live
    for args in (["sessions", "list"], ["sessions", "tools", S1], ["projects", "list"], ["tasks", "list"],
                 ["stats", "trends"]):
        remote = cli(args, [], env={"CCSGEN_SERVER_URL": url})
        assert remote.exit_code == 0, remote.output
        assert remote.stdout == cli(args, local).stdout


@pytest.mark.parametrize("args,code,msg", [
    (["sessions", "show", "ffffffff"], 1, "Session not found"),
    (["sessions", "show", "5e55"], 1, "matches 2 ids"),
    (["projects", "stats", "nope"], 1, "Project not found"),
    (["tasks", "show", "9", "--session", S1], 1, "Task not found"),
    (["tasks", "list", "--status", "done"], 2, "Invalid status: done. Valid values: pending, in_progress, completed"),
])
def test_remote_errors_match_local(live, args, code, msg):
    local, url = live
    remote = cli(args, ["--server-url", url])
    here = cli(args, local)
    assert (remote.exit_code, here.exit_code) == (code, code), (remote.output, here.output)
    assert msg in remote.stderr and msg in here.stderr
    assert "Traceback" not in remote.output


def test_server_side_validation_maps_to_usage_error(live):
    """A 400/422 from the server (here: an invalid status that the CLI would have caught) exits 2."""
    from ccsgen.cli_query import EXIT_USAGE, Query, Source, fetch

    _, url = live
    with pytest.raises(Exception) as e:
        fetch(Source(server_url=url), Query("tasks_list", "/tasks", params={"status": "bogus"}))
    assert getattr(e.value, "exit_code", None) == EXIT_USAGE


def test_remote_search_unavailable_exits_3(live, monkeypatch):
    _, url = live
    monkeypatch.setitem(_LIVE["cat"].extensions, "services", {"search": False, "qa": False, "tags": False})
    res = cli(["search", "messages", "failing"], ["--server-url", url])
    assert res.exit_code == 3 and "HTTP 503" in res.stderr and "not available" in res.stderr
