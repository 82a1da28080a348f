"""The server's response cache: bounded LRUs, cache keys that cannot serve stale answers, gzip and sending.

    cache = LRU(size=1024, max_bytes=16_000_000, max_total=128_000_000)
    key = cache_key(route, ctx, path_params, query_string)
    entry = cache.get(key)                                    # None: compute, then
    cache.put(key, Entry(body), generation(key))              # (drops entries of older generations)

What a key holds, and why an answer cannot outlive what it was computed from:

- the route, its path parameters and the raw query string;
- the Catalog snapshot (``loaded_at``): a refresh that changed anything swaps in a new snapshot;
- a 15-second bucket: ``is_active`` and the other "now" figures are recomputed at that pace;
- the server's write epoch (:attr:`State.epoch`): every POST/PUT/DELETE and every refresh bumps it when it is
  done, so no answer computed before a write (bookmark, tag, project selection, reindex, pricing…) is served
  after it;
- per route (``Route.depends``): ``project`` — the server's current project and whether a refresh runs (both
  change the answer of the project routes); ``index`` — a fingerprint of the search index on disk (its current
  generation and the files a commit rewrites), for changes made by another process (``ccsgen build``);
  ``userdata`` — a fingerprint of the user-data database (manual tags), for the same reason.

A key is computed before the answer: an answer computed from newer data than its key says is harmless (the
next key differs and misses); the reverse cannot happen for writes made through this server, because the
epoch moves only after the write is complete. One window remains for writes by another process to the search
index: if this process's tantivy reader has not reloaded a commit yet when the new fingerprint is seen, the
older answer is kept under the new key until the time bucket turns (15 s at most).
"""

from __future__ import annotations

import gzip
import io
import os
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from ..lock import file_sig

#: seconds per time bucket of cache keys (the Catalog recomputes ``is_active`` at the same pace)
BUCKET_SECONDS = 15
#: smallest body worth compressing (and sending gzip-encoded)
GZIP_MIN = 1024
GZIP_LEVEL = 6
#: bodies at least this big go out through ``wsgi.file_wrapper`` (no copy into the server's output buffer;
#: waitress spills buffered bodies over 1 MB to a temporary file)
STREAM_MIN = 256 * 1024
INDEX_CURRENT = "CURRENT"  # ccsgen.search.indexer.CURRENT
USERDATA_FILE = "userdata.sqlite3"  # ccsgen.userdata / ccsgen.tags.ManualTags


class Entry:
    """A cached answer: the JSON body and, made on first demand, its gzip encoding."""

    __slots__ = ("body", "gz")

    def __init__(self, body: bytes):
        self.body = body
        self.gz: bytes | None = None

    @property
    def nbytes(self) -> int:
        return len(self.body) + (len(self.gz) if self.gz is not None else 0)

    def gzipped(self) -> bytes:
        gz = self.gz
        if gz is None:
            # two threads may both compress the same body once; both results are equal
            gz = self.gz = gzip.compress(self.body, compresslevel=GZIP_LEVEL, mtime=0)
        return gz


def _size(value: Any) -> int:
    if isinstance(value, Entry):
        return value.nbytes
    if isinstance(value, bytes | bytearray):
        return len(value)
    return 0


class LRU:
    """A bounded, thread-safe LRU: at most ``size`` entries and ``max_total`` bytes (of ``bytes`` and
    :class:`Entry` values); a value over ``max_bytes`` is not kept. Non-bytes values count 0 bytes (bound
    them with ``size``).

    ``put(key, value, generation)``: values of an older generation (a Catalog snapshot, a time bucket, a write
    epoch: keys that will never be asked for again) are dropped as soon as a value of a newer one arrives, so
    memory holds what can still be served, not what was served."""

    def __init__(self, size: int = 1024, max_bytes: int = 2_000_000, max_total: int | None = None):
        self.size, self.max_bytes = size, max_bytes
        self.max_total = max_total if max_total is not None else size * max_bytes
        self._d: OrderedDict = OrderedDict()
        self._sizes: dict = {}
        self._gens: dict = {}
        self._generation = None
        self.total = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._d)

    def get(self, key):
        with self._lock:
            got = self._d.get(key)
            if got is not None:
                self._d.move_to_end(key)
            return got

    def put(self, key, value, generation=None) -> None:
        n = _size(value)
        if n > self.max_bytes:
            return
        with self._lock:
            if generation is not None and generation != self._generation:
                if self._generation is None or generation > self._generation:
                    self._generation = generation
                    for k in [k for k, g in self._gens.items() if g != generation]:
                        self._drop(k)
                else:  # computed from a generation already left behind: of no use
                    return
            self.total += n - self._sizes.get(key, 0)
            self._d[key] = value
            self._sizes[key] = n
            if generation is not None:
                self._gens[key] = generation
            self._d.move_to_end(key)
            self._trim()

    def grew(self, key) -> None:
        """Account for a value that grew in place (an :class:`Entry` that got its gzip encoding)."""
        with self._lock:
            value = self._d.get(key)
            if value is None:
                return
            n = _size(value)
            self.total += n - self._sizes.get(key, 0)
            self._sizes[key] = n
            self._trim()

    def _drop(self, key) -> None:
        self._d.pop(key, None)
        self.total -= self._sizes.pop(key, 0)
        self._gens.pop(key, None)

    def _trim(self) -> None:
        while self._d and (len(self._d) > self.size or self.total > self.max_total):
            self._drop(next(iter(self._d)))

    def clear(self) -> None:
        with self._lock:
            self._d.clear()
            self._sizes.clear()
            self._gens.clear()
            self.total = 0


