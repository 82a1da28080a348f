"""Stats: pure Polars functions over the derived tables. No I/O.

Every number is defined once here and in docs/definitions.md; the site, the
API and the CLI all call these functions.

Time zones: functions that bucket by day take ``tz_offset`` in minutes as the
browser's ``Date.getTimezoneOffset()`` returns it (positive west of UTC: local
time = UTC - offset), or ``tz`` as an IANA name.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import polars as pl

from .tables import TOKEN_COLS, cost_total, sum_exprs

if TYPE_CHECKING:
    from .catalog import Catalog

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def local_time(col: str = "timestamp", tz_offset: int = 0, tz: str | None = None) -> pl.Expr:
    """A naive local datetime from a UTC column."""
    c = pl.col(col)
    if tz:
        return c.dt.convert_time_zone(tz).dt.replace_time_zone(None)
    return c.dt.replace_time_zone(None) - pl.duration(minutes=tz_offset)


def iso(t: dt.datetime | None) -> str | None:
    """UTC ISO-8601 with milliseconds and ``Z`` — the one timestamp spelling of every output."""
    if t is None:
        return None
    if t.tzinfo is not None:
        t = t.astimezone(dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ---------------------------------------------------------------- totals


def totals(sessions: pl.DataFrame, projects: pl.DataFrame, responses: pl.DataFrame, tool_calls: pl.DataFrame) -> dict:
    """Headline numbers (overview page, ``ccsgen stats global``)."""
    r = responses
    tok = {c: int(r.get_column(c).sum()) for c in (*TOKEN_COLS, "cache_5m_tokens", "cache_1h_tokens")} if r.height else {
        c: 0 for c in (*TOKEN_COLS, "cache_5m_tokens", "cache_1h_tokens")}
    s = sessions
    first = s.get_column("first_ts").min() if s.height else None
    last = s.get_column("last_ts").max() if s.height else None
    return {
        "sessions": s.height,
        "projects": projects.height,
        "messages": int(s.get_column("message_count").sum()) if s.height else 0,
        "user_messages": int(s.get_column("user_messages").sum()) if s.height else 0,
        "assistant_messages": int(s.get_column("assistant_messages").sum()) if s.height else 0,
        "subagent_messages": int((s.get_column("subagent_user_messages") + s.get_column(
            "subagent_assistant_messages")).sum()) if s.height else 0,
        "responses": r.height,
        "tool_calls": tool_calls.height,
        "tool_errors": int(tool_calls.get_column("is_error").sum()) if tool_calls.height else 0,
        "tokens": tok,
        "total_tokens": sum(tok[c] for c in TOKEN_COLS),
        "cost_usd": cost_total(r.get_column("cost_usd")) if r.height else 0.0,
        "first_activity": iso(first),
        "last_activity": iso(last),
        "subagents": int(s.get_column("subagents").sum()) if s.height else 0,
    }


def ccsinfo_global(sessions: pl.DataFrame, projects: pl.DataFrame, tool_calls: pl.DataFrame) -> dict:
    """ccsinfo's GlobalStats."""
    return {
        "total_sessions": sessions.height,
        "total_projects": projects.height,
        "total_messages": int(sessions.get_column("message_count").sum()) if sessions.height else 0,
        "total_tool_calls": tool_calls.height,
    }


def ccsinfo_daily(sessions: pl.DataFrame, days: int = 30, now: dt.datetime | None = None) -> list[dict]:
    """ccsinfo's DailyStats: sessions bucketed by their first timestamp (UTC day), last ``days`` days, newest first."""
    now = now or now_utc()
    start = (now - dt.timedelta(days=days - 1)).date()
    df = (
        sessions.filter(pl.col("first_ts").is_not_null())
        .with_columns(pl.col("first_ts").dt.date().alias("date"))
        .filter(pl.col("date") >= start)
        .group_by("date")
        .agg(pl.len().alias("session_count"), pl.col("message_count").sum().alias("message_count"))
        .sort("date", descending=True)
    )
    return [{"date": r["date"].isoformat(), "session_count": r["session_count"], "message_count": r["message_count"]}
            for r in df.iter_rows(named=True)]


