"""Accuracy against ccusage 20.0.24 on the real corpus (shared/corpus/ccusage/, made with
``ccusage claude {session,daily,monthly,blocks} --json --offline -z UTC`` over shared/corpus/claude).

Tokens must be equal to the token; costs within a cent. ccusage lists each legacy ``agent-*.jsonl`` as its own
session row; ccsgen folds it into the session its lines name, so the session comparison folds ccusage's agent
rows first (shared/DESIGN.md, "Meaning of the numbers").
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict

import pytest

from ccsgen import usage as U

TOKENS = ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens")
CENT = 0.01


@pytest.fixture(scope="module")
def ref(corpus_dir) -> dict:
    d = corpus_dir / "ccusage"
    if not d.is_dir():
        pytest.skip("no ccusage reference output")
    return {k: json.loads((d / f"{k}.json").read_text()) for k in ("session", "daily", "monthly", "blocks")}


@pytest.fixture(scope="module")
def mine(corpus_catalog) -> dict:
    r = corpus_catalog.responses
    return {
        "session": U.session(r),
        "daily": U.daily(r),
        "monthly": U.monthly(r),
        "blocks": U.blocks(r),
        "weekly": U.weekly(r),
    }


def toks(row: dict) -> tuple:
    return tuple(row[k] for k in TOKENS)


def by_model(rows: list[dict]) -> dict[str, tuple]:
    out: dict[str, list] = defaultdict(lambda: [0, 0, 0, 0, 0.0])
    for b in rows:
        acc = out[b["modelName"]]
        for i, k in enumerate(TOKENS):
            acc[i] += b[k]
        acc[4] += b["cost"]
    return {k: tuple(v) for k, v in out.items()}


def assert_breakdowns_equal(got: list[dict], want: list[dict], where: str):
    g, w = by_model(got), by_model(want)
    assert set(g) == set(w), where
    for model in w:
        assert g[model][:4] == w[model][:4], f"{where} {model}"
        assert g[model][4] == pytest.approx(w[model][4], abs=CENT), f"{where} {model}"


def test_the_corpus_reads_without_a_bad_line(corpus_catalog):
    rep = corpus_catalog.report
    assert rep.bad_lines == 0, rep.bad_by_reason
    assert rep.unknown_types == {}


@pytest.mark.parametrize("report", ["session", "daily", "monthly"])
def test_totals(ref, mine, report):
    got, want = mine[report]["totals"], ref[report]["totals"]
    assert set(got) == set(want)
    assert toks(got) == toks(want)
    assert got["totalTokens"] == want["totalTokens"]
    assert got["totalCost"] == pytest.approx(want["totalCost"], abs=CENT)


def test_totals_by_model(ref, mine):
    got = by_model([b for d in mine["daily"]["daily"] for b in d["modelBreakdowns"]])
    want = by_model([b for d in ref["daily"]["daily"] for b in d["modelBreakdowns"]])
    assert set(got) == set(want)
    for m in want:
        assert got[m][:4] == want[m][:4], m
        assert got[m][4] == pytest.approx(want[m][4], abs=CENT), m


@pytest.mark.parametrize(("report", "key"), [("daily", "date"), ("monthly", "month")])
def test_every_period(ref, mine, report, key):
    got = {r[key]: r for r in mine[report][report]}
    want = {r[key]: r for r in ref[report][report]}
    assert list(got) == list(want)  # same periods, same (ascending) order
    for period, w in want.items():
        g = got[period]
        assert set(g) == set(w), period
        assert toks(g) == toks(w), period
        assert g["totalTokens"] == w["totalTokens"], period
        assert g["totalCost"] == pytest.approx(w["totalCost"], abs=CENT), period
        assert sorted(g["modelsUsed"]) == sorted(w["modelsUsed"]), period
        assert_breakdowns_equal(g["modelBreakdowns"], w["modelBreakdowns"], period)


def test_every_block(ref, mine):
    got, want = mine["blocks"]["blocks"], ref["blocks"]["blocks"]
    assert [b["id"] for b in got] == [b["id"] for b in want]
    for g, w in zip(got, want, strict=True):
        where = w["id"]
        assert set(g) == set(w), where
        for k in (
            "isGap",
            "isActive",
            "entries",
            "startTime",
            "endTime",
            "actualEndTime",
            "tokenCounts",
            "totalTokens",
        ):
            assert g[k] == w[k], f"{where} {k}"
        assert g["costUSD"] == pytest.approx(w["costUSD"], abs=CENT), where
        assert sorted(g["models"]) == sorted(w["models"]), where


def _agent_parents(corpus_dir) -> dict[tuple[str, str], str]:
    """(project dir, 'agent-<id>') -> the sessionId its lines name, for every legacy agent file."""
    out = {}
    for f in (corpus_dir / "claude" / "projects").glob("*/agent-*.jsonl"):
        for line in f.read_text(encoding="utf-8").splitlines():
            sid = json.loads(line).get("sessionId") if line.strip() else None
            if sid:
                out[(f.parent.name, f.stem)] = sid
                break
    return out


@pytest.fixture(scope="module")
def folded(ref, corpus_dir) -> dict[str, dict]:
    """ccusage's session rows with each agent-* row folded into its parent session."""
    parents = _agent_parents(corpus_dir)
    out: dict[str, dict] = {}
    for row in ref["session"]["sessions"]:
        sid = row["sessionId"]
        if sid.startswith("agent-"):
            sid = parents[(row["projectPath"], sid)]
        acc = out.setdefault(
            sid,
            {
                **dict.fromkeys(TOKENS, 0),
                "totalTokens": 0,
                "totalCost": 0.0,
                "modelBreakdowns": [],
                "projectPath": row["projectPath"],
            },
        )
        for k in (*TOKENS, "totalTokens", "totalCost"):
            acc[k] += row[k]
        acc["modelBreakdowns"] += row["modelBreakdowns"]
    return out


