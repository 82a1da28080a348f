"""The foundation's commands (cli.py): build, usage, pricing, demo. In-process through Typer's CliRunner, plus
one real subprocess for the installed entry point."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import factories as F
import pytest
from typer.testing import CliRunner

from ccsgen.cli import app

S, S2 = F.SESSION, F.SESSION2
REPORTS = ("daily", "weekly", "monthly", "session", "blocks")
WIDE = {"COLUMNS": "200"}  # Rich wraps table cells to the terminal width


def run(*args, env: dict | None = None, ok: bool = True):
    r = CliRunner().invoke(app, [str(a) for a in args], env=env)
    if ok:
        assert r.exit_code == 0, (r.output, r.exception)
    return r


def run_json(*args, **kw):
    return json.loads(run(*args, "--json", **kw).stdout)


def assert_clean_error(r, code: int, *words: str):
    assert r.exit_code == code, r.output
    out = r.output.lower()
    assert "error" in out
    for w in words:
        assert w.lower() in out, r.output
    assert "traceback" not in out
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)


def tree_state(root: Path) -> dict[str, tuple]:
    """Every file and dir under ``root`` with its bytes' hash, size and mtime."""
    out = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        out[p.relative_to(root).as_posix()] = (
            digest,
            st.st_size if p.is_file() else 0,
            st.st_mtime_ns,
            st.st_mode,
        )
    return out


@pytest.fixture(scope="module")
def corpus_cli(corpus_dir, tmp_path_factory):
    """(claude dir, cache dir) with the corpus built once through the CLI."""
    cache = tmp_path_factory.mktemp("cli-cache")
    claude = corpus_dir / "claude"
    run("build", "--no-site", "--quiet", "--claude-dir", claude, "--cache-dir", cache)
    return claude, cache


@pytest.fixture(scope="module")
def ccusage(corpus_dir) -> dict:
    return {
        k: json.loads((corpus_dir / "ccusage" / f"{k}.json").read_text())
        for k in ("session", "daily", "monthly", "blocks")
    }


@pytest.fixture
def small(tmp_path):
    """A small Claude dir with two sessions on two days."""
    return F.make_claude_dir(
        tmp_path,
        {
            F.session_path(S): [
                F.make_user("hi", timestamp=F.at(0)),
                F.make_assistant(usage=F.usage(1, 2, 3, 4), timestamp=F.at(1)),
            ],
            F.session_path(S2, "-other"): [
                F.make_user("yo", sessionId=S2, timestamp=F.at(24 * 60)),
                F.make_assistant(sessionId=S2, usage=F.usage(10, 20, 30, 40), timestamp=F.at(24 * 60 + 1)),
            ],
        },
    )


# ---------------------------------------------------------------- build


def test_build_json_report(small, tmp_path):
    cache = tmp_path / "cache"
    d = run_json("build", "--no-site", "--claude-dir", small, "--cache-dir", cache)
    for k in (
        "files",
        "files_read",
        "files_new",
        "files_unchanged",
        "lines_read",
        "bytes_read",
        "bad_lines",
        "bad_by_reason",
        "unknown_types",
        "stages",
        "seconds",
        "changed",
    ):
        assert k in d, k
    assert (d["files"], d["files_read"], d["files_new"], d["lines_read"], d["bad_lines"]) == (2, 2, 2, 4, 0)
    assert d["changed"] is True and {"discover", "read", "tables"} <= set(d["stages"])
    again = run_json("build", "--no-site", "--claude-dir", small, "--cache-dir", cache)
    assert (again["files_read"], again["bytes_read"], again["changed"]) == (0, 0, False)
    assert (cache / "tables" / "sessions.parquet").is_file()


def test_build_json_report_counts_what_was_built(small, tmp_path):
    F.write_jsonl(
        small / F.session_path("5e551000-0000-4000-8000-000000000003"),
        [F.make_assistant(model="claude-imaginary-9", sessionId="5e551000-0000-4000-8000-000000000003")],
    )
    d = run_json("build", "--no-site", "--claude-dir", small, "--cache-dir", tmp_path / "cache")
    assert (d["sessions"], d["projects"], d["responses"]) == (3, 2, 3)
    assert d["unpriced_models"] == ["claude-imaginary-9"]


def test_build_report_lists_bad_lines_by_reason(tmp_path):
    root = F.make_claude_dir(
        tmp_path, {F.session_path(): [b"{bad", b"42", {"type": "zz-new"}, F.make_user()]}
    )
    d = run_json("build", "--no-site", "--claude-dir", root, "--cache-dir", tmp_path / "cache")
    assert d["bad_lines"] == 2 and d["bad_by_reason"] == {"invalid json": 1, "not an object": 1}
    assert d["unknown_types"] == {"zz-new": 1}
    text = run("build", "--no-site", "--full", "--claude-dir", root, "--cache-dir", tmp_path / "cache").stdout
    assert "invalid json: 1" in text and "zz-new: 1" in text and "bad lines" in text


