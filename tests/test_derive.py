"""Incremental derive (ccsgen/derive.py): after any mix of appends, replays, rewrites, deletions and new files,
the tables a build derives from the changed sessions alone equal those of a fresh full build."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import factories as F
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ccsgen import demo
from ccsgen.build import ingest_and_derive
from ccsgen.derive import derive_all
from ccsgen.pricing import PriceTable
from ccsgen.sources import discover
from ccsgen.tables import DERIVED, read_table

WHERE = ("file_id", "line_no")


def tables(cache) -> dict[str, pl.DataFrame]:
    d = cache / "tables"
    out = {}
    for name, key in (("responses", ["session_id", "msg_id", "request_id", "timestamp", "uuid"]),
                      ("tool_calls", ["tool_id"]), ("sessions", ["session_id"]), ("projects", ["id"]),
                      ("prompts", ["timestamp", "display"]), ("_cwd_counts", ["session_id", "project", "cwd"])):
        df = read_table(d, name) if name in DERIVED else pl.read_parquet(d / f"{name}.parquet")
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


def _working_copy(corpus: Path, tmp_path: Path):
    """(claude dir, cache dir, config): a copy of the corpus the test may change, and an empty cache."""
    root = tmp_path / "claude"
    shutil.copytree(corpus, root)
    cache_dir = tmp_path / "cache"
    return root, cache_dir, F.config(root, cache_dir)


def _main_files(root: Path) -> list[Path]:
    """The main session files (``<uuid>.jsonl``), sorted."""
    return sorted(p for p in (root / "projects").glob("*/*.jsonl") if len(p.stem) == 36)


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
    root, cache, cfg = _working_copy(corpus, tmp_path)
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

    root, cache, cfg = _working_copy(corpus, tmp_path)
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


# ---------------------------------------------------------------- storage layout: parts, part index, compactions


def _derive_all_copy(cfg, cache_dir, tmp_path, name):
    """The same raw rows derived whole, in a copy of the cache."""
    full = tmp_path / name
    shutil.copytree(cache_dir, full)
    derive_all(F.config(cfg.claude_dirs[0], full), discover(cfg.claude_dirs), PriceTable.load(None))
    return full


def test_partitioned_tables_read_back_whole_and_in_order(corpus, tmp_path):
    """responses and tool_calls are stored in parts by session; readers get one table, in its row order."""
    from ccsgen.config import TABLE_PARTS, table_paths
    from ccsgen.tables import ROW_ORDER, part_of

    cache_dir = tmp_path / "cache"
    ingest_and_derive(F.config(corpus, cache_dir))
    d = cache_dir / "tables"
    for name in ("responses", "tool_calls"):
        paths = table_paths(d, name)
        assert len(paths) == TABLE_PARTS and all(p.is_file() for p in paths)
        assert not (d / f"{name}.parquet").exists()
        whole = read_table(d, name)
        assert whole.height == sum(pl.read_parquet(p).height for p in paths) > 0
        assert whole.equals(whole.sort(ROW_ORDER, nulls_last=True, maintain_order=True))
        for i, p in enumerate(paths):  # each session's rows are in its part
            sessions = pl.read_parquet(p, columns=["session_id"]).get_column("session_id").unique().to_list()
            assert all(part_of(s) == i for s in sessions)


def test_part_index_and_compactions_keep_incremental_equal_to_full(corpus, tmp_path, monkeypatch):
    """Cold reads written as many small parts (as a large corpus is): a derive opens only the parts that may hold
    its sessions; appends, copies across sessions, rewrites, deletions and history lines over more builds than
    MAX_SEGMENTS (small segments merged, large parts and their index kept), then a compaction of everything:
    each time equal to a full derive of the same rows."""
    from ccsgen import cache

    monkeypatch.setattr(cache, "BATCH_BYTES", 64 * 1024)
    monkeypatch.setattr(cache, "SMALL_SEGMENT_BYTES", 100_000)  # the cold segment is large, appends are small
    root, cache_dir, cfg = _working_copy(corpus, tmp_path)
    ingest_and_derive(cfg)
    seg = cache_dir / "segments"
    m = cache.load_manifest(cache_dir)
    cold = set(m.parts)
    assert len(cold) > 5
    every = cache._part_paths(seg, m, "entries")
    sid = sorted(p.stem for p in (root / "projects").glob("*/*.jsonl") if len(p.stem) == 36)[0]
    assert 0 < len(cache._part_paths(seg, m, "entries", sessions=[sid])) < len(every)
    assert cache._part_paths(seg, m, "entries", sessions=["no-such-session"]) == []

    rng = random.Random(11)
    mains = _main_files(root)
    files = sorted((root / "projects").rglob("*.jsonl"))
    rounds = cache.MAX_SEGMENTS + 4
    for rnd in range(rounds):
        dst = rng.choice(mains)
        own = lines(dst)
        extra = [{**x, "uuid": f"zz-{rnd}-{i}"} for i, x in enumerate(own[-3:])]
        if rnd % 3 == 1:  # lines of another file (shared response keys and tool ids)
            src = lines(rng.choice(files))
            extra += rng.sample(src, min(3, len(src)))
        with dst.open("a") as f:
            f.writelines(json.dumps(x) + "\n" for x in extra)
        if rnd == 4:
            F.append_jsonl(root / "history.jsonl", [F.make_history("ZZ history line", 1767225600000)])
        if rnd == 6:  # rewritten shorter
            victim = rng.choice(mains)
            keep = victim.read_text().splitlines()
            victim.write_text("\n".join(keep[: max(2, len(keep) // 3)]) + "\n")
        if rnd == 9:
            gone = rng.choice([p for p in files if p.exists() and p not in mains])
            gone.unlink()
            files.remove(gone)
        rep = ingest_and_derive(cfg)
        assert rep.derive == "incremental", rnd
        if rnd % 5 == 4 or rnd == rounds - 1:
            assert_same(cache_dir, _derive_all_copy(cfg, cache_dir, tmp_path, f"full{rnd}"))
    m = cache.load_manifest(cache_dir)
    assert len(m.segments) <= cache.MAX_SEGMENTS
    assert cold <= set(m.parts)  # the cold build's parts and their index outlived the compaction
    assert m.dropped  # only the small segments were rewritten

    # many dropped files: everything is compacted into one part
    monkeypatch.setattr(cache, "MAX_DROPPED", 0)
    monkeypatch.setattr(cache, "MAX_SEGMENTS", 1)
    victim = mains[0]
    victim.write_text("\n".join(victim.read_text().splitlines()[:3]) + "\n")
    assert ingest_and_derive(cfg).derive == "incremental"
    m = cache.load_manifest(cache_dir)
    assert len(m.segments) == 1 and not m.dropped
    assert sorted(p.name.split(".")[0] for p in seg.glob("*.parquet")) == [str(m.segments[0])] * 6
    assert_same(cache_dir, _derive_all_copy(cfg, cache_dir, tmp_path, "full-end"))


def test_summary_titles_follow_their_leaf_lines(corpus, tmp_path):
    """A summary's title goes to the session of the line its leafUuid names: copying that line into another
    session, then deleting the file it came from, moves the title (the leaf lines are kept between builds)."""
    root, cache_dir, cfg = _working_copy(corpus, tmp_path)
    ingest_and_derive(cfg)
    mains = _main_files(root)
    a, b, c = mains[:3]
    leaf = [x for x in lines(a) if x.get("uuid") and x.get("type") in ("user", "assistant")][-1]
    with c.open("a") as f:  # the summary lives in a third session's file
        f.write(json.dumps({"type": "summary", "summary": "ZZ leaf title", "leafUuid": leaf["uuid"]}) + "\n")
    assert ingest_and_derive(cfg).derive == "incremental"
    assert_same(cache_dir, _derive_all_copy(cfg, cache_dir, tmp_path, "full1"))
    with b.open("a") as f:  # the leaf line copied into b: the summaries are the same, the leaf lines are not
        f.write(json.dumps({**leaf, "sessionId": b.stem}) + "\n")
    assert ingest_and_derive(cfg).derive == "incremental"
    assert_same(cache_dir, _derive_all_copy(cfg, cache_dir, tmp_path, "full2"))
    titles = read_table(cache_dir / "tables", "sessions").filter(pl.col("summary") == "ZZ leaf title")
    assert set(titles.get_column("session_id")) == {a.stem, b.stem}
    a.unlink()
    assert ingest_and_derive(cfg).derive == "incremental"
    assert_same(cache_dir, _derive_all_copy(cfg, cache_dir, tmp_path, "full3"))
    titles = read_table(cache_dir / "tables", "sessions").filter(pl.col("summary") == "ZZ leaf title")
    assert set(titles.get_column("session_id")) == {b.stem}


def test_prompts_rewritten_only_when_history_changed(corpus, tmp_path):
    root, cache_dir, cfg = _working_copy(corpus, tmp_path)
    ingest_and_derive(cfg)
    prompts = cache_dir / "tables" / "prompts.parquet"
    before = prompts.stat().st_mtime_ns
    main = _main_files(root)[0]
    with main.open("a") as f:
        f.write(json.dumps({**lines(main)[-1], "uuid": "zz-one-more"}) + "\n")
    assert ingest_and_derive(cfg).derive == "incremental"
    assert prompts.stat().st_mtime_ns == before
    F.append_jsonl(root / "history.jsonl", [F.make_history("ZZ typed", 1767225600000)])
    assert ingest_and_derive(cfg).derive == "incremental"
    assert "ZZ typed" in pl.read_parquet(prompts).get_column("display").to_list()
    assert_same(cache_dir, _derive_all_copy(cfg, cache_dir, tmp_path, "full"))


def test_bad_line_counts_kept_per_file(corpus, tmp_path):
    """Bad lines are counted per file in the manifest (a file read again or deleted loses its count); a manifest
    of an older version, without those counts, counts them from the issues table."""
    from ccsgen import cache

    root, cache_dir, cfg = _working_copy(corpus, tmp_path)
    base = ingest_and_derive(cfg).bad_lines
    mains = _main_files(root)
    for p in mains[:2]:
        with p.open("a") as f:
            f.write("{not json\n")
    assert ingest_and_derive(cfg).bad_lines == base + 2
    mains[0].unlink()
    assert ingest_and_derive(cfg).bad_lines == base + 1
    m = cache.load_manifest(cache_dir)
    seg = cache_dir / "segments"
    assert m.counts_issues and cache.issue_counts(seg, m) == cache.issue_counts(
        seg, cache.Manifest(**{**{f: getattr(m, f) for f in m.__struct_fields__}, "counts_issues": False}))


def test_rows_copied_into_another_session_are_found_when_the_holder_drops_them(corpus, tmp_path):
    """A response and a tool use copied into a second session: the table holds them under one session. When that
    session's file is rewritten without them, they move to the other (found through the internal tables that
    list which sessions hold a key's or a tool id's rows)."""
    root, cache_dir, cfg = _working_copy(corpus, tmp_path)
    ingest_and_derive(cfg)
    mains = _main_files(root)
    a, b = mains[:2]
    resp = next(x for x in lines(a) if x.get("type") == "assistant" and x.get("requestId")
                and isinstance(x["message"].get("content"), list)
                and not any(c.get("type") == "tool_use" for c in x["message"]["content"]))
    use = next(x for x in lines(a) if x.get("type") == "assistant"
               and any(c.get("type") == "tool_use" for c in x["message"].get("content") or []))
    tool_id = next(c["id"] for c in use["message"]["content"] if c.get("type") == "tool_use")
    with b.open("a") as f:
        for x in (resp, use):
            f.write(json.dumps({**x, "sessionId": b.stem}) + "\n")
    assert ingest_and_derive(cfg).derive == "incremental"
    d = cache_dir / "tables"
    assert pl.read_parquet(d / "_key_sessions.parquet").height >= 2
    key = (pl.col("msg_id") == resp["message"]["id"]) & (pl.col("request_id") == resp["requestId"])
    for rnd in range(2):  # drop them from whichever session holds them, twice: then they are gone
        holder = read_table(d, "responses").filter(key).get_column("session_id").to_list()
        tool_holder = read_table(d, "tool_calls").filter(pl.col("tool_id") == tool_id).get_column("session_id")
        assert len(holder) == 1 and tool_holder.to_list()
        for sid in {holder[0], tool_holder[0]}:
            p = a if sid == a.stem else b
            keep = [x for x in p.read_text().splitlines()
                    if resp["requestId"] not in x and tool_id not in x]
            p.write_text("\n".join(keep) + "\n")
        assert ingest_and_derive(cfg).derive == "incremental"
        assert_same(cache_dir, _derive_all_copy(cfg, cache_dir, tmp_path, f"full{rnd}"))
        if rnd == 0:
            moved = read_table(d, "responses").filter(key).get_column("session_id").to_list()
            assert len(moved) == 1 and moved != holder
    assert read_table(d, "responses").filter(key).height == 0
