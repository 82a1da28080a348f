"""ccusage-compatible reports (daily, weekly, monthly, session, blocks): same grouping, same JSON shapes.

Input is the ``responses`` table (one row per API response, see tables.py).
Model names get ccusage's ``-fast`` suffix for fast-mode responses.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import polars as pl

from .tables import cost_sum, cost_total

BLOCK_HOURS = 5
_TOK = {
    "inputTokens": "input_tokens",
    "outputTokens": "output_tokens",
    "cacheCreationTokens": "cache_creation_tokens",
    "cacheReadTokens": "cache_read_tokens",
}


def _prep(resp: pl.DataFrame, tz: str, since: str | None, until: str | None, project: str | None) -> pl.DataFrame:
    df = resp.filter(pl.col("timestamp").is_not_null())
    if project:
        df = df.filter(pl.col("project") == project)
    local = pl.col("timestamp").dt.convert_time_zone(tz)
    df = df.with_columns(
        local.dt.strftime("%Y-%m-%d").alias("_date"),
        pl.when(pl.col("speed") == "fast").then(pl.col("model") + "-fast").otherwise(pl.col("model")).alias("_model"),
    )
    if since:
        df = df.filter(pl.col("_date") >= _norm_date(since))
    if until:
        df = df.filter(pl.col("_date") <= _norm_date(until))
    return df


def _norm_date(s: str) -> str:
    s = s.strip()
    if len(s) == 8 and s.isdigit():  # ccusage's YYYYMMDD
        return f"{s[:4]}-{s[4:6]}-{s[6:]}"
    dt.date.fromisoformat(s)  # raises ValueError on junk
    return s


def _group_report(df: pl.DataFrame, key: str, out_key: str) -> list[dict]:
    """Rows grouped by ``key`` with ccusage's fields and per-model breakdowns."""
    if df.height == 0:
        return []
    sums = [pl.col(v).sum().alias(k) for k, v in _TOK.items()]
    by_model = (
        df.filter(pl.col("_model").is_not_null())
        .group_by(key, "_model")
        .agg(*sums, cost_sum().alias("cost"), pl.col("timestamp").min().alias("_first"),
             pl.col("priced").all().alias("_priced"))
        .sort([key, "cost", "_first", "_model"], descending=[False, True, False, False])  # ties: first seen
    )
    main = df.group_by(key).agg(*sums, cost_sum().alias("totalCost")).sort(key)
    bm: dict[str, list[dict]] = {}
    first_seen: dict[str, list] = {}
    for r in by_model.iter_rows(named=True):
        first_seen.setdefault(r[key], []).append((r["_first"], r["_model"]))
        bm.setdefault(r[key], []).append({
            "cacheCreationTokens": r["cacheCreationTokens"], "cacheReadTokens": r["cacheReadTokens"],
            "cost": r["cost"], "inputTokens": r["inputTokens"], "modelName": r["_model"],
            "outputTokens": r["outputTokens"], **_missing(r),
        })
    rows = []
    for r in main.iter_rows(named=True):
        breakdown = bm.get(r[key], [])
        tot = r["inputTokens"] + r["outputTokens"] + r["cacheCreationTokens"] + r["cacheReadTokens"]
        rows.append({
            "cacheCreationTokens": r["cacheCreationTokens"], "cacheReadTokens": r["cacheReadTokens"],
            out_key: r[key], "inputTokens": r["inputTokens"], "modelBreakdowns": breakdown,
            "modelsUsed": [m for _, m in sorted(first_seen.get(r[key], []), key=lambda x: (x[0] is None, x[0]))],
            "outputTokens": r["outputTokens"], "totalCost": r["totalCost"], "totalTokens": tot,
        })
    return rows


def _missing(r: dict) -> dict:
    """ccusage marks a breakdown row of a model without a price."""
    return {} if r.get("_priced", True) else {"missingPricing": True}


