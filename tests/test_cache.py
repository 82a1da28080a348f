"""Incremental cache (cache.py, issue §5): only new bytes are read; rewritten, truncated and deleted files are
handled; and whatever the history of builds, the tables equal those of a fresh full build."""

from __future__ import annotations

import os
import subprocess
import sys

import factories as F
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ccsgen import cache

S, S2 = F.SESSION, F.SESSION2
# columns that name where a row was read (file ids, line numbers, generated ids), not what it says
WHERE = ("file_id", "line_no", "uuid")


def canon(cat) -> dict[str, pl.DataFrame]:
    """The derived tables in a form comparable across builds."""
    resp = cat.responses.drop(WHERE).sort(
        ["session_id", "msg_id", "request_id", "timestamp"], nulls_last=True
    )
    sess = cat.snapshot.sessions.sort("session_id")
    tools = cat.tool_calls.drop(["file_id", "line_no"]).sort("tool_id")
    proj = cat.projects.sort("id")
    prompts = cat.prompts.drop(["file_id", "line_no"]).sort(["timestamp", "display"])
    return {"responses": resp, "sessions": sess, "tool_calls": tools, "projects": proj, "prompts": prompts}


def assert_same_as_fresh_build(root, tmp_path, cat):
    fresh = F.build_catalog(root, tmp_path / f"fresh-{os.urandom(4).hex()}")
    a, b = canon(cat), canon(fresh)
    for name in a:
        try:
            assert_frame_equal(a[name], b[name])
        except AssertionError as e:
            raise AssertionError(f"{name} differs from a fresh build: {e}") from None


@pytest.fixture
def claude(tmp_path):
    """A small Claude dir: one session with a streamed response and a tool call, one subagent, history."""
    tu = F.make_tool_use("Bash", {"command": "pytest"})
    return F.make_claude_dir(
        tmp_path,
        {
            F.session_path(S): [
                F.make_user("ZZFIRSTZZ"),
                *F.make_streamed(3),
                tu,
                F.make_tool_result(tu, "ok"),
                F.make_ai_title("Title"),
            ],
            f"projects/{F.PROJECT}/{S}/subagents/agent-a0123456789abcdef.jsonl": [
                F.make_user("sub", isSidechain=True),
                F.make_assistant(isSidechain=True, usage=F.usage(1, 2, 3, 4)),
            ],
            F.session_path(S2): [F.make_user("other", sessionId=S2), F.make_assistant(sessionId=S2)],
            "history.jsonl": [F.make_history("ZZFIRSTZZ", 1767225600000)],
        },
    )


def build(claude, tmp_path, **kw):
    return F.build_catalog(claude, tmp_path / "cache", **kw)


# ---------------------------------------------------------------- nothing changed


def test_nothing_changed_reads_nothing_and_derives_nothing(claude, tmp_path):
    first = build(claude, tmp_path)
    assert first.report.files_read == 4 and first.report.changed
    rep = build(claude, tmp_path).report
    assert (rep.files_read, rep.lines_read, rep.bytes_read) == (0, 0, 0)
    assert rep.files_unchanged == 4
    assert rep.changed is False
    assert "tables" not in rep.stages


def test_catalog_refresh_with_nothing_changed_keeps_the_snapshot(claude, tmp_path):
    cat = build(claude, tmp_path)
    snap = cat.snapshot
    rep = cat.refresh()
    assert rep.changed is False and cat.snapshot is snap


# ---------------------------------------------------------------- grown files


def test_append_reads_only_the_new_bytes(claude, tmp_path):
    build(claude, tmp_path)
    p = claude / F.session_path(S)
    n = F.append_jsonl(p, [F.make_user("ZZNEWZZ"), F.make_assistant(usage=F.usage(7, 8))])
    cat = build(claude, tmp_path)
    rep = cat.report
    assert rep.files_grown == 1 and rep.files_read == 1 and rep.files_unchanged == 3
    assert rep.bytes_read == n and rep.lines_read == 2
    assert rep.changed and rep.changed_sessions == [S]
    assert cat.session(S)["user_messages"] == 2
    assert_same_as_fresh_build(claude, tmp_path, cat)


