"""Chart geometry for the pages' SVG charts (drawn by the macros in ``templates/_charts.html``).

No chart library: each function turns numbers into shapes (coordinates in a fixed
viewBox, CSS classes for colours) and the template draws them, so the charts render
without JavaScript, from ``file://``, in both themes. Every chart sits next to a table
with the same numbers.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

#: categorical colour classes (``.series-0`` … ``.series-7`` in site.css); the last one is "other".
#: (Not ``.s1``: Pygments' token classes are short, and a page's classes must not collide with them.)
N_COLORS = 8
MAX_BAR = 48


def nice_max(v: float) -> tuple[float, float]:
    """(axis max, tick step) with 4–5 ticks at 1/2/2.5/5 x 10^k."""
    if v <= 0:
        return 1.0, 0.25
    raw = v / 4
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        step = m * mag
        if step * 4 >= v:
            break
    top = step * math.ceil(v / step)
    return top, step


@dataclass(slots=True)
class Seg:
    y: float
    h: float
    cls: str
    title: str


@dataclass(slots=True)
class Bar:
    x: float
    w: float
    segs: list[Seg]
    title: str


@dataclass(slots=True)
class Legend:
    name: str
    cls: str
    total: str


@dataclass
class BarChart:
    width: int
    height: int
    left: int
    top: int
    plot_w: float
    plot_h: float
    bars: list[Bar]
    legend: list[Legend]
    yticks: list[tuple[float, str]]
    xlabels: list[tuple[float, str]]
    label: str  # accessible description
    line: str = ""  # optional polyline points (cumulative)
    line_label: str = ""
    empty: bool = False


def stacked_bars(
    labels: Sequence[str],
    series: dict[str, Sequence[float]],
    *,
    fmt: Callable[[float], str],
    label: str,
    width: int = 1100,
    height: int = 260,
    max_series: int = N_COLORS - 1,
    label_every: int | None = None,
    titles: Sequence[str] | None = None,
    classes: dict[str, str] | None = None,
    total_fmt: Callable[[float], str] | None = None,
) -> BarChart:
    """Bars over categories (days, weeks…), each split into the series (models…), largest series first.

    ``width``/``height`` are viewBox units: pick them near the size the chart is shown at, so its
    text comes out at the page's size. ``classes`` pins a series to a colour class."""
    left, top, bottom, right = 52, 10, 26, 8
    plot_w, plot_h = width - left - right, height - top - bottom
    # rounded: float sums from a parallel group-by differ in their last bits from build to build
    series = {k: [round(float(x), 9) for x in v] for k, v in series.items()}
    totals = {k: float(sum(v)) for k, v in series.items()}
    names = sorted(series, key=lambda k: -totals[k])
    keep = names[:max_series]
    rest = names[max_series:]
    classes = classes or {}
    cols: list[tuple[str, str, list[float]]] = [(k, classes.get(k, f"series-{i}"), list(series[k]))
                                               for i, k in enumerate(keep)]
    if rest:
        other = [sum(series[k][i] for k in rest) for i in range(len(labels))]
        cols.append((f"{len(rest)} other" + ("s" if len(rest) > 1 else ""), f"series-{N_COLORS - 1}", other))
    n = len(labels)
    stack_tot = [sum(c[2][i] for c in cols) for i in range(n)]
    vmax = max(stack_tot, default=0.0)
    ymax, step = nice_max(vmax)
    slot = plot_w / max(n, 1)
    gap = min(slot * 0.2, 3.0) if slot > 3 else 0.0
    bars = []
    for i in range(n):
        y = top + plot_h
        segs = []
        for name, cls, vals in cols:
            v = vals[i]
            if v <= 0:
                continue
            h = v / ymax * plot_h
            y -= h
            segs.append(Seg(round(y, 2), round(h, 2), cls, f"{name}: {fmt(v)}"))
        tl = titles[i] if titles else labels[i]
        w = min(max(slot - gap, 0.6), MAX_BAR)  # a few bars stay bars, not blocks
        bars.append(Bar(round(left + i * slot + (slot - w) / 2, 2), round(w, 2), segs, f"{tl} — {fmt(stack_tot[i])}"))
    yticks = []
    t = 0.0
    while t <= ymax + 1e-9:
        yticks.append((round(top + plot_h - t / ymax * plot_h, 2), fmt(t)))
        t += step
    every = label_every or max(1, math.ceil(n / max(2, plot_w // 80)))
    xlabels = [(round(left + i * slot + slot / 2, 2), labels[i]) for i in range(0, n, every)]
    legend = [Legend(name, cls, (total_fmt or fmt)(sum(vals))) for name, cls, vals in cols]
    return BarChart(width, height, left, top, plot_w, plot_h, bars, legend, yticks, xlabels, label,
                    empty=vmax <= 0)


def with_cumulative(chart: BarChart, values: Sequence[float], fmt: Callable[[float], str], label: str) -> BarChart:
    """Overlay a cumulative line (own scale: its final value is the plot's top)."""
    total = 0.0
    pts = []
    top = sum(values) or 1.0
    slot = chart.plot_w / max(len(values), 1)
    for i, v in enumerate(values):
        total += v
        x = chart.left + i * slot + slot / 2
        y = chart.top + chart.plot_h - total / top * chart.plot_h
        pts.append(f"{x:.1f},{y:.1f}")
    chart.line = " ".join(pts)
    chart.line_label = f"{label}: {fmt(total)}"
    return chart


def day_range(first: dt.date, last: dt.date, max_days: int | None = None) -> list[dt.date]:
    if max_days is not None and (last - first).days + 1 > max_days:
        first = last - dt.timedelta(days=max_days - 1)
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


# ---------------------------------------------------------------- heatmaps


@dataclass(slots=True)
class Cell:
    x: float
    y: float
    level: int
    title: str


@dataclass
class Heatmap:
    width: int
    height: int
    cells: list[Cell]
    xlabels: list[tuple[float, str]]
    ylabels: list[tuple[float, str]]
    size: float
    label: str
    legend: list[str] = field(default_factory=list)


def _levels(values: Sequence[float]) -> Callable[[float], int]:
    """0 for nothing, 1–4 by quartiles of the non-zero values."""
    nz = sorted(v for v in values if v > 0)
    if not nz:
        return lambda v: 0
    qs = [nz[min(len(nz) - 1, int(len(nz) * q))] for q in (0.25, 0.5, 0.75)]

    def level(v: float) -> int:
        if v <= 0:
            return 0
        return 1 + sum(1 for q in qs if v > q)

    return level


def calendar(days: list[dict], fmt: Callable[[float], str], key: str = "cost", label: str = "") -> Heatmap:
    """GitHub-style year calendar: a column per week (Monday first), a row per weekday."""
    cell, gap, left, top = 11, 3, 28, 16
    level = _levels([d[key] for d in days])
    cells = []
    xlabels = []
    if not days:
        return Heatmap(left, top, [], [], [], cell, label)
    first = dt.date.fromisoformat(days[0]["date"])
    offset = first.weekday()
    last_month = None
    col = 0
    for i, d in enumerate(days):
        pos = i + offset
        col, row = divmod(pos, 7)
        x = left + col * (cell + gap)
        y = top + row * (cell + gap)
        date = dt.date.fromisoformat(d["date"])
        if date.month != last_month and row <= 3:
            if not xlabels or x - xlabels[-1][0] > 3 * (cell + gap):
                xlabels.append((x, date.strftime("%b")))
            last_month = date.month
        cells.append(Cell(x, y, level(d[key]), f"{d['date']}: {fmt(d[key])}, {d['responses']:,} responses"))
    ylabels = [(top + r * (cell + gap) + cell - 2, n) for r, n in ((0, "Mon"), (2, "Wed"), (4, "Fri"))]
    width = left + (col + 1) * (cell + gap)
    height = top + 7 * (cell + gap)
    return Heatmap(width, height, cells, xlabels, ylabels, cell, label, ["less", "more"])


def hour_of_week(grid: list[list[int]], label: str = "") -> Heatmap:
    """7 x 24 grid of responses by weekday (rows, Monday first) and hour (columns)."""
    cell, gap, left, top = 22, 3, 36, 18
    flat = [v for row in grid for v in row]
    level = _levels(flat)
    names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    cells = [Cell(left + h * (cell + gap), top + d * (cell + gap), level(grid[d][h]),
                  f"{names[d]} {h:02d}:00–{h:02d}:59: {grid[d][h]:,} responses")
             for d in range(7) for h in range(24)]
    xlabels = [(left + h * (cell + gap) + cell / 2, f"{h:02d}") for h in range(0, 24, 3)]
    ylabels = [(top + d * (cell + gap) + cell * 0.7, names[d]) for d in range(7)]
    return Heatmap(left + 24 * (cell + gap), top + 7 * (cell + gap), cells, xlabels, ylabels, cell, label,
                   ["less", "more"])


def share(values: Sequence[float]) -> list[float]:
    """Each value as a percentage of the largest (for inline bars in tables)."""
    m = max(values, default=0) or 1
    return [round(100 * v / m, 1) for v in values]
