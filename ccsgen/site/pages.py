"""Pages: one dataclass per output page, gathered before anything is written.

Each gather function takes the site's ``SiteData`` (the Catalog's tables, read once)
and returns ``Page`` objects whose ``data`` is the JSON twin and whose ``context``
holds what only the HTML needs (chart geometry). Templates read both.
Session transcript pages are built by ``session_pages`` (one session at a time, so
the build can skip the unchanged ones and spread the rest over processes).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from .. import stats, usage
from . import charts, filters
from . import markdown as md
from .urls import paths

RECENT = 12
TOP = 10
TOOL_RECENT_CALLS = 60
ISO_FMT = "%Y-%m-%dT%H:%M:%S%.3fZ"

SESSION_FIELDS = [
    "session_id", "title", "project", "project_name", "first_ts", "last_ts", "duration_s", "message_count",
    "user_messages", "assistant_messages", "subagent_user_messages", "subagent_assistant_messages", "tool_calls",
    "tool_errors", "responses", "input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens",
    "total_tokens", "cost_usd", "models", "git_branch", "subagents", "compactions", "cwd", "version", "slug",
    "api_errors",
]


@dataclass(slots=True)
class Page:
    path: str  # site-root-relative path of the HTML file
    template: str
    title: str
    section: str  # the nav entry this page belongs to
    data: dict  # the JSON twin: the data the page shows
    context: dict = field(default_factory=dict)  # HTML-only extras (charts, rendered markdown)
    key: str = ""  # session id for transcript pages (the unit of incremental rebuilds)


@dataclass
class SiteData:
    """The Catalog's tables as the site reads them (text already redacted for a published site)."""

    sessions: pl.DataFrame
    projects: pl.DataFrame
    responses: pl.DataFrame
    tool_calls: pl.DataFrame
    prices: object
    price_info: dict
    unpriced: list[str]
    publish: bool = False
    _session_rows: list[dict] | None = field(default=None, repr=False)

    @classmethod
    def load(cls, cat, redact: Callable[[str], str] | None = None, publish: bool = False) -> SiteData:
        p = cat.projects
        s = cat.sessions.join(
            p.select(pl.col("id").alias("project"), pl.col("name").alias("project_name"),
                     pl.col("path").alias("project_path")), on="project", how="left",
        ).with_columns(pl.col("project_name").fill_null(pl.col("project")))
        tc = cat.tool_calls
        r = cat.responses
        if redact is not None:
            s = redact_columns(s, ["title", "first_prompt", "cwd", "path", "project_path", "project_name",
                                   "summary", "ai_title", "custom_title", "slug", "git_branch"], redact)
            p = redact_columns(p, ["path", "name"], redact)
            tc = redact_columns(tc, ["input_summary", "input_json"], redact)
            # project ids are dir names that spell the user's home (-home-<user>-…): they end up in URLs
            ids = {v: redact(v) for v in p.get_column("id").to_list() if v}
            s, r, tc = (df.with_columns(pl.col("project").replace(ids)) for df in (s, r, tc))
            p = p.with_columns(pl.col("id").replace(ids))
        return cls(s, p, r, tc, cat.prices, cat.price_info(), cat.unpriced_models(), publish)

    def session_rows(self, df: pl.DataFrame | None = None) -> list[dict]:
        """Sessions, most recent first (ties by id: every build lists them in the same order).

        All of them are made once per build and shared by the pages that list them: don't change the dicts."""
        if df is None:
            if self._session_rows is None:
                self._session_rows = self.session_rows(self.sessions)
            return list(self._session_rows)
        cols = [c for c in SESSION_FIELDS if c in df.columns]
        return rows(df.sort(["last_ts", "session_id"], descending=[True, False], nulls_last=True).select(cols))

    def project_session_rows(self) -> dict[str, list[dict]]:
        """``session_rows()`` by project (the same order: it is a total one)."""
        out: dict[str, list[dict]] = {}
        for r in self.session_rows():
            out.setdefault(r["project"], []).append(r)
        return out


def redact_columns(df: pl.DataFrame, cols: list[str], fn: Callable[[str], str]) -> pl.DataFrame:
    have = [c for c in cols if c in df.columns and df.schema[c] == pl.String]
    if not have or df.height == 0:
        return df
    return df.with_columns(
        pl.Series(c, [None if v is None else fn(v) for v in df.get_column(c).to_list()], dtype=pl.String)
        for c in have)


