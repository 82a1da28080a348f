"""The faster paths behind uncached answers give the same answers: snippets (ccsgen/search/query.py), cached
prefix queries, message pages and the most used model of a command (ccsgen/server/su_stats.py)."""

from __future__ import annotations

import html
import random

import factories as F
import polars as pl
import pytest
import server_corpus as C

from ccsgen.search import query as Q
from ccsgen.search import schema as S
from ccsgen.server import su_stats


def reference_snippet(text: str, terms: Q.Terms, width: int = Q.SNIPPET_CHARS) -> tuple[str, bool]:
    """query.snippet as it was: every token of the text, then every window (quadratic); the window is then
    rendered by the same function."""
    text = text or ""
    scan = text[:Q.SNIPPET_SCAN]
    spans = [(s, e, t) for s, e, t in S.word_spans(scan) if terms.matches(t)] if (terms.exact or terms.prefixes) else []
    if not spans:
        cut = text[:width]
        return html.escape(cut, quote=True) + ("…" if len(text) > width else ""), False
    best, best_i = -1, 0
    for i, (s, _e, _t) in enumerate(spans):
        seen = {t for s2, _e2, t in spans[i:] if s2 < s + width}
        if len(seen) > best:
            best, best_i = len(seen), i
    return Q.render_window(text, scan, spans, spans[best_i][0], width), True


WORDS = ["error", "Errors", "ERR", "err_code", "test", "tests", "testing", "pytest", "x1", "1x", "a", "I", "foo",
         "bar9", "über", "naïve", "日本語", "emoji😀", "can't", "e.g.", "snake_case", "CamelCase", "url/path", "-",
         "'", '"', "<b>", "&amp;", "\n", "\t"]


def random_text(rng: random.Random, ascii_only: bool) -> str:
    words = [w for w in WORDS if w.isascii()] if ascii_only else WORDS
    n = rng.choice([0, 1, 5, 40, 400])
    return "".join(rng.choice(words) + rng.choice([" ", " ", "", ".", ", ", "_", "\n"]) for _ in range(n))


def random_terms(rng: random.Random) -> Q.Terms:
    pool = ["error", "err", "test", "tests", "x1", "a", "i", "foo", "bar", "bar9", "uber", "naive", "code", "case",
            "t", "日", "can", "e", "g", "amp", "b", "url", "path"]
    pool += ["Err", "TEST"]  # never produced by the analyzer, but matched the same way
    return Q.Terms(exact=set(rng.sample(pool, rng.randint(0, 3))), prefixes=set(rng.sample(pool, rng.randint(0, 2))))


@pytest.mark.parametrize("ascii_only", [True, False])
def test_snippets_equal_the_reference(ascii_only):
    rng = random.Random(7 if ascii_only else 11)
    for _ in range(1500):
        text, terms = random_text(rng, ascii_only), random_terms(rng)
        width = rng.choice([Q.SNIPPET_CHARS, 30, 5])
        assert Q.snippet(text, terms, width) == reference_snippet(text, terms, width), (text, terms, width)


def test_matched_spans_equal_word_spans():
    rng = random.Random(3)
    for _ in range(1500):
        text, terms = random_text(rng, True), random_terms(rng)
        want = [(s, e, t) for s, e, t in S.word_spans(text) if terms.matches(t)]
        assert Q._matched_spans(text, terms) == want


def test_long_text_with_many_matches_is_fast_enough():
    text = "error " * 8000  # 48,000 characters, 8,000 matches: the old window search was quadratic
    got, ok = Q.snippet(text, Q.Terms(exact={"error"}))
    assert ok and got.startswith("<mark>error</mark>")


def test_prefix_queries_are_compiled_once(tmp_path):
    corpus = C.build(tmp_path)
    first = corpus.cat.search_messages("fix")
    assert any(k[1:] == (S.CONTENT, "fix.+") for k in Q._REGEX_CACHE)
    Q._REGEX_CACHE.clear()
    assert corpus.cat.search_messages("fix") == first == corpus.cat.search_messages("fix")
    assert corpus.cat.search_messages("refac") == corpus.cat.search_messages("refac")


def test_top_model_breaks_ties_by_first_seen():
    df = pl.DataFrame({"cmd_id": ["a", "a", "a", "a", "b", "b", "c"],
                       "model": ["m2", "m1", "m1", "m2", None, "m3", None]})
    got = dict(su_stats.top_model(df, "cmd_id").iter_rows())
    assert got == {"a": "m2", "b": "m3"}  # a: a tie, m2 came first; c: no model
    df2 = df.with_columns(pl.when(pl.int_range(pl.len()) == 3).then(pl.lit("m1")).otherwise(pl.col("model"))
                          .alias("model"))
    assert dict(su_stats.top_model(df2, "cmd_id").iter_rows())["a"] == "m1"  # m1 x3 beats m2 x1


def test_message_pages_equal_slices_of_all_messages(tmp_path):
    corpus = C.build(tmp_path)
    base = F.BASE.replace(day=11)
    use = F.make_tool_use("Read", {"file_path": "/home/user/proj/ZZS2READZZ.py"}, sessionId=C.S2,
                          timestamp=F.at(2, base))
    F.append_jsonl(corpus.claude / F.session_path(C.S2), [
        use, F.make_tool_result(use, "x = 1", sessionId=C.S2, timestamp=F.at(3, base))])
    corpus.cat.refresh()  # tool calls in two sessions of the project now
    f = su_stats.project_frames(corpus.cat, C.PROJECT)
    every = su_stats.messages(corpus.cat, f)
    assert any(m["tools"] for m in every) and any("interaction_tool_count" in m for m in every)
    with_tools = {m["session_id"] for m in every if m["tools"]}
    assert with_tools == {C.S1, C.S2}
    assert any(t["input"].get("file_path", "").endswith("ZZS2READZZ.py") for m in every for t in m["tools"])
    for limit, offset in [(1, 0), (2, 1), (3, 2), (50, 0), (4, len(every) - 2)]:
        assert su_stats.messages(corpus.cat, f, limit, offset) == every[offset:offset + limit]
