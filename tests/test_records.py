"""The reader (records.py): bytes of a JSONL log -> columns; every bad line -> a ParseIssue, never a crash.

Unit tests call ``records.read_transcript`` on bytes; the end-to-end ones build a Claude dir and check that
the counts reach the BuildReport.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import factories as F
import pytest

from ccsgen import records

DATA = Path(__file__).parent / "data"


def read(lines, *, kind="main", session_hint=F.SESSION, agent_hint="", start_line=0, final_newline=True):
    """Read lines (dicts or raw str/bytes) as one file would be read from its start."""
    data = F.jsonl_bytes(lines, final_newline=final_newline)
    return records.read_transcript(
        data,
        path="x.jsonl",
        file_id=1,
        project=F.PROJECT,
        session_hint=session_hint,
        agent_hint=agent_hint,
        kind=kind,
        start_line=start_line,
    )


def issues(ch) -> list[tuple[int, str]]:
    return [(i.line, i.reason) for i in ch.issues]


# ---------------------------------------------------------------- good lines


def test_user_and_assistant_lines_become_entries_with_snake_case_columns():
    u = F.make_user("ZZPROMPTZZ", gitBranch="feat", slug="brave-red-fox", promptId="p-1")
    a = F.make_assistant("ZZANSWERZZ", parentUuid=u["uuid"])
    ch = read([u, a])
    e = ch.entries
    assert e["uuid"] == [u["uuid"], a["uuid"]]
    assert e["parent_uuid"] == [None, u["uuid"]]
    assert e["kind"] == ["user", "assistant"]
    assert e["text"] == ["ZZPROMPTZZ", "ZZANSWERZZ"]
    assert e["user_kind"] == ["prompt", None]
    assert e["session_id"] == [F.SESSION, F.SESSION]
    assert e["cwd"] == [F.CWD, F.CWD]
    assert e["git_branch"][0] == "feat" and e["slug"][0] == "brave-red-fox" and e["prompt_id"][0] == "p-1"
    assert e["model"] == [None, F.MODEL]
    assert e["line_no"] == [1, 2]
    assert not ch.issues
    assert ch.lines == 2
    # no camelCase leaks out of the reader
    for table in (ch.entries, ch.usage, ch.blocks, ch.meta):
        assert all(c == c.lower() for c in table), table.keys()


def test_usage_columns_and_cache_write_split():
    a = F.make_assistant(
        usage=F.usage(input=3, output=40, cache_read=500, c5m=100, c1h=200, speed="fast"), costUSD=0.25
    )
    u = read([a]).usage
    assert u["input_tokens"] == [3] and u["output_tokens"] == [40] and u["cache_read_tokens"] == [500]
    assert u["cache_creation_tokens"] == [300]
    assert u["cache_5m_tokens"] == [100] and u["cache_1h_tokens"] == [200]
    assert u["speed"] == ["fast"] and u["cost_usd_line"] == [0.25]
    assert u["msg_id"] == [a["message"]["id"]] and u["request_id"] == [a["requestId"]]


def test_cache_writes_without_split_count_as_5_minute_writes():
    u = read([F.make_assistant(usage=F.usage(cache_creation=700))]).usage
    assert u["cache_5m_tokens"] == [700] and u["cache_1h_tokens"] == [0]


def test_blocks_of_every_kind():
    use = F.tool_use_block("Bash", {"command": "make   test"}, tool_id="toolu_ZZ1")
    tu = F.make_assistant(content=[F.thinking_block("hmm"), F.text_block("ok"), use])
    tr = F.make_tool_result("toolu_ZZ1", [{"type": "text", "text": "12345"}, F.image_block()], is_error=True)
    img = F.make_user([F.text_block("see [Image #1]"), F.image_block("QUJD")])
    ch = read([tu, tr, img])
    b = ch.blocks
    assert b["btype"] == ["thinking", "text", "tool_use", "tool_result", "text", "image"]
    assert b["text"][0] == "hmm"
    assert b["tool_id"][2] == "toolu_ZZ1" and b["tool_name"][2] == "Bash" and b["summary"][2] == "make test"
    assert b["tool_id"][3] == "toolu_ZZ1" and b["is_error"][3] is True and b["size"][3] == 5
    assert b["data"][5] == "QUJD" and b["media_type"][5] == "image/png"
    e = ch.entries
    assert e["has_thinking"] == [True, False, False]
    assert e["has_tool_use"] == [True, False, False]
    assert e["has_tool_result"] == [False, True, False]
    assert e["has_image"] == [False, True, True]
    assert e["user_kind"] == [None, "tool_result", "prompt"]


@pytest.mark.parametrize(
    ("text", "overrides", "kind"),
    [
        ("<command-name>/clear</command-name>", {}, "command"),
        ("<bash-input>ls</bash-input>", {}, "bash"),
        ("<bash-stdout>x</bash-stdout>", {}, "bash_output"),
        ("<local-command-stdout>x</local-command-stdout>", {}, "command_output"),
        ("[Request interrupted by user]", {}, "interrupt"),
        ("skill body", {"isMeta": True}, "meta"),
        ("<system-reminder>x</system-reminder>", {}, "meta"),
        (
            "This session is being continued from a previous conversation that ran out of context.",
            {"isCompactSummary": True, "isVisibleInTranscriptOnly": True},
            "compact_summary",
        ),
        ("<task-notification>done</task-notification>", {}, "task_notification"),
        ("Warmup", {"isSidechain": True}, "warmup"),
        ("a real question", {}, "prompt"),
        # the VS Code extension sends the open file / selection in front of the prompt, in the same message
        ("<ide_opened_file>The user opened a.py</ide_opened_file>", {}, "meta"),
        ("<ide_selection>lines 1 to 2\nx = 1</ide_selection>\nWhy is x 1?", {}, "prompt"),
        ("<ide_opened_file>a</ide_opened_file>\n<system-reminder>r</system-reminder> fix it", {}, "prompt"),
        ("<ide_opened_file>a</ide_opened_file><command-name>/clear</command-name>", {}, "command"),
        ("<ide_selection>never closed… and a question?", {}, "meta"),
        ("skill body <ide_selection>x</ide_selection>", {}, "prompt"),
    ],
)
def test_user_line_kinds(text, overrides, kind):
    ch = read([F.make_user(text, **overrides)])
    assert ch.entries["user_kind"] == [kind]


def test_system_line_text_and_subtype():
    ch = read(
        [
            F.make_system(
                "Conversation compacted",
                subtype="compact_boundary",
                logicalParentUuid="lp-1",
                compactMetadata={"trigger": "auto", "preTokens": 1},
            )
        ]
    )
    e = ch.entries
    assert e["kind"] == ["system"] and e["subtype"] == ["compact_boundary"]
    assert e["text"] == ["Conversation compacted"] and e["logical_parent_uuid"] == ["lp-1"]


def test_metadata_lines_go_to_meta_not_entries():
    ch = read(
        [
            F.make_ai_title("T1"),
            F.make_custom_title("T2"),
            F.make_summary("T3", leaf_uuid="leaf-1"),
            {"type": "agent-name", "agentName": "T4", "sessionId": F.SESSION},
        ]
    )
    assert ch.entries["uuid"] == []
    assert ch.meta["kind"] == ["ai-title", "custom-title", "summary", "agent-name"]
    assert ch.meta["value"] == ["T1", "T2", "T3", "T4"]
    assert ch.meta["leaf_uuid"][2] == "leaf-1"


def test_known_noise_types_are_skipped_silently():
    noise = [
        F.make_agent_progress(F.make_assistant()),
        {"type": "file-history-snapshot", "messageId": "m", "isSnapshotUpdate": False, "snapshot": {}},
        {"type": "permission-mode", "permissionMode": "default", "sessionId": F.SESSION},
        {"type": "last-prompt", "sessionId": F.SESSION, "lastPrompt": "x"},
        {"type": "queue-operation", "operation": "enqueue", "content": "x", "sessionId": F.SESSION},
        F.envelope("attachment", attachment={"type": "hook_success"}),
    ]
    ch = read(noise)
    assert ch.lines == len(noise)
    assert not ch.issues and not ch.unknown_types
    assert ch.entries["uuid"] == [] and ch.usage["uuid"] == []


# ---------------------------------------------------------------- bad lines


def test_blank_lines_are_skipped_and_not_counted():
    ch = read([b"", b"   ", b"\t", F.make_user(), b""])
    assert ch.lines == 1 and not ch.issues
    assert ch.entries["line_no"] == [4]


def test_invalid_json_is_a_parse_issue_with_path_and_line():
    ch = read([F.make_user(), b'{"type": "user", "message": {', F.make_assistant()])
    assert issues(ch) == [(2, "invalid json")]
    assert ch.issues[0].path == "x.jsonl"
    assert len(ch.entries["uuid"]) == 2


@pytest.mark.parametrize("raw", [b"42", b"[1]", b'"str"', b"null", b"true", b"3.5"])
def test_non_object_json_is_a_parse_issue(raw):
    ch = read([raw, F.make_user()])
    assert issues(ch) == [(1, "not an object")]
    assert len(ch.entries["uuid"]) == 1


def test_unknown_types_are_counted_not_fatal():
    ch = read(
        [
            {"type": "brand-new-thing", "uuid": "u1"},
            {"type": "brand-new-thing"},
            {"type": "other-new"},
            F.make_user(),
        ]
    )
    assert dict(ch.unknown_types) == {"brand-new-thing": 2, "other-new": 1}
    assert not ch.issues
    assert len(ch.entries["uuid"]) == 1


def test_invalid_utf8_is_recovered_and_reported():
    good = F.dumps(F.make_user("caf\u00e9 ZZUTFZZ"))
    bad = good.replace("caf\u00e9".encode(), b"caf\xe9\xff")
    ch = read([bad, F.make_user()])
    assert issues(ch) == [(1, "invalid utf-8 (recovered)")]
    assert "ZZUTFZZ" in ch.entries["text"][0] and "\ufffd" in ch.entries["text"][0]
    assert len(ch.entries["uuid"]) == 2


def test_invalid_utf8_in_a_line_that_is_not_json_either():
    ch = read([b'{"type":"user","message":\xff', F.make_user()])
    assert [i.line for i in ch.issues] == [1]
    assert len(ch.entries["uuid"]) == 1


def test_lone_surrogate_escape_keeps_the_line():
    a = F.dumps(F.make_assistant("ZZSURR_PLACEHOLDER", usage=F.usage(11, 22)))
    a = a.replace(b"ZZSURR_PLACEHOLDER", b"cut emoji \\ud83d ZZSURRZZ")
    assert json.loads(a)["message"]["content"][0]["text"].startswith("cut emoji \ud83d")
    ch = read([a])
    assert ch.usage["input_tokens"] == [11] and ch.usage["output_tokens"] == [22]
    assert "ZZSURRZZ" in ch.entries["text"][0]


def test_huge_line_with_a_base64_image(tmp_path):
    data = base64.b64encode(b"\x89PNG" + b"\0" * (8 * 1024 * 1024)).decode()  # ~11 MB of base64
    big = F.make_user([F.text_block("ZZBIGZZ"), F.image_block(data)])
    ch = read([F.make_user(), big, F.make_assistant()])
    assert len(F.dumps(big)) > 10 * 1024 * 1024
    assert not ch.issues
    assert ch.entries["has_image"] == [False, True, False]
    assert ch.blocks["size"][1] == len(data)


def test_type_less_line_with_usage_is_counted():
    """ccusage counts any line with message.usage (ccusage's own fixtures have no ``type``)."""
    a = F.make_assistant(type=F.DROP, uuid=F.DROP, usage=F.usage(input=11, output=22))
    ch = read([a])
    assert ch.usage["input_tokens"] == [11] and ch.usage["output_tokens"] == [22]
    assert ch.entries["kind"] == ["assistant"]
    assert not ch.issues


def test_type_less_line_without_message_is_a_parse_issue():
    ch = read([{"uuid": "u1", "timestamp": F.at()}, {}])
    assert issues(ch) == [(1, "no type"), (2, "no type")]


def test_odd_field_types_are_tolerated():
    """A field of the wrong type is dropped (reported), the rest of the line is kept."""
    lines = [
        F.make_user("ZZINTTSZZ", timestamp=1767225600000),
        F.make_assistant("ZZODDZZ", isSidechain="yes", cwd=3, version=2.1, usage=F.usage(input=5, output=6)),
        F.make_user(message="error"),  # edge_cases.jsonl: message as a bare string
        F.make_user(message={"role": "user", "content": 5}),
        F.make_user(["stray string", 7, F.text_block("ZZKEPTZZ")]),
    ]
    ch = read(lines)
    assert len(ch.entries["uuid"]) == 5
    assert ch.entries["text"][0] == "ZZINTTSZZ" and ch.entries["timestamp"][0] is None
    assert ch.entries["text"][1] == "ZZODDZZ" and ch.entries["cwd"][1] is None
    assert ch.usage["input_tokens"] == [5] and ch.usage["output_tokens"] == [6]
    assert ch.entries["text"][4] == "ZZKEPTZZ"
    assert [i.line for i in ch.issues] == [1, 2, 3, 4, 5]
    assert all(i.reason.startswith("odd field type") for i in ch.issues)
    assert "$.timestamp" in ch.issues[0].reason


def test_odd_types_inside_usage_do_not_lose_the_response():
    a = F.make_assistant(usage={"input_tokens": None, "output_tokens": 9, "cache_read_input_tokens": "x"})
    ch = read([a])
    assert ch.usage["output_tokens"] == [9] and ch.usage["input_tokens"] == [0]


@pytest.mark.parametrize(
    "drop",
    [
        "uuid",
        "parentUuid",
        "sessionId",
        "timestamp",
        "cwd",
        "version",
        "gitBranch",
        "isSidechain",
        "userType",
        "requestId",
        "message.id",
        "message.model",
        "message.usage",
        "message.content",
        "message.role",
        "message.stop_reason",
    ],
)
def test_every_field_is_optional(drop):
    a = F.make_assistant("ZZOPTZZ")
    if "." in drop:
        del a["message"][drop.split(".")[1]]
    else:
        del a[drop]
    ch = read([a], session_hint="")
    assert not ch.issues
    assert ch.entries["kind"] == ["assistant"]


def test_minimal_lines():
    ch = read([{"type": "user"}, {"type": "assistant"}, {"type": "system"}, {"type": "user", "message": {}}])
    assert not ch.issues
    assert ch.entries["kind"] == ["user", "assistant", "system", "user"]
    # a line without uuid still gets a stable id
    assert all(ch.entries["uuid"])


def test_synthetic_model_has_no_model_and_no_usage():
    a = F.make_assistant("API Error: 500", model="<synthetic>", usage=F.usage(0, 0), isApiErrorMessage=True)
    ch = read([a])
    assert ch.usage["uuid"] == []
    assert ch.entries["model"] == [None] and ch.entries["is_api_error"] == [True]


def test_subagent_files_are_sidechains_of_the_hinted_session():
    line = F.make_assistant(isSidechain=False, sessionId="something-else")
    ch = read([line], kind="subagent", session_hint=F.SESSION, agent_hint="a0123456789abcdef")
    assert ch.entries["session_id"] == [F.SESSION]
    assert ch.entries["is_sidechain"] == [True]
    assert ch.entries["agent_id"] == ["a0123456789abcdef"]


def test_legacy_agent_files_take_the_session_from_their_lines():
    line = F.make_assistant(isSidechain=True, sessionId=F.SESSION2, agentId="1234abcd")
    ch = read([line], kind="legacy_agent", session_hint="", agent_hint="1234abcd")
    assert ch.entries["session_id"] == [F.SESSION2] and ch.usage["session_id"] == [F.SESSION2]
    assert ch.entries["agent_id"] == ["1234abcd"]


def test_start_line_continues_numbering():
    ch = read([b"{bad", F.make_user()], start_line=10)
    assert issues(ch) == [(11, "invalid json")]
    assert ch.entries["line_no"] == [12]


# ---------------------------------------------------------------- the last line


def test_complete_part_stops_before_a_half_written_line():
    whole = F.jsonl_bytes([F.make_user(), F.make_assistant()])
    half = F.dumps(F.make_assistant())[:40]
    assert records.complete_part(whole + half) == len(whole)
    assert records.complete_part(whole) == len(whole)


def test_complete_part_accepts_a_final_line_without_newline_when_it_is_whole_json():
    data = F.jsonl_bytes([F.make_user(), F.make_assistant()], final_newline=False)
    assert records.complete_part(data) == len(data)


def test_complete_part_of_nothing():
    assert records.complete_part(b"") == 0
    assert records.complete_part(b'{"type":') == 0


# ---------------------------------------------------------------- history, json files


def test_history_lines():
    ch = records.read_history(
        F.jsonl_bytes(
            [
                F.make_history(
                    "fix it", 1767225600000, pastedContents={"1": {"id": 1, "type": "text", "content": "x"}}
                ),
                F.make_history("/clear", 1767225601000, session=None),
                b"{oops",
                b"[1]",
                F.make_history("odd ts", 1, timestamp="yesterday"),
            ]
        ),
        path="history.jsonl",
        file_id=1,
    )
    h = ch.history
    assert h["display"] == ["fix it", "/clear", "odd ts"]
    assert h["timestamp_ms"] == [1767225600000, 1767225601000, None]
    assert h["session_id"] == [F.SESSION, None, F.SESSION]
    assert h["pasted"] == [1, 0, 0]
    assert issues(ch) == [(3, "invalid json"), (4, "not an object")]


def test_history_with_invalid_utf8():
    ch = records.read_history(
        b'{"display":"caf\xe9 ZZH","timestamp":1}\n' + F.jsonl_bytes([F.make_history("ok", 2)]),
        path="history.jsonl",
        file_id=1,
    )
    assert ch.history["display"][1] == "ok"
    assert "ZZH" in ch.history["display"][0]


def test_history_with_odd_field_types():
    ch = records.read_history(
        F.jsonl_bytes(
            [{"display": 5, "timestamp": 1}, {"display": "x", "sessionId": 7}, F.make_history("ok", 2)]
        ),
        path="history.jsonl",
        file_id=1,
    )
    assert ch.history["display"][-1] == "ok"
    assert [i.line for i in ch.issues] == [1, 2]


def test_json_file_with_invalid_utf8(tmp_path):
    p = tmp_path / "t.json"
    p.write_bytes(b'{"subject": "caf\xe9"}')
    obj, issue = records.read_json_file(p)
    assert issue is None and obj["subject"].startswith("caf")


def test_json_file_errors(tmp_path):
    p = tmp_path / "t.json"
    p.write_text("{nope")
    obj, issue = records.read_json_file(p)
    assert obj is None and issue.reason == "invalid json" and issue.path == str(p)
    obj, issue = records.read_json_file(tmp_path / "missing.json")
    assert obj is None and issue.reason.startswith("unreadable")


# ---------------------------------------------------------------- end to end: counts reach the BuildReport


def test_fixture_file_bad_lines_reach_the_build_report(tmp_path):
    """tests/data/malformed.jsonl (see tests/data/README.md) as a session file."""
    root = F.make_claude_dir(tmp_path, {F.session_path(): (DATA / "malformed.jsonl").read_bytes()})
    cat = F.build_catalog(root, tmp_path / "cache")
    rep = cat.report
    assert rep.bad_by_reason == {
        "invalid json": 1,
        "not an object": 3,
        "no type": 1,
        "odd field type": 1,
        "invalid utf-8 (recovered)": 1,
    }
    assert rep.bad_lines == 7
    assert rep.unknown_types == {"zz-future-type": 1}
    got = {(i["line_no"], i["reason"].split(":")[0]) for i in cat.issues().iter_rows(named=True)}
    assert got == {
        (3, "invalid json"),
        (4, "not an object"),
        (5, "not an object"),
        (6, "not an object"),
        (8, "no type"),
        (9, "odd field type"),
        (10, "invalid utf-8 (recovered)"),
    }
    assert all(p.endswith(F.session_path().split("/")[-1]) for p in cat.issues().get_column("path"))
    # the good lines made it: 2 prompts, one response (the half-written last line is not read yet)
    s = cat.session(F.SESSION)
    assert s["user_messages"] == 3 and s["responses"] == 1
    assert rep.lines_read == 10


def test_a_last_line_left_unfinished_is_reported_once_its_file_is_quiet(tmp_path):
    import os
    import time

    from ccsgen.build import UNTERMINATED, UNTERMINATED_AFTER_SECONDS

    half = json.dumps(F.make_user("ZZFINISHEDZZ"))
    root = F.make_claude_dir(tmp_path, {
        F.session_path(): [F.make_user("first")],
        F.session_path(F.SESSION2): [F.make_user("cr", sessionId=F.SESSION2)],
    })
    path = root / F.session_path()
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(half[:40])  # a writer died mid-line
    cr = root / F.session_path(F.SESSION2)  # lines ending in CR alone: no complete line at all
    cr.write_bytes(cr.read_bytes().rstrip(b"\n") + b"\r" + json.dumps(F.make_user("x", sessionId=F.SESSION2)).encode()
                   + b"\r")
    rep = F.build_catalog(root, tmp_path / "cache").report
    assert UNTERMINATED not in rep.bad_by_reason  # being written, as far as anyone can tell
    old = time.time() - UNTERMINATED_AFTER_SECONDS - 60
    for p in (path, cr):
        os.utime(p, (old, old))
    rep = F.build_catalog(root, tmp_path / "cache").report
    assert rep.bad_by_reason[UNTERMINATED] == 2 and rep.bad_lines >= 2
    with open(path, "a", encoding="utf-8") as fh:  # the writer came back and finished it
        fh.write(half[40:] + "\n")
    os.utime(cr, (old, old))
    cat = F.build_catalog(root, tmp_path / "cache")
    assert cat.report.bad_by_reason.get(UNTERMINATED) == 1  # only the CR file now
    assert cat.session(F.SESSION)["user_messages"] == 2


def test_bad_lines_stay_in_the_report_of_a_later_unchanged_build(tmp_path):
    root = F.make_claude_dir(
        tmp_path, {F.session_path(): [b"{bad", b"42", {"type": "zz-new"}, F.make_user()]}
    )
    F.build_catalog(root, tmp_path / "cache")
    rep = F.build_catalog(root, tmp_path / "cache").report
    assert not rep.changed
    assert rep.bad_by_reason == {"invalid json": 1, "not an object": 1} and rep.bad_lines == 2
    assert rep.unknown_types == {"zz-new": 1}


def test_a_file_of_garbage_never_stops_the_build(tmp_path):
    root = F.make_claude_dir(
        tmp_path,
        {
            F.session_path(): bytes(range(256)) * 64,
            F.session_path(F.SESSION2): [F.make_user("ZZSTILLZZ", sessionId=F.SESSION2)],
        },
    )
    cat = F.build_catalog(root, tmp_path / "cache")
    assert cat.report.bad_lines > 0
    assert cat.session(F.SESSION2)["title"] == "ZZSTILLZZ"


def test_the_fixture_file_is_what_the_readme_says():
    raw = (DATA / "malformed.jsonl").read_bytes()
    lines = raw.split(b"\n")
    assert not raw.endswith(b"\n")  # ends with a half-written line
    with pytest.raises(ValueError):
        json.loads(lines[-1])
