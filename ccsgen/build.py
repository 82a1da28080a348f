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

import msgspec
import polars as pl

from . import cache, sources, tables
from .config import Config
from .pricing import PriceTable

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


class TablesState(msgspec.Struct):
    """What the derived tables were built from (so an unchanged build can skip deriving)."""

    built_at: float = 0.0
    task_sig: str = ""
    prices_sig: str = ""
    bad_by_reason: dict[str, int] = {}
    unknown_types: dict[str, int] = {}


def _sig(files: list[sources.SourceFile]) -> str:
    parts = []
    for sf in files:
        try:
            st = os.stat(sf.path)
            parts.append(f"{sf.path}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            pass
    return hashlib.blake2b("\n".join(parts).encode(), digest_size=16).hexdigest()


def ingest_and_derive(cfg: Config, *, full: bool = False, progress=None, workers: int | None = None) -> BuildReport:
    """Stages discover, read and tables. Leaves fresh Parquet tables in ``cfg.tables_dir``."""
    rep = BuildReport()
    with rep.stage("discover"):
        files = sources.discover(cfg.claude_dirs)
    rep.files = sum(1 for f in files if f.kind in sources.TRANSCRIPT_KINDS or f.kind == sources.HISTORY)
    rep.aux_files = len(files) - rep.files
    prices = PriceTable.load(cfg.prices_file)
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
    state = TablesState()
    if state_path.is_file():
        try:
            state = msgspec.json.decode(state_path.read_bytes(), type=TablesState)
        except msgspec.MsgspecError:
            state = TablesState()
    aux = [f for f in files if f.kind in (sources.TASK, sources.TODO)]
    task_sig = _sig(aux)
    prices_sig = f"{prices.source}|{prices.date}|{prices.overrides_from}|" + (
        str(os.stat(cfg.prices_file).st_mtime_ns) if cfg.prices_file and cfg.prices_file.is_file() else "")
    have_all = all((tdir / f"{n}.parquet").is_file() for n in tables.DERIVED)
    need = full or ing.changed or not have_all or state.task_sig != task_sig or state.prices_sig != prices_sig
    rep.changed = need
    if need:
        with rep.stage("tables"):
            counts, unknown = derive_all(cfg, files, prices)
        state = TablesState(time.time(), task_sig, prices_sig, counts, unknown)
        state_path.write_bytes(msgspec.json.encode(state))
    rep.bad_by_reason = dict(state.bad_by_reason)
    rep.unknown_types = dict(state.unknown_types)
    rep.bad_lines = sum(rep.bad_by_reason.values())
    for name in ("sessions", "projects", "responses"):
        setattr(rep, name, pl.scan_parquet(tdir / f"{name}.parquet").select(pl.len()).collect().item())
    rep.unpriced_models = sorted(
        pl.scan_parquet(tdir / "responses.parquet")
        .filter(~pl.col("priced") & pl.col("model").is_not_null())
        .select(pl.col("model").unique()).collect().get_column("model").to_list()
    )
    return rep


def derive_all(cfg: Config, files: list[sources.SourceFile], prices: PriceTable) -> tuple[dict, dict]:
    m = cache.load_manifest(cfg.cache_dir)
    seg = cfg.cache_dir / "segments"
    ent_cols = list(tables.DERIVE_ENTRY_COLS)
    entries_lf = cache.scan_raw(seg, m, "entries")
    entries = entries_lf.select(ent_cols).with_columns(tables.parse_ts("timestamp")).collect()
    usage = cache.scan_raw(seg, m, "usage").collect()
    blocks = cache.scan_raw(seg, m, "blocks").select(
        "btype", "tool_id", "tool_name", "uuid", "session_id", "summary", "size", "file_id", "line_no",
        "is_error", "result_agent_id",
    )
    meta = cache.scan_raw(seg, m, "meta").collect()
    history = cache.scan_raw(seg, m, "history").collect()
    issues = cache.scan_raw(seg, m, "issues").collect()
    files_df = tables.files_frame(m.files)
    responses = tables.derive_responses(usage, prices)
    tool_calls = tables.derive_tool_calls(blocks, entries)
    fp = tables.first_prompts(entries_lf)
    sessions = tables.derive_sessions(entries, responses, tool_calls, meta, fp, files_df)
    projects = tables.derive_projects(sessions, entries)
    prompts = tables.derive_prompts(history)
    extra_issues: list = []
    tasks = tables.read_tasks(files, extra_issues)
    todos = tables.read_todos(files, extra_issues)
    out = {
        "responses": responses, "tool_calls": tool_calls, "sessions": sessions, "projects": projects,
        "prompts": prompts, "tasks": tasks, "todos": todos, "files": files_df,
    }
    for name, df in out.items():
        tables.write_table(df, cfg.tables_dir / f"{name}.parquet")
    reasons = Counter(r.split(":")[0] for r in issues.get_column("reason").to_list())
    reasons.update(i.reason.split(":")[0] for i in extra_issues)
    return dict(reasons), cache.unknown_type_counts(seg)


def issues_frame(cfg: Config) -> pl.DataFrame:
    m = cache.load_manifest(cfg.cache_dir)
    return cache.scan_raw(cfg.cache_dir / "segments", m, "issues").collect()