def test_half_written_line_then_its_rest_is_read_exactly_once(claude, tmp_path):
    build(claude, tmp_path)
    p = claude / F.session_path(S)
    line = F.dumps(F.make_assistant("ZZHALFZZ", usage=F.usage(1000, 2000))) + b"\n"
    before = build(claude, tmp_path).session(S)
    size = p.stat().st_size
    F.append_bytes(p, line[:57])
    cat = build(claude, tmp_path)
    assert cache.load_manifest(tmp_path / "cache").files[str(p)].offset == size
    assert cat.report.bytes_read == 0 and cat.report.lines_read == 0 and cat.report.bad_lines == 0
    assert cat.report.changed is False
    assert cat.session(S)["responses"] == before["responses"]
    F.append_bytes(p, line[57:])
    cat = build(claude, tmp_path)
    assert cat.report.bytes_read == len(line) and cat.report.lines_read == 1 and cat.report.bad_lines == 0
    s = cat.session(S)
    assert s["responses"] == before["responses"] + 1
    assert s["input_tokens"] == before["input_tokens"] + 1000
    assert (
        cat.entries(S).filter(pl.col("uuid").is_not_null()).get_column("text").to_list().count("ZZHALFZZ")
        == 1
    )
    assert build(claude, tmp_path).report.bytes_read == 0
    assert_same_as_fresh_build(claude, tmp_path, cat)


def test_streamed_response_split_across_two_builds_is_one_response(claude, tmp_path):
    build(claude, tmp_path)
    p = claude / F.session_path(S)
    lines = F.make_streamed(3, usage=F.usage(5, 300, 0, 0), partial_output=9)
    F.append_jsonl(p, lines[:1])
    assert build(claude, tmp_path).responses.filter(pl.col("msg_id") == lines[0]["message"]["id"]).get_column(
        "output_tokens"
    ).to_list() == [9]
    F.append_jsonl(p, lines[1:])
    cat = build(claude, tmp_path)
    assert cat.responses.filter(pl.col("msg_id") == lines[0]["message"]["id"]).get_column(
        "output_tokens"
    ).to_list() == [300]
    assert_same_as_fresh_build(claude, tmp_path, cat)


def test_history_append(claude, tmp_path):
    build(claude, tmp_path)
    F.append_jsonl(claude / "history.jsonl", [F.make_history("ZZSECONDZZ", 1767225700000)])
    cat = build(claude, tmp_path)
    assert cat.prompts.get_column("display").to_list() == ["ZZFIRSTZZ", "ZZSECONDZZ"]
    assert_same_as_fresh_build(claude, tmp_path, cat)


def test_many_incremental_builds_compact_segments_and_stay_equal(claude, tmp_path):
    p = claude / F.session_path(S)
    build(claude, tmp_path)
    for i in range(cache.MAX_SEGMENTS + 3):
        F.append_jsonl(p, [F.make_user(f"prompt {i}"), F.make_assistant(usage=F.usage(i, i))])
        cat = build(claude, tmp_path)
    m = cache.load_manifest(tmp_path / "cache")
    assert len(m.segments) <= cache.MAX_SEGMENTS
    assert cat.session(S)["user_messages"] == 1 + cache.MAX_SEGMENTS + 3
    assert_same_as_fresh_build(claude, tmp_path, cat)


def test_line_numbers_after_an_append_match_a_fresh_read(claude, tmp_path):
    build(claude, tmp_path)
    p = claude / F.session_path(S)
    n_before = p.read_bytes().count(b"\n")
    F.append_bytes(p, b"{broken\n")
    cat = build(claude, tmp_path)
    assert cat.issues().get_column("line_no").to_list() == [n_before + 1]
    fresh = F.build_catalog(claude, tmp_path / "fresh")
    assert fresh.issues().get_column("line_no").to_list() == [n_before + 1]


