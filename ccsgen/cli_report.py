"""``ccsgen report``: the command's options; the work is in ccsgen.report (imported when the command runs,
so the CLI starts without Polars)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from .cli_common import CacheDirOpt, ClaudeDirOpt, DataDirOpt, QuietOpt, SinceOpt, TzOpt, UntilOpt

FORMATS = ("html", "md", "json")
EXIT_NOT_FOUND, EXIT_USAGE, EXIT_REDACTION = 1, 2, 4

# the same options as `ccsgen usage` (declared in cli.py, which command modules do not import)


def report_cmd(
    period: Annotated[str | None, typer.Option(
        "--period", show_default=False,
        help="week (7 days), month (30 days), custom (--since/--until) or all. Default: month, or custom when "
             "--since/--until is given.")] = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    timezone: TzOpt = "UTC",
    project: Annotated[list[str] | None, typer.Option(
        "--project", "-p", show_default=False,
        help="Only this project (id, unique prefix or name; repeatable).")] = None,
    fmt: Annotated[str | None, typer.Option(
        "--format", "-f", show_default=False,
        help="html, md or json. Default: from --out's extension, else html.")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", show_default=False, help="File to write ('-': stdout). Default: ccsgen-report.<format>.")] = None,
    no_redact: Annotated[bool, typer.Option("--no-redact", help="Do not mask secrets and personal data.")] = False,
    redact_preview: Annotated[bool, typer.Option(
        "--redact-preview", help="List every masking (rule, preview, context) and write nothing.")] = False,
    alias_projects: Annotated[bool, typer.Option(
        "--alias-projects", help="Replace project names by project-1, project-2 … (most expensive first).")] = False,
    redact_pattern: Annotated[list[str] | None, typer.Option(
        "--redact-pattern", show_default=False, help="Also mask this regular expression (repeatable).")] = None,
    claude_dir: ClaudeDirOpt = None,
    cache_dir: CacheDirOpt = None,
    data_dir: DataDirOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Write one self-contained report to publish (HTML, Markdown or JSON), secrets masked.

    Totals, cost by model and by day, charts, top projects, tools, notable sessions, the price source and the definitions used. Redaction is on unless --no-redact; --redact-preview shows what it would mask.

    Example: ccsgen report --period month --format html --out report.html
    """
    from rich.console import Console
    from rich.text import Text

    from .catalog import Ambiguous, NotFound
    from .cli_common import make_config, open_catalog
    from .cli_query import resolve_project_arg
    from .cli_query_tables import die, show
    from .redact import RedactionError, Redactor, check_patterns
    from .report import _money as money
    from .report import build_report, print_findings, redact_report, render, resolve_period, write_atomic
    from .usage import check_timezone

    try:
        check_timezone(timezone)
    except Exception as e:  # noqa: BLE001 - zoneinfo raises several kinds: all are a bad --timezone
        raise die(f"invalid --timezone: {e}", EXIT_USAGE) from None
    try:
        per = resolve_period(period, since, until, tz=timezone)
    except ValueError as e:
        raise die(str(e), EXIT_USAGE) from None
    if fmt is None:
        ext = out.suffix.lower().lstrip(".") if out and str(out) != "-" else ""
        fmt = {"markdown": "md", "htm": "html"}.get(ext, ext) if ext in ("html", "htm", "md", "markdown", "json") \
            else "html"
    if fmt not in FORMATS:
        raise die(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}", EXIT_USAGE)
    if no_redact and (redact_preview or alias_projects or redact_pattern):
        raise die("--no-redact cannot be combined with --redact-preview, --alias-projects or --redact-pattern",
                  EXIT_USAGE)
    try:
        check_patterns(redact_pattern or [])
    except RedactionError as e:
        raise die(f"{e}; nothing written", EXIT_REDACTION) from None

    cat = open_catalog(make_config(claude_dir, cache_dir, data_dir), quiet=quiet)
    pids: list[str] = []
    if project:
        from .views import projects_list

        plist = projects_list(cat)
        for p in project:
            try:
                pids.append(cat.resolve_project(resolve_project_arg(p, plist)))
            except (NotFound, Ambiguous) as e:
                raise die(f"{p}: {e}", EXIT_NOT_FOUND) from None
    data = build_report(cat, per, pids)
    if not no_redact:
        try:
            redactor = Redactor.for_catalog(cat, alias_projects=alias_projects,
                                            extra_patterns=tuple(redact_pattern or ()), max_findings=10**9)
            data = redact_report(data, redactor)
        except RedactionError as e:
            raise die(f"{e}; nothing written", EXIT_REDACTION) from None
        if redact_preview:
            show(print_findings, redactor)
            return
    text = render(data, fmt)
    if out is not None and str(out) == "-":
        sys.stdout.write(text)
        return
    dest = out or Path(f"ccsgen-report.{fmt}")
    write_atomic(dest, text)
    if not quiet:
        counts = data["report"]["redactions"]
        red = ("not redacted" if no_redact else "redacted: " + (", ".join(f"{k} {v}" for k, v in counts.items())
                                                                 or "nothing to mask"))
        t = data["totals"]
        msg = (f"wrote {dest} ({len(text.encode()):,} bytes): {data['report']['period']['label']}, "
               f"{t['sessions']:,} sessions, {money(t['cost_usd'])}; {red}")
        Console(stderr=True, highlight=False, no_color=True, soft_wrap=True).print(Text(msg))
