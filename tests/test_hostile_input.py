"""Logs no Claude Code writes but a disk, a bug or a person can: each used to crash a build (or the index, or a
route). Now every one builds, the odd value is reported or read as unknown, and the rest of the data is kept."""

from __future__ import annotations

import os

import factories as F
import pytest
from webtest import TestApp

from ccsgen.catalog import Catalog
from ccsgen.config import Config
from ccsgen.server.app import Settings, make_app
from ccsgen.site import build as site_build


def _build(tmp_path, layout: dict) -> tuple[Catalog, dict]:
    F.reset()
    claude = F.make_claude_dir(tmp_path, layout)
    cat = Catalog.open(Config.from_options([claude], tmp_path / "cache", tmp_path / "data"))
    site = site_build.build_site(cat, tmp_path / "site", workers=1)
    assert cat.reindex()["total_messages_indexed"] >= 1  # the search index builds too
    return cat, site


def _app(cat: Catalog, *, select: bool = False) -> TestApp:
    """The API over ``cat``; ``select``: with the fixture project as StackUnderflow's current project."""
    app = TestApp(make_app(cat, Settings(port=None)))
    if select:
        app.post_json("/api/project-by-dir", {"dir_name": F.PROJECT})
    return app


def _ok_session() -> list[dict]:
    return [F.make_user("hello there", timestamp=F.at(0)), F.make_assistant("hi", usage=F.usage(10, 100),
                                                                              timestamp=F.at(1))]


def _assistant_with_usage(**u) -> dict:
    line = F.make_assistant("answer", usage=F.usage(), timestamp=F.at(2))
    line["message"]["usage"].update(u)
    return line


@pytest.mark.parametrize("usage", [
    {"input_tokens": 2**63},  # no 64-bit column holds it
    {"input_tokens": -1_000_000, "output_tokens": -5},  # negative
    {"cache_read_input_tokens": 10**16},  # a cost past any sum
    {"cache_creation": {"ephemeral_5m_input_tokens": 2**64, "ephemeral_1h_input_tokens": 0}},
])
def test_token_counts_out_of_range_are_dropped_and_reported(tmp_path, usage):
    cat, _ = _build(tmp_path, {F.session_path(): [*_ok_session(), _assistant_with_usage(**usage)]})
    g = cat.global_stats()
    assert g["tokens"]["input_tokens"] >= 10 and all(v >= 0 for v in g["tokens"].values())
    assert 0 <= g["cost_usd"] < 1
    reasons = cat.issues().get_column("reason").to_list()
    assert any(r.startswith("odd field type: $.message.usage") for r in reasons), reasons


def test_sums_of_the_largest_counts_do_not_wrap(tmp_path):
    big = [_assistant_with_usage(input_tokens=10**12) for _ in range(3)]
    cat, _ = _build(tmp_path, {F.session_path(): [*_ok_session(), *big]})
    assert cat.global_stats()["tokens"]["input_tokens"] == 3 * 10**12 + 10


def test_a_line_cost_out_of_range_is_dropped(tmp_path):
    line = _assistant_with_usage()
    line["costUSD"] = 1e300
    cat, _ = _build(tmp_path, {F.session_path(): [*_ok_session(), line]})
    assert cat.global_stats()["cost_usd"] < 1


@pytest.mark.parametrize("ts", ["9999-12-31T23:59:59.999Z", "0001-01-01T00:00:00Z", "+275760-09-13T00:00:00Z",
                                "not a date", "2025-13-45T99:99:99Z", None])
def test_times_out_of_range_or_unreadable_are_unknown(tmp_path, ts):
    def line() -> dict:  # a response of its own each time (one message id twice is one response)
        x = F.make_assistant("late", usage=F.usage(5, 50), timestamp=ts)
        if ts is None:
            del x["timestamp"]
        return x

    # once beside a good session, once as the only usage there is (no day to chart at all)
    cat, site = _build(tmp_path, {F.session_path(): [*_ok_session(), line()],
                                  F.session_path(F.SESSION2): [F.make_user("q", timestamp=ts or "junk"), line()]})
    assert site["pages"] > 5
    assert cat.global_stats()["tokens"]["output_tokens"] == 100 + 2 * 50  # counted, though undated
    lone, lone_site = _build(tmp_path / "lone", {F.session_path(): [line()]})
    assert lone_site["pages"] > 5 and lone.global_stats()["responses"] == 1


