"""Several server processes on one port: a search answer is mostly Python, and one process runs one thread of
Python at a time, so on a machine with more than one core each further process adds its throughput.

The first process (the one ``ccsgen serve`` started) loads the catalog, binds the port, watches the logs and
serves; it then starts ``workers - 1`` more with :func:`start_workers`. Each of those opens the same cache
read-only (``Catalog.open(refresh=False)``), accepts on the same listening socket and serves the same app.
What they share:

* the tables and the search index on disk. Whoever writes (the first process's watcher, any process's
  ``/api/refresh``) holds the cache dir's lock (``ccsgen.lock``); every request first calls
  ``Catalog.sync()``, which swaps in tables written elsewhere (one ``stat`` when nothing changed), and the
  search service re-opens an index another process committed to;
* bookmarks and manual tags: SQLite in WAL mode, safe across processes;
* :class:`SharedState` (the StackUnderflow current project, refreshes in progress, the response-cache write
  epoch) in shared memory.

A worker exits when the first process does, however it ends (``kill -9`` included): Linux delivers SIGTERM
on the parent's death (``PR_SET_PDEATHSIG``), and elsewhere a thread notices the parent is gone.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing as mp
import os
import signal
import socket
import sys
import threading
import time

log = logging.getLogger(__name__)

MAX_PROJECT_BYTES = 4096
PARENT_POLL_SECONDS = 1.0
STOP_SECONDS = 5.0
READY_SECONDS = 120.0  # a worker loads the tables before it accepts: seconds at 1 GB of logs


def default_workers() -> int:
    """One process per core, at most 2 (each holds the tables in memory)."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return max(1, min(2, n))


class SharedState:
    """``app.State`` over shared memory, for several processes (made before they start, passed to each)."""

    def __init__(self, ctx=None) -> None:
        ctx = ctx or mp.get_context("spawn")
        self._lock = ctx.Lock()
        self._epoch = ctx.RawValue("q", 0)
        self._refreshing = ctx.RawValue("i", 0)
        self._project_len = ctx.RawValue("i", -1)  # -1: no project chosen
        self._project = ctx.RawArray("c", MAX_PROJECT_BYTES)

    @property
    def epoch(self) -> int:
        return self._epoch.value

    @property
    def current_project(self) -> str | None:
        with self._lock:
            n = self._project_len.value
            raw = self._project.raw[:n] if n >= 0 else None
        return None if raw is None else raw.decode("utf-8", "replace")

    def set_project(self, pid: str | None) -> None:
        raw = None if pid is None else pid.encode("utf-8")
        if raw is not None and len(raw) > MAX_PROJECT_BYTES:
            raise ValueError("project id too long")
        with self._lock:
            if raw is None:
                self._project_len.value = -1
            else:
                self._project[:len(raw)] = raw
                self._project_len.value = len(raw)
            self._epoch.value += 1

    def bump(self) -> None:
        with self._lock:
            self._epoch.value += 1

    @property
    def refreshing(self) -> bool:
        return self._refreshing.value > 0

    def begin_refresh(self) -> None:
        with self._lock:
            self._refreshing.value += 1

    def end_refresh(self) -> None:
        with self._lock:
            self._refreshing.value = max(0, self._refreshing.value - 1)


# ---------------------------------------------------------------- the first process's side


def start_workers(n: int, *, cfg, settings, sock: socket.socket, state: SharedState, threads: int,
                  quiet: bool = True, wait: float = READY_SECONDS) -> list:
    """Start ``n`` worker processes serving ``sock``; returns their ``multiprocessing.Process`` objects once
    each has loaded the tables and is accepting (or ``wait`` seconds passed; one that failed is left out)."""
    ctx = mp.get_context("spawn")  # never fork: Polars' and tantivy's threads do not survive a fork
    started = []
    for i in range(n):
        ready = ctx.Event()
        p = ctx.Process(target=worker_main, name=f"ccsgen-worker-{i + 1}", daemon=True,
                        args=(cfg, settings, sock, state, threads, os.getpid(), quiet, ready))
        p.start()
        started.append((p, ready))
    deadline = time.monotonic() + wait
    procs = []
    for p, ready in started:
        while not ready.wait(0.1):
            if not p.is_alive() or time.monotonic() > deadline:
                break
        if p.is_alive():
            procs.append(p)
        else:
            log.warning("server worker %s exited (%s); serving without it", p.name, p.exitcode)
    return procs


def stop_workers(procs: list) -> None:
    for p in procs:
        if p.is_alive():
            p.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    for p in procs:
        p.join(timeout=max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join(timeout=1)


# ---------------------------------------------------------------- a worker's side


def _die_with_parent(parent_pid: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while True:
            if os.getppid() != parent_pid:
                os._exit(0)
            time.sleep(PARENT_POLL_SECONDS)

    if os.getppid() != parent_pid:  # it died before the signal was asked for
        os._exit(0)
    threading.Thread(target=watch, name="ccsgen-parent-watch", daemon=True).start()


def worker_main(cfg, settings, sock: socket.socket, state: SharedState, threads: int, parent_pid: int,
                quiet: bool = True, ready=None) -> None:
    """A worker process: open the cache read-only, serve ``sock`` until the first process ends."""
    _die_with_parent(parent_pid)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))  # every write was committed before its answer
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the first process, which stops the workers
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO,
                        format="%(levelname)s %(name)s[%(process)d]: %(message)s", stream=sys.stderr)
    from ..catalog import Catalog
    from .serve import Server

    try:
        cat = Catalog.open(cfg, refresh=False)
        cat.snapshot  # noqa: B018 - load the tables before the first request
        srv = Server(cat, settings, threads=threads, sock=sock, state=state)
    except Exception:  # noqa: BLE001 - the first process keeps serving without this worker
        log.exception("server worker failed to start")
        os._exit(1)
    if ready is not None:
        ready.set()
    srv.run()
    os._exit(0)
