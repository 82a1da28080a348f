"""Publishable reports: one self-contained file (HTML, Markdown or JSON) about a period of Claude Code use.

    period = resolve_period("month", today=date.today())
    data = build_report(cat, period, projects=["my-app"])     # JSON-ready dict, nothing redacted yet
    data = redact_report(data, Redactor.for_catalog(cat))    # every string from the logs masked
    text = render(data, "html")                               # or "md", "json"

Numbers come from the Catalog's tables with the definitions of docs/definitions.md; the report carries
the price table's source and date and a short glossary, so a reader knows what was counted. The HTML
is ``templates/report.html``: inline CSS and inline SVG charts, no external assets, autoescaped (chart
geometry is computed here, the template draws it).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from rich.console import Console
from rich.text import Text

from . import __version__
from .stats import iso, now_utc
from .tables import TOKEN_COLS, cost_sum, cost_total, sum_exprs

if TYPE_CHECKING:
    from .catalog import Catalog
    from .redact import Redactor

PERIODS = ("week", "month", "custom", "all")
FORMATS = ("html", "md", "json")
TOP_PROJECTS, TOP_TOOLS, TOP_SESSIONS, CHART_MODELS = 10, 15, 5, 5

#: the glossary printed in every report (short forms of docs/definitions.md)
DEFINITIONS: list[tuple[str, str]] = [
    ("Period", "Days are calendar days in the report's time zone; a day counts when a response was received on it."),
    ("Session", "One Claude Code conversation (a main transcript), its subagents included."),
    ("Response", "One API response of the model. Claude Code writes a streamed response as several log lines "
     "sharing a message id and request id; they count once."),
    ("Tokens", "Input (uncached), output, cache write and cache read tokens of each response, from the line of "
     "its group with the largest total. Total = the sum of the four."),
    ("Cost", "USD. A line's own costUSD when present, else tokens x list price of the model (cache writes at "
     "1.25x input for 5 minutes, 2x for 1 hour; the long-context tier above 200k tokens). Unknown models cost 0 "
     "and are listed as unpriced. Log-derived tokens are lower bounds of what was billed."),
    ("Tool call", "One tool_use block; it errored when its tool_result says is_error. Error rate = errors / calls "
     "with a result."),
    ("Notable sessions", "Most expensive: cost within the period. Longest: first to last activity of the whole "
     "session."),
    ("Redaction", "Secrets, home directories, user names, e-mail addresses, host names and IPs are masked before "
     "the file is written (off only with --no-redact)."),
]


# ---------------------------------------------------------------- period


@dataclass(frozen=True)
class Period:
    """Inclusive calendar days ``since``..``until`` (None: open end) in time zone ``tz``."""

    kind: str
    since: dt.date | None
    until: dt.date | None
    tz: str = "UTC"


#: the most day rows a report lists (ten years): a wider custom period lists only the days that have data
MAX_DAY_ROWS = 3660


def _date(s: str | None, name: str) -> dt.date | None:
    if not s:
        return None
    s = s.strip()
    if len(s) == 8 and s.isdigit():
        s = f"{s[:4]}-{s[4:6]}-{s[6:]}"
    try:
        return dt.date.fromisoformat(s)
    except ValueError:
        raise ValueError(f"{name} must be a date (YYYY-MM-DD), not {s!r}") from None


def resolve_period(kind: str | None, since: str | None = None, until: str | None = None, *,
                   today: dt.date | None = None, tz: str = "UTC") -> Period:
    """``week``: the 7 days ending ``until`` (default today); ``month``: the 30 days ending ``until``;
    ``custom``: ``since``..``until`` (either may be open); ``all``: everything. No kind: ``custom`` when a
    date is given, else ``month``."""
    if kind is None:
        kind = "custom" if (since or until) else "month"
    if kind not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, not {kind!r}")
    s, u = _date(since, "--since"), _date(until, "--until")
    today = today or now_utc().date()
    if kind in ("week", "month"):
        if s:
            raise ValueError(f"--since goes with --period custom, not {kind} (use --until to move the window)")
        u = u or today
        s = u - dt.timedelta(days=6 if kind == "week" else 29)
    elif kind == "all":
        if s or u:
            raise ValueError("--since/--until go with --period custom, not all")
    if s and u and s > u:
        raise ValueError(f"--since {s} is after --until {u}")
    return Period(kind, s, u, tz)


# ---------------------------------------------------------------- data


def _in_period(df: pl.DataFrame, period: Period, col: str = "timestamp") -> pl.DataFrame:
    df = df.filter(pl.col(col).is_not_null()).with_columns(
        pl.col(col).dt.convert_time_zone(period.tz).dt.date().alias("_day"))
    if period.since:
        df = df.filter(pl.col("_day") >= period.since)
    if period.until:
        df = df.filter(pl.col("_day") <= period.until)
    return df


def _title(row: dict) -> str:
    return " ".join((row.get("title") or row.get("slug") or row["session_id"][:8]).split())


def build_report(cat: Catalog, period: Period, projects: list[str] | tuple[str, ...] = (),
                 now: dt.datetime | None = None) -> dict[str, Any]:
    """The report's data: JSON-ready, every number defined in ``DEFINITIONS``. ``projects``: resolved
    project ids to keep (empty: all). Nothing is redacted here (see :func:`redact_report`)."""
    resp = _in_period(cat.responses, period)
    calls = _in_period(cat.tool_calls, period)
    if projects:
        resp = resp.filter(pl.col("project").is_in(list(projects)))
        calls = calls.filter(pl.col("project").is_in(list(projects)))
    proj = cat.projects.select("id", "name")
    names = dict(proj.iter_rows())

    tok = {c: int(resp.get_column(c).sum()) for c in TOKEN_COLS}
    cost = cost_total(resp.get_column("cost_usd"))
    days = sorted(set(resp.get_column("_day").to_list()))
    totals = {
        "sessions": resp.get_column("session_id").n_unique(),
        "projects": resp.get_column("project").n_unique(),
        "active_days": len(days),
        "responses": resp.height,
        **tok,
        "total_tokens": sum(tok.values()),
        "cost_usd": round(cost, 6),
        "tool_calls": calls.height,
        "tool_errors": int(calls.get_column("is_error").sum()),
        "first_day": days[0].isoformat() if days else None,
        "last_day": days[-1].isoformat() if days else None,
    }

    by_model_df = (
        resp.with_columns(pl.col("model").fill_null("(none)"))
        .group_by("model")
        .agg(pl.len().alias("responses"), *sum_exprs(*TOKEN_COLS, "total_tokens", "cost_usd"),
             pl.col("priced").all().alias("priced"))
        .sort(["cost_usd", "responses", "model"], descending=[True, True, False])
    )
    by_model = [{**r, "cost_usd": round(r["cost_usd"], 6), "share": round(r["cost_usd"] / cost, 4) if cost else 0.0}
                for r in by_model_df.iter_rows(named=True)]
    chart_models = [m["model"] for m in by_model[:CHART_MODELS]]

    day_rows = (
        resp.group_by("_day")
        .agg(cost_sum(), pl.col("total_tokens").sum(), pl.len().alias("responses"),
             pl.col("session_id").n_unique().alias("sessions"))
        .sort("_day")
    )
    day_model = dict(((d, m), c) for d, m, c in resp.with_columns(pl.col("model").fill_null("(none)"))
                     .group_by("_day", "model").agg(cost_sum()).iter_rows())
    by_day_map = {r["_day"]: r for r in day_rows.iter_rows(named=True)}
    first = period.since or (days[0] if days else None)
    last = period.until or (days[-1] if days else None)
    if first and last and (last - first).days >= MAX_DAY_ROWS:  # "--since 0001-01-01": the days with data, at most
        first, last = (max(first, days[0]), min(last, days[-1])) if days else (last, last)
        first = max(first, last - dt.timedelta(days=MAX_DAY_ROWS - 1))
    by_day = []
    if first and last:
        for i in range((last - first).days + 1):
            d = first + dt.timedelta(days=i)
            r = by_day_map.get(d)
            by_model_cost = {m: round(day_model.get((d, m), 0.0), 6) for m in chart_models}
            other = (r["cost_usd"] if r else 0.0) - sum(by_model_cost.values())
            by_day.append({"date": d.isoformat(), "cost_usd": round(r["cost_usd"], 6) if r else 0.0,
                           "total_tokens": r["total_tokens"] if r else 0, "responses": r["responses"] if r else 0,
                           "sessions": r["sessions"] if r else 0,
                           "by_model": {**by_model_cost, "other": round(max(other, 0.0), 6)}})

    top_projects = [
        {"name": names.get(r["project"]) or r["project"], "sessions": r["sessions"], "responses": r["responses"],
         "total_tokens": r["total_tokens"], "cost_usd": round(r["cost_usd"], 6),
         "share": round(r["cost_usd"] / cost, 4) if cost else 0.0}
        for r in resp.group_by("project").agg(pl.col("session_id").n_unique().alias("sessions"),
                                              pl.len().alias("responses"), pl.col("total_tokens").sum(),
                                              cost_sum())
        .sort(["cost_usd", "project"], descending=[True, False]).head(TOP_PROJECTS).iter_rows(named=True)
    ]

    tools = [
        {"name": r["name"] or "(unknown)", "calls": r["calls"], "errors": r["errors"], "sessions": r["sessions"],
         "error_rate": round(r["errors"] / r["with_result"], 4) if r["with_result"] else 0.0}
        for r in calls.group_by("name").agg(pl.len().alias("calls"), pl.col("is_error").sum().alias("errors"),
                                            pl.col("has_result").sum().alias("with_result"),
                                            pl.col("session_id").n_unique().alias("sessions"))
        .sort(["calls", "name"], descending=[True, False]).head(TOP_TOOLS).iter_rows(named=True)
    ]

    per_session = resp.group_by("session_id").agg(cost_sum().alias("period_cost"),
                                                  pl.col("total_tokens").sum().alias("period_tokens"),
                                                  pl.col("timestamp").min().alias("period_first"))
    sess = per_session.join(cat.sessions, on="session_id", how="left")

    def session_row(r: dict) -> dict:
        return {"id": r["session_id"][:8], "title": _title(r), "project": names.get(r["project"]) or r["project"],
                "date": iso(r["period_first"])[:10], "cost_usd": round(r["period_cost"], 6),
                "total_tokens": r["period_tokens"], "messages": r["message_count"] or 0,
                "duration_seconds": round(float(r["duration_s"] or 0.0), 1)}

    notable = {
        "most_expensive": [session_row(r) for r in sess.sort(["period_cost", "session_id"], descending=[True, False])
                           .head(TOP_SESSIONS).iter_rows(named=True)],
        "longest": [session_row(r) for r in sess.sort(["duration_s", "session_id"], descending=[True, False],
                                                      nulls_last=True).head(TOP_SESSIONS).iter_rows(named=True)],
    }
    prices = cat.price_info()
    unpriced = sorted(m["model"] for m in by_model if not m["priced"] and m["model"] != "(none)")
    return {
        "report": {
            "title": "Claude Code usage report",
            "generated_at": iso(now or now_utc()),
            "generator": f"ccsgen {__version__}",
            "period": {"kind": period.kind, "since": period.since.isoformat() if period.since else None,
                       "until": period.until.isoformat() if period.until else None, "timezone": period.tz,
                       "label": f"{(first or period.since or '—')} to {(last or period.until or '—')}"},
            "projects": [names.get(p, p) for p in projects],
            "prices": {"source": prices.get("source"), "date": prices.get("date"),
                       "overrides": bool(prices.get("overrides"))},
            "redacted": False,
            "redactions": {},
        },
        "totals": totals,
        "by_model": by_model,
        "unpriced_models": unpriced,
        "by_day": by_day,
        "projects": top_projects,
        "tools": tools,
        "notable": notable,
        "definitions": [{"term": t, "definition": d} for t, d in DEFINITIONS],
    }


#: parts of the report that are ccsgen's own words, never log text: left as they are by the redactor
_OWN_KEYS = frozenset({"definitions", "prices", "generated_at", "generator", "period", "redactions"})


def redact_report(data: dict, redactor: Redactor) -> dict:
    """Every string of ``data`` that came from the logs, masked (dict keys too); ``report.redacted`` set and
    ``report.redactions`` = how many maskings per rule. Raises RedactionError (nothing to write) on failure."""
    out = redactor.redact_value(data, skip_keys=_OWN_KEYS)
    out["report"]["redacted"] = True
    out["report"]["redactions"] = dict(sorted(redactor.counts.items()))
    return out


# ---------------------------------------------------------------- charts (geometry; the template draws)

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1")


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    color: str
    title: str


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str = "start"


def _nice(v: float) -> float:
    if v <= 0:
        return 1.0
    mag = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if m * mag >= v:
            return m * mag
    return 10 * mag


def _money(v: float) -> str:
    return f"${v:,.2f}" if v >= 0.01 or v == 0 else f"${v:,.4f}"


def day_chart(by_day: list[dict], series: list[str], width: int = 720, height: int = 220) -> dict:
    """Stacked bars of cost per day (one colour per model, the rest as "other")."""
    left, bottom, top = 56, 24, 8
    plot_w, plot_h = width - left - 8, height - bottom - top
    peak = _nice(max((d["cost_usd"] for d in by_day), default=0.0))
    n = max(len(by_day), 1)
    slot = plot_w / n
    bar_w = max(slot * 0.8, 1.0)
    keys = [*series, "other"]
    rects, labels = [], []
    for i, d in enumerate(by_day):
        y = top + plot_h
        for j, k in enumerate(keys):
            v = d["by_model"].get(k, 0.0)
            if v <= 0:
                continue
            h = v / peak * plot_h
            y -= h
            rects.append(Rect(round(left + i * slot + (slot - bar_w) / 2, 2), round(y, 2), round(bar_w, 2),
                              round(h, 2), PALETTE[j % len(PALETTE)] if k != "other" else "#9c9c9c",
                              f"{d['date']} · {k}: {_money(v)}"))
    step = max(1, math.ceil(n / 8))
    for i in range(0, len(by_day), step):
        labels.append(Label(round(left + i * slot + slot / 2, 2), height - 6, by_day[i]["date"][5:], "middle"))
    ticks = [Label(left - 6, round(top + plot_h - f * plot_h + 4, 2), _money(peak * f), "end") for f in (0, .5, 1)]
    legend = [{"name": k, "color": PALETTE[j % len(PALETTE)] if k != "other" else "#9c9c9c"}
              for j, k in enumerate(keys)]
    grid = [round(top + plot_h - f * plot_h, 2) for f in (0, .5, 1)]
    return {"width": width, "height": height, "rects": rects, "labels": labels, "ticks": ticks, "legend": legend,
            "grid": grid, "left": left, "right": width - 8}


def hbar_chart(items: list[tuple[str, float, str]], width: int = 720, row: int = 22) -> dict:
    """Horizontal bars: (label, value, value text) per row."""
    label_w, gap = 220, 8
    peak = max((v for _, v, _ in items), default=0.0) or 1.0
    bar_max = width - label_w - 90
    rows = []
    for i, (name, v, text) in enumerate(items):
        y = i * row
        w = max(v / peak * bar_max, 0.0)
        rows.append({"y": y, "label": name if len(name) <= 32 else name[:31] + "…", "full": name,
                     "x": label_w, "w": round(w, 2), "h": row - 6, "text": text, "tx": round(label_w + w + gap, 2),
                     "ty": y + row - 10, "color": PALETTE[i % len(PALETTE)] if i < len(PALETTE) else PALETTE[0]})
    return {"width": width, "height": max(len(items) * row, row), "rows": rows, "label_w": label_w - gap}


def charts(data: dict) -> dict:
    models = [m["model"] for m in data["by_model"][:CHART_MODELS]]
    t = data["totals"]
    return {
        "days": day_chart(data["by_day"], models),
        "models": hbar_chart([(m["model"], m["cost_usd"], _money(m["cost_usd"])) for m in data["by_model"][:8]]),
        "projects": hbar_chart([(p["name"], p["cost_usd"], _money(p["cost_usd"])) for p in data["projects"]]),
        "tools": hbar_chart([(x["name"], x["calls"], f"{x['calls']:,}") for x in data["tools"]]),
        "tokens": hbar_chart([(label, t[c], f"{t[c]:,}") for label, c in (
            ("input", "input_tokens"), ("output", "output_tokens"), ("cache write", "cache_creation_tokens"),
            ("cache read", "cache_read_tokens"))]),
    }


# ---------------------------------------------------------------- rendering


def templates_dir() -> Path:
    """``ccsgen/templates`` in an installed wheel, the repository's ``templates/`` in a checkout."""
    pkg = Path(__file__).parent
    inside = pkg / "templates"
    return inside if (inside / "report.html").is_file() else pkg.parent / "templates"