@pytest.mark.parametrize("ts", [1e20, 1e17, 253402300800000, -1e17, True, "yesterday"])
def test_history_times_out_of_range_are_unknown_and_the_index_still_builds(tmp_path, ts):
    cat, _ = _build(tmp_path, {F.session_path(): _ok_session(),
                               "history.jsonl": [F.make_history("zqxgoodprompt", 1_768_039_200_000),
                                                 F.make_history("zqxoddprompt", ts)]})
    prompts = cat.prompts
    assert prompts.height == 2
    assert prompts.filter(prompts["display"] == "zqxoddprompt")["timestamp"].to_list() == [None]
    assert cat.search_prompts("zqxgoodprompt")  # the index holds the rest


def test_a_file_name_that_is_not_utf8_is_skipped_with_a_warning(tmp_path, caplog):
    F.reset()
    claude = F.make_claude_dir(tmp_path, {F.session_path(): _ok_session()})
    bad = os.path.join(os.fsencode(claude / "projects" / F.PROJECT), b"bad\xff.jsonl")
    with open(bad, "wb") as f:
        f.write(F.jsonl_bytes(_ok_session()))
    cat = Catalog.open(Config.from_options([claude], tmp_path / "cache", tmp_path / "data"))
    assert cat.sessions.get_column("session_id").to_list() == [F.SESSION]
    assert "not valid UTF-8" in caplog.text
    assert site_build.build_site(cat, tmp_path / "site", workers=1)["pages"] > 5


def test_jsonl_content_with_times_with_and_without_an_offset(tmp_path):
    cat, _ = _build(tmp_path, {F.session_path(): [F.make_user("q", timestamp="2026-01-10"),
                                                  F.make_assistant("a", timestamp="2026-01-10T01:30:00Z")]})
    app = _app(cat, select=True)
    d = app.get(f"/api/jsonl-content?file={F.SESSION}.jsonl").json
    assert d["metadata"]["duration_minutes"] == 90.0


# ---------------------------------------------------------------- round two: files that are not what they seem


