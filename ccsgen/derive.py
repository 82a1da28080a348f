"""Derive the tables from the raw segments: all of them, or only what a build changed.

A full derive reads every raw row. An incremental one starts from the tables the last build wrote and the
sessions whose raw rows changed (``C``: sessions with new rows, and sessions whose rows were dropped with a
rewritten or deleted file), and recomputes:

- ``responses``: every (message.id, requestId) key seen in ``C`` now or in ``C``'s old responses, over all of
  that key's raw rows wherever they are (a response replayed into another session is still merged once);
- ``tool_calls``: every tool_use id used or answered in ``C``, over all of its rows;
- the per-session aggregates of ``C`` plus every session whose responses or tool calls moved;
- then the cheap global parts (titles, files, projects) from those; prompts only when a history file changed.

``responses`` and ``tool_calls`` are stored in parts by session (config.PARTITIONED_TABLES): an incremental
derive rewrites only the parts holding a row it removed or added.

Both paths end in the same functions of ccsgen.tables; tests/test_derive.py checks that an incremental derive
after appends, rewrites, deletions and new files equals a full one.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import polars as pl

from . import cache, sources, tables
from .config import Config, table_exists, table_paths
from .pricing import PriceTable

log = logging.getLogger(__name__)

#: internal tables (not part of the read API) kept so the next build can derive incrementally: per-session
#: aggregates, cwd counts, the (uuid, session) of every line a summary's leafUuid names, and those leaf uuids;
#: the sessions of a response key's raw rows when there are several, and of a tool id's raw blocks besides the
#: session of its tool call (so that the rows of a key or tool id are looked for in a few parts, not in all)
AGGS, CWDS, LEAF_SESSIONS, LEAVES = "_session_aggs", "_cwd_counts", "_leaf_sessions", "_leaves"
KEY_SESSIONS, TOOL_SESSIONS = "_key_sessions", "_tool_sessions"
INTERNAL = (AGGS, CWDS, LEAF_SESSIONS, LEAVES, KEY_SESSIONS, TOOL_SESSIONS)
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


def _not_in(col: str, values) -> pl.Expr:
    """Not among ``values`` (a null is not among them: its row is kept, as a full derive keeps it)."""
    return ~_in(col, values).fill_null(False)


def _shared_keys(usage: pl.DataFrame) -> pl.DataFrame:
    """(msg_id, request_id, session_id) of every key whose rows are in more than one session."""
    pairs = usage.filter(pl.col("msg_id").is_not_null() & pl.col("request_id").is_not_null()).select(
        *KEY, "session_id").unique()
    return pairs.filter(pl.len().over(KEY) > 1).sort([*KEY, "session_id"], nulls_last=True)


def _tool_extra(uses: pl.DataFrame, results: pl.DataFrame, tool_calls: pl.DataFrame) -> pl.DataFrame:
    """(tool_id, session_id) of the tool_use and tool_result blocks (see tables.tool_blocks) of a tool id in
    another session than its tool call's (or with no tool call)."""
    pairs = pl.concat([uses.select("tool_id", "session_id"),
                       results.select("tool_id", pl.col("_rsession").alias("session_id"))]).unique()
    return pairs.join(tool_calls.select("tool_id", "session_id"), on=["tool_id", "session_id"], how="anti",
                      nulls_equal=True).sort(["tool_id", "session_id"], nulls_last=True)


def _holders(holders: pl.Series, listed: pl.DataFrame, changed) -> set[str]:
    """The sessions other than ``changed`` that may hold raw rows of some keys / tool ids: the sessions of their
    derived rows (``holders``), those ``listed`` in an internal table, and the session-less rows (``""``)."""
    out = set(holders.fill_null("").to_list()) | set(listed.get_column("session_id").fill_null("").to_list())
    return (out | {""}) - set(changed)


def _leaf_sessions(entries: pl.DataFrame | pl.LazyFrame, leaves: pl.Series):
    return entries.filter(pl.col("uuid").is_in(leaves.implode())).select("uuid", "session_id")


Job = tuple[pl.DataFrame, Path]


