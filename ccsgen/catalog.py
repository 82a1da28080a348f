"""Catalog: the one read API of everything the build produced. The site, the server and the CLI take a
Catalog; none of them reads JSONL.

    cat = Catalog.open(cfg)              # ingest what changed, derive tables, load them
    cat.sessions / cat.projects / ...    # Polars DataFrames (see tables.py and docs/definitions.md)
    cat.transcript(session_id)           # entries + blocks of one session, in file order
    cat.resolve_session("ab12")          # unique prefix -> full id (NotFound / Ambiguous)
    cat.refresh()                        # incremental re-ingest, swaps tables atomically

Tables are immutable DataFrames; a refresh builds new ones and swaps the
reference under a lock, so readers never see a half-built state.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from . import cache, stats, tables
from .build import STATE_FILE, BuildReport, ingest_and_derive
from .config import ACTIVE_WINDOW_SECONDS, Config, table_exists
from .lock import cache_lock, file_sig
from .pricing import PriceTable

log = logging.getLogger(__name__)


class NotFound(LookupError):
    """No object with that id (or prefix)."""


class Ambiguous(LookupError):
    """A prefix matches more than one id."""

    def __init__(self, prefix: str, matches: list[str]):
        super().__init__(f"{prefix!r} matches {len(matches)} ids: {', '.join(matches[:5])}")
        self.matches = matches


@dataclass(frozen=True)
class Snapshot:
    """One consistent set of derived tables."""

    responses: pl.DataFrame
    tool_calls: pl.DataFrame
    sessions: pl.DataFrame
    projects: pl.DataFrame
    prompts: pl.DataFrame
    tasks: pl.DataFrame
    todos: pl.DataFrame
    files: pl.DataFrame
    loaded_at: float


class Catalog:
    def __init__(self, cfg: Config, report: BuildReport | None = None):
        self.cfg = cfg
        self.report = report or BuildReport()
        self.prices = PriceTable.load(cfg.prices_file)
        self._lock = threading.RLock()
        self._refresh_lock = threading.Lock()
        self._snap_obj: Snapshot | None = None  # loaded on first use: a build that changed nothing reads nothing
        self._loaded_sig: tuple | None = None  # _tables_sig() when the snapshot was loaded
        self._cache: dict = {}
        self.extensions: dict = {}  # search index, user data … attached by their modules
        try:
            from . import search

            search.attach(self)
        except Exception:  # noqa: BLE001 - a broken index must not take the numbers down with it
            log.exception("search service failed to start")
            self.extensions["services"] = {"search": False, "qa": False, "tags": False}

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def open(cls, cfg: Config, *, refresh: bool = True, full: bool = False, progress=None) -> Catalog:
        report = ingest_and_derive(cfg, full=full, progress=progress) if refresh else None
        if not refresh and not all(table_exists(cfg.tables_dir, n) for n in tables.DERIVED):
            report = ingest_and_derive(cfg, full=full, progress=progress)
        return cls(cfg, report)

    def _tables_sig(self) -> tuple | None:
        """Changes whenever an ingest (this process's or another's) replaced the tables: ``tables/state.json``
        is rewritten, by rename, after them."""
        return file_sig(self.cfg.cache_dir / STATE_FILE)

    def _load(self) -> Snapshot:
        d = self.cfg.tables_dir
        sig = self._tables_sig()  # before reading: a newer write is seen by the next sync()
        frames = {n: tables.read_table(d, n) for n in tables.DERIVED}
        self._loaded_sig = sig
        return Snapshot(**frames, loaded_at=time.time())

    def _swap(self, snap: Snapshot) -> None:
        with self._lock:
            self._snap_obj = snap
            self._cache = {}
            self.prices = PriceTable.load(self.cfg.prices_file)

    def refresh(self, *, full: bool = False) -> BuildReport:
        """Ingest what changed and swap in new tables. Concurrent callers wait for one refresh, and so do
        other processes writing the same cache dir (``lock.cache_lock``)."""
        with self._refresh_lock, cache_lock(self.cfg.cache_dir):
            rep = ingest_and_derive(self.cfg, full=full)
            if rep.changed or (self._snap_obj is not None and self._loaded_sig != self._tables_sig()):
                self._swap(self._load())
            self.report = rep
            for hook in list(self.extensions.get("on_refresh", [])):
                hook(self, rep)
            return rep

    def sync(self) -> bool:
        """Swap in the tables another process (a ``ccsgen build``, another server worker) wrote since they were
        loaded here; one ``stat`` when nothing changed. Never waits for a writer: while one holds the cache,
        the loaded tables keep answering and the next call tries again. True when new tables were loaded."""
        if self._snap_obj is None or self._loaded_sig == self._tables_sig():
            return False
        if not self._refresh_lock.acquire(blocking=False):
            return False  # this process is refreshing: it swaps when done
        try:
            with cache_lock(self.cfg.cache_dir, blocking=False) as got:
                if not got or self._loaded_sig == self._tables_sig():
                    return False
                if not all(table_exists(self.cfg.tables_dir, n) for n in tables.DERIVED):
                    return False
                self._swap(self._load())
                return True
        finally:
            self._refresh_lock.release()

    @property
    def _snap(self) -> Snapshot:
        snap = self._snap_obj
        if snap is None:
            # the cache lock first (as refresh takes them): no writer is halfway through the tables
            with cache_lock(self.cfg.cache_dir), self._lock:
                if self._snap_obj is None:
                    self._snap_obj = self._load()
                snap = self._snap_obj
        return snap

    @property
    def snapshot(self) -> Snapshot:
        return self._snap

    # ------------------------------------------------------------------ tables

    @property
    def responses(self) -> pl.DataFrame:
        return self._snap.responses

    @property
    def tool_calls(self) -> pl.DataFrame:
        return self._snap.tool_calls

    @property
    def sessions(self) -> pl.DataFrame:
        """Sessions with ``is_active`` computed now."""
        snap = self._snap
        key = ("sessions", snap.loaded_at, int(time.time() // 15))
        got = self._cache.get(key)
        if got is None:
            active = self.active_session_ids()
            got = snap.sessions.with_columns(pl.col("session_id").is_in(list(active)).alias("is_active"))
            self._cache = {k: v for k, v in self._cache.items() if k[0] != "sessions"}
            self._cache[key] = got
        return got

    @property
    def projects(self) -> pl.DataFrame:
        return self._snap.projects

    @property
    def prompts(self) -> pl.DataFrame:
        return self._snap.prompts

    @property
    def tasks(self) -> pl.DataFrame:
        return self._snap.tasks

    @property
    def todos(self) -> pl.DataFrame:
        return self._snap.todos

    @property
    def files(self) -> pl.DataFrame:
        return self._snap.files

    def memo(self, name: str, fn):
        """Cache a value derived from the current snapshot (dropped on refresh)."""
        key = (name, self._snap.loaded_at)
        got = self._cache.get(key)
        if got is None:
            got = fn()
            self._cache[key] = got
        return got

    def scan(self, name: str) -> pl.LazyFrame:
        """A lazy scan of raw table ``name`` (entries, usage, blocks, meta, history, issues), stale rows excluded."""
        m = cache.load_manifest(self.cfg.cache_dir)
        return cache.scan_raw(self.cfg.cache_dir / "segments", m, name)

    _raw = scan

    def entries(self, session_id: str | None = None, columns: list[str] | None = None) -> pl.DataFrame:
        """Raw conversation rows (user/assistant/system lines) with their text, in file order."""
        lf = self._raw("entries")
        if session_id is not None:
            lf = lf.filter(pl.col("session_id") == session_id)
        if columns:
            lf = lf.select(columns)
        df = lf.collect()
        if "timestamp" in df.columns:
            df = df.with_columns(tables.parse_ts("timestamp"))
        sort = [c for c in ("file_id", "line_no") if c in df.columns]
        return df.sort(sort) if sort else df

    def blocks(self, session_id: str | None = None, columns: list[str] | None = None) -> pl.DataFrame:
        lf = self._raw("blocks")
        if session_id is not None:
            lf = lf.filter(pl.col("session_id") == session_id)
        if columns:
            lf = lf.select(columns)
        df = lf.collect()
        sort = [c for c in ("file_id", "line_no", "idx") if c in df.columns]
        return df.sort(sort) if sort else df

    def transcript(self, session_id: str) -> tuple[pl.DataFrame, pl.DataFrame]:
        """(entries, blocks) of one session, main transcript and subagents, in file order."""
        return self.entries(session_id), self.blocks(session_id)

    def iter_transcripts(self, session_ids: list[str] | None = None, batch: int = 256,
                         entry_columns: list[str] | None = None, block_columns: list[str] | None = None):
        """Yield (session_id, entries, blocks) for many sessions, reading a batch of sessions at a time.

        Memory stays bounded by the batch (segments are sorted by session, so a batch reads few row groups).
        """
        ids = session_ids if session_ids is not None else self._snap.sessions.get_column("session_id").to_list()
        ids = sorted(ids)
        for i in range(0, len(ids), batch):
            chunk = ids[i : i + batch]
            lf_e = self._raw("entries").filter(pl.col("session_id").is_in(chunk))
            lf_b = self._raw("blocks").filter(pl.col("session_id").is_in(chunk))
            if entry_columns:
                lf_e = lf_e.select(list(dict.fromkeys(["session_id", "file_id", "line_no", *entry_columns])))
            if block_columns:
                lf_b = lf_b.select(list(dict.fromkeys(["session_id", "file_id", "line_no", "idx", *block_columns])))
            ents = lf_e.collect().with_columns(tables.parse_ts("timestamp")) if (
                not entry_columns or "timestamp" in entry_columns) else lf_e.collect()
            blks = lf_b.collect()
            e_parts = ents.sort(["file_id", "line_no"]).partition_by("session_id", as_dict=True, maintain_order=True)
            b_parts = blks.sort(["file_id", "line_no", "idx"]).partition_by("session_id", as_dict=True,
                                                                           maintain_order=True)
            empty_e, empty_b = ents.clear(), blks.clear()
            for sid in chunk:
                yield sid, e_parts.get((sid,), empty_e), b_parts.get((sid,), empty_b)

    def issues(self) -> pl.DataFrame:
        return self._raw("issues").collect()

    # ------------------------------------------------------------------ lookups

    def resolve_session(self, prefix: str) -> str:
        return _resolve(self._snap.sessions.get_column("session_id"), prefix, "Session")

    def resolve_project(self, prefix: str) -> str:
        return _resolve(self._snap.projects.get_column("id"), prefix, "Project")

    def session(self, session_id: str) -> dict:
        sid = self.resolve_session(session_id)
        return self.sessions.filter(pl.col("session_id") == sid).row(0, named=True)

    def project(self, project_id: str) -> dict:
        pid = self.resolve_project(project_id)
        return self.projects.filter(pl.col("id") == pid).row(0, named=True)

    # ------------------------------------------------------------------ activity

    def active_session_ids(self) -> set[str]:
        """Sessions Claude Code is running now.

        A session is active when Claude Code's live registry (``<claude dir>/sessions/<pid>.json``)
        names it and that pid is alive, or when one of its files was written in the last
        ``ACTIVE_WINDOW_SECONDS`` seconds.
        """
        out: set[str] = set()
        for root in self.cfg.claude_dirs:
            reg = Path(root) / "sessions"
            if not reg.is_dir():
                continue
            for f in reg.glob("*.json"):
                entry = _registry_entry(f)
                if entry is not None and _pid_alive(entry[0]):
                    out.add(entry[1])
        cutoff = time.time() - ACTIVE_WINDOW_SECONDS
        files = self._snap.files
        for row in files.filter(pl.col("session_hint") != "").select("path", "session_hint").iter_rows():
            try:
                if os.stat(row[0]).st_mtime >= cutoff:
                    out.add(row[1])
            except OSError:
                continue
        return out

    # ------------------------------------------------------------------ search, Q&A, tags (see ccsgen/search)

    def _search(self):
        from . import search

        return search.service(self)

    def search_messages(self, q: str = "", **kw) -> dict:
        """StackUnderflow's /api/search: {results, total, page, per_page, total_pages, query}."""
        return self._search().search_messages(q, **kw)

    def search_messages_ccsinfo(self, q: str, limit: int = 50) -> list[dict]:
        """ccsinfo's /search/messages items."""
        res = self._search().search_messages(q, limit=limit)["results"]
        keys = ("session_id", "project_path", "message_uuid", "message_type", "timestamp", "snippet")
        return [{k: r.get(k) for k in keys} for r in res]

    def search_sessions(self, q: str = "", **kw) -> list[str]:
        return self._search().search_sessions(q, **kw)

    def search_prompts(self, q: str = "", **kw) -> list[dict]:
        return self._search().search_prompts(q, **kw)

    def qa_list(self, **kw) -> dict:
        return self._search().qa_list(**kw)

    def qa_get(self, qa_id: str) -> dict | None:
        return self._search().qa_get(qa_id)

    def qa_stats(self) -> dict:
        return self._search().qa_stats()

    def tags_cloud(self) -> dict:
        return self._search().tags_cloud()

    def sessions_by_tag(self, tag: str) -> dict:
        return self._search().sessions_by_tag(tag)

    def session_tags(self, session_id: str) -> dict:
        return self._search().session_tags(session_id)

    def add_tag(self, session_id: str, tag: str) -> dict:
        return self._search().add_tag(session_id, tag)

    def remove_tag(self, session_id: str, tag: str) -> dict:
        return self._search().remove_tag(session_id, tag)

    def reindex(self, full: bool = True) -> dict:
        """Rebuild (or, with full=False, catch up) the search index, Q&A pairs and tags; blocking."""
        return self._search().reindex(full=full)

    def reindex_qa(self) -> dict:
        r = self.reindex()
        return {"projects_indexed": r.get("projects_indexed", 0), "total_qa_indexed": r.get("total_qa_indexed", 0),
                "elapsed_ms": r.get("elapsed_ms", 0.0)}

    def reindex_tags(self) -> dict:
        r = self.reindex()
        return {"projects_indexed": r.get("projects_indexed", 0),
                "total_sessions_tagged": r.get("total_sessions_tagged", 0), "elapsed_ms": r.get("elapsed_ms", 0.0)}

    def index_stats(self) -> dict:
        return self._search().index_stats()

    # ------------------------------------------------------------------ stats (see stats.py)

    def global_stats(self) -> dict:
        return self.memo("global_stats", lambda: stats.global_stats(self))

    def price_info(self) -> dict:
        return {"source": self.prices.source, "date": self.prices.date, "overrides": self.prices.overrides_from}

    def unpriced_models(self) -> list[str]:
        r = self.responses
        return sorted(r.filter(~pl.col("priced") & pl.col("model").is_not_null()).get_column("model").unique().to_list())


