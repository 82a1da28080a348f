"""The detail lists of /api/stats and /api/dashboard-data are capped (su_stats.MAX_DETAILS, docs/api-limits.md):
the most recent entries (the most expensive for ``command_costs``), in the order of the full list, and every
count, total and rate beside them unchanged."""

from __future__ import annotations

import datetime as dt

import factories as F
import polars as pl
import pytest
from webtest import TestApp

from ccsgen.server import Settings, make_app, su_stats
from ccsgen.server.api import DETAILS_NOTE
from ccsgen.server.app import openapi_document

S_A = F.SESSION
S_B = F.SESSION2
ERRORS = ("Error: exit code 1", "ls: cannot access 'x': No such file or directory", "Permission denied",
          "SyntaxError: invalid syntax", "Command timed out")
#: the lists the cap applies to, by section
CAPPED = {("errors", "error_details"), ("errors", "assistant_details"), ("user_interactions", "command_details")}


def _session(sid: str, minutes: list[float]) -> list[dict]:
    """One command per minute in ``minutes``: a prompt, a Bash call that fails, its result, a reply."""
    out = []
    for i, m in enumerate(minutes):
        u = F.make_user(f"command {sid[-1]}-{i}", sessionId=sid, timestamp=F.at(m))
        call = F.make_tool_use("Bash", {"command": f"make {i}"}, sessionId=sid, timestamp=F.at(m + 0.1),
                               usage=F.usage(input=10 + i, output=5))
        res = F.make_tool_result(call, ERRORS[i % len(ERRORS)], is_error=True, sessionId=sid,
                                 timestamp=F.at(m + 0.2))
        reply = F.make_assistant(f"done {i}", sessionId=sid, timestamp=F.at(m + 0.3), usage=F.usage(output=7 + i))
        out += [u, call, res, reply]
    return out


@pytest.fixture(scope="module")
def cat(tmp_path_factory):
    root = tmp_path_factory.mktemp("details")
    F.reset()
    # two sessions whose commands interleave in time: file order is not time order
    layout = {F.session_path(S_A): _session(S_A, [0, 2, 4, 6, 8, 10, 12]),
              F.session_path(S_B): _session(S_B, [1, 3, 5, 7, 9])}
    claude = F.make_claude_dir(root, layout)
    return F.build_catalog(claude, root / "cache")


@pytest.fixture(scope="module")
def frames(cat):
    return su_stats.project_frames(cat, F.PROJECT)


def _stats(frames, cap: int, monkeypatch) -> dict:
    monkeypatch.setattr(su_stats, "MAX_DETAILS", cap)
    return su_stats.statistics(frames, 0, with_costs=True)


def test_latest_keeps_the_most_recent_rows_in_frame_order():
    t = [dt.datetime(2026, 1, d) for d in (3, 1, 5, 2)]
    df = pl.DataFrame({"timestamp": [t[0], None, t[1], t[2], t[3], t[2]], "v": [0, 1, 2, 3, 4, 5]})
    assert su_stats.latest(df, 2).get_column("v").to_list() == [3, 5]  # a tie: both of the latest day
    assert su_stats.latest(df, 3).get_column("v").to_list() == [0, 3, 5]
    assert su_stats.latest(df, 5).get_column("v").to_list() == [0, 2, 3, 4, 5]  # no timestamp: the oldest
    assert su_stats.latest(df, 6) is df and su_stats.latest(df, 10) is df
    assert su_stats.latest(df, 0).height == 0
    assert su_stats.latest(df.head(0), 3).height == 0


def test_capped_lists_are_the_most_recent_and_everything_else_is_unchanged(frames, monkeypatch):
    full = _stats(frames, 10_000, monkeypatch)
    capped = _stats(frames, 3, monkeypatch)
    assert full["errors"]["total"] == 12 and len(full["errors"]["error_details"]) == 12
    assert full["user_interactions"]["user_commands_analyzed"] == 12
    for section, key in CAPPED:
        whole, kept = full[section].pop(key), capped[section].pop(key)
        assert len(kept) == 3 and len(whole) > 3
        assert all(set(x) == set(whole[0]) for x in kept)  # the same shape
        newest = sorted((x["timestamp"] for x in whole), reverse=True)[:3]
        assert sorted(x["timestamp"] for x in kept) == sorted(newest)
        assert kept == [x for x in whole if x["timestamp"] in newest]  # in the order of the full list
    whole, kept = full.pop("command_costs"), capped.pop("command_costs")
    assert kept == whole[:3] and [x["cost"] for x in whole] == sorted((x["cost"] for x in whole), reverse=True)
    assert capped == full  # every count, total, rate and other list