def test_ccusage_agent_rows_all_fold_into_a_known_session(ref, folded):
    agent_rows = [r for r in ref["session"]["sessions"] if r["sessionId"].startswith("agent-")]
    assert agent_rows, "the corpus has legacy agent files"
    assert not [sid for sid in folded if sid.startswith("agent-")]


def test_every_session(mine, folded):
    got = {r["sessionId"]: r for r in mine["session"]["sessions"]}
    assert set(got) == set(folded)
    for sid, w in folded.items():
        g = got[sid]
        assert toks(g) == toks(w), sid
        assert g["totalTokens"] == w["totalTokens"], sid
        assert g["totalCost"] == pytest.approx(w["totalCost"], abs=CENT), sid
        assert g["projectPath"] == w["projectPath"], sid
        assert_breakdowns_equal(g["modelBreakdowns"], w["modelBreakdowns"], sid)


def test_session_report_has_ccusage_shape(ref, mine):
    assert set(mine["session"]) == set(ref["session"])
    assert set(mine["session"]["sessions"][0]) == set(ref["session"]["sessions"][0])
    assert set(mine["session"]["sessions"][0]["modelBreakdowns"][0]) == set(
        ref["session"]["sessions"][0]["modelBreakdowns"][0]
    )


def test_sessions_table_agrees_with_ccusage(corpus_catalog, folded):
    """The catalog's own sessions table (what the site and API show) carries the same numbers."""
    s = {r["session_id"]: r for r in corpus_catalog.sessions.iter_rows(named=True)}
    names = {
        "inputTokens": "input_tokens",
        "outputTokens": "output_tokens",
        "cacheCreationTokens": "cache_creation_tokens",
        "cacheReadTokens": "cache_read_tokens",
    }
    for sid, w in folded.items():
        assert sid in s, sid
        assert tuple(s[sid][names[k]] for k in TOKENS) == toks(w), sid
        assert s[sid]["total_tokens"] == w["totalTokens"], sid
        assert s[sid]["cost_usd"] == pytest.approx(w["totalCost"], abs=CENT), sid
    assert sum(r["total_tokens"] for r in s.values()) == sum(w["totalTokens"] for w in folded.values())


def test_weekly_regroups_the_days(mine):
    weeks = mine["weekly"]["weekly"]
    assert mine["weekly"]["totals"] == mine["daily"]["totals"]
    by_week: Counter = Counter()
    for w in weeks:
        by_week[w["week"]] += w["totalTokens"]
    assert sum(by_week.values()) == mine["daily"]["totals"]["totalTokens"]
    for w in weeks:
        assert dt.date.fromisoformat(w["week"]).weekday() == 6  # weeks start on Sunday by default