# ---------------------------------------------------------------- shrunk, rewritten, replaced, deleted, new


def test_truncated_file_is_read_again(claude, tmp_path):
    build(claude, tmp_path)
    p = claude / F.session_path(S)
    data = p.read_bytes()
    p.write_bytes(data[: data.index(b"\n") + 1])  # keep only the first line
    cat = build(claude, tmp_path)
    assert cat.report.files_rewritten == 1
    s = cat.session(S)
    assert s["user_messages"] == 1 and s["tool_calls"] == 0
    assert s["responses"] == 1  # the subagent's
    assert_same_as_fresh_build(claude, tmp_path, cat)


def test_rewritten_head_is_read_again(claude, tmp_path):
    build(claude, tmp_path)
    p = claude / F.session_path(S)
    F.write_jsonl(
        p,
        [
            F.make_user("ZZREWRITTENZZ"),
            F.make_assistant(usage=F.usage(1, 1)),
            F.make_assistant(usage=F.usage(2, 2)),
            F.make_assistant(usage=F.usage(3, 3)),
        ],
    )
    cat = build(claude, tmp_path)
    assert cat.report.files_rewritten == 1 and cat.report.files_grown == 0
    s = cat.session(S)
    assert s["first_prompt"] == "ZZREWRITTENZZ" and s["responses"] == 4 and s["tool_calls"] == 0
    assert_same_as_fresh_build(claude, tmp_path, cat)


def test_replaced_file_new_inode_is_read_again(claude, tmp_path):
    build(claude, tmp_path)
    p = claude / F.session_path(S2)
    data = p.read_bytes()
    tmp = p.with_suffix(".tmp")
    tmp.write_bytes(data + F.jsonl_bytes([F.make_assistant(sessionId=S2)]))
    os.replace(tmp, p)
    cat = build(claude, tmp_path)
    assert cat.report.files_rewritten == 1
    assert cat.session(S2)["responses"] == 2
    assert_same_as_fresh_build(claude, tmp_path, cat)


def test_truncated_then_regrown_before_the_next_build(tmp_path):
    long_prompt = "ZZHEADZZ " + "x" * 2000  # the first line alone covers the hashed head
    root = F.make_claude_dir(
        tmp_path, {F.session_path(S): [F.make_user(long_prompt), F.make_assistant("ZZOLDZZ")]}
    )
    F.build_catalog(root, tmp_path / "cache")
    p = root / F.session_path(S)
    first = p.read_bytes().split(b"\n")[0] + b"\n"
    p.write_bytes(first + F.jsonl_bytes([F.make_assistant("ZZNEW " + "y" * 3000)]))
    cat = F.build_catalog(root, tmp_path / "cache")
    texts = cat.entries(S).get_column("text").to_list()
    assert not any("ZZOLDZZ" in t for t in texts)
    assert cat.report.bad_lines == 0
    assert_same_as_fresh_build(root, tmp_path, cat)


def test_duplicate_response_attribution_does_not_depend_on_build_history(tmp_path):
    a = F.make_assistant(usage=F.usage(10, 20), timestamp=F.at(0))
    root = F.make_claude_dir(
        tmp_path,
        {
            F.session_path(S): [F.make_user("original", timestamp=F.at(0)), a],
            F.session_path(S2): [
                {**a, "sessionId": S2},
                F.make_user("resumed", sessionId=S2, timestamp=F.at(10)),
            ],
        },
    )
    assert F.build_catalog(root, tmp_path / "cache").responses.height == 1
    p = root / F.session_path(S)
    tmp = p.with_suffix(".tmp")
    tmp.write_bytes(p.read_bytes())
    os.replace(tmp, p)  # same bytes, new inode: read again
    cat = F.build_catalog(root, tmp_path / "cache")
    assert cat.report.files_rewritten == 1
    assert_same_as_fresh_build(root, tmp_path, cat)