def test_build_quiet_prints_nothing(small, tmp_path):
    r = run("build", "--no-site", "--quiet", "--claude-dir", small, "--cache-dir", tmp_path / "cache")
    assert r.stdout == ""


def test_build_full(small, tmp_path):
    run("build", "--no-site", "--quiet", "--claude-dir", small, "--cache-dir", tmp_path / "cache")
    d = run_json("build", "--no-site", "--full", "--claude-dir", small, "--cache-dir", tmp_path / "cache")
    assert d["files_read"] == 2 and d["changed"] is True


def test_claude_dir_is_repeatable(tmp_path):
    a = F.make_claude_dir(tmp_path, {F.session_path(S): [F.make_assistant(usage=F.usage(1, 1))]}, name="a")
    b = F.make_claude_dir(
        tmp_path, {F.session_path(S2): [F.make_assistant(sessionId=S2, usage=F.usage(2, 2))]}, name="b"
    )
    d = run_json("usage", "session", "--claude-dir", a, "--claude-dir", b, "--cache-dir", tmp_path / "cache")
    assert sorted(r["sessionId"] for r in d["sessions"]) == sorted([S, S2])
    assert d["totals"]["totalTokens"] == 6


def test_claude_config_dir_env_is_used(small, tmp_path):
    d = run_json("usage", "daily", "--cache-dir", tmp_path / "cache", env={"CLAUDE_CONFIG_DIR": str(small)})
    assert d["totals"]["totalTokens"] == 110


def test_cache_dir_from_env(small, tmp_path):
    run(
        "build",
        "--no-site",
        "--quiet",
        "--claude-dir",
        small,
        env={"CCSGEN_CACHE_DIR": str(tmp_path / "envcache")},
    )
    assert (tmp_path / "envcache" / "manifest.json").is_file()


def test_no_claude_dir_is_a_clear_error(tmp_path):
    r = run("build", "--no-site", "--cache-dir", tmp_path / "cache", ok=False)
    assert_clean_error(r, 2, "no claude config dir")
    r = run(
        "usage", "daily", "--claude-dir", tmp_path / "missing", "--cache-dir", tmp_path / "cache", ok=False
    )
    assert_clean_error(r, 2, "missing")


def test_malformed_prices_file_is_a_clean_error_for_build(small, tmp_path):
    pf = tmp_path / "prices.json"
    pf.write_text("{nope")
    r = run(
        "build",
        "--no-site",
        "--claude-dir",
        small,
        "--cache-dir",
        tmp_path / "cache",
        env={"CCSGEN_PRICES_FILE": str(pf)},
        ok=False,
    )
    assert_clean_error(r, 2, "price")


def test_build_leaves_the_claude_dir_byte_for_byte_untouched(tmp_path):
    half = F.dumps(F.make_assistant())[:50]
    root = F.make_claude_dir(
        tmp_path,
        {
            F.session_path(S): [F.make_user(), *F.make_streamed(3), b"{bad"],
            f"projects/{F.PROJECT}/{S}/subagents/agent-a0123456789abcdef.jsonl": [
                F.make_user(isSidechain=True)
            ],
            f"projects/{F.PROJECT}/{S}/subagents/agent-a0123456789abcdef.meta.json": {"agentType": "x"},
            f"projects/{F.PROJECT}/agent-1234abcd.jsonl": [F.make_assistant(isSidechain=True)],
            f"projects/{F.PROJECT}/{S2}.jsonl": b"",
            "projects/p/s/chat.jsonl": [F.make_assistant()],
            "history.jsonl": [F.make_history("x", 1)],
            f"tasks/{S}/1.json": F.make_task(),
            f"todos/{S}-agent-{S}.json": F.make_todos(("a", "pending")),
            "sessions/123.json": {"pid": 123, "sessionId": S},
        },
    )
    F.append_bytes(root / F.session_path(S), half)
    before = tree_state(root)
    cache = tmp_path / "cache"
    run("build", "--no-site", "--quiet", "--claude-dir", root, "--cache-dir", cache)
    F.append_bytes(root / "history.jsonl", b"")  # a no-op write must not matter either
    run("build", "--no-site", "--quiet", "--full", "--claude-dir", root, "--cache-dir", cache)
    for report in REPORTS:
        run("usage", report, "--json", "--claude-dir", root, "--cache-dir", cache)
    assert tree_state(root) == before


