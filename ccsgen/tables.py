"""Tables (Polars): raw schemas, and the derived tables every front end reads.

Raw tables (one row per line / block, written by the cache):
``entries``, ``usage``, ``blocks``, ``meta``, ``history``, ``issues``.

Derived tables (rebuilt from the raw ones after each ingest, Parquet in the cache):
``responses``, ``tool_calls``, ``sessions``, ``projects``, ``prompts``, ``tasks``, ``todos``, ``files``.
Their meaning is documented in docs/definitions.md.
"""

from __future__ import annotations

import logging
import os
import zlib
from pathlib import Path

import polars as pl

from . import records, sources
from .config import DERIVED_TABLES, PARTITIONED_TABLES, TABLE_PARTS, table_paths
from .pricing import PriceTable, add_cost
from .rawvalues import CONTEXT_PREFIX_RE

log = logging.getLogger(__name__)

S, I64, B, F64 = pl.String, pl.Int64, pl.Boolean, pl.Float64
TS = pl.Datetime("ms", "UTC")
_DTYPES = {"str": S, "i64": I64, "bool": B, "f64": F64}

RAW_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    name: {c: _DTYPES[k] for c, k in cols.items()} for name, cols in records.RAW_TYPES.items()
}
for _name, _cols in (("entries", records.ENTRY_COLS), ("usage", records.USAGE_COLS),
                     ("blocks", records.BLOCK_COLS), ("meta", records.META_COLS), ("history", records.HISTORY_COLS)):
    assert tuple(RAW_SCHEMAS[_name]) == _cols, _name

#: the entry columns the derived tables need (the text and the DAG links stay on disk)
DERIVE_ENTRY_COLS = (
    "file_id", "line_no", "uuid", "session_id", "project", "agent_id", "is_sidechain", "kind", "timestamp", "model", "msg_id",
    "request_id", "user_kind", "has_tool_result", "is_compact_summary", "is_api_error", "version", "git_branch",
    "cwd", "slug",
)
#: user lines a person typed (see docs/definitions.md "user message")
HUMAN_USER_KINDS = ("prompt", "command", "bash")
TOKEN_COLS = ("input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens")


# ---------------------------------------------------------------- sums of costs

#: Costs are summed as whole nano-dollars. A float sum depends on the order of its additions, and Polars'
#: multi-threaded group_by merges partial sums in whatever order its threads finish: the same rows gave a
#: day's total as 6.213985700000001 on one run and 6.213985700000002 on the next (and the API and the site
#: could disagree in the last digit). A sum of whole numbers is exact, so the order does not matter. Each
#: cost is rounded to 1e-9 USD first (a million responses' total is off by at most 0.0005 USD). The whole
#: numbers stay floats: exact up to 2**53 nano-dollars (9 million USD in one sum), and past that a sum
#: only loses the exactness of its last digit, where an integer column would overflow.
COST_UNIT = 1e9


def cost_sum(col: str = "cost_usd") -> pl.Expr:
    """``pl.col(col).sum()`` for a cost in USD, the same on every run (see ``COST_UNIT``); keeps the name."""
    return ((pl.col(col) * COST_UNIT).round(0).sum() / COST_UNIT).alias(col)


def cost_total(s: pl.Series) -> float:
    """``float(s.sum())`` for a Series of costs in USD, the same on every run (see ``COST_UNIT``)."""
    if not s.len():
        return 0.0
    return float((s.cast(pl.Float64) * COST_UNIT).round(0).sum() or 0.0) / COST_UNIT


def sum_exprs(*cols: str) -> list[pl.Expr]:
    """``pl.col(c).sum()`` for each column, ``cost_usd`` by ``cost_sum``."""
    return [cost_sum(c) if c == "cost_usd" else pl.col(c).sum() for c in cols]
DERIVED = DERIVED_TABLES
TITLE_LEN = 120