def test_deleted_file_drops_its_rows(claude, tmp_path):
    before = build(claude, tmp_path)
    sub_tokens = 1 + 2 + 3 + 4
    assert before.session(S)["total_tokens"] > sub_tokens
    (claude / f"projects/{F.PROJECT}/{S}/subagents/agent-a0123456789abcdef.jsonl").unlink()
    cat = build(claude, tmp_path)
    assert cat.report.files_deleted == 1 and cat.report.changed
    assert cat.session(S)["total_tokens"] == before.session(S)["total_tokens"] - sub_tokens
    assert cat.session(S)["subagents"] == 0
    (claude / F.session_path(S2)).unlink()
    cat = build(claude, tmp_path)
    assert S2 not in cat.sessions.get_column("session_id").to_list()
    assert S2 not in cat.responses.get_column("session_id").to_list()
    assert_same_as_fresh_build(claude, tmp_path, cat)


def test_new_file_is_read(claude, tmp_path):
    build(claude, tmp_path)
    s3 = "5e551000-0000-4000-8000-000000000003"
    F.write_jsonl(claude / F.session_path(s3, "-new-project"), [F.make_user("ZZNEWSESSIONZZ", sessionId=s3)])
    cat = build(claude, tmp_path)
    assert cat.report.files_new == 1 and cat.report.files_read == 1 and cat.report.files_unchanged == 4
    assert cat.session(s3)["title"] == "ZZNEWSESSIONZZ"
    assert "-new-project" in cat.projects.get_column("id").to_list()
    assert_same_as_fresh_build(claude, tmp_path, cat)


def test_full_rebuild_reads_everything_again(claude, tmp_path):
    build(claude, tmp_path)
    F.append_jsonl(claude / F.session_path(S), [F.make_user("more")])
    build(claude, tmp_path)
    cat = build(claude, tmp_path, full=True)
    assert cat.report.files_read == 4 and cat.report.files_new == 4 and cat.report.changed
    assert_same_as_fresh_build(claude, tmp_path, cat)


def test_unreadable_manifest_means_a_fresh_build(claude, tmp_path):
    build(claude, tmp_path)
    (tmp_path / "cache" / "manifest.json").write_text("{garbage")
    cat = build(claude, tmp_path)
    assert cat.report.files_read == 4
    assert_same_as_fresh_build(claude, tmp_path, cat)


def test_task_and_todo_changes_rederive_without_reading_logs(claude, tmp_path):
    build(claude, tmp_path)
    F.make_claude_dir(tmp_path, {f"tasks/{S}/1.json": F.make_task(subject="ZZTASKZZ")})
    cat = build(claude, tmp_path)
    assert cat.report.files_read == 0 and cat.report.changed
    assert cat.tasks.get_column("subject").to_list() == ["ZZTASKZZ"]
    assert build(claude, tmp_path).report.changed is False


_BUILD_JSON = (
    "import json, sys; from pathlib import Path; sys.path.insert(0, {tests!r}); import factories as F; "
    "r = F.build_catalog(Path({root!r}), Path({cache!r})).report; print(json.dumps([r.changed, r.files_read]))"
)


def test_nothing_changed_across_processes(claude, tmp_path):
    """A second ``ccsgen build`` (a new process, another str-hash seed) must not re-derive either."""
    F.make_claude_dir(
        tmp_path,
        {f"tasks/{S}/1.json": F.make_task(), f"todos/{S}-agent-{S}.json": F.make_todos(("a", "pending"))},
    )
    code = _BUILD_JSON.format(
        tests=os.path.dirname(__file__), root=str(claude), cache=str(tmp_path / "cache")
    )
    out = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        out.append(r.stdout.strip())
    assert out == ["[true, 4]", "[false, 0]"]