def rows(df: pl.DataFrame) -> list[dict]:
    """DataFrame -> JSON-ready dicts: datetimes as UTC ISO strings (``…Z``), dates as ``YYYY-MM-DD``."""
    conv = []
    for name, dtype in df.schema.items():
        if isinstance(dtype, pl.Datetime):
            c = pl.col(name)
            if dtype.time_zone is None:
                c = c.dt.replace_time_zone("UTC")
            conv.append(c.dt.convert_time_zone("UTC").dt.strftime(ISO_FMT).alias(name))
        elif dtype == pl.Date:
            conv.append(pl.col(name).cast(pl.String))
    return (df.with_columns(conv) if conv else df).to_dicts()


# ---------------------------------------------------------------- charts shared by several pages


def daily_charts(responses: pl.DataFrame, max_days: int = 366, label: str = "", width: int = 560) -> dict:
    """Daily cost and tokens by model (stacked bars), the days' rows, over at most ``max_days`` days."""
    d = stats.daily_by_model(responses).filter(pl.col("date").is_not_null()) if responses.height else None
    if d is None or d.height == 0:  # no responses, or none with a readable time
        return {"rows": [], "cost": None, "tokens": None}
    first, last = d.get_column("date").min(), d.get_column("date").max()
    days = charts.day_range(first, last, max_days)
    shown = d.filter(pl.col("date") >= days[0])
    idx = {x: i for i, x in enumerate(days)}
    cost: dict[str, list[float]] = {}
    tok: dict[str, list[float]] = {}
    for r in shown.iter_rows(named=True):
        i = idx[r["date"]]
        cost.setdefault(r["model"], [0.0] * len(days))[i] += r["cost_usd"]
        tok.setdefault(r["model"], [0.0] * len(days))[i] += r["total_tokens"]
    labels = [x.strftime("%b %d") for x in days]
    titles = [x.isoformat() for x in days]
    size = {"width": width, "height": 250 if width < 800 else 280}
    cost_chart = charts.stacked_bars(labels, cost, fmt=filters.usd_axis, titles=titles, total_fmt=filters.usd,
                                     label=f"Daily cost by model{label}", **size)
    tok_chart = charts.stacked_bars(labels, tok, fmt=filters.compact, titles=titles,
                                    label=f"Daily tokens by model{label}", **size)
    per_day = [sum(v[i] for v in cost.values()) for i in range(len(days))]
    charts.with_cumulative(cost_chart, per_day, filters.usd, "running total")
    return {"cost": cost_chart, "tokens": tok_chart, "first": days[0].isoformat(), "last": days[-1].isoformat(),
            "rows": rows(shown.select("date", "model", "total_tokens", "cost_usd", "responses"))}


def _top_tools(tc: pl.DataFrame, n: int | None = TOP) -> list[dict]:
    t = stats.tools(tc)
    if n is not None:
        t = t.head(n)
    out = rows(t)
    for r, w in zip(out, charts.share([r["calls"] for r in out]), strict=True):
        r["bar"] = w
    return out


def _models(responses: pl.DataFrame) -> list[dict]:
    out = rows(stats.models(responses).sort(["cost_usd", "responses", "model"], descending=[True, True, False]))
    for r, w in zip(out, charts.share([r["cost_usd"] for r in out]), strict=True):
        r["bar"] = w
    return out


# ---------------------------------------------------------------- overview, lists


def overview(sd: SiteData) -> Page:
    r = sd.responses
    totals = stats.totals(sd.sessions, sd.projects, r, sd.tool_calls)
    cal = stats.calendar(r)
    act = stats.activity_patterns(r)
    top_p = rows(sd.projects.sort(["cost_usd", "id"], descending=[True, False]).head(TOP).select(
        "id", "name", "path", "session_count", "message_count", "total_tokens", "cost_usd", "last_activity"))
    for p, w in zip(top_p, charts.share([p["cost_usd"] for p in top_p]), strict=True):
        p["bar"] = w
    data = {
        "totals": totals,
        "top_projects": top_p,
        "top_tools": _top_tools(sd.tool_calls),
        "models": _models(r),
        "recent_sessions": sd.session_rows()[:RECENT],
        "calendar": cal,
        "activity": act,
        "price_info": sd.price_info,
        "unpriced_models": sd.unpriced,
    }
    daily = daily_charts(r, 120, " (last 120 days, UTC)")
    data["daily_by_model"] = daily["rows"]
    ctx = {
        "daily": daily,
        "calendar_chart": charts.calendar(cal, filters.usd, "cost", "Daily cost over the last year (UTC)"),
        "week_chart": charts.hour_of_week(act["grid"], "Responses by weekday and hour (UTC)"),
    }
    return Page(paths.overview, "overview.html", "Overview", "overview", data, ctx)