def _write(jobs: list[Job], *, threads: int = 2) -> None:
    """Write tables (or parts), two at a time by default (Polars encodes Parquet without holding the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    biggest_first = sorted(jobs, key=lambda j: -j[0].height)
    with ThreadPoolExecutor(max_workers=threads) as ex:
        for f in [ex.submit(tables.write_table, df, path) for df, path in biggest_first]:
            f.result()


def _reasons(issues: list) -> dict[str, int]:
    return dict(Counter(i.reason.split(":")[0] for i in issues))


Counts = tuple[dict[str, int], dict[str, int] | None, dict[str, int]]


def derive_all(cfg: Config, files: list[sources.SourceFile], prices: PriceTable,
               manifest: cache.Manifest | None = None) -> Counts:
    """Every derived table from every raw row. Returns (bad lines by reason in log files, in task/todo files,
    unknown line types)."""
    m = manifest or cache.load_manifest(cfg.cache_dir)
    seg = cfg.cache_dir / "segments"
    tdir = cfg.tables_dir
    # one raw table at a time, each dropped when done with: peak memory is what bounds a cold build
    usage = cache.scan_raw(seg, m, "usage").collect()
    responses = tables.derive_responses(usage, prices)
    shared = _shared_keys(usage)
    del usage
    entries_lf = cache.scan_raw(seg, m, "entries")
    entries = entries_lf.select(list(tables.DERIVE_ENTRY_COLS)).with_columns(tables.parse_ts("timestamp")).collect()
    meta = cache.scan_raw(seg, m, "meta").collect()
    history = cache.scan_raw(seg, m, "history").collect()
    files_df = tables.files_frame(m.files)
    uses, results = tables.tool_blocks(cache.scan_raw(seg, m, "blocks").select(BLOCK_COLS))
    tool_calls = tables.tool_calls_from(uses, results, entries)
    tool_extra = _tool_extra(uses, results, tool_calls)
    del uses, results
    aggs = tables.session_aggregates(entries, responses, tool_calls, tables.first_prompts(entries_lf))
    leaves = meta.get_column("leaf_uuid").drop_nulls().unique().sort()
    leaf_sessions = _leaf_sessions(entries, leaves)
    sessions = tables.finish_sessions(aggs, tables.session_titles(meta, leaf_sessions), files_df)
    cwds = tables.cwd_counts(entries)
    projects = tables.derive_projects(sessions, cwds)
    del entries  # the raw rows are the bulk of the peak: gone before writing
    extra: list = []
    out = {
        "sessions": sessions, "projects": projects,
        "prompts": tables.derive_prompts(history), "tasks": tables.read_tasks(files, extra),
        "todos": tables.read_todos(files, extra), "files": files_df, AGGS: aggs, CWDS: cwds,
        LEAF_SESSIONS: leaf_sessions, LEAVES: leaves.to_frame("uuid"), KEY_SESSIONS: shared, TOOL_SESSIONS: tool_extra,
    }
    tables.write_partitioned(responses, tdir, "responses")
    del responses
    tables.write_partitioned(tool_calls, tdir, "tool_calls")
    del tool_calls
    _write([(df, _path(cfg, name)) for name, df in out.items()], threads=1)
    return cache.issue_counts(seg, m), _reasons(extra), cache.unknown_type_counts(seg)


def can_derive_incrementally(cfg: Config) -> bool:
    return all(table_exists(cfg.tables_dir, n) for n in (*tables.DERIVED, *INTERNAL))


class _Parts:
    """The parts of one partitioned table an incremental derive reads and rewrites."""

    def __init__(self, cfg: Config, name: str):
        self.tdir, self.name = cfg.tables_dir, name
        self.old: dict[int, pl.DataFrame] = {}
        self.new: dict[int, pl.DataFrame] = {}

    def read(self, part: int) -> pl.DataFrame:
        if part not in self.old:
            self.old[part] = tables.read_part(self.tdir, self.name, part)
        return self.old[part]

    def rows_of(self, sessions: list[str]) -> pl.DataFrame:
        """Every row of ``sessions`` (from the parts as rewritten), in the table's order."""
        frames = []
        for p in sorted(tables.parts_of(sessions)):
            df = self.new.get(p)
            if df is None:
                df = self.old.get(p)
            if df is None:
                df = pl.scan_parquet(table_paths(self.tdir, self.name)[p]).filter(_in("session_id", sessions)).collect()
            frames.append(df.filter(_in("session_id", sessions)))
        if not frames:
            return self.read(0).clear()
        return pl.concat(frames, how="vertical_relaxed").sort(tables.ROW_ORDER, nulls_last=True)

    def splice(self, parts: set[int], keep: pl.Expr | None, drop: pl.DataFrame | None, on, fresh: pl.DataFrame):
        """Rewrite ``parts``: their old rows that pass ``keep`` and have no match in ``drop`` (by ``on``), plus the
        rows of ``fresh`` that belong there."""
        where = tables.part_ids(fresh.get_column("session_id"))
        for p in sorted(parts):
            old = self.read(p)
            kept = old.filter(keep) if keep is not None else old
            if drop is not None and drop.height:
                kept = kept.join(drop, on=on, how="anti")
            df = pl.concat([kept, fresh.filter(where == p)], how="vertical_relaxed")
            if df.schema != old.schema:
                df = df.cast(old.schema)
            self.new[p] = df.sort(tables.ROW_ORDER, nulls_last=True)

    def jobs(self) -> list[Job]:
        paths = table_paths(self.tdir, self.name)
        return [(df, paths[p]) for p, df in self.new.items()]


