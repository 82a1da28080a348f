"""Transcripts rendered by two processes at once: this one and one forked helper.

A spawned worker pays ~0.5 s of imports and reads its sessions again; a forked one starts in
milliseconds with everything already in memory — but it must never call into Polars (or tantivy):
a child inherits their thread pools' state, not their threads. So every changed session's rows are
read here first, as plain Python lists (``session_pages.load_jobs``), and the child only renders
and writes files (``session_pages.render_loaded``). It reports what it wrote through a pipe and
leaves with ``os._exit``: none of the parent's cleanup runs in it.

Both processes take sessions, largest first, from one counter in shared memory; the parent first
writes the rest of the site, then joins in. Which process renders a session changes nothing in
its bytes. Used for mid-sized work on Linux; big builds use the spawned pool (build.py), which
reads its rows itself and so keeps memory bounded.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Iterator
from pathlib import Path

import orjson

from . import session_pages as SP
from .render import Renderer
from .writer import Writer

log = logging.getLogger(__name__)


def available() -> bool:
    """fork() is safe here: Linux, not inside a worker, and no other Python thread whose locks the child
    could inherit held."""
    return (sys.platform.startswith("linux") and hasattr(os, "fork") and threading.active_count() == 1
            and multiprocessing.parent_process() is None)


#: CPU pressure (share of the last 10 s in which some task waited for a CPU) above which a helper is not
#: worth it: measured on a shared 2-core machine, at ~70 % a build with a helper was 0.3-0.5 s slower than
#: without (its copy-on-write faults and second warm-up cost more than the CPU it got), at ~10 % 0.6 s faster
BUSY_PRESSURE = 30.0
PRESSURE_FILE = "/proc/pressure/cpu"


def spare_cpu() -> bool:
    """Some CPU is idle now (Linux pressure stall information; assumed when the kernel does not report it)."""
    try:
        with open(PRESSURE_FILE, encoding="ascii") as f:
            some = f.readline().split()
        return float(some[1].partition("=")[2]) < BUSY_PRESSURE
    except (OSError, IndexError, ValueError):
        return True


class Helper:
    """The forked helper, seen from the parent."""

    def __init__(self, items: list[SP.Loaded], pid: int, counter, result_fd: int):
        self.items = items
        self.pid = pid
        self._counter = counter
        self._result_fd = result_fd
        self.done: set[int] = set()  # indices the parent rendered

    @classmethod
    def start(cls, renderer: Renderer, out: Path, prev_files: dict, items: list[SP.Loaded], *,
              images: bool) -> Helper:
        items = sorted(items, key=lambda it: -it.job.weight)
        counter = multiprocessing.get_context("fork").Value("q", 0)
        r, w = os.pipe()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: "process is multi-threaded" (Polars')
            pid = os.fork()
        if pid == 0:  # the child: never returns
            gc.freeze()  # it neither scans nor frees the parent's objects (and so shares their pages)
            os.close(r)
            _child(w, renderer, out, prev_files, items, counter, images)
        os.close(w)
        return cls(items, pid, counter, r)

    def take(self) -> Iterator[SP.Loaded]:
        """The parent's share: sessions the helper has not taken yet."""
        return _take(self.items, self._counter, self.done)

    def finish(self, renderer: Renderer, w: Writer, *, images: bool) -> int:
        """Wait for the helper and fold what it wrote into ``w``; returns the sessions it rendered.

        If it failed (killed, out of memory, an exception), this process renders what it left undone: a
        bug in a transcript then raises here, as it would without a helper."""
        chunks = []
        while chunk := os.read(self._result_fd, 1 << 20):
            chunks.append(chunk)
        data = b"".join(chunks)
        self._close()
        _, status = os.waitpid(self.pid, 0)
        self.pid = 0
        code = os.waitstatus_to_exitcode(status)
        part = None
        if code == 0:
            try:
                part = orjson.loads(data)
            except orjson.JSONDecodeError:
                code = "a cut report"
        if part is not None:
            w.merge(part)
            return len(part["sessions"])
        log.warning("transcript helper process failed (exit %s): rendering its sessions here\n%s", code,
                    data.decode("utf-8", "replace")[-2000:])
        SP.render_loaded(renderer, w, (it for i, it in enumerate(self.items) if i not in self.done), images=images)
        return 0

    def kill(self) -> None:
        """Stop the helper if it still runs (the parent failed)."""
        self._close()
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            self.pid = 0

    def _close(self) -> None:
        if self._result_fd >= 0:
            os.close(self._result_fd)
            self._result_fd = -1


def _take(items: list[SP.Loaded], counter, done: set[int] | None = None) -> Iterator[SP.Loaded]:
    """The next session nobody took yet, until there are none (largest first: ``items`` is sorted)."""
    while True:
        with counter.get_lock():
            i = counter.value
            counter.value = i + 1
        if i >= len(items):
            return
        if done is not None:
            done.add(i)
        yield items[i]


def _child(fd: int, renderer: Renderer, out: Path, prev_files: dict, items: list[SP.Loaded], counter,
           images: bool) -> None:
    code = 1
    try:
        w = Writer(out, prev_files=prev_files)
        SP.render_loaded(renderer, w, _take(items, counter), images=images)
        payload = orjson.dumps(w.report())
        code = 0
    except BaseException:  # noqa: BLE001 - reported to the parent, which renders the rest itself
        payload = traceback.format_exc().encode("utf-8", "replace")
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os._exit(code)