def project_list(sd: SiteData) -> Page:
    ps = rows(sd.projects.sort(["last_activity", "id"], descending=[True, False], nulls_last=True).select(
        "id", "name", "path", "session_count", "message_count", "tool_calls", "input_tokens", "output_tokens",
        "cache_creation_tokens", "cache_read_tokens", "total_tokens", "cost_usd", "first_activity",
        "last_activity"))
    for p, w in zip(ps, charts.share([p["cost_usd"] for p in ps]), strict=True):
        p["bar"] = w
    return Page(paths.projects, "project_list.html", "Projects", "projects", {"projects": ps})


def session_list(sd: SiteData) -> Page:
    ss = sd.session_rows()
    models = sorted({m for s in ss for m in (s["models"] or [])})
    projects = sorted({(s["project"], s["project_name"]) for s in ss}, key=lambda x: (x[1] or "").lower())
    data = {"sessions": ss}
    ctx = {"model_options": models, "project_options": projects}
    return Page(paths.sessions, "session_list.html", "Sessions", "sessions", data, ctx)


def project_pages(sd: SiteData) -> list[Page]:
    by_s = sd.sessions.partition_by("project", as_dict=True, maintain_order=True) if sd.sessions.height else {}
    rows_by_s = sd.project_session_rows()
    by_r = sd.responses.partition_by("project", as_dict=True) if sd.responses.height else {}
    by_t = sd.tool_calls.partition_by("project", as_dict=True) if sd.tool_calls.height else {}
    empty_r, empty_t, empty_s = sd.responses.clear(), sd.tool_calls.clear(), sd.sessions.clear()
    out = []
    for p in rows(sd.projects):
        pid = p["id"]
        s = by_s.get((pid,), empty_s)
        r = by_r.get((pid,), empty_r)
        t = by_t.get((pid,), empty_t)
        data = {
            "project": p,
            "stats": stats.project_stats(s, sd.projects, pid),
            "sessions": rows_by_s.get(pid, []),
            "tools": _top_tools(t, 15),
            "models": _models(r),
        }
        daily = daily_charts(r, 366, "")
        data["daily_by_model"] = daily["rows"]
        ctx = {"daily": daily}
        out.append(Page(paths.project(pid), "project.html", p["name"] or pid, "projects", data, ctx))
    return out


# ---------------------------------------------------------------- usage, blocks, models


def usage_page(sd: SiteData) -> Page:
    r = sd.responses
    daily = usage.daily(r, order="desc")
    weekly = usage.weekly(r, order="desc")
    monthly = usage.monthly(r, order="desc")
    data = {"daily": daily["daily"], "weekly": weekly["weekly"], "monthly": monthly["monthly"],
            "totals": daily["totals"], "timezone": "UTC", "start_of_week": "sunday"}
    ctx = {"daily_chart": daily_charts(r, 366, " (UTC)", width=1100),
           "weekly_chart": _period_chart(weekly["weekly"], "week", "Weekly cost by model"),
           "monthly_chart": _period_chart(monthly["monthly"], "month", "Monthly cost by model")}
    return Page(paths.usage, "usage.html", "Usage", "usage", data, ctx)


def _period_chart(rows_: list[dict], key: str, label: str):
    rs = list(reversed(rows_))[-60:]
    series: dict[str, list[float]] = {}
    for i, row in enumerate(rs):
        for b in row["modelBreakdowns"]:
            series.setdefault(b["modelName"], [0.0] * len(rs))[i] += b["cost"]
    return charts.stacked_bars([row[key] for row in rs], series, fmt=filters.usd_axis, total_fmt=filters.usd,
                               label=label)


