"""Derived tables (tables.py) and their costs (pricing.py): the meaning of every number, on small synthetic logs.

See shared/DESIGN.md "Meaning of the numbers" and issue §4 / §6.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import time
from pathlib import Path

import factories as F
import polars as pl
import pytest

from ccsgen import tables
from ccsgen import usage as U
from ccsgen.config import Config
from ccsgen.pricing import PriceTable, PricingError

S, S2 = F.SESSION, F.SESSION2
SUB = f"projects/{F.PROJECT}/{S}/subagents/agent-a0123456789abcdef.jsonl"
LEGACY = f"projects/{F.PROJECT}/agent-1234abcd.jsonl"

# MODEL's list prices (USD per token)
P_IN, P_OUT, P_READ, P_W5, P_W1 = 3e-6, 1.5e-5, 3e-7, 3.75e-6, 6e-6


def catalog(tmp_path, layout, **kw):
    return F.build_catalog(F.make_claude_dir(tmp_path, layout), tmp_path / "cache", **kw)


def one_session(tmp_path, lines, **kw):
    return catalog(tmp_path, {F.session_path(): lines}, **kw)


def tokens(row) -> tuple[int, int, int, int]:
    return row["input_tokens"], row["output_tokens"], row["cache_creation_tokens"], row["cache_read_tokens"]


# ---------------------------------------------------------------- responses


def test_streamed_response_is_one_response_with_the_usage_of_its_largest_line(tmp_path):
    lines = F.make_streamed(4, usage=F.usage(4, 250, 1000, 20_000), partial_output=7)
    cat = one_session(tmp_path, [F.make_user(), *lines])
    r = cat.responses
    assert r.height == 1
    row = r.row(0, named=True)
    assert tokens(row) == (4, 250, 1000, 20_000)
    assert row["total_tokens"] == 4 + 250 + 1000 + 20_000
    assert row["msg_id"] == lines[0]["message"]["id"] and row["request_id"] == lines[0]["requestId"]
    # its content is every line's block, in file order
    blocks = cat.blocks(S).filter(pl.col("uuid").is_in([x["uuid"] for x in lines]))
    assert blocks.get_column("btype").to_list() == ["thinking", "text", "text", "text"]
    assert cat.session(S)["assistant_messages"] == 1


def test_largest_line_wins_wherever_it_is(tmp_path):
    mid, rid = F.new_msg_id(), F.new_request_id()
    big = F.make_assistant(msg_id=mid, request_id=rid, usage=F.usage(4, 300, 10, 10))
    small = F.make_assistant(msg_id=mid, request_id=rid, usage=F.usage(4, 5, 10, 10))
    cat = one_session(tmp_path, [big, small])
    assert cat.responses.get_column("output_tokens").to_list() == [300]


def test_same_response_in_two_files_counts_once(tmp_path):
    """/btw side-question transcripts replay parent messages with the same ids."""
    a = F.make_assistant(usage=F.usage(10, 20, 30, 40))
    replay = {**a, "uuid": F.new_uuid(), "isSidechain": True}
    cat = catalog(
        tmp_path,
        {
            F.session_path(): [F.make_user(), a],
            f"projects/{F.PROJECT}/{S}/subagents/agent-aside_question-0123456789abcdef.jsonl": [replay],
        },
    )
    assert cat.responses.height == 1
    assert cat.session(S)["total_tokens"] == 100


def test_lines_without_message_id_are_not_merged(tmp_path):
    rid = F.new_request_id()
    lines = [F.make_assistant(request_id=rid, usage=F.usage(1, 1), message={"id": F.DROP}) for _ in range(3)]
    mid = F.new_msg_id()
    lines += [F.make_assistant(msg_id=mid, usage=F.usage(2, 2), requestId=F.DROP) for _ in range(2)]
    cat = one_session(tmp_path, lines)
    assert cat.responses.height == 5
    assert cat.session(S)["input_tokens"] == 3 * 1 + 2 * 2


def test_synthetic_model_is_no_model_and_has_no_usage(tmp_path):
    syn = F.make_assistant(
        "API Error: Request was aborted.", model="<synthetic>", usage=F.usage(0, 0), isApiErrorMessage=True
    )
    cat = one_session(tmp_path, [F.make_user(), F.make_assistant(usage=F.usage(1, 1)), syn])
    assert cat.responses.get_column("model").to_list() == [F.MODEL]
    s = cat.session(S)
    assert s["models"] == [F.MODEL] and s["api_errors"] == 1 and s["responses"] == 1
    assert "<synthetic>" not in cat.unpriced_models()
    assert cat.entries(S).filter(pl.col("is_api_error")).get_column("model").to_list() == [None]


def test_progress_mirrors_of_subagent_messages_are_not_counted(tmp_path):
    sub = F.make_assistant(isSidechain=True, agentId="a0123456789abcdef", usage=F.usage(100, 200, 300, 400))
    early = {**sub, "message": {**sub["message"], "usage": F.usage(100, 3, 300, 400)}}
    cat = catalog(
        tmp_path,
        {
            F.session_path(): [
                F.make_user(),
                F.make_agent_progress(early),
                F.make_agent_progress(sub),
                F.make_assistant(usage=F.usage(1, 1)),
            ],
            SUB: [F.make_user("sub", isSidechain=True), sub],
        },
    )
    assert cat.responses.height == 2
    assert cat.session(S)["total_tokens"] == 1000 + 2


def test_progress_mirror_without_its_subagent_file_is_not_counted_either(tmp_path):
    cat = one_session(tmp_path, [F.make_user(), F.make_agent_progress(F.make_assistant(usage=F.usage(9, 9)))])
    assert cat.responses.height == 0


@pytest.mark.parametrize("layout", ["new", "legacy"])
def test_subagent_usage_counts_once_for_the_parent_session(tmp_path, layout):
    agent = "a0123456789abcdef" if layout == "new" else "1234abcd"
    path = SUB if layout == "new" else LEGACY
    sub_lines = [
        F.make_user("ZZSUBPROMPTZZ", isSidechain=True, agentId=agent),
        *F.make_streamed(2, usage=F.usage(10, 20, 30, 40), isSidechain=True, agentId=agent),
    ]
    cat = catalog(
        tmp_path,
        {
            F.session_path(): [F.make_user("main"), F.make_assistant(usage=F.usage(1, 2, 3, 4))],
            path: sub_lines,
        },
    )
    assert cat.sessions.get_column("session_id").to_list() == [S]
    s = cat.session(S)
    assert (s["input_tokens"], s["output_tokens"], s["cache_creation_tokens"], s["cache_read_tokens"]) == (
        11,
        22,
        33,
        44,
    )
    assert s["responses"] == 2 and s["subagents"] == 1
    assert s["user_messages"] == 1 and s["subagent_user_messages"] == 1
    assert s["assistant_messages"] == 1 and s["subagent_assistant_messages"] == 1
    assert s["title"] == "main"
    sub = cat.responses.filter(pl.col("is_sidechain"))
    assert sub.get_column("agent_id").to_list() == [agent] and sub.get_column("session_id").to_list() == [S]
    rows = U.session(cat.responses)["sessions"]
    assert [r["sessionId"] for r in rows] == [S] and rows[0]["totalTokens"] == 11 + 22 + 33 + 44


def test_legacy_warmup_agents_are_not_prompts(tmp_path):
    cat = catalog(
        tmp_path,
        {
            F.session_path(): [F.make_user("ZZREALZZ")],
            LEGACY: [
                F.make_user("Warmup", isSidechain=True, agentId="1234abcd"),
                F.make_assistant(isSidechain=True, agentId="1234abcd", usage=F.usage(5, 5)),
            ],
        },
    )
    s = cat.session(S)
    assert s["user_messages"] == 1 and s["subagent_user_messages"] == 0 and s["title"] == "ZZREALZZ"
    assert s["responses"] == 1  # the warm-up call is real spend


# ---------------------------------------------------------------- sessions


def test_title_priority(tmp_path):
    sids = [f"5e551000-0000-4000-8000-00000000010{i}" for i in range(5)]

    def prompt(sid, text="ZZPROMPTZZ"):
        return F.make_user(text, sessionId=sid)

    cat = catalog(
        tmp_path,
        {
            F.session_path(sids[0]): [
                prompt(sids[0]),
                F.make_summary("ZZSUMMARYZZ"),
                F.make_ai_title("old ai", sids[0]),
                F.make_custom_title("ZZCUSTOMZZ", sids[0]),
                F.make_ai_title("ZZAIZZ", sids[0]),
            ],
            F.session_path(sids[1]): [
                F.make_custom_title("ZZCUSTOMZZ", sids[1]),
                prompt(sids[1]),
                F.make_summary("ZZSUMMARYZZ"),
            ],
            F.session_path(sids[2]): [F.make_summary("ZZSUMMARYZZ"), prompt(sids[2])],
            F.session_path(sids[3]): [
                F.make_user("<command-name>/init</command-name>", sessionId=sids[3]),
                F.make_user("Caveat: The messages below were generated by the user", sessionId=sids[3]),
                F.make_user("skill body", isMeta=True, sessionId=sids[3]),
                F.make_user("[Request interrupted by user]", sessionId=sids[3]),
                F.make_user("  ZZFIRST\n   REALZZ  ", sessionId=sids[3]),
                F.make_user("second", sessionId=sids[3]),
            ],
            F.session_path(sids[4]): [F.make_assistant(sessionId=sids[4], slug="ZZ-slug-ZZ")],
        },
    )
    titles = {sid: cat.session(sid)["title"] for sid in sids}
    assert titles == {
        sids[0]: "ZZAIZZ",
        sids[1]: "ZZCUSTOMZZ",
        sids[2]: "ZZSUMMARYZZ",
        sids[3]: "ZZFIRST REALZZ",
        sids[4]: "ZZ-slug-ZZ",
    }


def test_summary_titles_the_session_its_leaf_belongs_to(tmp_path):
    """Old-style summaries at the top of a new file name the previous session (their leafUuid)."""
    old_leaf = F.make_assistant(sessionId=S2)
    cat = catalog(
        tmp_path,
        {
            F.session_path(S2): [F.make_user("old session", sessionId=S2), old_leaf],
            F.session_path(S): [
                F.make_summary("ZZOLDSUMMARYZZ", leaf_uuid=old_leaf["uuid"]),
                F.make_user("new one"),
            ],
        },
    )
    assert cat.session(S2)["title"] == "ZZOLDSUMMARYZZ"
    assert cat.session(S)["title"] == "new one"


def test_counts_by_kind(tmp_path):
    tu1, tu2, tu3 = (
        F.make_tool_use("Bash"),
        F.make_tool_use("Read", {"file_path": "/a"}),
        F.make_tool_use("Grep"),
    )
    lines = [
        F.make_user("prompt 1"),
        F.make_user("<command-name>/clear</command-name>"),
        F.make_user("<bash-input>ls</bash-input>"),
        F.make_user("<bash-stdout>a</bash-stdout>"),
        F.make_user("meta", isMeta=True),
        F.make_user("[Request interrupted by user]"),
        *F.make_streamed(3),
        tu1,
        F.make_tool_result(tu1, "x", is_error=True),
        tu2,
        F.make_tool_result(tu2, "y"),
        tu3,
        F.make_system("Conversation compacted", subtype="compact_boundary"),
        F.make_user("This session is being continued from a previous conversation.", isCompactSummary=True),
        F.make_system("", subtype="turn_duration", durationMs=1234),
        F.make_assistant("text only, no usage", message={"usage": F.DROP}),
    ]
    cat = catalog(
        tmp_path,
        {
            F.session_path(): lines,
            SUB: [F.make_user("sub prompt", isSidechain=True), F.make_assistant(isSidechain=True)],
        },
    )
    s = cat.session(S)
    assert s["user_messages"] == 3  # prompt, command, bash
    assert s["assistant_messages"] == 5  # streamed (1) + 3 tool uses + text only
    assert s["subagent_user_messages"] == 1 and s["subagent_assistant_messages"] == 1
    assert s["message_count"] == 8 and s["message_count_all"] == 10
    assert s["tool_result_lines"] == 2 and s["system_lines"] == 2 and s["compactions"] == 1
    assert s["tool_calls"] == 3 and s["tool_errors"] == 1
    assert s["responses"] == 5  # streamed + 3 tool uses + the subagent's
    assert s["lines"] == len(lines) + 2


def test_a_typical_session(tmp_path):
    cat = catalog(
        tmp_path,
        {
            F.session_path(S): F.make_session(S, prompt="ZZASKZZ", title="ZZTITLEZZ"),
            F.session_path(S2): F.make_session(S2),
        },
    )
    s = cat.session(S)
    assert (s["title"], s["first_prompt"]) == ("ZZTITLEZZ", "ZZASKZZ")
    assert (s["user_messages"], s["assistant_messages"], s["responses"], s["tool_calls"]) == (1, 3, 3, 1)
    assert cat.session(S2)["title"] == "Please fix the failing test"
    assert cat.projects.height == 1 and cat.project(F.PROJECT)["session_count"] == 2


def test_session_fields(tmp_path):
    lines = [
        F.make_user("hello", timestamp=F.at(0), gitBranch="", slug="first-slug", version="2.1.1"),
        F.make_assistant(
            timestamp=F.at(5),
            gitBranch="feature/x",
            slug="later-slug",
            version="2.1.2",
            model="claude-opus-4-6",
        ),
        F.make_assistant(timestamp=F.at(90), model="claude-haiku-4-5-20251001", gitBranch="feature/x"),
    ]
    s = one_session(tmp_path, lines).session(S)
    assert s["first_ts"] == F.BASE and s["last_ts"] == F.BASE + dt.timedelta(minutes=90)
    assert s["duration_s"] == 90 * 60
    assert s["cwd"] == F.CWD and s["git_branch"] == "feature/x" and s["slug"] == "later-slug"
    assert s["models"] == ["claude-haiku-4-5-20251001", "claude-opus-4-6"]
    assert s["project"] == F.PROJECT and s["has_main_file"] is True
    assert s["path"].endswith(f"{S}.jsonl")


def test_timestamps_in_every_iso_spelling(tmp_path):
    lines = [
        F.make_user(timestamp="2026-01-10T10:00:00Z"),
        F.make_user(timestamp="2026-01-10T10:00:01.5Z"),
        F.make_user(timestamp="2026-01-10T10:00:02+00:00"),
        F.make_user(timestamp="2026-01-10T10:00:03.250+00:00"),
        F.make_user(timestamp="not a time"),
    ]
    ts = one_session(tmp_path, lines).entries(S).get_column("timestamp").to_list()
    base = dt.datetime(2026, 1, 10, 10, 0, tzinfo=dt.UTC)
    assert [t.astimezone(dt.UTC) if t else None for t in ts] == [
        base,
        base + dt.timedelta(seconds=1.5),
        base + dt.timedelta(seconds=2),
        base + dt.timedelta(seconds=3.25),
        None,
    ]


def test_is_active_from_recent_writes(tmp_path):
    cat = catalog(
        tmp_path, {F.session_path(S): [F.make_user()], F.session_path(S2): [F.make_user(sessionId=S2)]}
    )
    old = time.time() - 3600
    os.utime(cat.cfg.claude_dirs[0] / F.session_path(S2), (old, old))
    active = dict(cat.sessions.select("session_id", "is_active").iter_rows())
    assert active == {S: True, S2: False}


def test_is_active_from_the_live_session_registry(tmp_path):
    """``<claude dir>/sessions/<pid>.json`` naming a live pid makes its session active, however old its file."""
    cat = catalog(
        tmp_path,
        {
            F.session_path(S): [F.make_user()],
            F.session_path(S2): [F.make_user(sessionId=S2)],
            f"sessions/{os.getpid()}.json": {"pid": os.getpid(), "sessionId": S2},
            "sessions/999999999.json": {"pid": 999999999, "sessionId": S},
        },
    )
    old = time.time() - 3600
    for sid in (S, S2):
        os.utime(cat.cfg.claude_dirs[0] / F.session_path(sid), (old, old))
    assert cat.active_session_ids() == {S2}


# ---------------------------------------------------------------- tool calls


def test_tool_calls_take_error_and_size_from_their_result(tmp_path):
    ok = F.make_tool_use("Read", {"file_path": "/src/app.py"})
    bad = F.make_tool_use("Bash", {"command": "npm   test", "description": "run tests"})
    lst = F.make_tool_use("Grep", {"pattern": "TODO"})
    orphan = F.make_tool_use("WebFetch", {"url": "https://example.com"})
    cat = one_session(
        tmp_path,
        [
            F.make_user(),
            ok,
            F.make_tool_result(ok, "0123456789"),
            bad,
            F.make_tool_result(bad, "Error: Exit code 1", is_error=True),
            lst,
            F.make_tool_result(lst, [{"type": "text", "text": "abc"}, {"type": "text", "text": "de"}]),
            orphan,
        ],
    )
    tc = {r["name"]: r for r in cat.tool_calls.iter_rows(named=True)}
    assert set(tc) == {"Read", "Bash", "Grep", "WebFetch"}
    assert (tc["Read"]["is_error"], tc["Read"]["result_size"], tc["Read"]["has_result"]) == (False, 10, True)
    assert (tc["Bash"]["is_error"], tc["Bash"]["result_size"]) == (True, len("Error: Exit code 1"))
    assert tc["Grep"]["result_size"] == len("abc\nde")
    assert (tc["WebFetch"]["has_result"], tc["WebFetch"]["is_error"], tc["WebFetch"]["result_size"]) == (
        False,
        False,
        0,
    )
    assert tc["Read"]["input_summary"] == "/src/app.py" and tc["Bash"]["input_summary"] == "npm test"
    assert all(r["session_id"] == S and r["timestamp"] is not None for r in tc.values())
    assert tc["Read"]["tool_id"] == F.tool_id_of(ok)


def test_tool_calls_in_subagents_belong_to_the_parent_session(tmp_path):
    tu = F.make_tool_use("Glob", {"pattern": "*.py"}, isSidechain=True)
    cat = catalog(
        tmp_path,
        {
            F.session_path(): [F.make_user()],
            SUB: [F.make_user("sub", isSidechain=True), tu, F.make_tool_result(tu, "a.py")],
        },
    )
    row = cat.tool_calls.row(0, named=True)
    assert (row["session_id"], row["is_sidechain"], row["agent_id"]) == (S, True, "a0123456789abcdef")
    assert cat.session(S)["tool_calls"] == 1


# ---------------------------------------------------------------- projects, prompts, tasks, todos


def test_project_real_path_comes_from_cwd_not_from_the_dir_name(tmp_path):
    cat = catalog(
        tmp_path,
        {
            F.session_path(S, "-home-user-my-app-v2"): [F.make_user(cwd="/home/user/my.app_v2")] * 1
            + [
                F.make_assistant(cwd="/home/user/my.app_v2", usage=F.usage(1, 1)),
                F.make_user(cwd="/home/user/my.app_v2/sub"),
            ],
            F.session_path(S2, "C--Users-eduar-proj"): [
                F.make_user(sessionId=S2, cwd="C:\\Users\\eduar\\proj")
            ],
            "projects/-no-cwd/" + "5e551000-0000-4000-8000-000000000003.jsonl": [F.make_user(cwd=F.DROP)],
        },
    )
    p = {r["id"]: r for r in cat.projects.iter_rows(named=True)}
    assert (p["-home-user-my-app-v2"]["path"], p["-home-user-my-app-v2"]["name"]) == (
        "/home/user/my.app_v2",
        "my.app_v2",
    )
    assert (p["C--Users-eduar-proj"]["path"], p["C--Users-eduar-proj"]["name"]) == (
        "C:\\Users\\eduar\\proj",
        "proj",
    )
    assert p["-no-cwd"]["path"] == "-no-cwd"
    assert p["-home-user-my-app-v2"]["session_count"] == 1
    assert p["-home-user-my-app-v2"]["total_tokens"] == 2


def test_project_totals_sum_their_sessions(tmp_path):
    cat = catalog(
        tmp_path,
        {
            F.session_path(S): [
                F.make_user(timestamp=F.at(0)),
                F.make_assistant(usage=F.usage(1, 2, 3, 4), timestamp=F.at(1)),
            ],
            F.session_path(S2): [
                F.make_user(sessionId=S2, timestamp=F.at(60)),
                F.make_assistant(sessionId=S2, usage=F.usage(10, 20, 30, 40), timestamp=F.at(61)),
            ],
        },
    )
    p = cat.project(F.PROJECT)
    assert p["session_count"] == 2 and p["total_tokens"] == 110
    assert p["cost_usd"] == pytest.approx(cat.sessions.get_column("cost_usd").sum())
    assert p["first_activity"] == F.BASE and p["last_activity"] == F.BASE + dt.timedelta(minutes=61)
    assert p["path"] == F.CWD and p["name"] == "proj"


def test_prompts_from_history(tmp_path):
    cat = catalog(
        tmp_path,
        {
            F.session_path(): [F.make_user()],
            "history.jsonl": [
                F.make_history("second", 1767225660000),
                F.make_history("/clear", 1767225600000, session=None),
            ],
        },
    )
    rows = cat.prompts.select("display", "timestamp", "session_id", "project_path").rows()
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert [(d, t.astimezone(dt.UTC), s, p) for d, t, s, p in rows] == [
        ("/clear", t0, None, F.CWD),
        ("second", t0 + dt.timedelta(minutes=1), S, F.CWD),
    ]


def test_tasks_and_todos(tmp_path):
    cat = catalog(
        tmp_path,
        {
            F.session_path(): [F.make_user()],
            f"tasks/{S}/1.json": F.make_task(
                "1", "Write tests", "in_progress", owner="me", metadata={"k": 1}
            ),
            f"tasks/{S}/2.json": F.make_task("2", "Ship", "pending", blockedBy=["1"]),
            f"tasks/{S}/3.json": "{broken",
            f"todos/{S}-agent-{S}.json": F.make_todos(("read code", "completed"), ("fix bug", "in_progress")),
            f"todos/{S2}-agent-abc.json": [],
        },
    )
    t = {r["id"]: r for r in cat.tasks.iter_rows(named=True)}
    assert set(t) == {"1", "2"}
    assert (t["1"]["subject"], t["1"]["status"], t["1"]["owner"], t["1"]["session_id"]) == (
        "Write tests",
        "in_progress",
        "me",
        S,
    )
    assert t["2"]["blocked_by"] == ["1"] and t["2"]["blocks"] == []
    assert json.loads(t["1"]["metadata"]) == {"k": 1}
    assert t["1"]["active_form"] == "Write testsing" and t["1"]["description"] == "Write tests in detail"
    assert cat.report.bad_by_reason.get("invalid json") == 1
    todos = cat.todos.sort("idx").select("session_id", "agent_id", "idx", "content", "status").rows()
    assert todos == [(S, S, 0, "read code", "completed"), (S, S, 1, "fix bug", "in_progress")]


# ---------------------------------------------------------------- pricing


def cost_of(tmp_path, usage, model=F.MODEL, **kw) -> dict:
    cat = one_session(tmp_path, [F.make_assistant(model=model, usage=usage)], **kw)
    return cat.responses.row(0, named=True)


def test_list_price_cost(tmp_path):
    row = cost_of(tmp_path, F.usage(1_000_000, 1_000_000, cache_read=1_000_000, c5m=1_000_000))
    assert row["cost_usd"] == pytest.approx((P_IN + P_OUT + P_READ + P_W5) * 1e6)
    assert row["priced"] is True


def test_one_hour_cache_writes_cost_twice_the_input_price(tmp_path):
    assert cost_of(tmp_path / "a", F.usage(0, 0, c1h=1_000_000))["cost_usd"] == pytest.approx(2 * P_IN * 1e6)
    # a model whose snapshot has no explicit 1h (nor 5m) price: 2x and 1.25x its input price
    row = cost_of(tmp_path / "b", F.usage(0, 0, c5m=1_000_000, c1h=1_000_000), model="claude-3-5-sonnet")
    assert row["cost_usd"] == pytest.approx((1.25 + 2.0) * 3e-6 * 1e6)


def test_long_context_tier_above_200k(tmp_path):
    tiered = cost_of(tmp_path / "a", F.usage(300_000, 0), model="claude-sonnet-4-20250514")
    assert tiered["cost_usd"] == pytest.approx(200_000 * 3e-6 + 100_000 * 6e-6)
    below = cost_of(tmp_path / "b", F.usage(200_000, 0), model="claude-sonnet-4-20250514")
    assert below["cost_usd"] == pytest.approx(200_000 * 3e-6)
    flat = cost_of(tmp_path / "c", F.usage(300_000, 0), model=F.MODEL)  # no tier in the snapshot
    assert flat["cost_usd"] == pytest.approx(300_000 * P_IN)


def test_fast_mode_multiplier(tmp_path):
    std = cost_of(tmp_path / "a", F.usage(1000, 1000))["cost_usd"]
    fast = cost_of(tmp_path / "b", F.usage(1000, 1000, speed="fast"))["cost_usd"]
    assert fast == pytest.approx(6 * std)
    assert U.daily(F.build_catalog(tmp_path / "b" / "claude", tmp_path / "b" / "cache").responses)["daily"][
        0
    ]["modelsUsed"] == [F.MODEL + "-fast"]


def test_cost_usd_on_the_line_wins(tmp_path):
    cat = one_session(
        tmp_path,
        [
            F.make_assistant(usage=F.usage(1_000_000, 1_000_000), costUSD=0.123),
            F.make_assistant(model="claude-imaginary-9", usage=F.usage(5, 5), costUSD=0.5),
        ],
    )
    assert sorted(cat.responses.get_column("cost_usd").to_list()) == [0.123, 0.5]
    assert cat.responses.get_column("priced").to_list() == [True, True]
    assert cat.unpriced_models() == []


def test_unknown_model_costs_zero_and_is_listed_as_unpriced(tmp_path):
    cat = one_session(
        tmp_path,
        [
            F.make_assistant(model="claude-imaginary-9", usage=F.usage(100, 100)),
            F.make_assistant(usage=F.usage(100, 100)),
        ],
    )
    r = {row["model"]: row for row in cat.responses.iter_rows(named=True)}
    assert r["claude-imaginary-9"]["cost_usd"] == 0.0 and r["claude-imaginary-9"]["priced"] is False
    assert r["claude-imaginary-9"]["total_tokens"] == 200  # its tokens still count
    assert r[F.MODEL]["cost_usd"] > 0
    assert cat.unpriced_models() == ["claude-imaginary-9"]


def test_provider_prefixed_model_names_are_priced():
    assert PriceTable.load().lookup("anthropic/" + F.MODEL) == PriceTable.load().lookup(F.MODEL)


def test_overrides_file_changes_and_adds_prices(tmp_path, monkeypatch):
    pf = tmp_path / "prices.json"
    pf.write_text(
        json.dumps(
            {"models": {F.MODEL: {"input": 1e-3}, "claude-imaginary-9": {"input": 2e-3, "output": 4e-3}}}
        )
    )
    monkeypatch.setenv("CCSGEN_PRICES_FILE", str(pf))
    cfg = Config()
    assert cfg.prices_file == pf
    pt = PriceTable.load(cfg.prices_file)
    assert pt.overrides_from == str(pf)
    assert pt.lookup(F.MODEL)["input"] == 1e-3 and pt.lookup(F.MODEL)["output"] == P_OUT
    cat = one_session(
        tmp_path,
        [
            F.make_assistant(usage=F.usage(1000, 0)),
            F.make_assistant(model="claude-imaginary-9", usage=F.usage(1000, 1000)),
        ],
        prices_file=pf,
    )
    r = {row["model"]: row["cost_usd"] for row in cat.responses.iter_rows(named=True)}
    assert r == {F.MODEL: pytest.approx(1.0), "claude-imaginary-9": pytest.approx(6.0)}
    assert cat.unpriced_models() == []


def test_overrides_file_from_xdg_config_home():
    assert Config().prices_file is None
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "ccsgen" / "prices.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"models": {}}')
    assert Config().prices_file == path


def test_changing_the_overrides_file_reprices_without_reading_logs(tmp_path):
    pf = tmp_path / "prices.json"
    pf.write_text(json.dumps({"models": {F.MODEL: {"input": 1e-3}}}))
    root = F.make_claude_dir(tmp_path, {F.session_path(): [F.make_assistant(usage=F.usage(1000, 0))]})
    assert F.build_catalog(root, tmp_path / "c", prices_file=pf).responses["cost_usd"][0] == pytest.approx(
        1.0
    )
    pf.write_text(json.dumps({"models": {F.MODEL: {"input": 2e-3}}}))
    os.utime(pf, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    cat = F.build_catalog(root, tmp_path / "c", prices_file=pf)
    assert cat.report.files_read == 0 and cat.report.changed
    assert cat.responses["cost_usd"][0] == pytest.approx(2.0)


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        '{"models": {"m": {"input": "cheap"}}}',
        '{"models": {"m": {"inptu": 1e-6}}}',
        '{"models": {"m": 5}}',
    ],
)
def test_malformed_overrides_file_is_a_pricing_error(tmp_path, content):
    pf = tmp_path / "prices.json"
    pf.write_text(content)
    with pytest.raises(PricingError):
        PriceTable.load(pf)


@pytest.mark.parametrize("content", ["[1, 2]", '{"models": [1]}'])
def test_overrides_file_of_the_wrong_shape_is_a_pricing_error(tmp_path, content):
    pf = tmp_path / "prices.json"
    pf.write_text(content)
    with pytest.raises(PricingError):
        PriceTable.load(pf)


def test_bundled_prices_have_a_source_and_a_date():
    pt = PriceTable.load()
    assert pt.source and pt.date and pt.overrides_from is None
    assert pt.lookup("claude-opus-4-6")["input"] == 5e-6
    assert pt.lookup("no-such-model") is None and pt.lookup(None) is None


# ---------------------------------------------------------------- sums of costs


def _costs_in_pieces(seed: int) -> pl.DataFrame:
    """The same 3,000 responses (costs of many magnitudes over 3 days) in another order and split into
    chunks of another size: what a cold build, an appended one and another machine's threads amount to."""
    rng = random.Random(7)
    rows = [(f"2026-01-0{1 + i % 3}", rng.choice([0.1, 0.2, 0.3, 1e-7, 3.3, 17.0]) * rng.random())
            for i in range(3000)]
    random.Random(seed).shuffle(rows)
    step = 50 + seed * 37
    return pl.concat([pl.DataFrame(rows[i:i + step], schema=["day", "cost_usd"], orient="row")
                      for i in range(0, len(rows), step)], rechunk=False)


def test_cost_sums_do_not_depend_on_row_order_or_chunks():
    frames = [_costs_in_pieces(seed) for seed in range(6)]
    by_day = [f.group_by("day").agg(tables.cost_sum()).sort("day").rows() for f in frames]
    totals = [tables.cost_total(f.get_column("cost_usd")) for f in frames]
    assert all(b == by_day[0] for b in by_day) and len(set(totals)) == 1
    naive = {f.get_column("cost_usd").sum() for f in frames} | {sum(f.get_column("cost_usd").to_list()) for f in frames}
    assert len(naive) > 1  # what a float sum does with the same rows
    assert totals[0] == pytest.approx(sum(f for f in frames[0].get_column("cost_usd").to_list()), abs=3000 * 1e-9)
    assert tables.sum_exprs("input_tokens", "cost_usd")[0].meta.output_name() == "input_tokens"
    assert tables.cost_total(pl.Series("cost_usd", [], dtype=pl.Float64)) == 0.0
    assert tables.cost_total(pl.Series("cost_usd", [None, 0.25], dtype=pl.Float64)) == 0.25
