"""Jinja filters: numbers, money, times and durations, spelled the same on every page.

All times are shown in UTC by the server-side render (the build is deterministic);
``site.js`` rewrites ``<time data-local>`` elements to the reader's local time.
"""

from __future__ import annotations

import datetime as dt
import math

from markupsafe import Markup

from ..stats import iso

TIME_FMT = "%Y-%m-%d %H:%M"


def num(v) -> str:
    """1234567 -> '1,234,567'."""
    if v is None:
        return "–"
    if isinstance(v, float) and not v.is_integer():
        return f"{v:,.1f}"
    return f"{int(v):,}"


def compact(v) -> str:
    """1234567 -> '1.2M' (tokens on cards and chart axes)."""
    if v is None:
        return "–"
    v = float(v)
    a = abs(v)
    for div, suf in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            x = v / div
            return f"{x:.1f}{suf}".replace(".0" + suf, suf) if x < 100 else f"{x:.0f}{suf}"
    return f"{v:.0f}" if v.is_integer() else f"{v:.1f}"


def usd(v) -> str:
    """Cost: '$1,234.56', '$0.123', '$0.0042', '$0'."""
    if v is None:
        return "–"
    v = float(v)
    if v == 0:
        return "$0"
    a = abs(v)
    if a >= 1:
        return f"${v:,.2f}"
    if a >= 0.01:
        return f"${v:.3f}"
    if a >= 0.0001:
        return f"${v:.4f}"
    return "<$0.0001"


def usd_axis(v) -> str:
    v = float(v)
    if v == 0:
        return "$0"
    if abs(v) >= 1000:
        return "$" + compact(v)
    if abs(v) >= 1:
        return f"${v:,.0f}" if v.is_integer() else f"${v:,.2f}".rstrip("0").rstrip(".")
    return f"${v:.2f}".rstrip("0").rstrip(".") if abs(v) >= 0.01 else f"${v:.3f}"


def pct(v, digits: int = 1) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{float(v) * 100:.{digits}f}%"


def duration(seconds) -> str:
    """4321 -> '1h 12m'."""
    try:
        s = int(round(float(seconds)))
    except (TypeError, ValueError, OverflowError):  # None, NaN, infinity (a log's "durationMs": "NaN")
        return "–"
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m {s}s" if s else f"{m}m"
    h, m = divmod(m, 60)
    if h < 48:
        return f"{h}h {m}m" if m else f"{h}h"
    d, h = divmod(h, 24)
    return f"{d}d {h}h" if h else f"{d}d"


def _dt(t) -> dt.datetime | None:
    """A datetime from a datetime or the ISO strings of the JSON twins (``…Z``)."""
    if t is None or isinstance(t, dt.datetime):
        return t
    if isinstance(t, str):
        try:
            return dt.datetime.fromisoformat(t.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def when(t, fmt: str = TIME_FMT) -> str:
    t = _dt(t)
    if t is None:
        return "–"
    if t.tzinfo is not None:
        t = t.astimezone(dt.UTC)
    return t.strftime(fmt)


def day(t) -> str:
    if t is None:
        return "–"
    if isinstance(t, (dt.datetime, str)):
        return when(t, "%Y-%m-%d")
    return t.isoformat() if hasattr(t, "isoformat") else str(t)


def clock(t) -> str:
    return when(t, "%H:%M:%S")


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{num(n)} {word if n == 1 else (many or word + 's')}"


def short_id(s: str | None, n: int = 8) -> str:
    return (s or "")[:n]


def inert(s) -> Markup:
    """Text for element content (``<pre>``, ``<code>``): ``&``, ``<`` and ``>`` escaped.

    Quotes need no escaping outside attributes; Jinja's default escaping spells each as ``&#34;``, which
    makes code and tool output in transcripts a tenth larger. Never use this inside an attribute."""
    if s is None:
        return Markup("")
    return Markup(str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def register(env) -> None:
    env.filters.update(
        num=num, compact=compact, usd=usd, usd_axis=usd_axis, pct=pct, duration=duration, when=when, day=day,
        clock=clock, iso=iso, plural=plural, short_id=short_id, inert=inert,
    )