def blocks_page(sd: SiteData) -> Page:
    r = sd.responses
    # a snapshot: "now" is pinned after the last response, so the page does not change between builds
    last = r.get_column("timestamp").max() if r.height else None
    now = (last + dt.timedelta(hours=usage.BLOCK_HOURS, seconds=1)) if last is not None else None
    b = usage.blocks(r, now=now)["blocks"]
    real = [x for x in b if not x["isGap"]]
    recent = real[-90:]
    series: dict[str, list[float]] = {"cost": [x["costUSD"] for x in recent]}
    chart = charts.stacked_bars([x["startTime"][5:10] for x in recent], series, fmt=filters.usd_axis,
                                total_fmt=filters.usd,
                                titles=[x["startTime"][:16].replace("T", " ") for x in recent],
                                label="Cost per 5-hour block (last 90 blocks, UTC)")
    costs = [x["costUSD"] for x in real]
    summary = {"blocks": len(real), "max_cost": max(costs, default=0.0),
               "avg_cost": (sum(costs) / len(costs)) if costs else 0.0,
               "max_tokens": max((x["totalTokens"] for x in real), default=0)}
    data = {"blocks": list(reversed(b)), "summary": summary}
    return Page(paths.blocks, "blocks.html", "5-hour blocks", "usage", data, {"chart": chart})