def _resolve(ids: pl.Series, prefix: str, what: str) -> str:
    prefix = (prefix or "").strip()
    if not prefix:
        raise NotFound(f"{what} not found")
    if (ids == prefix).any():
        return prefix
    m = ids.filter(ids.str.starts_with(prefix)).to_list()
    if len(m) == 1:
        return m[0]
    if not m:
        raise NotFound(f"{what} not found")
    raise Ambiguous(prefix, sorted(m))


#: a registry file is a few hundred bytes; anything much bigger is not one
REGISTRY_MAX_BYTES = 64 * 1024
#: the largest pid Linux hands out (kernel.pid_max); macOS's is far below it
PID_MAX = 4_194_304


def _registry_entry(f: Path) -> tuple[int, str] | None:
    """(pid, session id) of one ``sessions/<pid>.json`` file of Claude Code's live registry, or None for
    anything else: not a regular file (a FIFO would block the read), too big, not JSON, odd types."""
    try:
        st = f.stat()
        if not stat.S_ISREG(st.st_mode) or st.st_size > REGISTRY_MAX_BYTES:
            return None
        d = json.loads(f.read_bytes())
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(d, dict):
        return None
    pid, sid = d.get("pid") or f.stem, d.get("sessionId")
    if isinstance(pid, str) and pid.isdigit():
        pid = int(pid)
    if isinstance(pid, bool) or not isinstance(pid, int) or not 0 < pid <= PID_MAX:
        return None
    if not isinstance(sid, str) or not sid:
        return None
    return pid, sid


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True
