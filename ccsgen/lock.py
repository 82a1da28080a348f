"""One writer at a time in a cache dir, across threads and processes.

    with cache_lock(cfg.cache_dir):                  # waits for the other writer
        ingest_and_derive(cfg)
    with cache_lock(cfg.cache_dir, blocking=False) as got:
        if got: ...                                  # nobody else was writing

Readers notice another process's writes with :func:`file_sig` (every file the cache replaces is replaced by
rename, so a new version is a new inode).

An exclusive ``flock`` on ``<cache dir>/lock`` (released by the kernel when the process dies, so a killed
server never leaves the cache locked) plus a re-entrant lock per process, so the thread that holds it may
take it again (a refresh runs the search index's update inside the ingest's lock). Where ``fcntl`` does
not exist the lock is per process only.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = "lock"

_guard = threading.Lock()
_locks: dict[str, _DirLock] = {}


class _DirLock:
    def __init__(self, path: str):
        self.path = path
        self.rlock = threading.RLock()
        self.depth = 0  # how deep the owning thread holds it
        self.fd: int | None = None

    def acquire(self, blocking: bool) -> bool:
        if not self.rlock.acquire(blocking):
            return False
        if self.depth == 0 and fcntl is not None:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                fd = None  # an unwritable cache dir: the writes that follow will say so
            if fd is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
                except OSError:
                    os.close(fd)
                    self.rlock.release()
                    return False
            self.fd = fd
        self.depth += 1
        return True

    def release(self) -> None:
        self.depth -= 1
        if self.depth == 0 and self.fd is not None:
            fd, self.fd = self.fd, None
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
        self.rlock.release()


def _lock_for(cache_dir: Path) -> _DirLock:
    path = os.path.join(os.path.abspath(cache_dir), LOCK_FILE)
    with _guard:
        got = _locks.get(path)
        if got is None:
            got = _locks[path] = _DirLock(path)
        return got


@contextlib.contextmanager
def cache_lock(cache_dir: Path, *, blocking: bool = True) -> Iterator[bool]:
    """Hold the cache dir's writer lock for the ``with`` block; yields whether it was taken (always True when
    ``blocking``). The cache dir is created if missing."""
    try:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
    except OSError:
        pass
    lk = _lock_for(cache_dir)
    got = lk.acquire(blocking)
    try:
        yield got
    finally:
        if got:
            lk.release()


def file_sig(path) -> tuple | None:
    """(inode, mtime_ns, size) of ``path``, None when it cannot be read: changes whenever the file is
    replaced or rewritten."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size
