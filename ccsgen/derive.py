"""Derive the tables from the raw segments: all of them, or only what a build changed.

A full derive reads every raw row. An incremental one starts from the tables the last build wrote and the
sessions whose raw rows changed (``C``: sessions with new rows, and sessions whose rows were dropped with a
rewritten or deleted file), and recomputes:

- ``responses``: every (message.id, requestId) key seen in ``C`` now or in ``C``'s old responses, over all of
  that key's raw rows wherever they are (a response replayed into another session is still merged once);
- ``tool_calls``: every tool_use id used or answered in ``C``, over all of its rows;
- the per-session aggregates of ``C`` plus every session whose responses or tool calls moved;
- then the cheap global parts (titles, files, projects) from scratch.

Both paths end in the same functions of ccsgen.tables; tests/test_derive.py checks that an incremental derive
after appends, rewrites, deletions and new files equals a full one.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import polars as pl

from . import cache, sources, tables
from .config import Config
from .pricing import PriceTable

log = logging.getLogger(__name__)

#: internal tables (not part of the read API) kept so the next build can derive incrementally
AGGS, CWDS = "_session_aggs", "_cwd_counts"
INTERNAL = (AGGS, CWDS)
#: above this share of sessions changed, a full derive is as cheap and simpler
MAX_INCREMENTAL_SHARE = 0.25
BLOCK_COLS = ("btype", "tool_id", "tool_name", "uuid", "session_id", "summary", "size", "file_id", "line_no",
              "is_error", "result_agent_id")
KEY = ["msg_id", "request_id"]


def _path(cfg: Config, name: str) -> Path:
    return cfg.tables_dir / f"{name}.parquet"


def _keys(df: pl.DataFrame) -> pl.DataFrame:
    return df.filter(pl.col("msg_id").is_not_null() & pl.col("request_id").is_not_null()).select(KEY).unique()


def _in(col: str, values) -> pl.Expr:
    return pl.col(col).is_in(pl.Series(values, dtype=pl.String).implode())


def _write(cfg: Config, out: dict[str, pl.DataFrame], *, threads: int = 2) -> None:
    """Write the tables, two at a time by default (Polars encodes Parquet without holding the GIL; a full
    derive writes one at a time, to keep its peak memory down)."""
    from concurrent.futures import ThreadPoolExecutor

    biggest_first = sorted(out.items(), key=lambda kv: -kv[1].height)
    with ThreadPoolExecutor(max_workers=threads) as ex:
        for f in [ex.submit(tables.write_table, df, _path(cfg, name)) for name, df in biggest_first]:
            f.result()


def _issue_counts(seg: Path, m: cache.Manifest) -> dict[str, int]:
    """Bad lines in the log files, by reason."""
    issues = cache.scan_raw(seg, m, "issues").select("reason").collect()
    return dict(Counter(r.split(":")[0] for r in issues.get_column("reason").to_list()))


def _reasons(issues: list) -> dict[str, int]:
    return dict(Counter(i.reason.split(":")[0] for i in issues))


Counts = tuple[dict[str, int], dict[str, int] | None, dict[str, int]]


def derive_all(cfg: Config, files: list[sources.SourceFile], prices: PriceTable) -> Counts:
    """Every derived table from every raw row. Returns (bad lines by reason in log files, in task/todo files,
    unknown line types)."""
    m = cache.load_manifest(cfg.cache_dir)
    seg = cfg.cache_dir / "segments"
    # one raw table at a time, each dropped when done with: peak memory is what bounds a cold build
    responses = tables.derive_responses(cache.scan_raw(seg, m, "usage").collect(), prices)
    entries_lf = cache.scan_raw(seg, m, "entries")
    entries = entries_lf.select(list(tables.DERIVE_ENTRY_COLS)).with_columns(tables.parse_ts("timestamp")).collect()
    meta = cache.scan_raw(seg, m, "meta").collect()
    history = cache.scan_raw(seg, m, "history").collect()
    files_df = tables.files_frame(m.files)
    tool_calls = tables.derive_tool_calls(cache.scan_raw(seg, m, "blocks").select(BLOCK_COLS), entries)
    aggs = tables.session_aggregates(entries, responses, tool_calls, tables.first_prompts(entries_lf))
    titles = tables.session_titles(meta, entries.select("uuid", "session_id"))
    sessions = tables.finish_sessions(aggs, titles, files_df)
    cwds = tables.cwd_counts(entries)
    projects = tables.derive_projects(sessions, cwds)
    del entries  # the raw rows are the bulk of the peak: gone before writing
    extra: list = []
    out = {
        "responses": responses, "tool_calls": tool_calls, "sessions": sessions, "projects": projects,
        "prompts": tables.derive_prompts(history), "tasks": tables.read_tasks(files, extra),
        "todos": tables.read_todos(files, extra), "files": files_df, AGGS: aggs, CWDS: cwds,
    }
    _write(cfg, out, threads=1)
    return _issue_counts(seg, m), _reasons(extra), cache.unknown_type_counts(seg)


def can_derive_incrementally(cfg: Config) -> bool:
    return all(_path(cfg, n).is_file() for n in (*tables.DERIVED, *INTERNAL))


def derive_changed(
    cfg: Config, files: list[sources.SourceFile], prices: PriceTable, changed: set[str], *,
    tasks_changed: bool,
) -> Counts | None:
    """The derived tables after a build that changed the sessions ``changed`` (counts as derive_all; None for
    the task/todo issues when those files were not read again). None when a full derive is the better plan
    (too many sessions changed)."""
    m = cache.load_manifest(cfg.cache_dir)
    seg = cfg.cache_dir / "segments"
    old_sessions = pl.read_parquet(_path(cfg, "sessions"), columns=["session_id"])
    if len(changed) > max(50, MAX_INCREMENTAL_SHARE * old_sessions.height):
        return None
    C = sorted(changed)
    usage_lf = cache.scan_raw(seg, m, "usage")
    entries_lf = cache.scan_raw(seg, m, "entries")
    blocks_lf = cache.scan_raw(seg, m, "blocks").select(BLOCK_COLS)

    # ---- responses: all rows of every key that is, or was, in a changed session
    old_resp = pl.read_parquet(_path(cfg, "responses"))
    usage_c = usage_lf.filter(_in("session_id", C)).collect()
    keys = pl.concat([_keys(usage_c), _keys(old_resp.filter(_in("session_id", C)))]).unique()
    usage_k = (
        usage_lf.filter(_in("msg_id", keys.get_column("msg_id").unique()) & ~_in("session_id", C)).collect()
        .join(keys, on=KEY, how="semi")
    )
    usage_sub = pl.concat([usage_c, usage_k])
    fids = usage_sub.get_column("file_id").unique()
    file_first = (
        usage_lf.filter(pl.col("file_id").is_in(fids.implode())).select("file_id", "timestamp").collect()
        .with_columns(tables.parse_ts("timestamp")).group_by("file_id").agg(pl.col("timestamp").min().alias("_file_first"))
    )
    new_resp = tables.derive_responses(usage_sub, prices, file_first=file_first)
    others = old_resp.filter(~_in("session_id", C))
    moved = set(others.join(keys, on=KEY, how="semi").get_column("session_id").drop_nulls().to_list())
    moved.update(new_resp.get_column("session_id").drop_nulls().to_list())
    responses = (
        pl.concat([others.join(keys, on=KEY, how="anti"), new_resp], how="vertical_relaxed")
        .sort(["timestamp", "file_id", "line_no"], nulls_last=True)
    )

    # ---- tool calls: every id used or answered in a changed session, or listed under one before
    old_tc = pl.read_parquet(_path(cfg, "tool_calls"))
    ids = set(blocks_lf.filter(_in("session_id", C) & pl.col("tool_id").is_not_null()).select("tool_id")
              .collect().get_column("tool_id").to_list())
    ids.update(old_tc.filter(_in("session_id", C)).get_column("tool_id").to_list())
    T = sorted(ids)
    blocks_sub = blocks_lf.filter(_in("tool_id", T)).collect()
    bfids = blocks_sub.get_column("file_id").unique()
    ent_for_tools = (
        entries_lf.filter(pl.col("file_id").is_in(bfids.implode())).select(list(tables.DERIVE_ENTRY_COLS))
        .with_columns(tables.parse_ts("timestamp")).collect()
    )
    new_tc = tables.derive_tool_calls(blocks_sub.lazy(), ent_for_tools)
    gone_tc = _in("tool_id", T)
    moved.update(old_tc.filter(gone_tc).get_column("session_id").drop_nulls().to_list())
    moved.update(new_tc.get_column("session_id").drop_nulls().to_list())
    tool_calls = (
        pl.concat([old_tc.filter(~gone_tc), new_tc], how="vertical_relaxed")
        .sort(["timestamp", "file_id", "line_no"], nulls_last=True)
    )

    # ---- per-session aggregates of every session that changed or whose responses / tool calls moved
    A = sorted(set(C) | moved)
    ent_lf_a = entries_lf.filter(_in("session_id", A))
    entries_a = ent_lf_a.select(list(tables.DERIVE_ENTRY_COLS)).with_columns(tables.parse_ts("timestamp")).collect()
    aggs_a = tables.session_aggregates(
        entries_a, responses.filter(_in("session_id", A)), tool_calls.filter(_in("session_id", A)),
        tables.first_prompts(ent_lf_a),
    )
    old_aggs = pl.read_parquet(_path(cfg, AGGS))
    aggs = pl.concat([old_aggs.filter(~_in("session_id", A)), aggs_a], how="vertical_relaxed")
    old_cwds = pl.read_parquet(_path(cfg, CWDS))
    cwds = pl.concat([old_cwds.filter(~_in("session_id", A)), tables.cwd_counts(entries_a)], how="vertical_relaxed")

    # ---- the cheap global parts
    meta = cache.scan_raw(seg, m, "meta").collect()
    leaves = meta.get_column("leaf_uuid").drop_nulls().unique()
    leaf_sessions = entries_lf.filter(pl.col("uuid").is_in(leaves.implode())).select("uuid", "session_id").collect()
    files_df = tables.files_frame(m.files)
    sessions = tables.finish_sessions(aggs, tables.session_titles(meta, leaf_sessions), files_df)
    out = {
        "responses": responses, "tool_calls": tool_calls, "sessions": sessions,
        "projects": tables.derive_projects(sessions, cwds), "files": files_df, AGGS: aggs, CWDS: cwds,
    }
    out["prompts"] = tables.derive_prompts(cache.scan_raw(seg, m, "history").collect())
    aux = None
    if tasks_changed:
        extra: list = []
        out["tasks"] = tables.read_tasks(files, extra)
        out["todos"] = tables.read_todos(files, extra)
        aux = _reasons(extra)
    _write(cfg, out)
    return _issue_counts(seg, m), aux, cache.unknown_type_counts(seg)
