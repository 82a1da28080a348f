"""Command line: parse -> Config -> one library call -> print.

Commands here: build, usage, demo, pricing. Query commands (sessions, projects,
tasks, stats, search), serve and report live in their own cli_* modules and
are registered at the bottom.
"""

from __future__ import annotations

import json
import os
import re
import sys
import webbrowser
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from . import __version__
from .cli_common import (
    CacheDirOpt,
    ClaudeDirOpt,
    DataDirOpt,
    JsonOpt,
    QuietOpt,
    SinceOpt,
    TzOpt,
    UntilOpt,
    console,
    fail,
    ingest_only,
    make_config,
    open_catalog,
)
from .config import Config

app = typer.Typer(
    name="ccsgen",
    help="Claude Code logs -> numbers you can trust, a browsable offline site, a JSON API and a CLI.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
usage_app = typer.Typer(help="ccusage-compatible usage reports (same JSON with --json).", no_args_is_help=True)
app.add_typer(usage_app, name="usage")


# ---------------------------------------------------------------- build


def _print_report(rep, out: Console) -> None:
    t = Table(title="build report", show_header=False, box=None)
    t.add_row("log files", f"{rep.files} ({rep.files_new} new, {rep.files_grown} grown, {rep.files_rewritten} rewritten, "
              f"{rep.files_deleted} deleted, {rep.files_unchanged} unchanged)")
    t.add_row("task/todo files", f"{rep.aux_files}")
    t.add_row("lines read", f"{rep.lines_read:,} ({rep.bytes_read / 1e6:,.1f} MB)")
    bad = ", ".join(f"{k}: {v}" for k, v in sorted(rep.bad_by_reason.items())) or "none"
    t.add_row("bad lines", f"{rep.bad_lines:,} ({bad})")
    unk = ", ".join(f"{k}: {v}" for k, v in sorted(rep.unknown_types.items())) or "none"
    t.add_row("unknown line types", unk)
    t.add_row("seconds", " · ".join(f"{k} {v:.2f}" for k, v in rep.stages.items()) + f" · total {rep.seconds:.2f}")
    out.print(t)


@app.command()
def build(
    claude_dir: ClaudeDirOpt = None,
    cache_dir: CacheDirOpt = None,
    data_dir: DataDirOpt = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the site.")] = Path("site"),
    full: Annotated[bool, typer.Option("--full", help="Ignore the cache and read everything again.")] = False,
    demo: Annotated[bool, typer.Option("--demo", help="Build from a generated demo corpus when no real logs "
                                       "exist (always, with --demo-only).")] = False,
    demo_only: Annotated[bool, typer.Option("--demo-only", help="Build from the demo corpus even if real "
                                            "logs exist.")] = False,
    no_site: Annotated[bool, typer.Option("--no-site", help="Do not write the site.")] = False,
    no_index: Annotated[bool, typer.Option("--no-index", help="Do not update the search index.")] = False,
    publish: Annotated[bool, typer.Option("--publish", help="Write a redacted site meant for sharing.")] = False,
    open_browser: Annotated[bool, typer.Option("--open", help="Open the site in a browser when done.")] = False,
    quiet: QuietOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Ingest the logs (incrementally), derive the tables and write the static site.

    Example: ccsgen build --out site && open site/index.html
    """
    cfg = make_config(claude_dir, cache_dir, data_dir)
    out_console = console()
    has_logs = any((Path(d) / "projects").is_dir() for d in cfg.claude_dirs)
    if demo_only or (demo and not has_logs):
        from . import demo as demo_mod

        demo_dir = cfg.cache_dir / "demo-claude"
        if not (demo_dir / "projects").is_dir():
            if not quiet:
                out_console.print(f"no Claude logs found: generating a demo corpus in {demo_dir}")
            demo_mod.generate(demo_dir, 8 * 1024 * 1024, seed=0)
        cfg = Config.from_options([demo_dir], cfg.cache_dir / "demo-cache", cfg.data_dir / "demo",
                                  cfg.prices_file)
    if no_site and no_index:  # tables only: no Catalog, and no Polars at all when nothing changed
        rep = ingest_only(cfg, quiet=quiet or json_out, full=full)
        cat = None
    else:
        cat = open_catalog(cfg, quiet=quiet or json_out, full=full)
        rep = cat.report
    indexed = False

    def index() -> None:
        nonlocal indexed
        indexed = True
        with rep.stage("index"):
            try:
                cat.reindex(full=full)
            except Exception as e:  # noqa: BLE001 - numbers and pages do not need the search index
                console(stderr=True).print(f"warning: search index not updated: {e}")

    site_info = None
    if not no_site:  # the index is built while the site's helper process renders transcripts
        site_info = _build_site(cat, out, publish=publish, quiet=quiet or json_out,
                                alongside=None if no_index else index)
    if not no_index and not indexed:
        index()
    if json_out:
        d = rep.as_dict()
        if site_info:
            d["site"] = site_info
        out_console.print_json(json.dumps(d, default=str))
        return
    if not quiet:
        _print_report(rep, out_console)
        if rep.unpriced_models:
            out_console.print(f"unpriced models (cost 0): {', '.join(rep.unpriced_models)}")
        if site_info:
            index = Path(site_info["out"]).resolve() / "index.html"
            out_console.print(f"site: {site_info['pages_written']} pages written, {site_info['pages_unchanged']} "
                              f"unchanged, {site_info['pages_removed']} removed")
            out_console.print(f"open: {index.as_uri()}")
    if open_browser and site_info:
        webbrowser.open((Path(site_info["out"]).resolve() / "index.html").as_uri())


def _build_site(cat, out: Path, publish: bool, quiet: bool, alongside=None) -> dict | None:
    try:
        from .site import build as site_build
    except ImportError:
        return None
    if not hasattr(site_build, "build_site"):
        return None
    return site_build.build_site(cat, out, publish=publish, quiet=quiet, alongside=alongside)


# ---------------------------------------------------------------- usage (ccusage)

BreakdownOpt = Annotated[bool, typer.Option("--breakdown", "-b", help="Per-model rows under each period.")]
ProjectOpt = Annotated[str | None, typer.Option("--project", "-p", help="Only this project (dir name or prefix).")]
OrderOpt = Annotated[str, typer.Option("--order", help="asc or desc.")]


def _usage(kind: str, claude_dir, cache_dir, since, until, timezone, project, order, json_out, breakdown,
           **extra) -> None:
    from . import usage as U

    try:
        U.check_timezone(timezone)
        if since:
            U._norm_date(since)
        if until:
            U._norm_date(until)
    except Exception as e:  # noqa: BLE001 - any parse failure is a usage error
        raise fail(f"invalid option: {e}") from None
    if order not in ("asc", "desc"):
        raise fail("--order must be asc or desc")
    cfg = make_config(claude_dir, cache_dir, None)
    cat = open_catalog(cfg)
    pid = None
    if project:
        from .catalog import Ambiguous, NotFound

        try:
            pid = cat.resolve_project(project)
        except (NotFound, Ambiguous) as e:
            raise fail(str(e), 1) from None
    fn = getattr(U, kind)
    if kind == "blocks":
        data = fn(cat.responses, since=since, until=until, project=pid, tz=timezone)
    else:
        data = fn(cat.responses, tz=timezone, since=since, until=until, project=pid, order=order, **extra)
    if json_out:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    _usage_table(kind, data, breakdown)


def short_model(name: str) -> str:
    """claude-sonnet-4-20250514 -> sonnet-4 (for narrow terminal columns; JSON keeps full names)."""
    return re.sub(r"-\d{8}$", "", name.removeprefix("claude-"))


def _usage_table(kind: str, data: dict, breakdown: bool) -> None:
    key = {"daily": "daily", "weekly": "weekly", "monthly": "monthly", "session": "sessions", "blocks": "blocks"}[kind]
    label = {"daily": "date", "weekly": "week", "monthly": "month", "session": "sessionId", "blocks": "id"}[kind]
    t = Table(title=f"Claude Code token usage — {kind}")
    for col in (label.replace("sessionId", "session"), "models", "input", "output", "cache create", "cache read",
                "total tokens", "cost (USD)"):
        t.add_column(col, justify="right" if col not in ("models",) and col != label else "left")
    rows = data[key]
    for r in rows:
        if kind == "blocks":
            if r["isGap"]:
                continue
            tc = r["tokenCounts"]
            vals = (tc["inputTokens"], tc["outputTokens"], tc["cacheCreationInputTokens"], tc["cacheReadInputTokens"],
                    r["totalTokens"], r["costUSD"])
            name = r["startTime"][:16].replace("T", " ") + (" (active)" if r["isActive"] else "")
            models = ", ".join(short_model(m) for m in r["models"])
        else:
            vals = (r["inputTokens"], r["outputTokens"], r["cacheCreationTokens"], r["cacheReadTokens"],
                    r["totalTokens"], r["totalCost"])
            name = str(r[label])
            models = ", ".join(short_model(m) for m in r["modelsUsed"])
        t.add_row(name, models, *[f"{v:,}" for v in vals[:5]], f"${vals[5]:,.2f}")
        if breakdown and kind != "blocks":
            for b in r["modelBreakdowns"]:
                tot = b["inputTokens"] + b["outputTokens"] + b["cacheCreationTokens"] + b["cacheReadTokens"]
                t.add_row("  └ " + b["modelName"], "", f"{b['inputTokens']:,}", f"{b['outputTokens']:,}",
                          f"{b['cacheCreationTokens']:,}", f"{b['cacheReadTokens']:,}", f"{tot:,}",
                          f"${b['cost']:,.2f}", style="dim")
    if "totals" in data:
        tt = data["totals"]
        t.add_row("Total", "", f"{tt['inputTokens']:,}", f"{tt['outputTokens']:,}", f"{tt['cacheCreationTokens']:,}",
                  f"{tt['cacheReadTokens']:,}", f"{tt['totalTokens']:,}", f"${tt['totalCost']:,.2f}", style="bold")
    console().print(t)


@usage_app.command("daily")
def usage_daily(claude_dir: ClaudeDirOpt = None, cache_dir: CacheDirOpt = None, since: SinceOpt = None,
                until: UntilOpt = None, timezone: TzOpt = "UTC", project: ProjectOpt = None,
                order: OrderOpt = "asc", json_out: JsonOpt = False, breakdown: BreakdownOpt = False) -> None:
    """Tokens and cost per day (ccusage daily).

    Example: ccsgen usage daily --since 2026-01-01 --json
    """
    _usage("daily", claude_dir, cache_dir, since, until, timezone, project, order, json_out, breakdown)


@usage_app.command("weekly")
def usage_weekly(claude_dir: ClaudeDirOpt = None, cache_dir: CacheDirOpt = None, since: SinceOpt = None,
                 until: UntilOpt = None, timezone: TzOpt = "UTC", project: ProjectOpt = None,
                 order: OrderOpt = "asc", json_out: JsonOpt = False, breakdown: BreakdownOpt = False,
                 start_of_week: Annotated[str, typer.Option("--start-of-week")] = "sunday") -> None:
    """Tokens and cost per week (ccusage weekly).

    Example: ccsgen usage weekly --breakdown
    """
    if start_of_week.lower() not in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"):
        raise fail("--start-of-week must be a weekday name")
    _usage("weekly", claude_dir, cache_dir, since, until, timezone, project, order, json_out, breakdown,
           start_of_week=start_of_week)


@usage_app.command("monthly")
def usage_monthly(claude_dir: ClaudeDirOpt = None, cache_dir: CacheDirOpt = None, since: SinceOpt = None,
                  until: UntilOpt = None, timezone: TzOpt = "UTC", project: ProjectOpt = None,
                  order: OrderOpt = "asc", json_out: JsonOpt = False, breakdown: BreakdownOpt = False) -> None:
    """Tokens and cost per month (ccusage monthly).

    Example: ccsgen usage monthly --json
    """
    _usage("monthly", claude_dir, cache_dir, since, until, timezone, project, order, json_out, breakdown)


@usage_app.command("session")
def usage_session(claude_dir: ClaudeDirOpt = None, cache_dir: CacheDirOpt = None, since: SinceOpt = None,
                  until: UntilOpt = None, timezone: TzOpt = "UTC", project: ProjectOpt = None,
                  order: OrderOpt = "desc", json_out: JsonOpt = False, breakdown: BreakdownOpt = False) -> None:
    """Tokens and cost per session, subagents folded into their parent (ccusage session).

    Example: ccsgen usage session --project my-app
    """
    _usage("session", claude_dir, cache_dir, since, until, timezone, project, order, json_out, breakdown)


@usage_app.command("blocks")
def usage_blocks(claude_dir: ClaudeDirOpt = None, cache_dir: CacheDirOpt = None, since: SinceOpt = None,
                 until: UntilOpt = None, timezone: TzOpt = "UTC", project: ProjectOpt = None,
                 json_out: JsonOpt = False) -> None:
    """5-hour billing blocks, with gaps (ccusage blocks).

    Example: ccsgen usage blocks --json
    """
    _usage("blocks", claude_dir, cache_dir, since, until, timezone, project, "asc", json_out, False)


# ---------------------------------------------------------------- demo, pricing


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write (a Claude config dir).")] = Path(
        "demo-claude"),
    size: Annotated[str, typer.Option("--size", help="Approximate size: 50MB, 1GB, 200KB …")] = "50MB",
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same bytes).")] = 0,
) -> None:
    """Write a realistic synthetic Claude config dir (for demos, tests and benchmarks).

    Example: ccsgen demo --out /tmp/demo --size 50MB && ccsgen build --claude-dir /tmp/demo
    """
    from . import demo as demo_mod

    try:
        nbytes = demo_mod.parse_size(size)
    except ValueError as e:
        raise fail(str(e)) from None
    if out.exists() and any(out.iterdir()):
        raise fail(f"{out} exists and is not empty; choose another --out")
    s = demo_mod.generate(out, nbytes, seed=seed)
    console().print(f"wrote {s.files} files, {s.bytes / 1e6:,.1f} MB, {s.sessions} sessions in {s.projects} projects "
                    f"to {s.out_dir} ({s.seconds:.1f}s)")
    console().print(f"next: ccsgen build --claude-dir {s.out_dir}")


@app.command()
def pricing(
    json_out: JsonOpt = False,
    model: Annotated[str | None, typer.Option("--model", help="Only models containing this text.")] = None,
) -> None:
    """Print the price table (USD per million tokens), its source and date.

    Example: ccsgen pricing --model opus
    """
    from .pricing import PriceTable, PricingError

    cfg = Config()
    try:
        pt = PriceTable.load(cfg.prices_file)
    except PricingError as e:
        raise fail(str(e)) from None
    models = {k: v for k, v in pt.models.items() if not model or model in k}
    if json_out:
        sys.stdout.write(json.dumps({"source": pt.source, "date": pt.date, "overrides": pt.overrides_from,
                                     "models": models}, indent=2) + "\n")
        return
    t = Table(title=f"prices (USD / 1M tokens) — {pt.source}, extracted {pt.date}")
    for c in ("model", "input", "output", "cache write 5m", "cache write 1h", "cache read", ">200k input"):
        t.add_column(c, justify="left" if c == "model" else "right")

    def f(v):
        return "—" if v is None else f"{v * 1e6:,.2f}"

    for name, p in sorted(models.items()):
        inp = p.get("input")
        t.add_row(name, f(inp), f(p.get("output")), f(p.get("cache_write_5m", inp * 1.25 if inp else None)),
                  f(p.get("cache_write_1h", inp * 2 if inp else None)), f(p.get("cache_read")),
                  f(p.get("input_above_200k")))
    console().print(t)
    if pt.overrides_from:
        console().print(f"overrides from {pt.overrides_from}")


@app.command()
def version() -> None:
    """Print the version.

    Example: ccsgen version
    """
    console().print(f"ccsgen {__version__}")


def _register() -> None:
    from . import cli_query, cli_report, cli_serve

    app.command("serve")(cli_serve.serve)
    app.add_typer(cli_query.sessions_app, name="sessions")
    app.add_typer(cli_query.projects_app, name="projects")
    app.add_typer(cli_query.tasks_app, name="tasks")
    app.add_typer(cli_query.stats_app, name="stats")
    app.add_typer(cli_query.search_app, name="search")
    app.command("report")(cli_report.report_cmd)


_register()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except SystemExit as e:
        if e.code in (0, None) and sys.argv[1:2] == ["build"]:
            # everything is written and flushed: skip tearing down a large heap (0.1-0.3 s)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
        raise


if __name__ == "__main__":
    main()