def parse_ts(col: str) -> pl.Expr:
    """ISO-8601 strings (``…Z`` or ``+00:00``, with or without a fraction) -> UTC datetimes; junk -> null."""
    c = pl.col(col).str.replace("+00:00", "Z", literal=True)
    ts = pl.coalesce(
        c.str.strptime(TS, "%Y-%m-%dT%H:%M:%S%.fZ", strict=False),  # %.f: the fraction may be absent
        c.str.strptime(TS, "%Y-%m-%dT%H:%M:%S%.f%z", strict=False),  # other offsets
    )
    # a time outside records.MIN_TS_MS..MAX_TS_MS (year 0001, 9999) is junk too
    ms = ts.dt.epoch("ms")
    return pl.when((ms >= records.MIN_TS_MS) & (ms < records.MAX_TS_MS)).then(ts).alias(col)


def total_tokens() -> pl.Expr:
    return pl.sum_horizontal(*TOKEN_COLS)


# ---------------------------------------------------------------- responses


def derive_responses(usage: pl.DataFrame, prices: PriceTable, file_first: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per API response: (message.id, requestId) groups merged, usage from the largest line.

    Ties (the same response replayed in several files) go to the file that started first, as in ccusage; never
    to the lowest file_id, which depends on the history of builds. ``file_first`` (file_id, _file_first) gives
    each file's first timestamp when ``usage`` holds only some of a file's rows."""
    df = usage.with_columns(parse_ts("timestamp"), total_tokens().alias("_total"))
    if file_first is None:
        df = df.with_columns(pl.col("timestamp").min().over("file_id").alias("_file_first"))
    else:
        df = df.join(file_first, on="file_id", how="left")
    keyed = df.filter(pl.col("msg_id").is_not_null() & pl.col("request_id").is_not_null())
    loose = df.filter(pl.col("msg_id").is_null() | pl.col("request_id").is_null())
    key = ["msg_id", "request_id"]
    # the line with the largest total; only ties (rare) need the full ordering
    top = keyed.filter(pl.col("_total") == pl.col("_total").max().over(key))
    n = pl.len().over(key)
    ties = (
        top.filter(n > 1)
        .sort(["_total", "_file_first", "session_id", "agent_id", "line_no"],
              descending=[True, False, False, False, False], nulls_last=True)
        .unique(subset=key, keep="first", maintain_order=True)
    )
    keyed = pl.concat([top.filter(n == 1), ties])
    out = pl.concat([keyed, loose]).sort(["timestamp", "file_id", "line_no"], nulls_last=True)
    out = add_cost(out.drop("_total", "_file_first"), prices)
    return out.with_columns(
        (pl.col("priced") | pl.col("cost_usd_line").is_not_null()).alias("priced"),
        total_tokens().alias("total_tokens"),
    )


# ---------------------------------------------------------------- tool calls

def derive_tool_calls(blocks: pl.LazyFrame, entries: pl.DataFrame) -> pl.DataFrame:
    """One row per tool_use id. A use copied into several files (a resumed or forked session) is kept once: the
    earliest (then by session id, agent, line), paired with its result from the same session when there is one.
    Never by file id, which depends on the history of builds."""
    return tool_calls_from(*tool_blocks(blocks), entries)


def tool_blocks(blocks: pl.LazyFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The tool_use and the tool_result blocks ``derive_tool_calls`` reads."""
    uses = (
        blocks.filter(pl.col("btype").is_in(["tool_use", "server_tool_use"]) & pl.col("tool_id").is_not_null())
        .select("tool_id", "tool_name", "uuid", "session_id", "summary", "size", "file_id", "line_no")
        .collect()
    )
    results = (
        blocks.filter((pl.col("btype") == "tool_result") & pl.col("tool_id").is_not_null())
        .select(
            "tool_id", "is_error", pl.col("size").alias("result_size"), "result_agent_id",
            pl.col("uuid").alias("result_uuid"), pl.col("session_id").alias("_rsession"),
            pl.col("line_no").alias("_rline"),
        )
        .collect()
    )
    return uses, results


def tool_calls_from(uses: pl.DataFrame, results: pl.DataFrame, entries: pl.DataFrame) -> pl.DataFrame:
    # the line the tool_use block is in (not its uuid: copied lines repeat uuids)
    ent = entries.select("file_id", "line_no", "timestamp", "project", "agent_id", "is_sidechain", "model")
    uses = uses.join(ent, on=["file_id", "line_no"], how="left")
    n = pl.len().over("tool_id")
    dup = (
        uses.filter(n > 1)
        .sort(["timestamp", "session_id", "agent_id", "line_no"], nulls_last=True)
        .unique(subset=["tool_id"], keep="first", maintain_order=True)
    )
    uses = pl.concat([uses.filter(n == 1), dup])
    rn = pl.len().over("tool_id")
    rdup = (
        results.filter(rn > 1)
        .join(uses.select("tool_id", "session_id"), on="tool_id", how="left")
        .sort([pl.col("_rsession") != pl.col("session_id"), "_rsession", "_rline"], nulls_last=True)
        .unique(subset=["tool_id"], keep="first", maintain_order=True)
        .drop("session_id")
    )
    results = pl.concat([results.filter(rn == 1), rdup]).drop("_rsession", "_rline")
    out = (
        uses.join(results, on="tool_id", how="left")
        .with_columns(
            pl.col("summary").fill_null("").alias("input_summary"),
            pl.col("result_uuid").is_not_null().alias("has_result"),
            pl.col("is_error").fill_null(False),
            pl.col("result_size").fill_null(0),
        )
        .drop("summary")
        .rename({"tool_name": "name", "size": "input_size"})
        .sort(["timestamp", "file_id", "line_no"], nulls_last=True)
    )
    return out


# ---------------------------------------------------------------- sessions and projects


def session_aggregates(
    entries: pl.DataFrame, responses: pl.DataFrame, tool_calls: pl.DataFrame, prompts_text: pl.DataFrame,
) -> pl.DataFrame:
    """The per-session sums and counts (the costly part of ``sessions``). Rows depend only on the session's own
    entries, responses, tool calls and first prompt, so a build can recompute the changed sessions alone."""
    e = entries
    is_user_msg = (pl.col("kind") == "user") & pl.col("user_kind").is_in(HUMAN_USER_KINDS)
    base = e.group_by("session_id").agg(
        # min, not first: a session whose file is under two project dirs (a copied dir) gets the same project
        # whatever order its rows were read in (a fresh build and an incremental one read them differently)
        pl.col("project").drop_nulls().min().alias("project"),
        pl.col("timestamp").min().alias("first_ts"),
        pl.col("timestamp").max().alias("last_ts"),
        pl.len().alias("lines"),
        (is_user_msg & ~pl.col("is_sidechain")).sum().alias("user_messages"),
        (is_user_msg & pl.col("is_sidechain")).sum().alias("subagent_user_messages"),
        ((pl.col("kind") == "user") & pl.col("has_tool_result")).sum().alias("tool_result_lines"),
        (pl.col("kind") == "system").sum().alias("system_lines"),
        pl.col("is_compact_summary").sum().alias("compactions"),
        pl.col("slug").drop_nulls().last().alias("slug"),
        pl.col("cwd").drop_nulls().first().alias("cwd"),
        pl.col("git_branch").filter(pl.col("git_branch").is_not_null() & (pl.col("git_branch") != "")).last()
        .alias("git_branch"),
        pl.col("version").drop_nulls().last().alias("version"),
        pl.col("agent_id").filter(pl.col("is_sidechain") & (pl.col("agent_id") != "")).n_unique()
        .alias("subagents"),
        pl.col("is_api_error").sum().alias("api_errors"),
    )
    # assistant messages = API responses (merged), counted from entries so text-only lines without usage count too
    asst = (
        e.filter(pl.col("kind") == "assistant")
        .with_columns(pl.coalesce(pl.col("msg_id") + ":" + pl.col("request_id").fill_null(""), pl.col("uuid")).alias("_k"))
        .group_by("session_id")
        .agg(
            pl.col("_k").filter(~pl.col("is_sidechain")).n_unique().alias("assistant_messages"),
            pl.col("_k").filter(pl.col("is_sidechain")).n_unique().alias("subagent_assistant_messages"),
        )
    )
    tok = responses.group_by("session_id").agg(
        *sum_exprs(*TOKEN_COLS, "cache_5m_tokens", "cache_1h_tokens", "total_tokens", "cost_usd"),
        pl.len().alias("responses"),
        pl.col("model").drop_nulls().unique().sort().alias("models"),
        pl.col("timestamp").min().alias("_rfirst"),
        pl.col("timestamp").max().alias("_rlast"),
        pl.col("project").drop_nulls().min().alias("_rproject"),
    )
    tools = tool_calls.group_by("session_id").agg(
        pl.len().alias("tool_calls"), pl.col("is_error").sum().alias("tool_errors")
    )
    first_prompt = prompts_text.group_by("session_id").agg(pl.col("text").first().alias("first_prompt"))
    return (
        base.join(asst, on="session_id", how="left")
        .join(tok, on="session_id", how="full", coalesce=True)
        .join(tools, on="session_id", how="left")
        .join(first_prompt, on="session_id", how="left")
        .filter(pl.col("session_id").is_not_null() & (pl.col("session_id") != ""))
    )


def session_titles(meta: pl.DataFrame, leaf_sessions: pl.DataFrame) -> pl.DataFrame:
    """ai-title, custom-title, summary and agent name per session. A ``summary`` line belongs to the session of
    the message its ``leafUuid`` names; ``leaf_sessions`` maps those uuids (columns uuid, session_id)."""
    leaf = leaf_sessions.select(pl.col("uuid").alias("leaf_uuid"), pl.col("session_id").alias("_leaf_session"))
    m = meta.join(leaf, on="leaf_uuid", how="left").with_columns(
        pl.when(pl.col("kind") == "summary").then(pl.coalesce("_leaf_session", "session_id"))
        .otherwise(pl.col("session_id")).alias("session_id")
    )
    return m.sort(["file_id", "line_no"]).group_by("session_id").agg(
        pl.col("value").filter(pl.col("kind") == "ai-title").last().alias("ai_title"),
        pl.col("value").filter(pl.col("kind") == "custom-title").last().alias("custom_title"),
        pl.col("value").filter(pl.col("kind") == "summary").last().alias("summary"),
        pl.col("value").filter(pl.col("kind") == "agent-name").last().alias("agent_name"),
    )


def finish_sessions(aggs: pl.DataFrame, titles: pl.DataFrame, files: pl.DataFrame) -> pl.DataFrame:
    """``sessions``: the aggregates, plus titles (ai-title > custom-title > summary > first real prompt) and
    what the files say (path, last write, bytes)."""
    fpaths = files.filter(pl.col("kind").is_in([sources.MAIN, sources.SUBAGENT, sources.OTHER])).with_columns(
        pl.when(pl.col("kind") == sources.SUBAGENT)
        .then(pl.col("path").str.replace(r"/subagents/.*$", ""))
        .otherwise(pl.col("path")).alias("spath"),
        (pl.col("kind") == sources.MAIN).alias("_is_main"),
    )
    fagg = (
        files.filter(pl.col("session_hint") != "").group_by("session_hint")
        .agg(pl.col("mtime").max().alias("last_write"), pl.col("size").sum().alias("file_bytes"),
             pl.len().alias("files"))
        .rename({"session_hint": "session_id"})
    )
    spath = (
        fpaths.sort(["_is_main"], descending=True).group_by("session_hint")
        .agg(pl.col("spath").first().alias("path"), pl.col("_is_main").any().alias("has_main_file"))
        .rename({"session_hint": "session_id"})
    )
    out = (
        aggs.join(titles, on="session_id", how="left")
        .join(spath, on="session_id", how="left")
        .join(fagg, on="session_id", how="left")
    )
    agg_cols = [c for c in aggs.columns if c != "first_prompt"]
    order = [*agg_cols, *[c for c in titles.columns if c != "session_id"], "first_prompt",
             *[c for c in spath.columns if c != "session_id"], *[c for c in fagg.columns if c != "session_id"]]
    out = out.select(order)
    zero_int = ["user_messages", "subagent_user_messages", "assistant_messages", "subagent_assistant_messages",
                "tool_calls", "tool_errors", "responses", "lines", "tool_result_lines", "system_lines",
                "compactions", "subagents", "api_errors", "cache_5m_tokens", "cache_1h_tokens", "total_tokens",
                "files", "file_bytes", *TOKEN_COLS]
    out = out.with_columns(
        *[pl.col(c).fill_null(0).cast(pl.Int64) for c in zero_int],
        pl.col("cost_usd").fill_null(0.0),
        pl.coalesce("project", "_rproject").alias("project"),
        pl.coalesce("first_ts", "_rfirst").alias("first_ts"),
        pl.coalesce("last_ts", "_rlast").alias("last_ts"),
        pl.col("models").fill_null(pl.lit([], dtype=pl.List(pl.String))),
        pl.col("has_main_file").fill_null(False),
    ).drop("_rfirst", "_rlast", "_rproject")
    out = out.with_columns(
        (pl.col("user_messages") + pl.col("assistant_messages")).alias("message_count"),
        (pl.col("user_messages") + pl.col("assistant_messages") + pl.col("subagent_user_messages")
         + pl.col("subagent_assistant_messages")).alias("message_count_all"),
        ((pl.col("last_ts") - pl.col("first_ts")).dt.total_milliseconds() / 1000.0).fill_null(0.0)
        .alias("duration_s"),
        pl.coalesce(
            pl.col("ai_title"), pl.col("custom_title"), pl.col("summary"), pl.col("first_prompt"),
            pl.col("slug"), pl.lit("(untitled)"),
        ).str.replace_all(r"\s+", " ").str.strip_chars().alias("title"),
    ).with_columns(short_title(pl.col("title")))
    return out.sort(["last_ts", "session_id"], descending=[True, False], nulls_last=True)


def short_title(t: pl.Expr) -> pl.Expr:
    """At most TITLE_LEN characters: a longer title is cut at a word boundary and ends in "…"."""
    cut = t.str.slice(0, TITLE_LEN - 1)
    return (pl.when(t.str.len_chars() > TITLE_LEN)
            .then(pl.when(cut.str.contains(r"\s\S*$")).then(cut.str.replace(r"\s+\S*$", "")).otherwise(cut) + "…")
            .otherwise(t).alias(t.meta.output_name()))


def first_prompts(entries: pl.LazyFrame) -> pl.DataFrame:
    """The first real prompt (typed by a person, main transcript) of each session, with its text."""
    return (
        entries.filter(
            (pl.col("kind") == "user") & (pl.col("user_kind") == "prompt") & ~pl.col("is_sidechain")
        )
        .select("session_id", "file_id", "line_no",
                pl.col("text").str.slice(0, 20_000).str.replace(CONTEXT_PREFIX_RE, "").str.slice(0, 400))
        .sort(["file_id", "line_no"])
        .collect()
    )


def cwd_counts(entries: pl.DataFrame) -> pl.DataFrame:
    """Lines per (session, project, cwd) in main transcripts: a project's path is its most used cwd."""
    return (
        entries.filter(pl.col("cwd").is_not_null() & (pl.col("cwd") != "") & ~pl.col("is_sidechain"))
        .group_by("session_id", "project", "cwd").agg(pl.len().cast(pl.Int64).alias("n"))
    )


def derive_projects(sessions: pl.DataFrame, cwds: pl.DataFrame) -> pl.DataFrame:
    """``projects`` from ``sessions`` and ``cwd_counts``."""
    cwd = (
        cwds.group_by("project", "cwd").agg(pl.col("n").sum())
        .sort(["n", "cwd"], descending=[True, False])
        .group_by("project", maintain_order=True).agg(pl.col("cwd").first().alias("path"))
    )
    agg = sessions.group_by("project").agg(
        pl.len().alias("session_count"),
        pl.col("first_ts").min().alias("first_activity"),
        pl.col("last_ts").max().alias("last_activity"),
        pl.col("message_count").sum(),
        pl.col("tool_calls").sum(),
        *sum_exprs(*TOKEN_COLS, "total_tokens", "cost_usd"),
        pl.col("last_write").max().alias("last_write"),
        pl.col("file_bytes").sum().alias("file_bytes"),
        pl.col("files").sum().alias("files"),
    )
    out = agg.join(cwd, on="project", how="left").with_columns(
        pl.col("path").fill_null(pl.col("project")),
    ).with_columns(
        pl.col("path").str.replace(r"[\\/]+$", "").str.split("/").list.last().str.split("\\").list.last()
        .alias("name"),
    ).with_columns(pl.when(pl.col("name") == "").then(pl.col("project")).otherwise(pl.col("name")).alias("name"))
    return out.rename({"project": "id"}).sort(["last_activity", "id"], descending=[True, False], nulls_last=True)


# ---------------------------------------------------------------- prompts, tasks, todos, files


def derive_prompts(history: pl.DataFrame) -> pl.DataFrame:
    return history.with_columns(
        pl.from_epoch(pl.col("timestamp_ms"), time_unit="ms").dt.replace_time_zone("UTC").alias("timestamp")
    ).drop("timestamp_ms").sort(["timestamp"], nulls_last=True)


TASK_SCHEMA = {
    "id": S, "session_id": S, "subject": S, "description": S, "status": S, "owner": S,
    "blocked_by": pl.List(S), "blocks": pl.List(S), "active_form": S, "metadata": S, "created_at": TS,
    "path": S,
}
TODO_SCHEMA = {"session_id": S, "agent_id": S, "idx": I64, "content": S, "status": S, "active_form": S,
               "updated_at": TS}


def read_tasks(files: list[sources.SourceFile], issues: list[records.ParseIssue]) -> pl.DataFrame:
    import json

    rows = []
    for sf in files:
        if sf.kind != sources.TASK:
            continue
        obj, issue = records.read_json_file(sf.path)
        if issue:
            issues.append(issue)
            continue
        if not isinstance(obj, dict):
            issues.append(records.ParseIssue(str(sf.path), 0, "not an object"))
            continue
        try:
            mtime = os.stat(sf.path).st_mtime
        except OSError:
            mtime = None

        def _list(v):
            return [str(x) for x in v] if isinstance(v, list) else []

        status = obj.get("status") if isinstance(obj.get("status"), str) else "pending"
        rows.append({
            "id": str(obj.get("id") or sf.path.stem), "session_id": sf.session_hint,
            "subject": str(obj.get("subject") or obj.get("content") or ""),
            "description": str(obj.get("description") or ""), "status": status,
            "owner": obj.get("owner") if isinstance(obj.get("owner"), str) else None,
            "blocked_by": _list(obj.get("blockedBy")), "blocks": _list(obj.get("blocks")),
            "active_form": obj.get("activeForm") if isinstance(obj.get("activeForm"), str) else None,
            "metadata": json.dumps(obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}),
            "created_at": int(mtime * 1000) if mtime else None,
            "path": str(sf.path),
        })
    df = pl.DataFrame(rows, schema={**TASK_SCHEMA, "created_at": I64})
    return df.with_columns(pl.col("created_at").cast(TS))