def trends(sessions: pl.DataFrame, tool_calls: pl.DataFrame, projects: pl.DataFrame,
           now: dt.datetime | None = None) -> dict:
    """ccsinfo's /stats/trends. ``most_used_tools`` counts sessions that used a tool at least once."""
    now = now or now_utc()
    s = sessions.filter(pl.col("last_ts").is_not_null())
    d7, d30 = now - dt.timedelta(days=7), now - dt.timedelta(days=30)
    s7 = s.filter(pl.col("last_ts") >= d7)
    s30 = s.filter(pl.col("last_ts") >= d30)
    names = dict(zip(projects.get_column("id").to_list(), projects.get_column("name").to_list(), strict=False)) \
        if projects.height else {}
    top_proj = (
        s.group_by("project").agg(pl.col("message_count").sum()).sort(["message_count", "project"],
                                                                         descending=[True, False]).head(10)
    )
    top_tools = (
        tool_calls.group_by("name").agg(pl.col("session_id").n_unique().alias("count"))
        .sort(["count", "name"], descending=[True, False]).head(10)
    )
    avg_len = float(s.get_column("message_count").mean()) if s.height else 0.0
    return {
        "sessions_last_7_days": s7.height,
        "sessions_last_30_days": s30.height,
        "messages_last_7_days": int(s7.get_column("message_count").sum()) if s7.height else 0,
        "messages_last_30_days": int(s30.get_column("message_count").sum()) if s30.height else 0,
        "most_active_projects": [
            {"project": names.get(r["project"], r["project"]), "project_id": r["project"],
             "message_count": r["message_count"]} for r in top_proj.iter_rows(named=True)
        ],
        "most_used_tools": [{"tool": r["name"], "count": r["count"]} for r in top_tools.iter_rows(named=True)],
        "average_session_length": round(avg_len, 2),
        "average_session_duration_s": round(float(s.get_column("duration_s").mean()), 1) if s.height else 0.0,
    }


# ---------------------------------------------------------------- usage by time


def daily_usage(responses: pl.DataFrame, tz_offset: int = 0, tz: str | None = None) -> pl.DataFrame:
    """Per local day: tokens by kind, cost, responses, sessions."""
    r = responses.filter(pl.col("timestamp").is_not_null())
    return (
        r.with_columns(local_time("timestamp", tz_offset, tz).dt.date().alias("date"))
        .group_by("date")
        .agg(*sum_exprs(*TOKEN_COLS, "total_tokens", "cost_usd"),
             pl.len().alias("responses"), pl.col("session_id").n_unique().alias("sessions"))
        .sort("date")
    )


def daily_by_model(responses: pl.DataFrame, tz_offset: int = 0, tz: str | None = None) -> pl.DataFrame:
    r = responses.filter(pl.col("timestamp").is_not_null())
    return (
        r.with_columns(local_time("timestamp", tz_offset, tz).dt.date().alias("date"),
                       pl.col("model").fill_null("(none)"))
        .group_by("date", "model")
        .agg(*sum_exprs(*TOKEN_COLS, "total_tokens", "cost_usd"), pl.len().alias("responses"))
        .sort("date", "model")
    )


def period_usage(responses: pl.DataFrame, period: str, tz_offset: int = 0, tz: str | None = None) -> pl.DataFrame:
    """``period`` in day, week (starting Monday), month."""
    d = daily_usage(responses, tz_offset, tz)
    if period == "day":
        return d.rename({"date": "period"}).with_columns(pl.col("period").cast(pl.String))
    key = pl.col("date").dt.truncate("1w" if period == "week" else "1mo")
    return (
        d.with_columns(key.alias("period"))
        .group_by("period")
        .agg(*sum_exprs(*TOKEN_COLS, "total_tokens", "cost_usd", "responses"),
             pl.col("date").n_unique().alias("active_days"))
        .sort("period")
        .with_columns(pl.col("period").cast(pl.String) if period == "week" else pl.col("period").dt.strftime("%Y-%m"))
    )


def activity_patterns(responses: pl.DataFrame, tz_offset: int = 0, tz: str | None = None) -> dict:
    """Responses by hour of day, by weekday, and the hour-of-week grid (7 x 24, Monday first)."""
    r = responses.filter(pl.col("timestamp").is_not_null()).with_columns(local_time("timestamp", tz_offset, tz).alias("_l"))
    r = r.with_columns(pl.col("_l").dt.hour().alias("hour"), (pl.col("_l").dt.weekday() - 1).alias("wd"))
    grid = [[0] * 24 for _ in range(7)]
    for wd, hour, n in r.group_by("wd", "hour").agg(pl.len()).iter_rows():
        grid[wd][hour] = n
    return {
        "by_hour": [sum(grid[d][h] for d in range(7)) for h in range(24)],
        "by_weekday": [sum(grid[d]) for d in range(7)],
        "weekdays": WEEKDAYS,
        "grid": grid,
    }