def derive_changed(
    cfg: Config, files: list[sources.SourceFile], prices: PriceTable, changed: set[str], *,
    tasks_changed: bool, history_changed: bool = True, manifest: cache.Manifest | None = None,
) -> Counts | None:
    """The derived tables after a build that changed the sessions ``changed`` (counts as derive_all; None for
    the task/todo issues when those files were not read again). None when a full derive is the better plan
    (too many sessions changed)."""
    m = manifest or cache.load_manifest(cfg.cache_dir)
    seg = cfg.cache_dir / "segments"
    tdir = cfg.tables_dir
    old_aggs = pl.read_parquet(_path(cfg, AGGS))
    if len(changed) > max(50, MAX_INCREMENTAL_SHARE * old_aggs.height):
        return None
    C = sorted(changed)
    PC = tables.parts_of(C)
    ent_cols = list(tables.DERIVE_ENTRY_COLS)

    on_disk = cache.parts_on_disk(seg)

    def raw(name: str, **only) -> pl.LazyFrame:  # only the parts that may hold rows of these sessions / files
        return cache.scan_raw(seg, m, name, on_disk=on_disk, **only)

    # ---- responses: all rows of every key that is, or was, in a changed session
    resp = _Parts(cfg, "responses")
    for p in PC:  # rewritten whatever else happens
        resp.read(p)
    old_c = resp.rows_of(C)
    usage_c = raw("usage", sessions=C).filter(_in("session_id", C)).collect()
    keys = pl.concat([_keys(usage_c), _keys(old_c)]).unique()
    key_ids = keys.get_column("msg_id").unique()
    # the sessions holding a row of one of these keys now (in any part)
    holders = (
        tables.scan_table(tdir, "responses").filter(_in("msg_id", key_ids)).select(*KEY, "session_id").collect()
        .join(keys, on=KEY, how="semi").get_column("session_id")
    )
    # their raw rows in other sessions: in the sessions of their responses, or listed as shared
    old_shared = pl.read_parquet(_path(cfg, KEY_SESSIONS))
    where = _holders(holders, old_shared.join(keys, on=KEY, how="semi"), C)
    usage_k = usage_c.clear()
    if where:
        usage_k = (
            raw("usage", sessions=where).filter(_in("msg_id", key_ids) & _not_in("session_id", C)).collect()
            .join(keys, on=KEY, how="semi")
        )
    usage_sub = pl.concat([usage_c, usage_k])
    fids = usage_sub.get_column("file_id").unique()
    file_first = (
        raw("usage", file_ids=fids.to_list()).filter(pl.col("file_id").is_in(fids.implode()))
        .select("file_id", "timestamp").collect()
        .with_columns(tables.parse_ts("timestamp")).group_by("file_id").agg(pl.col("timestamp").min().alias("_file_first"))
    )
    new_resp = tables.derive_responses(usage_sub, prices, file_first=file_first)
    shared = pl.concat([old_shared.join(keys, on=KEY, how="anti"), _shared_keys(usage_sub)])
    moved = set(holders.drop_nulls().to_list()) - set(C)
    moved.update(new_resp.get_column("session_id").drop_nulls().to_list())
    new_sessions = new_resp.get_column("session_id")
    resp.splice(PC | tables.parts_of(holders.to_list()) | tables.parts_of(new_sessions.to_list()),
                _not_in("session_id", C), keys, KEY, new_resp)

    # ---- tool calls: every id used or answered in a changed session, or listed under one before
    tc = _Parts(cfg, "tool_calls")
    blocks_c = (
        raw("blocks", sessions=C).filter(_in("session_id", C) & pl.col("tool_id").is_not_null()).select("tool_id")
        .collect()
    )
    ids = set(blocks_c.get_column("tool_id").to_list())
    for p in PC:
        tc.read(p)
    ids.update(tc.rows_of(C).get_column("tool_id").to_list())
    T = sorted(ids)
    # the entries of C: the lines of most tool uses found, and the rows of C's aggregates
    entries_c = (
        raw("entries", sessions=C).filter(_in("session_id", C)).select(ent_cols)
        .with_columns(tables.parse_ts("timestamp")).collect()
    )
    tool_extra = old_extra = pl.read_parquet(_path(cfg, TOOL_SESSIONS))
    if T:
        T_df = pl.DataFrame({"tool_id": T}, schema={"tool_id": pl.String})
        holders = (
            tables.scan_table(tdir, "tool_calls").filter(_in("tool_id", T)).select("session_id").collect()
            .get_column("session_id")
        )
        where = _holders(holders, tool_extra.join(T_df, on="tool_id", how="semi"), []) | set(C)
        uses, results = tables.tool_blocks(
            raw("blocks", sessions=where).select(BLOCK_COLS).filter(_in("tool_id", T)))
        # the lines of the uses: in C's entries, but for uses copied from other sessions
        missing = (
            uses.select("file_id", "line_no").unique()
            .join(entries_c.select("file_id", "line_no"), on=["file_id", "line_no"], how="anti")
        )
        ent_for_tools = entries_c
        if missing.height:
            mf = missing.get_column("file_id").unique()
            other = (
                raw("entries", file_ids=mf.to_list()).filter(pl.col("file_id").is_in(mf.implode()))
                .select(ent_cols).collect().join(missing, on=["file_id", "line_no"], how="semi")
                .with_columns(tables.parse_ts("timestamp"))
            )
            ent_for_tools = pl.concat([entries_c, other])
        new_tc = tables.tool_calls_from(uses, results, ent_for_tools)
        tool_extra = pl.concat([tool_extra.join(T_df, on="tool_id", how="anti"), _tool_extra(uses, results, new_tc)])
        moved.update(holders.drop_nulls().to_list())
        moved.update(new_tc.get_column("session_id").drop_nulls().to_list())
        tc.splice(PC | tables.parts_of(holders.to_list()) | tables.parts_of(new_tc.get_column("session_id").to_list()),
                  None, T_df, "tool_id", new_tc)

    # ---- per-session aggregates of every session that changed or whose responses / tool calls moved
    A = sorted(set(C) | moved)
    rest = sorted(set(A) - set(C))
    entries_a = entries_c
    if rest:
        entries_a = pl.concat([entries_c, raw("entries", sessions=rest).filter(_in("session_id", rest))
                              .select(ent_cols).with_columns(tables.parse_ts("timestamp")).collect()])
    aggs_a = tables.session_aggregates(
        entries_a, resp.rows_of(A), tc.rows_of(A),
        tables.first_prompts(raw("entries", sessions=A).filter(_in("session_id", A))),
    )
    aggs = pl.concat([old_aggs.filter(_not_in("session_id", A)), aggs_a], how="vertical_relaxed")
    old_cwds = pl.read_parquet(_path(cfg, CWDS))
    cwds = pl.concat([old_cwds.filter(_not_in("session_id", A)), tables.cwd_counts(entries_a)], how="vertical_relaxed")

    # ---- titles: the lines summaries name changed only in A (and in lines without a session) unless the
    # summaries did
    meta = raw("meta").collect()
    leaves = meta.get_column("leaf_uuid").drop_nulls().unique().sort()
    out: dict[str, pl.DataFrame] = {}
    old_leaf_sessions = pl.read_parquet(_path(cfg, LEAF_SESSIONS))
    if leaves.equals(pl.read_parquet(_path(cfg, LEAVES)).get_column("uuid"), check_names=False):
        no_session = pl.col("session_id").is_null() | (pl.col("session_id") == "")
        elsewhere = raw("entries", sessions=[""]).filter(no_session & _not_in("session_id", A))
        leaf_sessions = pl.concat([
            old_leaf_sessions.filter(_not_in("session_id", A) & ~no_session),
            _leaf_sessions(entries_a, leaves), _leaf_sessions(elsewhere, leaves).collect(),
        ])
    else:
        leaf_sessions = _leaf_sessions(raw("entries"), leaves).collect()
        out[LEAVES] = leaves.to_frame("uuid")
    files_df = tables.files_frame(m.files)
    sessions = tables.finish_sessions(aggs, tables.session_titles(meta, leaf_sessions), files_df)
    out.update({
        "sessions": sessions, "projects": tables.derive_projects(sessions, cwds), "files": files_df,
        AGGS: aggs, CWDS: cwds,
    })
    for name, new, old in ((LEAF_SESSIONS, leaf_sessions, old_leaf_sessions), (KEY_SESSIONS, shared, old_shared),
                           (TOOL_SESSIONS, tool_extra, old_extra)):
        if not new.equals(old):  # small internal tables: most builds leave them as they were
            out[name] = new
    if history_changed:
        out["prompts"] = tables.derive_prompts(raw("history").collect())
    aux = None
    if tasks_changed:
        extra: list = []
        out["tasks"] = tables.read_tasks(files, extra)
        out["todos"] = tables.read_todos(files, extra)
        aux = _reasons(extra)
    _write([*resp.jobs(), *tc.jobs(), *((df, _path(cfg, name)) for name, df in out.items())])
    return cache.issue_counts(seg, m), aux, cache.unknown_type_counts(seg)