def read_todos(files: list[sources.SourceFile], issues: list[records.ParseIssue]) -> pl.DataFrame:
    rows = []
    for sf in files:
        if sf.kind != sources.TODO:
            continue
        obj, issue = records.read_json_file(sf.path)
        if issue:
            issues.append(issue)
            continue
        if not isinstance(obj, list):
            continue
        stem = sf.path.stem
        agent = stem.split("-agent-", 1)[1] if "-agent-" in stem else ""
        try:
            mtime = int(os.stat(sf.path).st_mtime * 1000)
        except OSError:
            mtime = None
        for i, t in enumerate(obj):
            if isinstance(t, dict):
                rows.append({
                    "session_id": sf.session_hint, "agent_id": agent, "idx": i, "content": str(t.get("content", "")),
                    "status": str(t.get("status", "pending")), "active_form": t.get("activeForm") if isinstance(
                        t.get("activeForm"), str) else None, "updated_at": mtime,
                })
    df = pl.DataFrame(rows, schema={**TODO_SCHEMA, "updated_at": I64})
    return df.with_columns(pl.col("updated_at").cast(TS))


def files_frame(manifest_files: dict) -> pl.DataFrame:
    sts = list(manifest_files.values())
    cols = {
        "file_id": [st.file_id for st in sts], "path": list(manifest_files), "kind": [st.kind for st in sts],
        "project": [st.project for st in sts], "session_hint": [st.session_hint for st in sts],
        "agent_id": [st.agent_id for st in sts], "size": [st.size for st in sts],
        "mtime": [st.mtime_ns // 1_000_000 for st in sts], "lines": [st.lines for st in sts],
        "offset": [st.offset for st in sts],
    }
    schema = {"file_id": I64, "path": S, "kind": S, "project": S, "session_hint": S, "agent_id": S, "size": I64,
              "mtime": I64, "lines": I64, "offset": I64}
    return pl.DataFrame(cols, schema=schema).with_columns(pl.col("mtime").cast(TS))


def write_table(df: pl.DataFrame, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    df.write_parquet(tmp, compression="lz4")
    os.replace(tmp, path)


# ---------------------------------------------------------------- partitioned tables (see config.PARTITIONED_TABLES)

#: the order of the rows of ``responses`` and ``tool_calls`` (and of each of their parts)
ROW_ORDER = ["timestamp", "file_id", "line_no"]


def part_of(session_id: str | None) -> int:
    """The part a session's rows live in: a hash that is the same in every Python and Polars version."""
    return zlib.crc32(session_id.encode()) % TABLE_PARTS if session_id else 0


def part_ids(session_ids: pl.Series) -> pl.Series:
    """``part_of`` of each value (a null or empty session id: part 0)."""
    mapping = {s: part_of(s) for s in session_ids.drop_nulls().unique().to_list()}
    return session_ids.replace_strict(mapping, default=0, return_dtype=pl.Int64).fill_null(0)


def parts_of(session_ids) -> set[int]:
    return {part_of(s) for s in session_ids}


def read_part(tables_dir: Path, name: str, part: int) -> pl.DataFrame:
    return pl.read_parquet(table_paths(tables_dir, name)[part])


def write_part(df: pl.DataFrame, tables_dir: Path, name: str, part: int) -> None:
    write_table(df, table_paths(tables_dir, name)[part])


def scan_table(tables_dir: Path, name: str) -> pl.LazyFrame:
    """A derived table as a LazyFrame over its file(s); rows of a partitioned table in no particular order."""
    paths = table_paths(tables_dir, name)
    return pl.scan_parquet(paths) if len(paths) > 1 else pl.scan_parquet(paths[0])


def read_table(tables_dir: Path, name: str) -> pl.DataFrame:
    """A derived table, whole, rows in its order (how readers open every derived table)."""
    if name not in PARTITIONED_TABLES:
        return pl.read_parquet(table_paths(tables_dir, name)[0])
    return pl.read_parquet(table_paths(tables_dir, name)).sort(ROW_ORDER, nulls_last=True, maintain_order=True)


def write_partitioned(df: pl.DataFrame, tables_dir: Path, name: str) -> None:
    """Every part of ``name`` from the whole table (sorted by ``ROW_ORDER``); the parts keep that order."""
    from concurrent.futures import ThreadPoolExecutor

    d = tables_dir / name
    d.mkdir(parents=True, exist_ok=True)
    part = part_ids(df.get_column("session_id"))
    # two parts at a time (Polars encodes without holding the GIL): peak memory grows by two parts, not by the table
    with ThreadPoolExecutor(max_workers=2) as ex:
        for f in [ex.submit(lambda i: write_part(df.filter(part == i), tables_dir, name, i), i)
                  for i in range(TABLE_PARTS)]:
            f.result()
    keep = set(table_paths(tables_dir, name))
    for p in d.iterdir():  # parts of another layout, a write cut short
        if p not in keep:
            p.unlink(missing_ok=True)
    (tables_dir / f"{name}.parquet").unlink(missing_ok=True)  # the one-file layout of older versions
