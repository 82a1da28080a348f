"""Q&A pairs (ccsgen/qa.py): the extraction rules on fixture conversations, and the list/get/stats API."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from factories import (
    make_assistant,
    make_tool_result,
    make_tool_use,
    make_user,
    write_jsonl,
)

from ccsgen import qa, search
from ccsgen.catalog import Catalog
from ccsgen.config import Config

PROJ, PROJ2 = "-home-user-qa", "-home-user-other"
OPUS = "claude-opus-4-5-20251101"


def sid(n: int) -> str:
    return f"0a0a0a0a-0000-4000-8000-{n:012d}"


def _t(day: int, minute: int) -> str:
    t = dt.datetime(2026, 2, day, 9, 0, tzinfo=dt.UTC) + dt.timedelta(minutes=minute)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


LONG = "Clear the build cache with `rm -rf build/` and rebuild; the stale object files cause the link error you see."


def conv(n: int, day: int, *steps) -> list[dict]:
    """Lines of session ``n``: each step is ("u", text) / ("a", text) / ("tool", name, result, is_error) /
    ("int",) / ("api",) / ("meta", text) / ("cmd", name); timestamps one minute apart on ``day``."""
    kw = {"sessionId": sid(n), "cwd": "/home/user/qa"}
    out: list[dict] = []
    for i, st in enumerate(steps):
        ts = _t(day, i)
        kind = st[0]
        if kind == "u":
            out.append(make_user(st[1], timestamp=ts, **kw))
        elif kind == "a":
            out.append(make_assistant(st[1], model=OPUS, timestamp=ts, **kw))
        elif kind == "tool":
            tu = make_tool_use(st[1], {"command": "run"}, timestamp=ts, **kw)
            out.append(tu)
            out.append(make_tool_result(tu, st[2], is_error=st[3], timestamp=_t(day, i) [:-4] + "500Z", **kw))
        elif kind == "int":
            out.append(make_user("[Request interrupted by user for tool use]", timestamp=ts, **kw))
        elif kind == "api":
            out.append(make_assistant("API Error: 500 overloaded", model="<synthetic>", isApiErrorMessage=True,
                                      timestamp=ts, **kw))
        elif kind == "meta":
            out.append(make_user(st[1], isMeta=True, timestamp=ts, **kw))
        elif kind == "cmd":
            out.append(make_user(f"<command-name>{st[1]}</command-name>\n<command-message>x</command-message>",
                                 timestamp=ts, **kw))
    return out


SESSIONS = {
    # 1: a question with a code answer -> resolved
    1: (1, [("u", "How do I reverse a list in Python?"), ("a", "Use slicing:\n```python\nxs[::-1]\n```")]),
    # 2: two push-backs -> looped (then an acknowledgement, which is not a question)
    2: (2, [("u", "Why does the build fail?"), ("tool", "Bash", "error: link failed", True),
            ("a", "Fixed the import in build.py; the build should pass now, give it another try please."),
            ("u", "still failing"), ("a", LONG), ("u", "that's wrong, same error"),
            ("a", "Updated the linker flags in the Makefile so the object files are rebuilt every time."),
            ("u", "thanks!")]),
    # 3: interrupted -> open; the next question -> resolved
    3: (3, [("u", "Can you refactor the parser?"), ("tool", "Edit", "ok", False), ("int",),
            ("u", "What is a monad?"), ("a", "A monad is a design pattern: a type with `unit` and `bind` that lets "
                                           "you chain computations while carrying context along.")]),
    # 4: the exchange ends on a failed tool call -> open
    4: (4, [("u", "Could you run the tests?"), ("tool", "Bash", "FAILED 3 tests", True)]),
    # 5: no question, no code: no pair; tool output, meta lines and commands are never questions
    5: (5, [("u", "Fix the typo in README"), ("tool", "Bash", "What? Why? How?", False), ("a", "Done."),
            ("meta", "<system-reminder>why is this here?</system-reminder>"), ("cmd", "/clear"),
            ("a", "Cleared.")]),
    # 6: a short answer the user moves on from -> resolved; the next one is concrete -> resolved
    6: (6, [("u", "Which env am I in?"), ("tool", "Bash", "base *", False), ("a", "`base`."),
            ("u", "How do I switch to aie311?"),
            ("a", "Run `conda activate aie311` in your shell, then check it with `conda info --envs`; "
                  "the active one is starred.")]),
    # 7: a short answer and the session ends -> open
    7: (7, [("u", "Is it done?"), ("a", "Yes.")]),
    # 8: an API error as the answer -> open
    8: (8, [("u", "Why is it slow?"), ("api",)]),
    # 9: one push-back, then a good answer -> resolved with one loop
    9: (9, [("u", "What's wrong with my regex?"), ("a", "It needs a raw string."), ("u", "doesn't work"),
            ("a", "Use `re.compile(r'\\d+')` instead of `'\\d+'`: without the r prefix Python eats the backslash.")]),
}


def build(root):
    claude = root / "claude"
    for n, (day, steps) in SESSIONS.items():
        proj = PROJ2 if n == 9 else PROJ
        write_jsonl(claude / "projects" / proj / f"{sid(n)}.jsonl", conv(n, day, *steps))
    # a subagent's prompt is not the user's question
    write_jsonl(claude / "projects" / PROJ / sid(1) / "subagents" / "agent-abc.jsonl", [
        make_user("What files exist in src?", sessionId=sid(1), isSidechain=True, agentId="abc", timestamp=_t(1, 5)),
        make_assistant("```\nsrc/a.py\n```", sessionId=sid(1), isSidechain=True, agentId="abc", timestamp=_t(1, 6)),
    ])
    return Config.from_options([claude], root / "cache", root / "data")


@pytest.fixture(scope="module")
def cat(tmp_path_factory):
    return Catalog.open(build(tmp_path_factory.mktemp("qa")))


@pytest.fixture(scope="module")
def pairs(cat):
    svc = search.service(cat)
    return {s: [p for p in svc.generation().qa.to_dicts() if p["session_id"] == sid(s)] for s in SESSIONS}


def one(pairs, n) -> dict:
    assert len(pairs[n]) == 1, pairs[n]
    return pairs[n][0]


def test_code_answer_resolved(pairs):
    p = one(pairs, 1)
    assert p["question_text"] == "How do I reverse a list in Python?"
    assert p["resolution_status"] == "resolved" and p["loop_count"] == 0 and p["num_attempts"] == 1
    assert p["code_snippets"] == ["xs[::-1]"] and p["model"] == OPUS and p["tools_used"] == []
    assert p["project"] == PROJ and p["timestamp"] == _t(1, 0)


def test_pushbacks_loop(pairs):
    p = one(pairs, 2)
    assert (p["resolution_status"], p["loop_count"], p["num_attempts"]) == ("looped", 2, 3)
    assert p["tools_used"] == ["Bash"] and p["tool_errors"] == 1
    assert p["answer_text"].startswith("Updated the linker flags")  # the last attempt's answer


def test_interrupt_is_open_and_next_question_counts(pairs):
    first, second = pairs[3]
    assert first["question_text"] == "Can you refactor the parser?"
    assert first["resolution_status"] == "open" and first["interrupted"] and first["tools_used"] == ["Edit"]
    assert second["question_text"] == "What is a monad?" and second["resolution_status"] == "resolved"


def test_tool_error_at_end_is_open(pairs):
    p = one(pairs, 4)
    assert p["resolution_status"] == "open" and p["tool_errors"] == 1 and p["answer_text"] == ""


def test_not_questions(pairs):
    assert pairs[5] == []


def test_short_answer_resolved_when_user_moves_on(pairs):
    first, second = pairs[6]
    assert first["answer_text"] == "`base`." and first["resolution_status"] == "resolved"
    assert second["resolution_status"] == "resolved" and second["code_snippets"] == []


def test_short_answer_without_follow_up_is_open(pairs):
    assert one(pairs, 7)["resolution_status"] == "open"


def test_api_error_is_open(pairs):
    assert one(pairs, 8)["resolution_status"] == "open"


def test_one_loop_then_answer_resolved(pairs):
    p = one(pairs, 9)
    assert (p["resolution_status"], p["loop_count"], p["num_attempts"]) == ("resolved", 1, 2)


def test_sidechain_prompts_are_not_questions(pairs):
    assert [p["question_text"] for p in pairs[1]] == ["How do I reverse a list in Python?"]


def test_id_is_the_seed_formula(pairs):
    p = one(pairs, 1)
    raw = f"{p['session_id']}:{p['timestamp']}:{p['question_text'][:200]}"
    assert p["id"] == hashlib.sha256(raw.encode()).hexdigest()[:16]


@pytest.mark.parametrize("text,expected", [
    ("How do I do X", True), ("what's this", True), ("Can you help", True), ("is it ok", True),
    ("it works?", True), ("see https://x.com/?q=1", False), ("Fix the typo", False), ("Refactor main.py", False),
])
def test_is_question(text, expected):
    assert qa.is_question(text) is expected


@pytest.mark.parametrize("text,expected", [
    ("still failing", True), ("it still doesn't work", True), ("That's wrong", True), ("try again", True),
    ("same error", True), ("no, use the other one", True), ("nope", True), ("didn't help", True),
    ("not working", True), ("great, now add tests", False), ("now add a README", False),
    ("what about the still water", False),
])
def test_is_pushback(text, expected):
    assert qa.is_pushback(text) is expected


@pytest.mark.parametrize("text,expected", [
    ("thanks!", True), ("Perfect", True), ("ok", True), ("works now", True), ("thanks but still failing", False),
    ("great, but " + "x" * 100, False),
])
def test_is_ack(text, expected):
    assert qa.is_ack(text) is expected


def test_code_snippets():
    assert qa.code_snippets(["a\n```py\nx = 1\n```\nb\n```\ny\n```", "```sh\n\n```"]) == ["x = 1", "y"]


# ---------------------------------------------------------------- the API


def test_qa_list_default_order_and_shape(cat):
    res = search.service(cat).qa_list(per_page=3)
    assert set(res) == {"results", "total", "page", "per_page", "total_pages"}
    assert res["total"] == 10 and res["total_pages"] == 4 and len(res["results"]) == 3
    first = res["results"][0]
    assert list(first)[:12] == list(qa.SEED_FIELDS)
    ts = [r["timestamp"] for r in search.service(cat).qa_list(per_page=100)["results"]]
    assert ts == sorted(ts, reverse=True)


def test_qa_filters(cat):
    svc = search.service(cat)
    assert svc.qa_list(resolution_status="looped")["total"] == 1
    assert svc.qa_list(resolution_status="open")["total"] == 4
    assert svc.qa_list(project=PROJ2)["total"] == 1
    assert svc.qa_list(project="other")["total"] == 1
    assert svc.qa_list(date_from="2026-02-03", date_to="2026-02-04")["total"] == 3
    assert svc.qa_list(session_id=sid(6))["total"] == 2
    with pytest.raises(ValueError):
        svc.qa_list(resolution_status="maybe")


def test_qa_search_with_snippets(cat):
    res = search.service(cat).qa_list(search="monad")
    assert res["total"] == 1
    r = res["results"][0]
    assert r["question_snippet"] == "What is a <mark>monad</mark>?"
    assert "<mark>monad</mark>" in r["answer_snippet"]
    assert search.service(cat).qa_list(search="conda", resolution_status="resolved")["total"] == 1
    assert search.service(cat).qa_list(search="slicing")["total"] == 1  # answer text is searched


def test_qa_get(cat):
    svc = search.service(cat)
    some = svc.qa_list(per_page=1)["results"][0]
    got = svc.qa_get(some["id"])
    assert got["id"] == some["id"] and got["created_at"].endswith("Z")
    assert svc.qa_get("0000000000000000") is None


def test_qa_stats(cat):
    st = search.service(cat).qa_stats()
    assert st["total_pairs"] == 10
    assert {r["project"]: r["count"] for r in st["by_project"]} == {PROJ: 9, PROJ2: 1}
    assert sum(r["count"] for r in st["by_date"]) == 10 and st["by_date"][0]["date"] == "2026-02-01"
    assert st["with_code_snippets"] == 1
    assert st["by_status"] == {"resolved": 5, "looped": 1, "open": 4}
    assert all(p["indexed_at"].endswith("Z") for p in st["indexed_projects"])
