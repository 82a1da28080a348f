"""What a search answer costs besides tantivy (ccsgen/search, the query side): timestamps, stored documents, and
finding the live index generation, each checked against what it replaced."""

from __future__ import annotations

import datetime as dt
import random
import time

from test_search import build_corpus

from ccsgen import search
from ccsgen.catalog import Catalog
from ccsgen.search import indexer
from ccsgen.search import query as Q


def _iso_by_datetime(ms: int) -> str:
    t = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def test_iso_ms_equals_the_datetime_spelling():
    rng = random.Random(6)
    samples = [1, 999, 1000, 1_768_039_200_000, 1_795_558_545_731, 4_102_444_799_999]
    samples += [rng.randint(1, 4_102_444_800_000) for _ in range(20_000)]
    for ms in samples:
        assert Q.iso_ms(ms) == _iso_by_datetime(ms), ms
    assert Q.iso_ms(0) is None and Q.iso_ms(None) is None


def test_stored_documents_become_plain_values():
    got = Q._plain({"content": ["text"], "raw": [b"bytes"], "tags": ["a", b"b"], "ts": [5]})
    assert got == {"content": "text", "raw": "bytes", "tags": ["a", "b"], "ts": 5}


def test_a_generation_swapped_by_another_process_is_seen(tmp_path):
    cfg = build_corpus(tmp_path)
    svc = search.service(Catalog.open(cfg))
    assert svc.search_messages("zqxalpha")["total"] == 1
    before = svc.generation().name
    time.sleep(0.002)
    other = search.service(Catalog.open(cfg))  # another process (ccsgen build): a new generation, CURRENT moved
    other.reindex(full=True)
    now = indexer.current_name(cfg.index_dir)
    assert now != before
    assert svc.generation().name == now
    assert svc.search_messages("zqxalpha")["total"] == 1


def test_current_is_read_again_only_when_it_changes(tmp_path, monkeypatch):
    cfg = build_corpus(tmp_path)
    svc = search.service(Catalog.open(cfg))
    svc.search_messages("x")  # builds the index: CURRENT appears
    svc.search_messages("x")  # and is read once
    reads = []
    real = indexer.current_name
    monkeypatch.setattr(indexer, "current_name", lambda d: reads.append(d) or real(d))
    for _ in range(5):
        svc.search_messages("zqxalpha")
    assert reads == []
    time.sleep(0.002)
    indexer._point_current(cfg.index_dir, svc.generation().name)  # rewritten (a new inode), same name
    svc.search_messages("zqxalpha")
    assert len(reads) == 1


# the message queries as first written: require doc_type:message, exclude tool results always, prefixes as
# ``word.*``; the served ones skip what cannot change the matches (search/query.py: build, other_types)
QUERIES_WITH_EVERY_SHAPE = [
    "zqx", "zqxalpha", "parser", "pars", "refac", "config", "café", "東京", "zqxresult", "src", "-parser",
    "kind:tool_result", "tool:bash", "role:assistant", "parser OR zqxresult", "\"the parser\"", "zqxtool*",
    "-zqxalpha zqx", "***", "project:alpha parser", "session:a1a1 zqx", "", "-",
]


def _reference_keys(svc, q: str, **kw) -> set[str]:
    import tantivy

    from ccsgen.search import schema as S

    gen = svc.generation()
    ctx = svc._ctx(gen)
    real = Q._regex

    def star(sc, f, pattern):  # the old ``.*`` spelling
        return real(sc, f, pattern[:-2] + ".*" if pattern.endswith(".+") else pattern)

    Q._regex = star
    try:
        parsed = Q.parse(q)
        with_results = parsed.has("kind") or kw.get("include_tool_results")
        exclude = [] if with_results else [tantivy.Query.term_query(gen.index.schema, S.KIND, S.K_TOOL_RESULT)]
        fields = (S.CONTENT, S.EXTRA) if exclude else (S.CONTENT, S.EXTRA, S.OUTPUT)
        query, _, _ = Q.build(ctx, q, fields, Q.filters(ctx, doc_type=S.T_MESSAGE), exclude)
    finally:
        Q._regex = real
    hits, total = Q.run(gen.index, query, limit=1000)
    assert total == len(hits)
    return {h.doc[S.KEY] for h in hits}


def test_message_queries_match_what_the_plain_formulation_matches(tmp_path):
    cfg = build_corpus(tmp_path)
    svc = search.service(Catalog.open(cfg))
    svc.search_messages("warm")  # builds the index
    nonempty = 0
    for q in QUERIES_WITH_EVERY_SHAPE:
        for kw in ({}, {"include_tool_results": True}):
            want = _reference_keys(svc, q, **kw)
            got = svc.search_messages(q, per_page=100, **kw)
            assert got["total"] == len(want), (q, kw)
            assert {r["id"] for r in got["results"]} == {search._int_id(k) for k in want}, (q, kw)
            nonempty += bool(want)
    assert nonempty >= 20  # the shapes above do match something


def test_words_that_rule_out_tool_results():
    assert Q.requires_words(Q.parse("parser"))
    assert Q.requires_words(Q.parse("-x parser"))
    assert Q.requires_words(Q.parse("tool:bash parser"))  # the word's group alone rules them out
    for q in ("", "-parser", "tool:bash", "parser OR tool:bash", "東京", "***", "kind:prompt"):
        assert not Q.requires_words(Q.parse(q)), q
