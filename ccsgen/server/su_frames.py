"""The per-project frames behind StackUnderflow's project statistics (su_stats.py): one project's messages,
responses, tool calls, commands (interactions), errors and idle gaps, derived once per Catalog snapshot from
the Catalog's tables (the server caches them). Definitions: see su_stats.py."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

from ..tables import HUMAN_USER_KINDS, cost_sum, sum_exprs

if TYPE_CHECKING:
    from ..catalog import Catalog

TOK = {"input": "input_tokens", "output": "output_tokens", "cache_creation": "cache_creation_tokens",
       "cache_read": "cache_read_tokens"}
SEARCH_TOOLS = ("Grep", "Glob", "LS")
IDLE_GAP_S = 60.0


def _h(*parts: str) -> str:
    return hashlib.sha256(":".join(parts).encode()).hexdigest()[:16]


def scan(cat: Catalog, name: str) -> pl.LazyFrame:
    """A lazy scan of a raw table (the Catalog's cached Parquet), so filters push down to the files."""
    return cat.scan(name)  # noqa: SLF001 - see the report: a public Catalog.scan(name) would replace this


# ---------------------------------------------------------------- per-project frames


@dataclass(frozen=True)
class ProjectFrames:
    pid: str
    name: str
    path: str
    sessions: pl.DataFrame  # the Catalog's sessions of the project
    responses: pl.DataFrame  # every response (subagents too), with cost components and cmd_id
    tool_calls: pl.DataFrame  # with cmd_id and the share of their response's tokens/cost
    messages: pl.DataFrame  # conversational messages, main transcript, file order
    commands: pl.DataFrame  # one row per command (interaction) with its totals
    errors: pl.DataFrame  # one row per error: timestamp, session_id, kind, tool, model, text, cmd_id
    interrupts: pl.DataFrame  # session_id, timestamp, cmd_id
    idle: pl.DataFrame  # per session: idle_gap_total_s, idle_gap_max_s
    #: values derived from the frames once (they are immutable): see :func:`memoized`
    memo: dict = field(default_factory=dict, compare=False, repr=False)


def memoized(f: ProjectFrames, name: str, fn):
    got = f.memo.get(name)
    if got is None:
        got = f.memo[name] = fn()
    return got


def _cost_components(r: pl.DataFrame, prices) -> pl.DataFrame:
    models = r.get_column("model").drop_nulls().unique().to_list() if r.height else []
    pf = prices.frame(models).select("model", "p_input", "p_output", "p_cache_read", "p_cw5", "p_cw1")
    j = r.join(pf, on="model", how="left")
    cw = pl.when((pl.col("cache_5m_tokens") + pl.col("cache_1h_tokens")) > 0).then(
        pl.col("cache_5m_tokens") * pl.col("p_cw5") + pl.col("cache_1h_tokens") * pl.col("p_cw1")
    ).otherwise(pl.col("cache_creation_tokens") * pl.col("p_cw5"))
    return j.with_columns(
        (pl.col("input_tokens") * pl.col("p_input")).fill_null(0.0).alias("input_cost"),
        (pl.col("output_tokens") * pl.col("p_output")).fill_null(0.0).alias("output_cost"),
        cw.fill_null(0.0).alias("cache_creation_cost"),
        (pl.col("cache_read_tokens") * pl.col("p_cache_read")).fill_null(0.0).alias("cache_read_cost"),
    ).drop("p_input", "p_output", "p_cache_read", "p_cw5", "p_cw1")


def msg_key() -> pl.Expr:
    return pl.coalesce(pl.col("msg_id") + ":" + pl.col("request_id").fill_null(""), pl.col("uuid")).alias("key")


def _asof_cmd(df: pl.DataFrame, cmds: pl.DataFrame) -> pl.DataFrame:
    """Attach ``cmd_id``: the latest command of the same session at or before each row's timestamp."""
    if df.height == 0:
        return df.with_columns(pl.lit(None, pl.String).alias("cmd_id"))
    left = df.with_row_index("_i").sort("timestamp", nulls_last=True)
    c = cmds.select("session_id", pl.col("timestamp").alias("_cts"), "cmd_id").sort("_cts")
    have = left.filter(pl.col("timestamp").is_not_null())
    none = left.filter(pl.col("timestamp").is_null()).with_columns(pl.lit(None, pl.String).alias("cmd_id"))
    if c.height == 0:
        j = have.with_columns(pl.lit(None, pl.String).alias("cmd_id"))
    else:
        j = have.join_asof(c, left_on="timestamp", right_on="_cts", by="session_id", strategy="backward",
                           check_sortedness=False).drop("_cts")
    return pl.concat([j, none], how="vertical_relaxed").sort("_i").drop("_i")


def project_frames(cat: Catalog, pid: str) -> ProjectFrames:
    """Everything the project's statistics need (the server caches it per Catalog snapshot)."""
    prow = cat.projects.filter(pl.col("id") == pid).row(0, named=True)
    sessions = cat.sessions.filter(pl.col("project") == pid)
    sids = sessions.get_column("session_id").to_list()
    ecols = ["file_id", "line_no", "uuid", "parent_uuid", "session_id", "is_sidechain", "kind", "user_kind",
             "timestamp", "model", "msg_id", "request_id", "text", "is_api_error", "has_tool_use", "has_tool_result",
             "cwd"]
    ent = (scan(cat, "entries").filter(pl.col("session_id").is_in(sids)).select(ecols).collect()
           .with_columns(parse_ts()).sort("file_id", "line_no"))
    main = ent.filter(~pl.col("is_sidechain"))
    users = main.filter((pl.col("kind") == "user") & pl.col("user_kind").is_in(HUMAN_USER_KINDS)).select(
        "session_id", "uuid", "parent_uuid", "timestamp", "text", "cwd", "file_id", "line_no",
        pl.lit("user").alias("role"), pl.lit(None, pl.String).alias("model"), pl.col("uuid").alias("key"),
        pl.lit(False).alias("is_api_error"), pl.lit(None, pl.String).alias("msg_id"),
    )
    asst_lines = main.filter(pl.col("kind") == "assistant").with_columns(msg_key())
    asst = asst_lines.group_by("key", maintain_order=True).agg(
        pl.col("session_id").first(), pl.col("uuid").first(), pl.col("parent_uuid").first(),
        pl.col("timestamp").first(), pl.col("text").drop_nulls().str.join("\n\n").alias("text"),
        pl.col("cwd").first(), pl.col("file_id").first(), pl.col("line_no").first(),
        pl.col("model").drop_nulls().first(), pl.col("is_api_error").any(), pl.col("msg_id").first(),
    ).with_columns(pl.lit("assistant").alias("role"))
    cols = ["session_id", "uuid", "parent_uuid", "timestamp", "text", "cwd", "file_id", "line_no", "role", "model",
            "key", "is_api_error", "msg_id"]
    messages = pl.concat([users.select(cols), asst.select(cols)], how="vertical_relaxed").sort("file_id", "line_no")

    # commands and the interaction each row belongs to
    cmds = users.filter(pl.col("timestamp").is_not_null()).with_columns(
        pl.struct("session_id", "uuid").map_elements(lambda s: _h(s["session_id"], s["uuid"] or ""),
                                                     return_dtype=pl.String).alias("cmd_id")
    ) if users.height else users.with_columns(pl.lit(None, pl.String).alias("cmd_id"))

    resp = cat.responses.filter(pl.col("session_id").is_in(sids)).with_columns(msg_key())
    resp = _asof_cmd(_cost_components(resp, cat.prices), cmds)
    # tool calls: the response that issued each one (via its line's message key), and its share of that response
    line_key = ent.filter(pl.col("kind") == "assistant").with_columns(msg_key()).select("uuid", "key")
    tc = cat.tool_calls.filter(pl.col("session_id").is_in(sids)).join(line_key, on="uuid", how="left")
    per_resp = tc.group_by("key").agg(pl.len().alias("_n"))
    rk = resp.group_by("key").agg(*sum_exprs(*TOK.values(), "cost_usd"))
    tc = tc.join(per_resp, on="key", how="left").join(rk, on="key", how="left").with_columns(
        *[(pl.col(c).fill_null(0) / pl.col("_n").fill_null(1)).alias(f"share_{c}") for c in (*TOK.values(), "cost_usd")]
    ).drop(*TOK.values(), "cost_usd", "_n")
    tc = _asof_cmd(tc, cmds)

    inter = main.filter((pl.col("kind") == "user") & (pl.col("user_kind") == "interrupt")).select(
        "session_id", "timestamp")
    inter = _asof_cmd(inter, cmds)

    # errors: tool results with is_error (text from the blocks), and API error lines
    err_ids = tc.filter(pl.col("is_error")).get_column("tool_id").to_list()
    texts = (scan(cat, "blocks").filter((pl.col("btype") == "tool_result") & pl.col("tool_id").is_in(err_ids))
             .select("tool_id", pl.col("text").str.slice(0, 500)).unique("tool_id").collect()) if err_ids else \
        pl.DataFrame(schema={"tool_id": pl.String, "text": pl.String})
    tool_err = tc.filter(pl.col("is_error")).join(texts, on="tool_id", how="left").select(
        "session_id", "timestamp", pl.lit("user").alias("kind"), pl.col("name").alias("tool"), "model", "text",
        "cmd_id")
    api_err = _asof_cmd(ent.filter(pl.col("is_api_error")).select(
        "session_id", "timestamp", pl.lit("assistant").alias("kind"), pl.lit(None, pl.String).alias("tool"),
        "model", pl.col("text").str.slice(0, 500)), cmds)
    errors = pl.concat([tool_err, api_err.select(tool_err.columns)], how="vertical_relaxed").sort(
        "timestamp", nulls_last=True, maintain_order=True)

    commands = _commands(cmds, resp, tc, errors, inter)
    idle = _idle(main)
    return ProjectFrames(pid, prow["name"], prow["path"], sessions, resp, tc, messages, commands, errors, inter, idle)


def parse_ts() -> pl.Expr:
    """The ``timestamp`` column (ISO text) as a datetime, parsed as the tables parse it."""
    from .. import tables

    return tables.parse_ts("timestamp")


def _commands(cmds, resp, tc, errors, inter) -> pl.DataFrame:
    base = cmds.select("cmd_id", "session_id", "uuid", "timestamp", "text")
    if base.height == 0:
        return base.with_columns(*[pl.lit(0).alias(c) for c in ("steps", "tools", "search_tools", "errors",
                                                                  "interrupts", *TOK.values())],
                                 pl.lit(0.0).alias("cost"), pl.lit([], pl.List(pl.String)).alias("models"),
                                 pl.lit([], pl.List(pl.String)).alias("tool_names"),
                                 pl.lit(None, pl.String).alias("model"))
    rc = resp.filter(pl.col("cmd_id").is_not_null())
    r = rc.group_by("cmd_id").agg(
        pl.col("key").n_unique().alias("steps"), *[pl.col(c).sum() for c in TOK.values()],
        cost_sum().alias("cost"), pl.col("model").drop_nulls().unique().sort().alias("models"),
    ).join(top_model(rc, "cmd_id"), on="cmd_id", how="left")
    t = tc.filter(pl.col("cmd_id").is_not_null()).group_by("cmd_id").agg(
        pl.len().alias("tools"), pl.col("name").is_in(SEARCH_TOOLS).sum().alias("search_tools"),
        pl.col("name").alias("tool_names"),
    )
    e = errors.filter(pl.col("cmd_id").is_not_null()).group_by("cmd_id").agg(pl.len().alias("errors"))
    i = inter.filter(pl.col("cmd_id").is_not_null()).group_by("cmd_id").agg(pl.len().alias("interrupts"))
    out = base.with_row_index("_order").join(r, on="cmd_id", how="left").join(t, on="cmd_id", how="left") \
        .join(e, on="cmd_id", how="left").join(i, on="cmd_id", how="left")
    return out.with_columns(
        *[pl.col(c).fill_null(0) for c in ("steps", "tools", "search_tools", "errors", "interrupts", *TOK.values())],
        pl.col("cost").fill_null(0.0), pl.col("models").fill_null(pl.lit([], pl.List(pl.String))),
        pl.col("tool_names").fill_null(pl.lit([], pl.List(pl.String))),
    ).sort("timestamp", "_order").drop("_order")


def top_model(df: pl.DataFrame, by: str) -> pl.DataFrame:
    """``by`` -> ``model``: the model of the most rows of each group; on a tie, the one seen first."""
    return (df.with_row_index("_ri").filter(pl.col("model").is_not_null())
            .group_by(by, "model").agg(pl.len().alias("_n"), pl.col("_ri").min().alias("_first"))
            .sort([by, "_n", "_first"], descending=[False, True, False])
            .group_by(by, maintain_order=True).agg(pl.col("model").first()))


def _idle(main: pl.DataFrame) -> pl.DataFrame:
    t = main.filter(pl.col("timestamp").is_not_null()).sort("session_id", "timestamp").with_columns(
        (pl.col("timestamp").diff().over("session_id").dt.total_milliseconds() / 1000.0).alias("gap"))
    return t.group_by("session_id").agg(
        pl.col("gap").filter(pl.col("gap") > IDLE_GAP_S).sum().fill_null(0.0).alias("idle_gap_total_s"),
        pl.col("gap").max().fill_null(0.0).alias("idle_gap_max_s"),
    )
