"""Incremental derive (ccsgen/derive.py): after any mix of appends, replays, rewrites, deletions and new files,
the tables a build derives from the changed sessions alone equal those of a fresh full build."""

from __future__ import annotations

import json
import random
import shutil

import factories as F
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ccsgen import demo
from ccsgen.build import ingest_and_derive
from ccsgen.derive import derive_all
from ccsgen.pricing import PriceTable
from ccsgen.sources import discover

WHERE = ("file_id", "line_no")


def tables(cache) -> dict[str, pl.DataFrame]:
    d = cache / "tables"
    out = {}
    for name, key in (("responses", ["session_id", "msg_id", "request_id", "timestamp", "uuid"]),
                      ("tool_calls", ["tool_id"]), ("sessions", ["session_id"]), ("projects", ["id"]),
                      ("prompts", ["timestamp", "display"]), ("_cwd_counts", ["session_id", "project", "cwd"])):
        df = pl.read_parquet(d / f"{name}.parquet")
        df = df.drop([c for c in WHERE if c in df.columns])
        if name == "sessions":  # the files a session was read from: same files, other ids
            df = df.drop([c for c in ("path",) if c in df.columns])
        out[name] = df.sort(key, nulls_last=True)
    return out


def assert_same(inc, fresh) -> None:
    a, b = tables(inc), tables(fresh)
    for name in a:
        try:
            assert_frame_equal(a[name], b[name], check_column_order=True)
        except AssertionError as e:
            raise AssertionError(f"{name}: incremental derive differs from a full one: {e}") from None


def lines(p):
    out = []
    for x in p.read_bytes().decode("utf-8", "replace").splitlines():
        try:
            obj = json.loads(x)
        except ValueError:
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("derive") / "claude"
    demo.generate(root, 1_500_000, seed=7)
    return root


def test_incremental_derive_equals_full(corpus, tmp_path):
    root = tmp_path / "claude"
    shutil.copytree(corpus, root)
    cache, fresh = tmp_path / "cache", tmp_path / "fresh"
    cfg = F.config(root, cache)
    first = ingest_and_derive(cfg)
    assert first.changed and first.sessions > 10
    rng = random.Random(3)
    mains = sorted(p for p in (root / "projects").glob("*/*.jsonl") if not p.name.startswith("agent-"))
    a, b, c, d = rng.sample(mains, 4)
    # 1. a session grows, and replays a response (same message.id and requestId) of another session, larger
    donor = [x for x in lines(b) if x.get("type") == "assistant" and x.get("requestId")][0]
    replay = json.loads(json.dumps(donor))
    replay["sessionId"] = a.stem
    replay["message"]["usage"]["output_tokens"] = replay["message"]["usage"].get("output_tokens", 0) + 1000
    tail = lines(a)[-1]
    with a.open("a") as f:
        f.write(json.dumps(replay) + "\n")
        f.write(json.dumps({**tail, "uuid": "zz-new-1", "timestamp": "2030-01-01T00:00:00.000Z"}) + "\n")
        # a summary of another session's leaf: that session's title changes
        leaf = lines(d)[-1].get("uuid")
        f.write(json.dumps({"type": "summary", "summary": "ZZ moved title", "leafUuid": leaf}) + "\n")
    # 2. a session is rewritten shorter (its rows dropped, read again)
    keep = c.read_text().splitlines()[: max(2, len(c.read_text().splitlines()) // 2)]
    c.write_text("\n".join(keep) + "\n")
    # 3. a session is deleted, 4. a new one appears (a copy of b under a new id)
    victim = [p for p in mains if p not in (a, b, c, d)][0]
    victim.unlink()
    new = b.with_name("00000000-0000-4000-8000-00000000beef.jsonl")
    new.write_text("\n".join(json.dumps({**x, "sessionId": new.stem}) for x in lines(b)) + "\n")
    rep = ingest_and_derive(cfg)
    assert rep.changed and 0 < len(rep.changed_sessions) < first.sessions / 4
    assert first.derive == "full" and rep.derive == "incremental"
    ingest_and_derive(F.config(root, fresh), full=True)
    assert_same(cache, fresh)
    # the incremental path ran (the internal tables exist) and a second build changes nothing
    assert (cache / "tables" / "_session_aggs.parquet").is_file()
    again = ingest_and_derive(cfg)
    assert not again.changed and again.derive == "none"


def test_nothing_changed_imports_no_polars(corpus, tmp_path):
    """A build with nothing to do reads no table: its report comes from tables/state.json."""
    import subprocess
    import sys

    cache = tmp_path / "cache"
    ingest_and_derive(F.config(corpus, cache))
    code = (
        "import sys; from pathlib import Path; from ccsgen.config import Config; "
        "from ccsgen.build import ingest_and_derive; "
        f"r = ingest_and_derive(Config.from_options([Path({str(corpus)!r})], Path({str(cache)!r}))); "
        "print(r.changed, r.sessions, 'polars' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "False" and int(out[1]) > 10 and out[2] == "False"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rounds_of_cross_session_appends(corpus, tmp_path, seed):
    """Lines copied between sessions (shared response keys and tool ids), a few per round, several rounds."""
    root = tmp_path / "claude"
    shutil.copytree(corpus, root)
    cache = tmp_path / "cache"
    cfg = F.config(root, cache)
    ingest_and_derive(cfg)
    rng = random.Random(seed)
    files = sorted((root / "projects").rglob("*.jsonl"))
    for rnd in range(3):
        for _ in range(3):
            src, dst = rng.sample(files, 2)
            picked = rng.sample(lines(src), min(4, len(lines(src))))
            with dst.open("a") as f:
                for x in picked:
                    x = dict(x)
                    if rng.random() < 0.5 and "sessionId" in x:
                        x["sessionId"] = dst.stem if len(dst.stem) == 36 else x["sessionId"]
                    f.write(json.dumps(x) + "\n")
        rep = ingest_and_derive(cfg)
        assert rep.derive == "incremental", rnd
        # the same raw rows derived whole: equal (a fresh ingest may order copied lines otherwise, and
        # first/last of a session's cwd or branch follow the line order)
        full = tmp_path / f"full{rnd}"
        shutil.copytree(cache, full)
        derive_all(F.config(root, full), discover(cfg.claude_dirs), PriceTable.load(None))
        assert_same(cache, full)


def test_a_build_stopped_before_deriving_is_finished_by_the_next(corpus, tmp_path, monkeypatch):
    """Rows read but never derived (the process stopped in between) are derived by the next build."""
    from ccsgen import derive

    root = tmp_path / "claude"
    shutil.copytree(corpus, root)
    cache = tmp_path / "cache"
    cfg = F.config(root, cache)
    before = ingest_and_derive(cfg).responses
    target = sorted((root / "projects").glob("*/*.jsonl"))[0]
    donor = [x for x in lines(target) if x.get("type") == "assistant" and x.get("requestId")][0]
    extra = json.loads(json.dumps(donor))
    extra["requestId"], extra["uuid"] = "req-zz-new", "zz-new-uuid"
    with target.open("a") as f:
        f.write(json.dumps(extra) + "\n")

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(derive, "derive_changed", boom)
    with pytest.raises(KeyboardInterrupt):
        ingest_and_derive(cfg)
    monkeypatch.undo()
    rep = ingest_and_derive(cfg)  # no file changed since, yet the read rows are derived now
    assert rep.changed and rep.derive == "incremental" and rep.responses == before + 1
    assert ingest_and_derive(cfg).derive == "none"