class SingleFlight:
    """One computation of an answer at a time: the first request that misses the cache computes it; the same
    request arriving meanwhile waits for that answer instead of computing it again (at 32 connections a cold
    dashboard was computed by every thread at once, 8 × 0.5 s of CPU fighting for one interpreter)."""

    WAIT_SECONDS = 60.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[Any, threading.Event] = {}

    def lead(self, key) -> threading.Event | None:
        """None: the caller computes ``key`` and must call :meth:`done`; else the event to wait on."""
        with self._lock:
            ev = self._running.get(key)
            if ev is None:
                self._running[key] = threading.Event()
            return ev

    def done(self, key) -> None:
        with self._lock:
            ev = self._running.pop(key, None)
        if ev is not None:
            ev.set()


# ---------------------------------------------------------------- fingerprints of state on disk


class IndexFingerprint:
    """Changes whenever the search index on disk changes: a new generation (``CURRENT`` rewritten), a commit
    (tantivy's ``meta.json`` rewritten) or new Q&A/tags state (``state.json``). Three ``stat`` calls."""

    def __init__(self, index_dir: Path):
        self.current = os.path.join(index_dir, INDEX_CURRENT)
        self.index_dir = str(index_dir)
        # (CURRENT's stat, generation name, the files of that generation whose stat is the fingerprint)
        self._gen: tuple[tuple | None, str | None, tuple[str, ...]] = (None, None, ())

    def _generation(self) -> tuple[tuple | None, str | None, tuple[str, ...]]:
        sig = file_sig(self.current)
        got = self._gen
        if sig is None or sig != got[0]:
            try:
                with open(self.current, encoding="utf-8") as fh:
                    name = fh.read().strip() or None
            except OSError:
                name = None
            files = (os.path.join(self.index_dir, name, "state.json"),
                     os.path.join(self.index_dir, name, "tantivy", "meta.json")) if name else ()
            got = self._gen = (sig, name, files)
        return got

    def __call__(self) -> tuple:
        sig, name, files = self._generation()
        return (sig, name, *(file_sig(f) for f in files))


def userdata_fingerprint(data_dir: Path) -> tuple:
    """Changes whenever the user-data database (SQLite, WAL) is written by any process."""
    p = os.path.join(data_dir, USERDATA_FILE)
    return file_sig(p), file_sig(p + "-wal")


# ---------------------------------------------------------------- keys


def cache_key(route, ctx, path: dict[str, str], query_string: str) -> tuple:
    """The key of ``route``'s answer for this request (see the module docstring for what it holds); its
    :func:`generation` first."""
    state = ctx.state
    key: list[Any] = [ctx.cat.snapshot.loaded_at, int(time.time() // BUCKET_SECONDS), state.epoch,
                      route.operation_id, tuple(sorted(path.items())), query_string]
    for dep in route.depends:
        if dep == "project":
            key.append((state.current_project, state.refreshing))
        elif dep == "index":
            key.append(ctx.index_fingerprint())
        elif dep == "userdata":
            key.append(userdata_fingerprint(ctx.cat.cfg.data_dir))
        else:  # a dependency this module does not know cannot be keyed: never cache
            raise ValueError(f"unknown cache dependency {dep!r} of {route.path}")
    return tuple(key)


def generation(key: tuple) -> tuple:
    """(snapshot, time bucket, write epoch) of a :func:`cache_key`: a key of an older generation will never be
    asked for again."""
    return key[:3]


# ---------------------------------------------------------------- request headers


def wants_fresh(environ: dict) -> bool:
    """``Cache-Control: no-cache`` (or ``Pragma: no-cache``) on the request: compute the answer again."""
    return "no-cache" in environ.get("HTTP_CACHE_CONTROL", "").lower() or \
        "no-cache" in environ.get("HTTP_PRAGMA", "").lower()


def accepts_gzip(environ: dict) -> bool:
    """Whether ``Accept-Encoding`` allows gzip (``gzip``, ``x-gzip`` or ``*``, with a q-value above 0)."""
    header = environ.get("HTTP_ACCEPT_ENCODING", "")
    if not header:
        return False
    for part in header.split(","):
        name, _, params = part.partition(";")
        if name.strip().lower() not in ("gzip", "x-gzip", "*"):
            continue
        q = 1.0
        for p in params.split(";"):
            k, _, v = p.partition("=")
            if k.strip().lower() == "q":
                try:
                    q = float(v.strip())
                except ValueError:
                    q = 0.0
        if q > 0:
            return True
    return False


def streamed(environ: dict, body: bytes):
    """``body``, as a file when it is big and the WSGI server has a ``wsgi.file_wrapper`` (Bottle hands a
    file to it): waitress then sends straight from the bytes instead of copying them into its output buffer
    (which spills to a temporary file past 1 MB)."""
    if len(body) < STREAM_MIN or "wsgi.file_wrapper" not in environ:
        return body
    return io.BytesIO(body)