def test_build_of_the_corpus_leaves_it_untouched(corpus_dir, tmp_path):
    claude = corpus_dir / "claude"
    before = tree_state(claude)
    run("build", "--no-site", "--quiet", "--full", "--claude-dir", claude, "--cache-dir", tmp_path / "cache")
    assert tree_state(claude) == before


# ---------------------------------------------------------------- usage


@pytest.mark.parametrize("report", REPORTS)
def test_usage_json_has_ccusage_shape(corpus_cli, ccusage, report):
    claude, cache = corpus_cli
    got = run_json("usage", report, "--claude-dir", claude, "--cache-dir", cache)
    ref_name = "daily" if report == "weekly" else report
    want = ccusage[ref_name]
    list_key = {"session": "sessions"}.get(report, report)
    ref_list_key = {"session": "sessions"}.get(ref_name, ref_name)
    assert set(got) == {k.replace(ref_list_key, list_key) for k in want}
    rename = {"date": "week"} if report == "weekly" else {}
    assert set(got[list_key][0]) == {rename.get(k, k) for k in want[ref_list_key][0]}
    if report != "blocks":
        assert set(got["totals"]) == set(want["totals"])
        assert set(got[list_key][0]["modelBreakdowns"][0]) == set(want[ref_list_key][0]["modelBreakdowns"][0])
        assert got["totals"]["totalTokens"] == want["totals"]["totalTokens"]
    else:
        assert set(got["blocks"][0]["tokenCounts"]) == set(want["blocks"][0]["tokenCounts"])
        assert len(got["blocks"]) == len(want["blocks"])


@pytest.mark.parametrize(("since", "until"), [("2025-11-01", "2025-11-30"), ("20251101", "20251130")])
def test_usage_since_until(corpus_cli, ccusage, since, until):
    claude, cache = corpus_cli
    got = run_json(
        "usage", "daily", "--since", since, "--until", until, "--claude-dir", claude, "--cache-dir", cache
    )
    want = [d for d in ccusage["daily"]["daily"] if "2025-11-01" <= d["date"] <= "2025-11-30"]
    assert want, "the corpus has days in November 2025"
    assert [d["date"] for d in got["daily"]] == [d["date"] for d in want]
    assert [d["totalTokens"] for d in got["daily"]] == [d["totalTokens"] for d in want]
    assert got["totals"]["totalTokens"] == sum(d["totalTokens"] for d in want)
    assert got["totals"]["totalCost"] == pytest.approx(sum(d["totalCost"] for d in want), abs=0.01)
    m = run_json(
        "usage", "monthly", "--since", since, "--until", until, "--claude-dir", claude, "--cache-dir", cache
    )
    assert [x["month"] for x in m["monthly"]] == ["2025-11"]
    assert m["totals"]["totalTokens"] == got["totals"]["totalTokens"]


def test_usage_order_and_timezone(corpus_cli):
    claude, cache = corpus_cli
    asc = run_json("usage", "daily", "--claude-dir", claude, "--cache-dir", cache)
    desc = run_json("usage", "daily", "--order", "desc", "--claude-dir", claude, "--cache-dir", cache)
    assert [d["date"] for d in desc["daily"]] == [d["date"] for d in reversed(asc["daily"])]
    tokyo = run_json(
        "usage", "daily", "--timezone", "Asia/Tokyo", "--claude-dir", claude, "--cache-dir", cache
    )
    assert tokyo["totals"]["totalTokens"] == asc["totals"]["totalTokens"]
    assert [d["date"] for d in tokyo["daily"]] != [d["date"] for d in asc["daily"]]


@pytest.mark.parametrize("tz", ["Mars/Olympus_Mons", "UTC+25", "../../etc/passwd", ""])
def test_bad_timezone_is_exit_2_without_traceback(small, tmp_path, tz):
    r = run(
        "usage",
        "daily",
        "--json",
        "--timezone",
        tz,
        "--claude-dir",
        small,
        "--cache-dir",
        tmp_path / "c",
        ok=False,
    )
    assert_clean_error(r, 2, "invalid option")
    assert r.stdout.strip() == "" or not r.stdout.lstrip().startswith("{")


@pytest.mark.parametrize(
    "args", [("--since", "yesterday"), ("--until", "2025-13-45"), ("--order", "sideways")]
)
def test_bad_usage_options_are_exit_2(small, tmp_path, args):
    r = run("usage", "daily", *args, "--claude-dir", small, "--cache-dir", tmp_path / "c", ok=False)
    assert_clean_error(r, 2)


