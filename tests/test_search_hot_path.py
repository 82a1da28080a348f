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