def models_page(sd: SiteData) -> Page:
    ms = _models(sd.responses)
    names = [m["model"] for m in ms]
    pf = rows(sd.prices.frame(names)) if names else []
    per_mtok = [{"model": p["model"], "input": p["p_input"] * 1e6, "output": p["p_output"] * 1e6,
                 "cache_read": p["p_cache_read"] * 1e6, "cache_write_5m": p["p_cw5"] * 1e6,
                 "cache_write_1h": p["p_cw1"] * 1e6,
                 "input_above_200k": p["p_input_hi"] * 1e6 if p["p_input_hi"] is not None else None}
                for p in pf]
    data = {"models": ms, "prices_per_mtok": per_mtok, "price_info": sd.price_info, "unpriced_models": sd.unpriced}
    by_model = stats.daily_by_model(sd.responses) if sd.responses.height else None
    chart = None
    if by_model is not None and by_model.height:
        m = by_model.with_columns(pl.col("date").dt.truncate("1w").alias("w")).group_by("w", "model").agg(
            pl.col("total_tokens").sum()).sort("w", "model")
        last_w = m.get_column("w").max()
        first_w = max(m.get_column("w").min(), last_w - dt.timedelta(weeks=51))
        weeks = [first_w + dt.timedelta(weeks=i) for i in range((last_w - first_w).days // 7 + 1)]
        widx = {w: i for i, w in enumerate(weeks)}
        series: dict[str, list[float]] = {}
        for row in m.iter_rows(named=True):
            if row["w"] in widx:
                series.setdefault(row["model"], [0.0] * len(weeks))[widx[row["w"]]] += row["total_tokens"]
        chart = charts.stacked_bars([w.strftime("%b %d") for w in weeks], series, fmt=filters.compact,
                                    label="Tokens per week by model (weeks start Monday, UTC)")
        data["weekly_tokens_by_model"] = rows(m.filter(pl.col("w") >= weeks[0]).rename({"w": "week"}))
    return Page(paths.models, "models.html", "Models and cost", "models", data, {"chart": chart})


# ---------------------------------------------------------------- tools


def tools_page(sd: SiteData) -> Page:
    return Page(paths.tools, "tools.html", "Tools", "tools", {"tools": _top_tools(sd.tool_calls, None)})


def tool_pages(sd: SiteData) -> list[Page]:
    tc = sd.tool_calls
    if tc.height == 0:
        return []
    titles = dict(zip(sd.sessions.get_column("session_id").to_list(), sd.sessions.get_column("title").to_list(),
                      strict=True))
    summary = {r["name"]: r for r in _top_tools(tc, None)}
    cols = ["tool_id", "session_id", "timestamp", "input_summary", "is_error", "has_result", "result_size",
            "is_sidechain", "model"]
    # every tool's lists at once (a query per tool costs more than the work it does), then split by tool
    tc = tc.with_columns(pl.col("name").fill_null("(unknown)"))
    newest = tc.sort(["name", "timestamp", "tool_id"], descending=[False, True, False], nulls_last=True)
    by_tool = {
        "recent": newest.group_by("name", maintain_order=True).head(TOOL_RECENT_CALLS).select("name", *cols),
        "errors": newest.filter(pl.col("is_error")).group_by("name", maintain_order=True).head(20)
        .select("name", *cols),
        "top_s": tc.group_by("name", "session_id").agg(pl.len().alias("calls"),
                                                       pl.col("is_error").sum().alias("errors"))
        .sort(["name", "calls", "session_id"], descending=[False, True, False])
        .group_by("name", maintain_order=True).head(15),
        "per_day": tc.filter(pl.col("timestamp").is_not_null()).group_by(
            "name", pl.col("timestamp").dt.date().alias("date")).agg(pl.len().alias("calls"),
                                                                     pl.col("is_error").sum().alias("errors"))
        .sort("name", "date"),
    }
    parts = {k: (df.partition_by("name", as_dict=True, include_key=False), df.drop("name").clear())
             for k, df in by_tool.items()}

    def part(kind: str, name: str) -> pl.DataFrame:
        got, empty = parts[kind]
        return got.get((name,), empty)

    out = []
    for name in tc.get_column("name").unique(maintain_order=True).to_list():
        recent = rows(part("recent", name))
        errors = rows(part("errors", name))
        for x in (*recent, *errors):
            x["session_title"] = titles.get(x["session_id"], "")
        top_s = rows(part("top_s", name))
        for x in top_s:
            x["session_title"] = titles.get(x["session_id"], "")
        per_day = part("per_day", name).filter(pl.col("date").is_not_null())
        chart = None
        if per_day.height:
            days = charts.day_range(per_day.get_column("date").min(), per_day.get_column("date").max(), 180)
            idx = {d: i for i, d in enumerate(days)}
            ok, err = [0.0] * len(days), [0.0] * len(days)
            for d, calls, errs in per_day.iter_rows():
                if d in idx:
                    ok[idx[d]] += calls - errs
                    err[idx[d]] += errs
            chart = charts.stacked_bars([d.strftime("%b %d") for d in days], {"ok": ok, "errors": err},
                                        fmt=filters.compact, titles=[d.isoformat() for d in days],
                                        classes={"ok": "series-2", "errors": "series-err"},
                                        label=f"{name} calls per day (UTC)")
        data = {"tool": summary.get(name, {"name": name}), "recent_calls": recent, "recent_errors": errors,
                "top_sessions": top_s, "per_day": rows(per_day)}
        out.append(Page(paths.tool(name), "tool.html", name, "tools", data, {"chart": chart}))
    return out


# ---------------------------------------------------------------- search, live pages, about


def find_page(sd: SiteData, static_index: dict | None) -> Page:
    idx = static_index or {}
    # only what the page shows: the index's timings and paths change with every build
    data = {"static_index": bool(static_index), "documents": idx.get("docs"), "terms": idx.get("terms")}
    return Page(paths.find, "find.html", "Search", "find", data)


def live_pages() -> list[Page]:
    return [
        Page(paths.qa, "live.html", "Q&A", "qa", {"api": "/api/qa"}, {"kind": "qa"}),
        Page(paths.tags, "live.html", "Tags", "tags", {"api": "/api/tags"}, {"kind": "tags"}),
        Page(paths.bookmarks, "live.html", "Bookmarks", "bookmarks", {"api": "/api/bookmarks"},
             {"kind": "bookmarks"}),
    ]


def definitions_text() -> str:
    """docs/definitions.md from the source tree, else the copy shipped in the package."""
    import ccsgen

    pkg = Path(ccsgen.__file__).parent
    for p in (pkg.parent / "docs" / "definitions.md", pkg / "data" / "definitions.md"):
        if p.is_file():
            return p.read_text(encoding="utf-8")
    return "# Definitions\n\nThe definitions file is missing from this installation."


def about_page(sd: SiteData) -> Page:
    text = definitions_text()
    data = {"definitions_markdown": text, "price_info": sd.price_info}
    return Page(paths.about, "about.html", "About these numbers", "about", data,
                {"definitions": md.document(text)})


def gather(sd: SiteData, static_index: dict | None) -> list[Page]:
    """Every page but the transcripts."""
    return [
        overview(sd), project_list(sd), *project_pages(sd), session_list(sd), usage_page(sd), blocks_page(sd),
        models_page(sd), tools_page(sd), *tool_pages(sd), find_page(sd, static_index), *live_pages(),
        about_page(sd),
    ]

