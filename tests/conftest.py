"""Shared, generic fixtures. Keep this file small: module-specific fixtures live in their test modules.

- Every test runs with HOME and the XDG dirs pointing into tmp dirs and without CLAUDE_CONFIG_DIR / CCSGEN_*,
  so no test can read or write the real home (``_isolated_env``, autouse).
- ``corpus_dir``: ``../shared/corpus`` (real logs + ccusage's reference output); tests skip when it is absent.
- ``corpus_catalog``: one Catalog built from ``corpus/claude`` for the whole session (read-only: don't refresh it).
"""

from __future__ import annotations

import os
from pathlib import Path

import factories  # tests/ is on sys.path (pytest rootdir conftest, no __init__.py)
import pytest

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
_ENV_DIRS = {"XDG_CACHE_HOME": ".cache", "XDG_DATA_HOME": ".local/share", "XDG_CONFIG_HOME": ".config"}


def _scrub(mp: pytest.MonkeyPatch, home: Path) -> None:
    mp.setenv("HOME", str(home))
    for var, sub in _ENV_DIRS.items():
        mp.setenv(var, str(home / sub))
    mp.delenv("CLAUDE_CONFIG_DIR", raising=False)
    for k in list(os.environ):
        if k.startswith("CCSGEN_"):
            mp.delenv(k, raising=False)


@pytest.fixture(scope="session", autouse=True)
def _isolated_session_env(tmp_path_factory):
    """Session-wide scrub, so session-scoped fixtures (built before any function fixture) are isolated too."""
    mp = pytest.MonkeyPatch()
    _scrub(mp, tmp_path_factory.mktemp("session-home"))
    yield
    mp.undo()


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory, monkeypatch):
    """A fresh, empty HOME for every test; the factories' clock starts over."""
    _scrub(monkeypatch, tmp_path_factory.mktemp("home"))
    factories.reset()


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    if not (CORPUS / "claude" / "projects").is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    return CORPUS


@pytest.fixture(scope="session")
def corpus_catalog(corpus_dir, tmp_path_factory):
    """A Catalog over ``corpus/claude`` (cache in a session tmp dir). Treat it as read-only."""
    from ccsgen.catalog import Catalog
    from ccsgen.config import Config

    base = tmp_path_factory.mktemp("corpus-cache")
    cfg = Config(
        claude_dirs=(corpus_dir / "claude",),
        cache_dir=base / "cache",
        data_dir=base / "data",
        prices_file=None,
    )
    return Catalog.open(cfg)
