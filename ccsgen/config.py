"""Settings, declared once: defaults < environment < flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

ENV_CLAUDE = "CLAUDE_CONFIG_DIR"
ENV_CACHE = "CCSGEN_CACHE_DIR"
ENV_DATA = "CCSGEN_DATA_DIR"
ENV_SERVER = "CCSGEN_SERVER_URL"
ENV_PRICES = "CCSGEN_PRICES_FILE"

#: A session counts as active when its files were written this recently (seconds),
#: or when Claude Code's live registry (``sessions/<pid>.json``) names it with a live pid.
ACTIVE_WINDOW_SECONDS = 300
#: the derived tables every front end reads (through ``ccsgen.tables.read_table``), Parquet in ``Config.tables_dir``
DERIVED_TABLES = ("responses", "tool_calls", "sessions", "projects", "prompts", "tasks", "todos", "files")
#: the big derived tables, stored as ``TABLE_PARTS`` parts by a hash of the session id
#: (``<name>/part-NN.parquet``, each sorted like the whole table) so that a build which changed a few sessions
#: rewrites a few small parts; ``ccsgen.tables.read_table`` gives them back as one table
PARTITIONED_TABLES = ("responses", "tool_calls")
TABLE_PARTS = 16


def table_paths(tables_dir: Path, name: str) -> list[Path]:
    """The Parquet files of derived table ``name`` (all its parts for a partitioned one)."""
    if name in PARTITIONED_TABLES:
        return [tables_dir / name / f"part-{i:02d}.parquet" for i in range(TABLE_PARTS)]
    return [tables_dir / f"{name}.parquet"]


def table_exists(tables_dir: Path, name: str) -> bool:
    return all(p.is_file() for p in table_paths(tables_dir, name))


def _xdg(var: str, fallback: str) -> Path:
    base = os.environ.get(var)
    return Path(base) if base else Path.home() / fallback


def default_claude_dirs() -> tuple[Path, ...]:
    """``CLAUDE_CONFIG_DIR`` (comma-separated), else whichever of ~/.config/claude and ~/.claude exist."""
    env = os.environ.get(ENV_CLAUDE, "").strip()
    if env:
        return tuple(Path(p.strip()).expanduser() for p in env.split(",") if p.strip())
    home = Path.home()
    found = [p for p in (home / ".config" / "claude", home / ".claude") if p.is_dir()]
    return tuple(found)


def default_cache_dir() -> Path:
    env = os.environ.get(ENV_CACHE)
    return Path(env).expanduser() if env else _xdg("XDG_CACHE_HOME", ".cache") / "ccsgen"


def default_data_dir() -> Path:
    env = os.environ.get(ENV_DATA)
    return Path(env).expanduser() if env else _xdg("XDG_DATA_HOME", ".local/share") / "ccsgen"


def default_prices_file() -> Path | None:
    env = os.environ.get(ENV_PRICES)
    if env:
        return Path(env).expanduser()
    p = _xdg("XDG_CONFIG_HOME", ".config") / "ccsgen" / "prices.json"
    return p if p.is_file() else None


@dataclass(frozen=True)
class Config:
    """Where ccsgen reads, caches and keeps user data."""

    claude_dirs: tuple[Path, ...] = field(default_factory=default_claude_dirs)
    cache_dir: Path = field(default_factory=default_cache_dir)
    data_dir: Path = field(default_factory=default_data_dir)
    prices_file: Path | None = field(default_factory=default_prices_file)

    @classmethod
    def from_options(
        cls,
        claude_dirs: list[Path] | tuple[Path, ...] | None = None,
        cache_dir: Path | None = None,
        data_dir: Path | None = None,
        prices_file: Path | None = None,
    ) -> Config:
        cfg = cls()
        if claude_dirs:
            cfg = replace(cfg, claude_dirs=tuple(Path(p).expanduser() for p in claude_dirs))
        if cache_dir:
            cfg = replace(cfg, cache_dir=Path(cache_dir).expanduser())
        if data_dir:
            cfg = replace(cfg, data_dir=Path(data_dir).expanduser())
        if prices_file:
            cfg = replace(cfg, prices_file=Path(prices_file).expanduser())
        return cfg

    def __post_init__(self) -> None:
        # absolute paths: the cache is keyed by file path, so `--claude-dir x` and `--claude-dir $PWD/x` must agree
        object.__setattr__(self, "claude_dirs", tuple(Path(os.path.abspath(p)) for p in self.claude_dirs))

    @property
    def tables_dir(self) -> Path:
        return self.cache_dir / "tables"

    @property
    def index_dir(self) -> Path:
        return self.cache_dir / "index"