def _totals(df: pl.DataFrame) -> dict:
    t = {k: int(df.get_column(v).sum()) if df.height else 0 for k, v in _TOK.items()}
    t["totalCost"] = cost_total(df.get_column("cost_usd")) if df.height else 0.0
    t["totalTokens"] = sum(t[k] for k in _TOK)
    if df.height and "priced" in df.columns:
        unpriced = df.filter(~pl.col("priced") & pl.col("_model").is_not_null()).get_column("_model").unique().sort()
        if unpriced.len():
            t["unpricedModels"] = unpriced.to_list()  # ccusage adds this key only when there are some
    return dict(sorted(t.items()))


def daily(resp, tz="UTC", since=None, until=None, project=None, order="asc") -> dict:
    df = _prep(resp, tz, since, until, project)
    rows = _group_report(df, "_date", "date")
    if order == "desc":
        rows.reverse()
    return {"daily": rows, "totals": _totals(df)}


def monthly(resp, tz="UTC", since=None, until=None, project=None, order="asc") -> dict:
    df = _prep(resp, tz, since, until, project).with_columns(pl.col("_date").str.slice(0, 7).alias("_month"))
    rows = _group_report(df, "_month", "month")
    if order == "desc":
        rows.reverse()
    return {"monthly": rows, "totals": _totals(df)}


def weekly(resp, tz="UTC", since=None, until=None, project=None, order="asc", start_of_week="sunday") -> dict:
    days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    sow = days.index(start_of_week.lower())
    df = _prep(resp, tz, since, until, project)
    d = pl.col("_date").str.to_date()
    shift = ((d.dt.weekday() - 1 - sow) % 7).cast(pl.Int64)
    df = df.with_columns((d - pl.duration(days=shift)).dt.strftime("%Y-%m-%d").alias("_week"))
    rows = _group_report(df, "_week", "week")
    if order == "desc":
        rows.reverse()
    return {"weekly": rows, "totals": _totals(df)}


def session(resp, tz="UTC", since=None, until=None, project=None, order="desc") -> dict:
    """One row per session (subagents folded into their parent session)."""
    df = _prep(resp, tz, since, until, project)
    if df.height == 0:
        return {"sessions": [], "totals": _totals(df)}
    sums = [pl.col(v).sum().alias(k) for k, v in _TOK.items()]
    main = df.group_by("session_id").agg(
        *sums, cost_sum().alias("totalCost"),
        pl.col("timestamp").min().alias("first"), pl.col("timestamp").max().alias("last"),
        pl.col("project").first().alias("projectPath"),
    )
    by_model = (
        df.filter(pl.col("_model").is_not_null()).group_by("session_id", "_model")
        .agg(*sums, cost_sum().alias("cost"), pl.col("timestamp").min().alias("_first"),
             pl.col("priced").all().alias("_priced"))
        .sort(["cost", "_first", "_model"], descending=[True, False, False])
    )
    bm: dict[str, list] = {}
    first_seen: dict[str, list] = {}
    for r in by_model.iter_rows(named=True):
        first_seen.setdefault(r["session_id"], []).append((r["_first"], r["_model"]))
        bm.setdefault(r["session_id"], []).append({
            "cacheCreationTokens": r["cacheCreationTokens"], "cacheReadTokens": r["cacheReadTokens"],
            "cost": r["cost"], "inputTokens": r["inputTokens"], "modelName": r["_model"],
            "outputTokens": r["outputTokens"], **_missing(r),
        })
    rows = []
    for r in main.sort("totalCost", descending=(order == "desc")).iter_rows(named=True):
        b = bm.get(r["session_id"], [])
        rows.append({
            "cacheCreationTokens": r["cacheCreationTokens"], "cacheReadTokens": r["cacheReadTokens"],
            "firstActivity": _iso(r["first"]), "inputTokens": r["inputTokens"],
            "lastActivity": _iso(r["last"]), "modelBreakdowns": b,
            "modelsUsed": [m for _, m in sorted(first_seen.get(r["session_id"], []))],
            "outputTokens": r["outputTokens"],
            "projectPath": r["projectPath"], "sessionId": r["session_id"], "totalCost": r["totalCost"],
            "totalTokens": r["inputTokens"] + r["outputTokens"] + r["cacheCreationTokens"] + r["cacheReadTokens"],
        })
    return {"sessions": rows, "totals": _totals(df)}