def test_usage_project_filter(small, tmp_path):
    d = run_json(
        "usage", "session", "--project", "-other", "--claude-dir", small, "--cache-dir", tmp_path / "c"
    )
    assert [r["sessionId"] for r in d["sessions"]] == [S2] and d["totals"]["totalTokens"] == 100
    r = run(
        "usage", "daily", "--project", "-", "--claude-dir", small, "--cache-dir", tmp_path / "c", ok=False
    )
    assert_clean_error(r, 1, "matches 2")
    r = run(
        "usage", "daily", "--project", "nope", "--claude-dir", small, "--cache-dir", tmp_path / "c", ok=False
    )
    assert_clean_error(r, 1, "not found")


@pytest.mark.parametrize("report", REPORTS)
def test_usage_tables_in_the_terminal(small, tmp_path, report):
    extra = () if report == "blocks" else ("--breakdown",)
    r = run("usage", report, *extra, "--claude-dir", small, "--cache-dir", tmp_path / "c", env=WIDE)
    # the models column shows short names; --breakdown rows the full ones
    assert "sonnet-4-5" in r.stdout and (report == "blocks" or F.MODEL in r.stdout)
    if report != "blocks":
        assert "Total" in r.stdout


def test_usage_of_an_empty_dir(tmp_path):
    root = F.make_claude_dir(tmp_path, {"projects": None})
    for report in REPORTS:
        d = run_json("usage", report, "--claude-dir", root, "--cache-dir", tmp_path / "c")
        key = {"session": "sessions"}.get(report, report)
        assert d[key] == []
        if report != "blocks":
            assert d["totals"]["totalTokens"] == 0


# ---------------------------------------------------------------- pricing


def test_pricing_json_and_table():
    d = run_json("pricing")
    assert d["source"] and d["date"] and d["overrides"] is None
    assert d["models"][F.MODEL]["input"] == 3e-6
    only = run_json("pricing", "--model", "opus")
    assert only["models"] and all("opus" in m for m in only["models"])
    text = run("pricing", "--model", "sonnet-4-5", env=WIDE).stdout
    assert "sonnet-4-5" in text and "3.00" in text and "15.00" in text  # USD per million tokens


def test_pricing_with_an_overrides_file(tmp_path):
    pf = tmp_path / "prices.json"
    pf.write_text(json.dumps({"models": {"claude-imaginary-9": {"input": 1e-6, "output": 2e-6}}}))
    d = run_json("pricing", env={"CCSGEN_PRICES_FILE": str(pf)})
    assert d["overrides"] == str(pf) and d["models"]["claude-imaginary-9"] == {"input": 1e-6, "output": 2e-6}
    assert "overrides from" in run("pricing", env={"CCSGEN_PRICES_FILE": str(pf)}).stdout


def test_pricing_with_a_malformed_overrides_file(tmp_path):
    pf = tmp_path / "prices.json"
    pf.write_text('{"models": {"m": {"input": "free"}}}')
    assert_clean_error(run("pricing", env={"CCSGEN_PRICES_FILE": str(pf)}, ok=False), 2, "price overrides")


# ---------------------------------------------------------------- demo, help, entry point


def test_demo_then_build(tmp_path):
    out = tmp_path / "demo-claude"
    r = run("demo", "--out", out, "--size", "300KB", "--seed", "7")
    assert str(out) in r.stdout
    assert (out / "projects").is_dir()
    d = run_json("build", "--no-site", "--claude-dir", out, "--cache-dir", tmp_path / "cache")
    assert d["files_read"] > 0 and d["lines_read"] > 0
    s = run_json("usage", "session", "--claude-dir", out, "--cache-dir", tmp_path / "cache")
    assert s["sessions"] and s["totals"]["totalTokens"] > 0
    assert_clean_error(run("demo", "--out", out, "--size", "300KB", ok=False), 2, "not empty")
    assert_clean_error(run("demo", "--out", tmp_path / "x", "--size", "lots", ok=False), 2)


@pytest.mark.parametrize(
    "cmd", [("build",), ("usage",), *[("usage", r) for r in REPORTS], ("demo",), ("pricing",), ("version",)]
)
def test_every_command_has_help(cmd):
    r = run(*cmd, "--help")
    assert "Usage" in r.stdout and len(r.stdout) > 100


def test_installed_entry_point(tmp_path):
    """The real ``ccsgen`` script: a usage error is exit 2 with one line on stderr, no traceback."""
    exe = shutil.which("ccsgen")
    cmd = [exe] if exe else [sys.executable, "-m", "ccsgen.cli"]
    env = {**os.environ, "NO_COLOR": "1"}
    r = subprocess.run(
        [*cmd, "usage", "daily", "--timezone", "Nowhere/Land", "--claude-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and "error" in r.stderr.lower() and r.stdout == ""
