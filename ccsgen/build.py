"""The build, as a list of stages: discover -> read (incremental) -> tables -> (index, site).

Each stage is timed into a BuildReport that ``ccsgen build`` prints.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from . import sources
from .config import DERIVED_TABLES, Config, table_exists

log = logging.getLogger(__name__)

STATE_FILE = "tables/state.json"


@dataclass
class BuildReport:
    files: int = 0
    aux_files: int = 0
    files_read: int = 0
    files_unchanged: int = 0
    files_new: int = 0
    files_grown: int = 0
    files_rewritten: int = 0
    files_deleted: int = 0
    lines_read: int = 0
    bytes_read: int = 0
    bad_lines: int = 0
    bad_by_reason: dict[str, int] = field(default_factory=dict)
    unknown_types: dict[str, int] = field(default_factory=dict)
    stages: dict[str, float] = field(default_factory=dict)
    changed: bool = False
    changed_sessions: list[str] = field(default_factory=list)
    sessions: int = 0
    projects: int = 0
    responses: int = 0
    unpriced_models: list[str] = field(default_factory=list)
    derive: str = "none"  # none (nothing changed), incremental (changed sessions only) or full

    @contextmanager
    def stage(self, name: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.stages[name] = self.stages.get(name, 0.0) + time.perf_counter() - t0

    @property
    def seconds(self) -> float:
        return sum(self.stages.values())

    def as_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k != "changed_sessions"}
        d["changed_sessions"] = len(self.changed_sessions)
        d["seconds"] = round(self.seconds, 3)
        d["stages"] = {k: round(v, 3) for k, v in self.stages.items()}
        return d


#: bump when the derived tables' meaning or layout changes: the next build derives everything again
DERIVE_VERSION = 5


class TablesState(msgspec.Struct):
    """What the derived tables were built from (so an unchanged build can skip deriving), and the figures a
    build report quotes (so an unchanged build reads no table)."""

    built_at: float = 0.0
    task_sig: str = ""
    prices_sig: str = ""
    history_sig: str = ""
    bad_by_reason: dict[str, int] = {}
    aux_bad_by_reason: dict[str, int] = {}
    unknown_types: dict[str, int] = {}
    sessions: int = 0
    projects: int = 0
    responses: int = 0
    unpriced_models: list[str] = []
    version: int = 0


def _sig(files: list[sources.SourceFile]) -> str:
    parts = []
    for sf in files:
        try:
            st = os.stat(sf.path)
            parts.append(f"{sf.path}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            pass
    return hashlib.blake2b("\n".join(parts).encode(), digest_size=16).hexdigest()


#: a last line without a newline that is not whole JSON is left for the writer to finish; once the file has
#: not changed for this long, nobody will: it is reported as a bad line (it is read if it is ever finished)
UNTERMINATED_AFTER_SECONDS = 300
UNTERMINATED = "unterminated last line (not read)"


def _unterminated(m, now: float | None = None) -> int:
    """Files whose bytes past the last complete line have sat unchanged for
    :data:`UNTERMINATED_AFTER_SECONDS` (a writer that died mid-line; a file whose lines end in CR alone)."""
    now = time.time() if now is None else now
    return sum(1 for path, st in m.files.items()
               if st.size > st.offset and now - st.mtime_ns / 1e9 > UNTERMINATED_AFTER_SECONDS
               and path not in m.shadowed)


def _history_sig(m) -> str:
    """Changes when a prompt history file was read, rewritten or deleted (the manifest's view of them)."""
    return "|".join(sorted(f"{k}:{st.file_id}:{st.offset}:{st.lines}" for k, st in m.files.items()
                           if st.kind == sources.HISTORY))


def _prices_sig(cfg: Config) -> str:
    """Changes when the bundled price table (a new ccsgen) or the overrides file changes."""
    from . import __version__

    bundled = Path(__file__).with_name("data") / "prices.json"
    parts = [__version__]
    for p in (bundled, cfg.prices_file):
        try:
            st = os.stat(p) if p else None
            parts.append(f"{p}:{st.st_size}:{st.st_mtime_ns}" if st else "")
        except OSError:
            parts.append(f"{p}:missing")
    return "|".join(parts)


def _load_state(path: Path) -> TablesState:
    if path.is_file():
        try:
            return msgspec.json.decode(path.read_bytes(), type=TablesState)
        except msgspec.MsgspecError:
            pass
    return TablesState()


def ingest_and_derive(cfg: Config, *, full: bool = False, progress=None, workers: int | None = None) -> BuildReport:
    """Stages discover, read and tables. Leaves fresh Parquet tables in ``cfg.tables_dir``.

    A build that changed nothing imports no Polars and reads no table: its report comes from tables/state.json.
    """
    from .lock import cache_lock

    with cache_lock(cfg.cache_dir):  # one writer at a time: `ccsgen build` beside a running server waits
        return _ingest_and_derive(cfg, full=full, progress=progress, workers=workers)


def _ingest_and_derive(cfg: Config, *, full: bool, progress, workers: int | None) -> BuildReport:
    from . import cache

    rep = BuildReport()
    with rep.stage("discover"):
        files = sources.discover(cfg.claude_dirs)
    rep.files = sum(1 for f in files if f.kind in sources.TRANSCRIPT_KINDS or f.kind == sources.HISTORY)
    rep.aux_files = len(files) - rep.files
    with rep.stage("read"):
        if workers is None:
            workers = min(2, os.cpu_count() or 1)
        ing = cache.ingest(files, cfg.cache_dir, full=full, workers=workers, progress=progress)
    for k in ("files_read", "files_unchanged", "files_new", "files_grown", "files_rewritten", "files_deleted",
              "lines_read", "bytes_read"):
        setattr(rep, k, getattr(ing, k))
    rep.changed_sessions = sorted(ing.changed_sessions)
    tdir = cfg.tables_dir
    tdir.mkdir(parents=True, exist_ok=True)
    state_path = cfg.cache_dir / STATE_FILE
    state = _load_state(state_path)
    aux = [f for f in files if f.kind in (sources.TASK, sources.TODO)]
    task_sig = _sig(aux)
    prices_sig = _prices_sig(cfg)
    have_all = all(table_exists(tdir, n) for n in DERIVED_TABLES)
    same_base = have_all and state.version == DERIVE_VERSION and state.prices_sig == prices_sig
    need = full or ing.changed or not same_base or state.task_sig != task_sig
    rep.changed = need
    if need:
        history_sig = _history_sig(ing.manifest)
        with rep.stage("tables"):
            state, rep.derive = _derive(cfg, files, state, incremental=same_base and not full,
                                        changed=ing.changed_sessions, tasks_changed=state.task_sig != task_sig,
                                        history_changed=state.history_sig != history_sig, manifest=ing.manifest)
        state.task_sig, state.prices_sig, state.version = task_sig, prices_sig, DERIVE_VERSION
        state.history_sig = history_sig
        tmp = state_path.with_suffix(".tmp")
        tmp.write_bytes(msgspec.json.encode(state))
        os.replace(tmp, state_path)
        cache.derived(cfg.cache_dir, ing.manifest)
    rep.bad_by_reason = dict(Counter(state.bad_by_reason) + Counter(state.aux_bad_by_reason))
    unterminated = _unterminated(ing.manifest)
    if unterminated:
        rep.bad_by_reason[UNTERMINATED] = unterminated
    rep.unknown_types = dict(state.unknown_types)
    rep.bad_lines = sum(rep.bad_by_reason.values())
    rep.sessions, rep.projects, rep.responses = state.sessions, state.projects, state.responses
    rep.unpriced_models = list(state.unpriced_models)
    return rep


def _derive(cfg: Config, files: list[sources.SourceFile], old: TablesState, *, incremental: bool,
            changed: set[str], tasks_changed: bool, history_changed: bool, manifest) -> tuple[TablesState, str]:
    import polars as pl

    from . import derive, tables
    from .pricing import PriceTable

    prices = PriceTable.load(cfg.prices_file)
    got, mode = None, "incremental"
    if incremental and derive.can_derive_incrementally(cfg):
        got = derive.derive_changed(cfg, files, prices, changed, tasks_changed=tasks_changed,
                                    history_changed=history_changed, manifest=manifest)
        if got is not None:
            log.info("derived %d changed sessions incrementally", len(changed))
    if got is None:
        got, mode = derive.derive_all(cfg, files, prices, manifest), "full"
    bad, aux_bad, unknown = got
    tdir = cfg.tables_dir
    resp = tables.scan_table(tdir, "responses")
    unpriced = sorted(
        resp.filter(~pl.col("priced") & pl.col("model").is_not_null()).select(pl.col("model").unique())
        .collect().get_column("model").to_list()
    )
    return TablesState(
        built_at=time.time(), bad_by_reason=bad,
        aux_bad_by_reason=old.aux_bad_by_reason if aux_bad is None else aux_bad, unknown_types=unknown,
        sessions=pl.scan_parquet(tdir / "sessions.parquet").select(pl.len()).collect().item(),
        projects=pl.scan_parquet(tdir / "projects.parquet").select(pl.len()).collect().item(),
        responses=resp.select(pl.len()).collect().item(), unpriced_models=unpriced,
    ), mode


def issues_frame(cfg: Config):
    from . import cache

    m = cache.load_manifest(cfg.cache_dir)
    return cache.scan_raw(cfg.cache_dir / "segments", m, "issues").collect()