def _iso(t: dt.datetime | None) -> str | None:
    if t is None:
        return None
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _floor_hour(t: dt.datetime) -> dt.datetime:
    return t.replace(minute=0, second=0, microsecond=0)


def blocks(resp, since=None, until=None, project=None, now: dt.datetime | None = None, tz="UTC") -> dict:
    """ccusage's 5-hour billing blocks, with gap blocks between them."""
    df = _prep(resp, tz, since, until, project).sort("timestamp")
    now = now or dt.datetime.now(dt.UTC)
    span = dt.timedelta(hours=BLOCK_HOURS)
    groups: list[list[dict]] = []
    cur: list[dict] = []
    start = None
    cols = ["timestamp", "input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens", "cost_usd",
            "_model"]
    for r in df.select(cols).iter_rows(named=True):
        t = r["timestamp"]
        if start is None or t - start > span or (cur and t - cur[-1]["timestamp"] > span):
            if cur:
                groups.append(cur)
            cur, start = [], _floor_hour(t)
        cur.append(r)
    if cur:
        groups.append(cur)
    out = []
    prev_end = None
    for g in groups:
        bstart = _floor_hour(g[0]["timestamp"])
        last = g[-1]["timestamp"]
        if prev_end is not None and g[0]["timestamp"] - prev_end > span:
            gs = prev_end + span
            out.append({
                "actualEndTime": None, "burnRate": None, "costUSD": 0, "endTime": _iso(g[0]["timestamp"]),
                "entries": 0, "id": f"gap-{_iso(gs)}", "isActive": False, "isGap": True, "models": [],
                "projection": None, "startTime": _iso(gs),
                "tokenCounts": {"cacheCreationInputTokens": 0, "cacheReadInputTokens": 0, "inputTokens": 0,
                                "outputTokens": 0},
                "totalTokens": 0,
            })
        tc = {
            "cacheCreationInputTokens": sum(r["cache_creation_tokens"] for r in g),
            "cacheReadInputTokens": sum(r["cache_read_tokens"] for r in g),
            "inputTokens": sum(r["input_tokens"] for r in g),
            "outputTokens": sum(r["output_tokens"] for r in g),
        }
        cost = sum(r["cost_usd"] for r in g)
        total = sum(tc.values())
        end = bstart + span
        active = (now - last) < span and now < end
        models = sorted({r["_model"] for r in g if r["_model"]})
        burn = proj = None
        if active:
            mins = max((last - g[0]["timestamp"]).total_seconds() / 60, 1e-9)
            burn = {"costPerHour": cost / mins * 60, "tokensPerMinute": total / mins,
                    "tokensPerMinuteForIndicator": (tc["inputTokens"] + tc["outputTokens"]) / mins}
            remaining = max((end - now).total_seconds() / 60, 0)
            proj = {"remainingMinutes": round(remaining), "totalCost": round(cost + burn["costPerHour"] * remaining / 60, 2),
                    "totalTokens": round(total + burn["tokensPerMinute"] * remaining)}
        out.append({
            "actualEndTime": _iso(last), "burnRate": burn, "costUSD": cost, "endTime": _iso(end),
            "entries": len(g), "id": _iso(bstart), "isActive": active, "isGap": False, "models": models,
            "projection": proj, "startTime": _iso(bstart), "tokenCounts": tc, "totalTokens": total,
        })
        prev_end = last
    return {"blocks": out}


def check_timezone(tz: str) -> str:
    ZoneInfo(tz)  # raises on an unknown zone
    return tz