def calendar(responses: pl.DataFrame, tz_offset: int = 0, tz: str | None = None, days: int = 371,
             end: dt.date | None = None) -> list[dict]:
    """Activity calendar: one cell per day over the last ``days`` days (cost, tokens, responses)."""
    d = daily_usage(responses, tz_offset, tz)
    if end is None:
        end = d.get_column("date").max() if d.height else now_utc().date()
    start = end - dt.timedelta(days=days - 1)
    by = {r["date"]: r for r in d.filter(pl.col("date") >= start).iter_rows(named=True)}
    out = []
    for i in range(days):
        day = start + dt.timedelta(days=i)
        r = by.get(day)
        out.append({"date": day.isoformat(), "weekday": day.weekday(), "responses": r["responses"] if r else 0,
                    "tokens": r["total_tokens"] if r else 0, "cost": r["cost_usd"] if r else 0.0})
    return out


# ---------------------------------------------------------------- models, tools, projects


def models(responses: pl.DataFrame) -> pl.DataFrame:
    """Per model: responses, tokens by kind, cost, priced."""
    return (
        responses.with_columns(pl.col("model").fill_null("(none)"))
        .group_by("model")
        .agg(pl.len().alias("responses"), *sum_exprs(*TOKEN_COLS, "total_tokens", "cost_usd"),
             pl.col("priced").all().alias("priced"), pl.col("session_id").n_unique().alias("sessions"),
             pl.col("timestamp").min().alias("first_used"), pl.col("timestamp").max().alias("last_used"))
        .sort(["cost_usd", "responses", "model"], descending=[True, True, False])  # ties: by name, every run
    )


def tools(tool_calls: pl.DataFrame) -> pl.DataFrame:
    """Per tool: calls, errors, error rate (errors / calls with a result), sessions, result sizes."""
    return (
        tool_calls.group_by("name")
        .agg(pl.len().alias("calls"), pl.col("is_error").sum().alias("errors"),
             pl.col("has_result").sum().alias("with_result"), pl.col("session_id").n_unique().alias("sessions"),
             pl.col("result_size").mean().alias("avg_result_size"), pl.col("timestamp").max().alias("last_used"))
        .with_columns(
            pl.when(pl.col("with_result") > 0).then(pl.col("errors") / pl.col("with_result")).otherwise(0.0)
            .alias("error_rate"),
            pl.col("name").fill_null("(unknown)"),
        )
        .sort("calls", "name", descending=[True, False])
    )


def top_projects(projects: pl.DataFrame, by: str = "cost_usd", n: int = 10) -> pl.DataFrame:
    return projects.sort(by, descending=True).head(n)


def project_stats(sessions: pl.DataFrame, projects: pl.DataFrame, project_id: str) -> dict:
    """ccsinfo's ProjectStats plus tokens and cost."""
    p = projects.filter(pl.col("id") == project_id)
    s = sessions.filter(pl.col("project") == project_id)
    row = p.row(0, named=True) if p.height else {}
    return {
        "project_id": project_id,
        "project_name": row.get("name", project_id),
        "session_count": s.height,
        "message_count": int(s.get_column("message_count").sum()) if s.height else 0,
        "last_activity": iso(row.get("last_activity")),
        "tool_calls": int(s.get_column("tool_calls").sum()) if s.height else 0,
        "total_tokens": int(s.get_column("total_tokens").sum()) if s.height else 0,
        "cost_usd": cost_total(s.get_column("cost_usd")) if s.height else 0.0,
    }


# ---------------------------------------------------------------- StackUnderflow global stats


def su_global_stats(responses: pl.DataFrame, entries_models: pl.DataFrame | None = None) -> dict:
    """StackUnderflow's /api/global-stats (``config`` is added by the route)."""
    r = responses.filter(pl.col("timestamp").is_not_null())
    d = daily_usage(r)
    bym = daily_by_model(r)
    by_model: dict = {}
    for row in bym.iter_rows(named=True):
        by_model.setdefault(row["date"], {})[row["model"]] = row["cost_usd"]
    mdf = models(r)
    return {
        "first_use_date": d.get_column("date").min().isoformat() if d.height else None,
        "last_use_date": d.get_column("date").max().isoformat() if d.height else None,
        "daily_token_usage": [
            {"date": x["date"].isoformat(), "input": x["input_tokens"], "output": x["output_tokens"]}
            for x in d.iter_rows(named=True)
        ],
        "daily_costs": [
            {"date": x["date"].isoformat(), "cost": x["cost_usd"], "by_model": by_model.get(x["date"], {})}
            for x in d.iter_rows(named=True)
        ],
        "models": {x["model"]: {"count": x["responses"], "cost": x["cost_usd"]} for x in mdf.iter_rows(named=True)},
        "total_cache_read_tokens": int(r.get_column("cache_read_tokens").sum()) if r.height else 0,
        "total_cache_write_tokens": int(r.get_column("cache_creation_tokens").sum()) if r.height else 0,
    }


def global_stats(cat: Catalog) -> dict:
    """Everything the overview shows, in one dict."""
    return totals(cat.sessions, cat.projects, cat.responses, cat.tool_calls)