@pytest.fixture
def no_hang():
    """End the run (with every thread's traceback) rather than hang it when a read blocks on a FIFO: the block
    may be in a reader thread, where no signal handler would run."""
    import faulthandler

    faulthandler.dump_traceback_later(120, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.mark.parametrize("registry", [
    b'{"pid": 99999999999999999999, "sessionId": "S"}', b'{"pid": Infinity, "sessionId": "S"}',
    b'{"pid": 1, "sessionId": 5}', b'{"pid": 1, "sessionId": ["a"]}', b'{"pid": 1, "sessionId": {"a": 1}}',
    b"[" * 100_000 + b"]" * 100_000, b'"just a string"', b"\xff\xfe", None,
])
def test_a_bad_live_registry_entry_is_ignored(tmp_path, registry, no_hang):
    F.reset()
    claude = F.make_claude_dir(tmp_path, {F.session_path(): _ok_session()})
    (claude / "sessions").mkdir()
    entry = claude / "sessions" / "9.json"
    if registry is None:
        os.mkfifo(entry)  # a read would block forever
    else:
        entry.write_bytes(registry)
    cat = Catalog.open(Config.from_options([claude], tmp_path / "cache", tmp_path / "data"))
    assert cat.active_session_ids() <= {F.SESSION}
    assert cat.sessions.height == 1 and site_build.build_site(cat, tmp_path / "site", workers=1)["pages"] > 5


def test_fifos_and_links_out_of_the_claude_dir_are_not_read(tmp_path, no_hang):
    F.reset()
    claude = F.make_claude_dir(tmp_path, {F.session_path(): _ok_session()})
    proj = claude / "projects" / F.PROJECT
    os.mkfifo(proj / f"{F.SESSION2}.jsonl")
    (proj / F.SESSION / "subagents").mkdir(parents=True)
    os.mkfifo(proj / F.SESSION / "subagents" / "agent-abc.jsonl")
    (claude / "tasks" / F.SESSION).mkdir(parents=True)
    os.mkfifo(claude / "tasks" / F.SESSION / "1.json")
    os.symlink("/dev/zero", claude / "tasks" / F.SESSION / "2.json")
    (claude / "todos").mkdir()
    os.symlink("/dev/zero", claude / "todos" / f"{F.SESSION}-agent-{F.SESSION}.json")
    cat = Catalog.open(Config.from_options([claude], tmp_path / "cache", tmp_path / "data"))
    assert cat.sessions.get_column("session_id").to_list() == [F.SESSION]


def test_a_byte_order_mark_first_is_recovered(tmp_path):
    F.reset()
    claude = F.make_claude_dir(tmp_path, {})
    path = claude / F.session_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\xef\xbb\xbf" + F.jsonl_bytes(_ok_session()))
    cat = Catalog.open(Config.from_options([claude], tmp_path / "cache", tmp_path / "data"))
    assert cat.global_stats()["messages"] == 2
    assert cat.issues().get_column("reason").to_list() == ["byte order mark (recovered)"]


def test_an_edit_in_place_of_the_same_size_is_read_again(tmp_path):
    F.reset()
    claude = F.make_claude_dir(tmp_path, {F.session_path(): _ok_session()})
    cfg = Config.from_options([claude], tmp_path / "cache", tmp_path / "data")
    assert Catalog.open(cfg).global_stats()["tokens"]["output_tokens"] == 100
    path = claude / F.session_path()
    data = path.read_bytes()
    path.write_bytes(data.replace(b'"output_tokens":100', b'"output_tokens":200'))
    assert len(path.read_bytes()) == len(data)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert Catalog.open(cfg).global_stats()["tokens"]["output_tokens"] == 200


def test_a_turn_duration_that_is_not_a_number(tmp_path):
    odd = [F.make_system("", subtype="turn_duration", durationMs=v, timestamp=F.at(3)) for v in ("NaN", "Infinity", -5)]
    _, site = _build(tmp_path, {F.session_path(): [*_ok_session(), *odd]})
    assert site["pages"] > 5


def test_routes_answer_for_deeply_nested_tool_input_and_wide_integers(tmp_path):
    deep: object = "bottom"
    for _ in range(300):  # orjson encodes 255 levels
        deep = {"x": deep}
    use = F.make_tool_use("Bash", {"command": "ls", "deep": deep, "wide": 2**70}, timestamp=F.at(2))
    cat, _ = _build(tmp_path, {F.session_path(): [*_ok_session(), use]})
    app = _app(cat, select=True)
    for path in (f"/sessions/{F.SESSION}/messages", f"/sessions/{F.SESSION}/tools", "/api/messages",
                 "/api/dashboard-data", f"/api/jsonl-content?file={F.SESSION}.jsonl"):
        assert app.get(path).status_int == 200, path


def test_a_tag_with_a_slash_can_be_browsed_and_removed(tmp_path):
    cat, _ = _build(tmp_path, {F.session_path(): _ok_session()})
    app = _app(cat)
    app.post_json(f"/api/tags/session/{F.SESSION}", {"tag": "team/backend"}, status=(200, 201))
    got = app.get("/api/tags/browse/team%2Fbackend").json
    assert [s if isinstance(s, str) else s.get("session_id") for s in got["sessions"]] == [F.SESSION]
    app.delete(f"/api/tags/session/{F.SESSION}/team%2Fbackend")
    assert "team/backend" not in app.get(f"/api/tags/session/{F.SESSION}").json["manual"]


def test_a_bookmark_index_past_64_bits_is_refused(tmp_path):
    cat, _ = _build(tmp_path, {F.session_path(): _ok_session()})
    app = _app(cat)
    r = app.post_json("/api/bookmarks", {"session_id": F.SESSION, "message_index": 2**63}, status=400)
    assert "message_index" in r.json["error"]


def test_a_report_over_ten_thousand_years_lists_the_days_with_data(tmp_path):
    from ccsgen import report

    cat, _ = _build(tmp_path, {F.session_path(): _ok_session()})
    period = report.resolve_period("custom", "0001-01-01", "9999-12-31")
    got = report.build_report(cat, period)
    assert 1 <= len(got["by_day"]) <= report.MAX_DAY_ROWS
