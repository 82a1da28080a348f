"""Serving: the app under waitress (threaded; never the stdlib reference server), and the watch loop that keeps it fresh.

    server = Server(catalog, Settings(port=0))   # binds now; server.port is the real port
    server.start_watching()                      # refresh when the logs change
    server.run()                                 # until server.close() or Ctrl-C
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path

import waitress
import watchfiles

from ..catalog import Catalog
from .app import WILDCARD_HOSTS, Context, Settings, context_of, make_app

log = logging.getLogger(__name__)

THREADS = 8
#: seconds a thread may hold the GIL while another waits for it (``sys.setswitchinterval``) while the server
#: runs. Python's default, 5 ms, let waitress's I/O thread read and queue requests while the workers that
#: would answer them waited: at 32 keep-alive connections on 2 cores, 1 ms took /stats from 4,000 to 4,700
#: requests/s and its p99 from 20 to 16 ms (bench/load.py; 0.5 ms was worse again).
SWITCH_INTERVAL = 0.001
DEBOUNCE_MS = 1000
POLL_SECONDS = 2.0
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def is_loopback(host: str) -> bool:
    return host in LOOPBACK or host.startswith("127.")


def watch_paths(cat: Catalog) -> list[Path]:
    """What to watch in each Claude dir: projects/, tasks/, todos/ and history.jsonl (those that exist)."""
    out = []
    for root in cat.cfg.claude_dirs:
        for name in ("projects", "tasks", "todos", "history.jsonl"):
            p = Path(root) / name
            if p.exists():
                out.append(p)
    return out


class Watcher:
    """Calls ``ctx.refresh()`` (incremental, atomic swap) after the watched files change.

    Uses watchfiles (inotify) and falls back to polling the files' sizes and mtimes when that fails.
    """

    def __init__(self, ctx: Context, paths: list[Path], debounce_ms: int = DEBOUNCE_MS, force_polling: bool = False):
        self.ctx = ctx
        self.paths = paths
        self.debounce_ms = debounce_ms
        self.force_polling = force_polling
        self.stop_event = threading.Event()
        self.refreshes = 0
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not self.paths:
            log.warning("watch: nothing to watch")
            return
        self._thread = threading.Thread(target=self._run, name="ccsgen-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _refresh(self) -> None:
        try:
            rep = self.ctx.refresh()
            self.refreshes += 1
            if rep.changed:
                log.info("refreshed: %d files read, %d lines", rep.files_read, rep.lines_read)
        except Exception:  # noqa: BLE001 - keep watching
            log.exception("refresh after a change failed")

    def _run(self) -> None:
        try:
            for _changes in watchfiles.watch(*self.paths, stop_event=self.stop_event, debounce=self.debounce_ms,
                                             force_polling=self.force_polling, raise_interrupt=False,
                                             rust_timeout=1000, yield_on_timeout=False):
                if self.stop_event.is_set():
                    return
                self._refresh()
        except Exception:  # noqa: BLE001 - e.g. out of inotify watches: poll instead
            if self.stop_event.is_set():
                return
            log.warning("watchfiles failed; polling every %.0fs instead", POLL_SECONDS, exc_info=True)
            self._poll()

    def _signature(self) -> tuple:
        sig = []
        for p in self.paths:
            files = [p] if p.is_file() else p.rglob("*")
            for f in files:
                try:
                    st = f.stat()
                    sig.append((str(f), st.st_size, st.st_mtime_ns))
                except OSError:
                    continue
        return tuple(sorted(sig))

    def _poll(self) -> None:
        last = self._signature()
        while not self.stop_event.wait(POLL_SECONDS):
            now = self._signature()
            if now != last:
                last = now
                self._refresh()


class _QuietQueueLog:
    """Stands in for waitress's ``waitress.queue`` logger: waitress warns "Task queue depth is N" whenever more
    requests wait than threads are idle, which under keep-alive load is most requests (87,000 lines in a few
    minutes of bench/load.py), each formatted and written to stderr while the dispatcher's lock is held. A
    queue is how a thread pool absorbs load, not a fault: nothing is logged. (Those writes also made the I/O
    thread let go of the GIL after queueing a request; :data:`SWITCH_INTERVAL` does that on purpose.)"""

    def warning(self, *args, **kwargs) -> None:
        pass


class Server:
    """A bound waitress server over ``make_app(catalog, settings)``; with ``workers`` > 1, :meth:`run` also
    starts ``workers - 1`` more processes serving the same port (``workers.py``)."""

    def __init__(self, cat: Catalog, settings: Settings, threads: int = THREADS, *, workers: int = 1,
                 sock=None, state=None, quiet: bool = True):
        from .workers import SharedState

        self.cat = cat
        self.settings = settings
        self.threads = threads
        self.workers = max(1, int(workers))
        self.quiet = quiet
        if state is None and self.workers > 1:
            try:
                state = SharedState()
            except (OSError, ImportError) as e:  # no shared-memory semaphores here (some containers)
                log.warning("one server process only: cannot share state between processes (%s)", e)
                self.workers = 1
        self.app = make_app(cat, settings, state=state)
        self.ctx = context_of(self.app)
        adj = {"sockets": [sock]} if sock is not None else {"host": settings.host, "port": settings.port or 0}
        self._server = waitress.create_server(self.app, threads=threads, ident="ccsgen", channel_timeout=30,
                                              connection_limit=256, clear_untrusted_proxy_headers=True, **adj)
        dispatcher = getattr(self._server, "task_dispatcher", None)
        if dispatcher is not None and hasattr(dispatcher, "queue_logger"):
            dispatcher.queue_logger = _QuietQueueLog()
        self.port = int(self._server.effective_port)
        settings.port = self.port  # the Host guard checks the real port
        self.watcher: Watcher | None = None
        self.procs: list = []
        self._closed = False

    @property
    def url(self) -> str:
        host = self.settings.host
        if host in WILDCARD_HOSTS:
            host = "127.0.0.1"
        elif ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def start_watching(self, force_polling: bool = False) -> Watcher:
        self.watcher = Watcher(self.ctx, watch_paths(self.cat), force_polling=force_polling)
        self.watcher.start()
        return self.watcher

    def start_workers(self) -> None:
        """Start the other ``workers - 1`` processes and wait until they accept (once; :meth:`run` calls this
        when nobody did)."""
        if self.workers > 1 and not self.procs:
            from .workers import start_workers

            try:
                self.procs = start_workers(self.workers - 1, cfg=self.cat.cfg, settings=self.settings,
                                           sock=self._server.socket, state=self.ctx.state, threads=self.threads,
                                           quiet=self.quiet)
            except (OSError, RuntimeError) as e:  # this process serves alone
                log.warning("server workers not started: %s", e)
                self.workers = 1

    def run(self) -> None:
        before = sys.getswitchinterval()
        sys.setswitchinterval(min(before, SWITCH_INTERVAL))
        try:
            self.start_workers()
            self._server.run()
        except (OSError, ValueError):
            if not self._closed:  # close() from another thread shut the sockets under the loop: done
                raise
        finally:
            sys.setswitchinterval(before)
            self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.procs:
            from .workers import stop_workers

            stop_workers(self.procs)
            self.procs = []
        if self.watcher is not None:
            self.watcher.stop()
        try:
            self._server.close()
        except Exception:  # noqa: BLE001
            pass
        if self.ctx.userdata is not None:
            self.ctx.userdata.close()


def serve(cat: Catalog, settings: Settings, *, watch: bool = True, on_ready=None, workers: int = 1) -> None:
    """Bind, warn about non-loopback binds, watch, and serve until interrupted."""
    if not is_loopback(settings.host):
        log.warning("bound to %s: other machines can reach this server%s", settings.host,
                    "" if settings.token else " and no --token is set; anyone there can read your logs")
    srv = Server(cat, settings, workers=workers)
    if watch:
        srv.start_watching()
    if on_ready is not None:
        on_ready(srv)
    t0 = time.time()
    try:
        srv.run()
    except KeyboardInterrupt:
        pass
    finally:
        log.info("server stopped after %.0fs", time.time() - t0)
