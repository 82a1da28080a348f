"""Copies: a transcript at the same path under two Claude dirs (``~/.claude`` copied to ``~/.config/claude``,
both read by default) is counted and shown once, and nothing is lost when the copies differ or one goes away;
a session under two project dirs gets one project, however it was built."""

from __future__ import annotations

import shutil

import factories as F
import pytest

from ccsgen import cache


def _lines(n: int, tag: str, session: str = F.SESSION) -> list:
    out = []
    for i in range(n):
        out.append(F.make_user(f"{tag} question {i}", sessionId=session, timestamp=F.at(10 * i)))
        out.append(F.make_assistant(f"{tag} answer {i}", sessionId=session, timestamp=F.at(10 * i + 1)))
    return out


def _counts(cat) -> tuple[int, int, float]:
    s = cat.session(F.SESSION)
    return s["user_messages"], s["message_count"], round(float(cat.responses["cost_usd"].sum()), 9)


def _texts(cat) -> list[str]:
    entries, _blocks = cat.transcript(F.SESSION)
    return [t for t in entries.get_column("text").to_list() if t]


@pytest.fixture
def one_dir(tmp_path):
    a = F.make_claude_dir(tmp_path, {F.session_path(): _lines(3, "A")}, name="a")
    alone = F.build_catalog(a, tmp_path / "cache-alone")
    return a, _counts(alone), _texts(alone)


def test_an_identical_copy_is_counted_once(tmp_path, one_dir):
    a, counts, texts = one_dir
    b = tmp_path / "b"
    shutil.copytree(a, b)
    cat = F.build_catalog([a, b], tmp_path / "cache")
    assert _counts(cat) == counts == (3, 6, counts[2])
    assert _texts(cat) == texts
    assert cat.search_messages("question")["total"] == 3


def test_an_older_copy_hides_behind_the_grown_one_and_comes_back_when_it_goes(tmp_path, one_dir, monkeypatch):
    monkeypatch.setattr(cache, "MAX_SEGMENTS", 0)  # compact after every build: hidden rows must survive it
    a, counts, _ = one_dir
    b = tmp_path / "b"
    shutil.copytree(a, b)  # the copy made at migration time
    F.append_jsonl(b / F.session_path(), _lines(1, "B-later")[:1])  # the session went on in the new dir
    cat = F.build_catalog([a, b], tmp_path / "cache")
    assert _counts(cat)[0] == 4  # the 3 of the copy once, plus the one added later
    (b / F.session_path()).unlink()  # the grown copy goes: the old one is all there is again
    cat = F.build_catalog([a, b], tmp_path / "cache")
    assert cat.report.changed and _counts(cat) == counts


def test_copies_that_differ_are_both_read(tmp_path, one_dir):
    a, counts, _ = one_dir
    b = F.make_claude_dir(tmp_path, {F.session_path(): _lines(2, "Z")}, name="b")  # not a prefix of a's
    cat = F.build_catalog([a, b], tmp_path / "cache")
    assert cat.session(F.SESSION)["user_messages"] == 5
    assert any("Z question" in t for t in _texts(cat))


def test_bad_lines_of_a_hidden_copy_are_reported_once(tmp_path):
    a = F.make_claude_dir(tmp_path, {F.session_path(): [b"{bad", *_lines(1, "A")]}, name="a")
    b = tmp_path / "b"
    shutil.copytree(a, b)
    rep = F.build_catalog([a, b], tmp_path / "cache").report
    assert rep.bad_by_reason == {"invalid json": 1}


def test_a_session_under_two_project_dirs_gets_one_project_however_it_was_built(tmp_path):
    lines = _lines(1, "P")
    claude = F.make_claude_dir(tmp_path, {F.session_path(F.SESSION, "-home-z-proj"): lines})
    F.build_catalog(claude, tmp_path / "inc")
    copy = claude / F.session_path(F.SESSION, "-home-a-proj")  # the project dir copied under another name
    copy.parent.mkdir(parents=True)
    shutil.copy(claude / F.session_path(F.SESSION, "-home-z-proj"), copy)
    inc = F.build_catalog(claude, tmp_path / "inc")
    fresh = F.build_catalog(claude, tmp_path / "fresh")
    assert inc.session(F.SESSION)["project"] == fresh.session(F.SESSION)["project"]
    assert inc.projects.get_column("id").to_list() == fresh.projects.get_column("id").to_list()
    assert inc.session(F.SESSION)["user_messages"] == fresh.session(F.SESSION)["user_messages"] == 1
    F.append_jsonl(copy, _lines(2, "Q")[2:])  # the session goes on in the copy: it is the one kept now
    inc = F.build_catalog(claude, tmp_path / "inc")
    assert inc.session(F.SESSION)["project"] == "-home-a-proj"
    assert inc.session(F.SESSION)["user_messages"] == 2