def test_totals_count_every_row_when_lists_are_capped(frames, monkeypatch):
    s = _stats(frames, 2, monkeypatch)
    e, ui = s["errors"], s["user_interactions"]
    assert e["total"] == 12 and sum(e["by_category"].values()) == 12 and e["by_type"] == {"user": 12}
    assert len(e["error_details"]) == len(e["assistant_details"]) == len(ui["command_details"]) == 2
    assert ui["real_user_messages"] == ui["user_commands_analyzed"] == 12
    assert sum(ui["tool_count_distribution"].values()) == 12
    assert sum(r["total_commands"] for r in ui["tool_interruption_rates"].values()) == 12
    assert s["overview"]["message_types"] == {"user": 12, "assistant": 24}
    assert sum(d["errors"] for d in s["daily_stats"].values()) == 12
    assert s["error_cost"]["total_errors"] == 12 and len(s["command_costs"]) == 2
    # the most recent: session A's last two commands (minutes 10 and 12; session B's last is at minute 9)
    assert [x["timestamp"] for x in ui["command_details"]] == [F.at(10), F.at(12)]
    assert [x["timestamp"] for x in e["error_details"]] == [F.at(10.1), F.at(12.1)]  # the failing calls


def test_the_routes_serve_the_capped_lists(cat, monkeypatch):
    monkeypatch.setattr(su_stats, "MAX_DETAILS", 4)
    app = TestApp(make_app(cat, Settings(port=None)))
    d = app.get("/api/dashboard-data", {"project": F.PROJECT}).json["statistics"]
    assert d["errors"]["total"] == 12 and len(d["errors"]["error_details"]) == 4
    assert len(d["errors"]["assistant_details"]) == 4 and len(d["user_interactions"]["command_details"]) == 4
    s = app.get("/api/stats", {"project": F.PROJECT}).json
    assert len(s["command_costs"]) == 4 and s["user_interactions"]["user_commands_analyzed"] == 12


def test_the_cap_is_documented_in_the_openapi_description():
    doc = openapi_document()
    for path in ("/api/stats", "/api/dashboard-data"):
        assert doc["paths"][path]["get"]["description"] == DETAILS_NOTE
    assert f"capped at {su_stats.MAX_DETAILS} entries" in DETAILS_NOTE


def test_waitress_does_not_log_a_line_per_queued_request(cat):
    from ccsgen.server.serve import Server, _QuietQueueLog

    srv = Server(cat, Settings(port=0), threads=1)
    try:
        assert isinstance(srv._server.task_dispatcher.queue_logger, _QuietQueueLog)
        srv._server.task_dispatcher.queue_logger.warning("Task queue depth is %d", 5)  # a no-op
    finally:
        srv.close()


def test_the_cap_is_documented_in_docs():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "api-limits.md").read_text()
    assert f"**{su_stats.MAX_DETAILS} entries**" in text
    for name in ("error_details", "assistant_details", "command_details", "command_costs"):
        assert name in text and name in DETAILS_NOTE


def test_the_server_runs_with_a_short_gil_switch_interval(cat):
    import sys
    import threading

    from ccsgen.server import serve

    before = sys.getswitchinterval()
    srv = serve.Server(cat, Settings(port=0), threads=1)
    seen = []
    def run() -> None:
        try:
            srv.run()
        except OSError:  # closing the sockets under a running select (EBADF): the loop ends either way
            pass

    t = threading.Thread(target=run, daemon=True)
    t.start()
    try:
        for _ in range(200):
            if sys.getswitchinterval() != before:
                break
            threading.Event().wait(0.01)
        seen.append(sys.getswitchinterval())
    finally:
        srv.close()
        t.join(timeout=10)
    assert seen == [min(before, serve.SWITCH_INTERVAL)]
    assert sys.getswitchinterval() == before  # restored when the server stops