def render_html(data: dict) -> str:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(loader=FileSystemLoader(str(templates_dir())), autoescape=True, trim_blocks=True,
                      lstrip_blocks=True, undefined=StrictUndefined)
    env.filters["money"] = _money
    env.filters["num"] = lambda v: f"{v:,}"
    env.filters["pct"] = lambda v: f"{v * 100:.1f}%"
    env.filters["dur"] = duration
    return env.get_template("report.html").render(d=data, charts=charts(data))


def duration(seconds: float) -> str:
    s = int(seconds or 0)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {s % 3600 // 60:02d}m"


_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_{}[]<>()#+!|~"})


def md(s: Any) -> str:
    """Log text made inert in Markdown: special characters escaped, one line."""
    return " ".join(str(s).split()).translate(_MD_SPECIAL)


def _md_table(head: list[str], rows: list[list[str]], right: set[int] = frozenset()) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---:" if i in right else "---" for i in range(len(head))) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def _bar(v: float, peak: float, width: int = 24) -> str:
    n = round(v / peak * width) if peak > 0 else 0
    return "█" * n if n else ("▏" if v > 0 else "")


def render_md(data: dict) -> str:
    r, t = data["report"], data["totals"]
    L: list[str] = [f"# {r['title']}", "", f"**{r['period']['label']}** ({r['period']['timezone']})"
                    + (f" · projects: {', '.join(md(p) for p in r['projects'])}" if r["projects"] else ""), ""]
    L += ["## Totals", ""]
    L += _md_table(["", ""], [[k, v] for k, v in (
        ("cost", _money(t["cost_usd"])), ("sessions", f"{t['sessions']:,}"), ("projects", f"{t['projects']:,}"),
        ("active days", f"{t['active_days']:,}"), ("responses", f"{t['responses']:,}"),
        ("total tokens", f"{t['total_tokens']:,}"), ("input tokens", f"{t['input_tokens']:,}"),
        ("output tokens", f"{t['output_tokens']:,}"), ("cache write tokens", f"{t['cache_creation_tokens']:,}"),
        ("cache read tokens", f"{t['cache_read_tokens']:,}"), ("tool calls", f"{t['tool_calls']:,}"),
        ("tool errors", f"{t['tool_errors']:,}"))], {1})
    L += ["", "## Cost by model", ""]
    peak = max((m["cost_usd"] for m in data["by_model"]), default=0.0)
    L += _md_table(["model", "responses", "tokens", "cost", "share", ""],
                   [[md(m["model"]) + ("" if m["priced"] else " (unpriced)"), f"{m['responses']:,}",
                     f"{m['total_tokens']:,}", _money(m["cost_usd"]), f"{m['share'] * 100:.1f}%",
                     _bar(m["cost_usd"], peak)] for m in data["by_model"]], {1, 2, 3, 4})
    L += ["", "## Cost by day", ""]
    active = [d for d in data["by_day"] if d["responses"]]
    peak = max((d["cost_usd"] for d in active), default=0.0)
    L += _md_table(["day", "sessions", "responses", "tokens", "cost", ""],
                   [[d["date"], f"{d['sessions']:,}", f"{d['responses']:,}", f"{d['total_tokens']:,}",
                     _money(d["cost_usd"]), _bar(d["cost_usd"], peak)] for d in active], {1, 2, 3, 4})
    if len(active) < len(data["by_day"]):
        L += ["", f"({len(data['by_day']) - len(active)} days without activity not shown.)"]
    L += ["", "## Top projects", ""]
    L += _md_table(["project", "sessions", "tokens", "cost", "share"],
                   [[md(p["name"]), f"{p['sessions']:,}", f"{p['total_tokens']:,}", _money(p["cost_usd"]),
                     f"{p['share'] * 100:.1f}%"] for p in data["projects"]], {1, 2, 3, 4})
    L += ["", "## Tools", ""]
    L += _md_table(["tool", "calls", "errors", "error rate", "sessions"],
                   [[md(x["name"]), f"{x['calls']:,}", f"{x['errors']:,}", f"{x['error_rate'] * 100:.1f}%",
                     f"{x['sessions']:,}"] for x in data["tools"]], {1, 2, 3, 4})
    for key, head in (("most_expensive", "Most expensive sessions"), ("longest", "Longest sessions")):
        L += ["", f"## {head}", ""]
        L += _md_table(["session", "project", "started", "duration", "messages", "cost"],
                       [[f"{md(s['title'])} ({s['id']})", md(s["project"]), s["date"], duration(s["duration_seconds"]),
                         f"{s['messages']:,}", _money(s["cost_usd"])] for s in data["notable"][key]], {3, 4, 5})
    if data["unpriced_models"]:
        L += ["", "Unpriced models (counted at $0): " + ", ".join(md(m) for m in data["unpriced_models"])]
    p = r["prices"]
    L += ["", "## About these numbers", "", f"Prices: {md(p['source'])}, as of {p['date']}"
          + (" (with local overrides)" if p["overrides"] else "") + ".", ""]
    L += [f"- **{d['term']}**: {d['definition']}" for d in data["definitions"]]
    red = ", ".join(f"{k}: {v}" for k, v in r["redactions"].items()) or "nothing found"
    L += ["", f"Generated {r['generated_at']} by {r['generator']}. "
          + (f"Redacted ({red})." if r["redacted"] else "Not redacted.")]
    return "\n".join(L) + "\n"


def render(data: dict, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if fmt == "md":
        return render_md(data)
    if fmt == "html":
        return render_html(data)
    raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


# ---------------------------------------------------------------- the command (ccsgen report)

EXIT_NOT_FOUND, EXIT_USAGE, EXIT_REDACTION = 1, 2, 4


def print_findings(redactor: Redactor, console: Console) -> None:
    """The --redact-preview listing: one row per masking, then the counts per rule."""
    from rich import box
    from rich.table import Table

    if not redactor.findings:
        console.print(Text("Nothing to mask."))
        return
    t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    t.add_column("rule", no_wrap=True)
    t.add_column("was", no_wrap=True)
    t.add_column("context (masked)", overflow="fold")
    for f in redactor.findings:
        t.add_row(Text(f.rule), Text(f.preview), Text(f.context))
    console.print(t)
    console.print(Text(f"{len(redactor.findings)} maskings: " + ", ".join(
        f"{k} {v}" for k, v in sorted(redactor.counts.items())) + ". Nothing written."))
