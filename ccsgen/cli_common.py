"""What every command module shares: the console, option types, config, errors, progress.

Command modules import from here (never from ``cli.py``, which imports them to register them).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from .config import Config
from .progress import Progress


def console(stderr: bool = False) -> Console:
    no_color = bool(os.environ.get("NO_COLOR"))
    return Console(stderr=stderr, no_color=no_color, highlight=False,
                   soft_wrap=not sys.stdout.isatty() and not stderr)


# ---------------------------------------------------------------- reusable options

ClaudeDirOpt = Annotated[
    list[Path] | None,
    typer.Option("--claude-dir", help="Claude config dir to read (repeatable). Default: $CLAUDE_CONFIG_DIR, "
                 "else ~/.config/claude and ~/.claude.", show_default=False),
]
CacheDirOpt = Annotated[
    Path | None, typer.Option("--cache-dir", envvar="CCSGEN_CACHE_DIR", help="Cache dir (tables, index).",
                              show_default=False),
]
DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", envvar="CCSGEN_DATA_DIR", help="Data dir (bookmarks, manual tags).",
                              show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or report.")]


SinceOpt = Annotated[str | None, typer.Option("--since", help="First day (YYYY-MM-DD or YYYYMMDD).")]
UntilOpt = Annotated[str | None, typer.Option("--until", help="Last day (YYYY-MM-DD or YYYYMMDD).")]
TzOpt = Annotated[str, typer.Option("--timezone", "-z", help="IANA time zone for day boundaries.")]


def make_config(claude_dir: list[Path] | None, cache_dir: Path | None, data_dir: Path | None) -> Config:
    return Config.from_options(claude_dir, cache_dir, data_dir)


def fail(msg: str, code: int = 2) -> typer.Exit:
    console(stderr=True).print(f"[red]error:[/red] {escape(msg)}", markup=True)
    return typer.Exit(code)


class RichProgress(Progress):
    """The CLI's progress bar (bytes read)."""


def _check_dirs(cfg: Config) -> None:
    if not any(Path(d).is_dir() for d in cfg.claude_dirs):
        dirs = ", ".join(str(d) for d in cfg.claude_dirs) or "(none found)"
        raise fail(f"no Claude config dir found: {dirs}. Use --claude-dir DIR, set CLAUDE_CONFIG_DIR, "
                   "or try `ccsgen build --demo`.")


def _fail_on_pricing_error(fn, *args, **kwargs):
    """``fn(...)``; a bad price table (the overrides file) is a clear CLI error, not a traceback."""
    try:
        return fn(*args, **kwargs)
    except Exception as e:
        from .pricing import PricingError  # here, not above: a build with nothing to do never imports Polars

        if isinstance(e, PricingError):
            raise fail(str(e)) from None
        raise


def open_catalog(cfg: Config, quiet: bool = True, refresh: bool = True, full: bool = False):
    _check_dirs(cfg)
    from .catalog import Catalog

    return _fail_on_pricing_error(Catalog.open, cfg, refresh=refresh, full=full, progress=RichProgress(not quiet))


def ingest_only(cfg: Config, quiet: bool = True, full: bool = False):
    """Bring the cache and tables up to date without opening a Catalog (``build --no-site --no-index``)."""
    _check_dirs(cfg)
    from .build import ingest_and_derive

    return _fail_on_pricing_error(ingest_and_derive, cfg, full=full, progress=RichProgress(not quiet))
