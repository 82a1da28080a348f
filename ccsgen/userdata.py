"""User data: what a person creates (bookmarks, manual tags). Precious: nothing rebuilds it.

One SQLite file, ``<data dir>/userdata.sqlite3``, never in the cache dir or a Claude dir. WAL mode with
``synchronous=FULL``: a write returns only after it is committed and on disk, so a response that says 2xx
describes data that survives a killed process (and a power cut). One connection per thread; every write runs
in a ``BEGIN IMMEDIATE`` transaction, so concurrent requests (and concurrent processes) serialise cleanly.

A table per kind:

- ``bookmarks(id, session_id, message_index, title, notes, tags, created_at, updated_at)``
  — ids ``bm_<16 hex>``; ``message_index`` NULL is a session-level bookmark; ``tags`` a JSON list.
- ``manual_tags(session_id, tag, created_at)`` — tags a person added to a session.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

FILENAME = "userdata.sqlite3"
SCHEMA_VERSION = 1
DEFAULT_TITLE = "Untitled bookmark"
#: the largest message index a bookmark can hold (SQLite integers are 64-bit; no session has 2**31 messages)
MAX_MESSAGE_INDEX = 2**31 - 1
BOOKMARK_SORTS = ("created_at", "updated_at", "title", "session_id", "message_index")
MAX_TITLE, MAX_NOTES, MAX_TAG, MAX_TAGS = 500, 20_000, 100, 50

_SCHEMA = """
CREATE TABLE IF NOT EXISTS bookmarks (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    message_index INTEGER,
    title TEXT NOT NULL,
    notes TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS bookmarks_session ON bookmarks (session_id, message_index);
CREATE TABLE IF NOT EXISTS manual_tags (
    session_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (session_id, tag)
);
CREATE INDEX IF NOT EXISTS manual_tags_tag ON manual_tags (tag);
"""


class UserDataError(ValueError):
    """Invalid user input (the server answers 400)."""


def now_iso() -> str:
    t = dt.datetime.now(dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


class UserData:
    """Bookmarks and manual tags in ``<data_dir>/userdata.sqlite3``. Safe to share between threads."""

    def __init__(self, data_dir: Path):
        self.path = Path(data_dir) / FILENAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        c = self._conn()
        c.executescript(_SCHEMA)
        c.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # ------------------------------------------------------------------ connections

    def _conn(self) -> sqlite3.Connection:
        c = getattr(self._local, "conn", None)
        if c is None:
            c = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            c.row_factory = sqlite3.Row
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("PRAGMA synchronous=FULL")
            c.execute("PRAGMA busy_timeout=30000")
            c.execute("PRAGMA foreign_keys=ON")
            self._local.conn = c
            with self._all_lock:
                self._all.append(c)
        return c

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, committed (durably) before the block's caller sees its result."""
        c = self._conn()
        c.execute("BEGIN IMMEDIATE")
        try:
            yield c
        except BaseException:
            c.execute("ROLLBACK")
            raise
        else:
            c.execute("COMMIT")

    def close(self) -> None:
        with self._all_lock:
            for c in self._all:
                try:
                    c.close()
                except sqlite3.Error:
                    pass
            self._all.clear()
        self._local = threading.local()

    def ping(self) -> bool:
        try:
            self._conn().execute("SELECT 1").fetchone()
            return True
        except sqlite3.Error:
            return False

    # ------------------------------------------------------------------ bookmarks

    @staticmethod
    def _bookmark(row: sqlite3.Row) -> dict:
        d = dict(row)
        try:
            d["tags"] = json.loads(d["tags"] or "[]")
        except ValueError:
            d["tags"] = []
        return d

    @staticmethod
    def _clean(title=None, notes=None, tags=None, message_index=None, *, creating: bool = False) -> dict:
        out: dict = {}
        if title is not None or creating:
            if title is None or (isinstance(title, str) and not title.strip()):
                title = DEFAULT_TITLE
            if not isinstance(title, str):
                raise UserDataError("title must be a string")
            out["title"] = title[:MAX_TITLE]
        if notes is not None or creating:
            notes = "" if notes is None else notes
            if not isinstance(notes, str):
                raise UserDataError("notes must be a string")
            out["notes"] = notes[:MAX_NOTES]
        if tags is not None or creating:
            tags = [] if tags is None else tags
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise UserDataError("tags must be a list of strings")
            clean = list(dict.fromkeys(t.strip()[:MAX_TAG] for t in tags if t.strip()))
            if len(clean) > MAX_TAGS:
                raise UserDataError(f"at most {MAX_TAGS} tags")
            out["tags"] = json.dumps(clean)
        if creating:
            if message_index is not None and (isinstance(message_index, bool) or not isinstance(message_index, int)
                                              or not 0 <= message_index <= MAX_MESSAGE_INDEX):
                raise UserDataError(f"message_index must be an integer from 0 to {MAX_MESSAGE_INDEX}, or null")
            out["message_index"] = message_index
        return out

    @staticmethod
    def _check_session(session_id) -> str:
        if not isinstance(session_id, str) or not session_id.strip():
            raise UserDataError("session_id is required")
        if len(session_id) > 200:
            raise UserDataError("session_id is too long")
        return session_id.strip()

    def create_bookmark(self, session_id: str, message_index: int | None = None, title: str | None = None,
                        notes: str | None = None, tags: list[str] | None = None) -> dict:
        sid = self._check_session(session_id)
        f = self._clean(title, notes, tags, message_index, creating=True)
        ts = now_iso()
        bid = "bm_" + secrets.token_hex(8)
        with self._write() as c:
            c.execute("INSERT INTO bookmarks (id, session_id, message_index, title, notes, tags, created_at, "
                      "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                      (bid, sid, f["message_index"], f["title"], f["notes"], f["tags"], ts, ts))
            row = c.execute("SELECT * FROM bookmarks WHERE id = ?", (bid,)).fetchone()
        return self._bookmark(row)

    def get_bookmark(self, bookmark_id: str) -> dict | None:
        row = self._conn().execute("SELECT * FROM bookmarks WHERE id = ?", (bookmark_id,)).fetchone()
        return self._bookmark(row) if row else None

    def update_bookmark(self, bookmark_id: str, title=None, notes=None, tags=None) -> dict | None:
        f = self._clean(title, notes, tags)
        with self._write() as c:
            if c.execute("SELECT 1 FROM bookmarks WHERE id = ?", (bookmark_id,)).fetchone() is None:
                return None
            if f:
                sets = ", ".join(f"{k} = ?" for k in f)
                c.execute(f"UPDATE bookmarks SET {sets}, updated_at = ? WHERE id = ?",  # noqa: S608 - fixed keys
                          (*f.values(), now_iso(), bookmark_id))
            row = c.execute("SELECT * FROM bookmarks WHERE id = ?", (bookmark_id,)).fetchone()
        return self._bookmark(row)

    def delete_bookmark(self, bookmark_id: str) -> bool:
        with self._write() as c:
            return c.execute("DELETE FROM bookmarks WHERE id = ?", (bookmark_id,)).rowcount > 0

    def list_bookmarks(self, tag: str | None = None, sort_by: str = "created_at",
                       session_id: str | None = None) -> list[dict]:
        if sort_by not in BOOKMARK_SORTS:
            raise UserDataError(f"sort_by must be one of {', '.join(BOOKMARK_SORTS)}")
        desc = sort_by in ("created_at", "updated_at")
        order = f"{sort_by} {'DESC' if desc else 'ASC'}, id ASC"
        where, args = [], []
        if session_id is not None:
            where.append("session_id = ?")
            args.append(session_id)
        if tag:
            where.append("EXISTS (SELECT 1 FROM json_each(bookmarks.tags) WHERE json_each.value = ?)")
            args.append(tag)
        sql = "SELECT * FROM bookmarks" + (" WHERE " + " AND ".join(where) if where else "") + f" ORDER BY {order}"
        return [self._bookmark(r) for r in self._conn().execute(sql, args).fetchall()]

    def toggle_bookmark(self, session_id: str, message_index: int | None = None, title: str | None = None,
                        notes: str | None = None, tags: list[str] | None = None) -> dict:
        """Remove the bookmark of (session_id, message_index) if there is one, else add it. Atomic."""
        sid = self._check_session(session_id)
        f = self._clean(title, notes, tags, message_index, creating=True)
        with self._write() as c:
            if f["message_index"] is None:
                row = c.execute("SELECT id FROM bookmarks WHERE session_id = ? AND message_index IS NULL "
                                "ORDER BY created_at LIMIT 1", (sid,)).fetchone()
            else:
                row = c.execute("SELECT id FROM bookmarks WHERE session_id = ? AND message_index = ? "
                                "ORDER BY created_at LIMIT 1", (sid, f["message_index"])).fetchone()
            if row is not None:
                c.execute("DELETE FROM bookmarks WHERE id = ?", (row["id"],))
                return {"action": "removed", "bookmark_id": row["id"]}
            ts = now_iso()
            bid = "bm_" + secrets.token_hex(8)
            c.execute("INSERT INTO bookmarks (id, session_id, message_index, title, notes, tags, created_at, "
                      "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                      (bid, sid, f["message_index"], f["title"], f["notes"], f["tags"], ts, ts))
            new = c.execute("SELECT * FROM bookmarks WHERE id = ?", (bid,)).fetchone()
        return {"action": "added", "bookmark": self._bookmark(new)}

    # ------------------------------------------------------------------ manual tags

    def add_tag(self, session_id: str, tag: str) -> bool:
        """Add a manual tag; False when the session already had it."""
        sid = self._check_session(session_id)
        if not isinstance(tag, str) or not tag.strip():
            raise UserDataError("tag is required")
        with self._write() as c:
            cur = c.execute("INSERT OR IGNORE INTO manual_tags (session_id, tag, created_at) VALUES (?, ?, ?)",
                            (sid, tag.strip()[:MAX_TAG], now_iso()))
            return cur.rowcount > 0

    def remove_tag(self, session_id: str, tag: str) -> bool:
        with self._write() as c:
            return c.execute("DELETE FROM manual_tags WHERE session_id = ? AND tag = ?",
                             (session_id, tag)).rowcount > 0

    def session_tags(self, session_id: str) -> list[str]:
        rows = self._conn().execute("SELECT tag FROM manual_tags WHERE session_id = ? ORDER BY tag",
                                    (session_id,)).fetchall()
        return [r["tag"] for r in rows]

    def sessions_with_tag(self, tag: str) -> list[str]:
        rows = self._conn().execute("SELECT session_id FROM manual_tags WHERE tag = ? ORDER BY session_id",
                                    (tag,)).fetchall()
        return [r["session_id"] for r in rows]

    def all_tags(self) -> dict[str, int]:
        """Manual tag -> number of sessions carrying it."""
        rows = self._conn().execute("SELECT tag, COUNT(*) AS n FROM manual_tags GROUP BY tag ORDER BY tag").fetchall()
        return {r["tag"]: r["n"] for r in rows}


def open_userdata(cfg) -> UserData:
    """The user data of a Config. Refuses a data dir inside the cache dir or a Claude dir."""
    data = Path(cfg.data_dir).resolve()
    for other in (cfg.cache_dir, *cfg.claude_dirs):
        o = Path(other).resolve()
        if data == o or o in data.parents:
            raise UserDataError(f"data dir {cfg.data_dir} must not be inside {other}")
    return UserData(cfg.data_dir)
