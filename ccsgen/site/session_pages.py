"""Transcript pages: one session's rows -> its page(s) (``index.html``, ``page-2.html`` …).

Kept apart from pages.py because it is the hot path of a build: it runs once per changed
session, possibly in a worker process, and only touches that session's rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import polars as pl

from . import transcript
from .pages import Page, redact_columns
from .render import Renderer, write_page
from .urls import paths

OUTLINE_LEN = 90


def fingerprint(session: dict, neighbours: tuple, build_key: str) -> str:
    """Everything a transcript page depends on besides the code: the session's row (which changes with
    each appended line), its project's name, its neighbours in the project and the build's key."""
    h = hashlib.blake2b(digest_size=16)
    h.update(build_key.encode())
    for k in sorted(session):
        if k != "is_active":
            h.update(f"{k}={session[k]!r};".encode())
    h.update(repr(neighbours).encode())
    return h.hexdigest()


RESPONSE_COLUMNS = ["session_id", "uuid", "msg_id", "request_id", "input_tokens", "output_tokens",
                    "cache_creation_tokens", "cache_read_tokens", "total_tokens", "cost_usd"]
#: sessions whose rows are read from the cache at a time (bounds memory)
BATCH = 200


@dataclass(slots=True)
class Job:
    """One transcript to render: the session's JSON-ready row, its fingerprint, its neighbours."""

    session: dict
    fp: str
    neighbours: tuple
    weight: int = 0


@dataclass(slots=True)
class Loaded:
    """A job and its session's rows, as ``prepare_rows`` makes them."""

    job: Job
    entries: list[dict]
    blocks: list[dict]
    responses: list[dict]


def prepare_rows(entries: pl.DataFrame, blocks: pl.DataFrame, responses: pl.DataFrame) -> tuple:
    """A session's frames -> the row dicts transcript.Builder reads."""
    return _dicts(entries), _dicts(blocks), _dicts(responses)


def _dicts(df: pl.DataFrame) -> list[dict]:
    """``df.to_dicts()``, a third faster: columns to lists once, then zip (the hot path of a big build)."""
    cols = df.to_dict(as_series=False)
    names = list(cols)
    return [dict(zip(names, r, strict=True)) for r in zip(*cols.values(), strict=True)]


def render_jobs(cat, renderer: Renderer, writer, jobs: list[Job], *, images: bool = True,
                redact: Callable[[str], str] | None = None, progress: Callable[[int], None] | None = None) -> None:
    """Render and write the transcripts of ``jobs``, reading their rows a batch of sessions at a time."""
    render_loaded(renderer, writer, load_jobs(cat, jobs, redact=redact), images=images, progress=progress)


def load_jobs(cat, jobs: list[Job], *, redact: Callable[[str], str] | None = None) -> Iterator[Loaded]:
    """``jobs`` with their rows (redacted when ``redact`` is given), a batch of sessions read at a time.

    All the Polars work of a transcript is here: what ``render_loaded`` does with the rows is plain Python
    (so it may run in a forked process)."""
    if not jobs:
        return
    by_id = {j.session["session_id"]: j for j in jobs}
    ids = list(by_id)
    resp = cat.responses.filter(pl.col("session_id").is_in(ids)).select(RESPONSE_COLUMNS)
    by_r = resp.partition_by("session_id", as_dict=True) if resp.height else {}
    no_r = resp.clear()
    entry_cols = [c for c in transcript.ENTRY_COLUMNS if c != "session_id"]
    block_cols = [c for c in transcript.BLOCK_COLUMNS]
    for sid, ent, blk in cat.iter_transcripts(ids, batch=BATCH, entry_columns=entry_cols, block_columns=block_cols):
        if redact is not None:
            ent = redact_columns(ent, ["text"], redact)
            blk = redact_columns(blk, ["text", "input_json"], redact)
        yield Loaded(by_id[sid], *prepare_rows(ent, blk, by_r.get((sid,), no_r)))


def render_loaded(renderer: Renderer, writer, items: Iterable[Loaded], *, images: bool = True,
                  progress: Callable[[int], None] | None = None) -> None:
    """Render and write the transcripts of loaded jobs; each session's files go into ``writer.sessions``."""
    for it in items:
        job = it.job
        files: list[str] = []
        for page in session_pages(job.session, it.entries, it.blocks, it.responses, neighbours=job.neighbours,
                                  images=images):
            files += write_page(renderer, writer, page)
        writer.sessions[job.session["session_id"]] = {"fp": job.fp, "files": files}
        if progress is not None:
            progress(1)


def session_pages(session: dict, entries: list[dict], blocks: Iterable[dict], responses: Iterable[dict], *,
                  neighbours: tuple = (None, None), images: bool = True) -> list[Page]:
    """``session`` is the session's JSON-ready row (pages.SiteData.session_rows)."""
    tr = transcript.build(entries, blocks, responses, images=images)
    chunks = tr.pages()
    page_of: dict[int, int] = {}
    for i, chunk in enumerate(chunks, start=1):
        for m in chunk:
            page_of[m.n] = i
    # deep links to a later page's message land on index.html (search results, bookmarks): a map sends them on
    page_map = ";".join(f"{i}:" + " ".join(_anchors(chunk)) for i, chunk in enumerate(chunks, start=1) if i > 1)
    outline = [{"anchor": m.anchor, "page": page_of.get(m.n, 1), "kind": m.kind,
                "text": _excerpt(m.label + " " + m.text if m.kind == "command" else m.text)}
               for m in tr.prompts]
    sid = session["session_id"]
    title = session.get("title") or sid
    out = []
    n_pages = len(chunks)
    for i, chunk in enumerate(chunks, start=1):
        last = i == n_pages
        data = {
            "session": session,
            "page": i,
            "pages": n_pages,
            "messages": [m.as_json() for m in chunk],
            "threads": [{"agent_id": t.agent_id, "label": t.label, "messages": [m.as_json() for m in t.messages]}
                        for t in tr.threads] if last else [],
        }
        ctx = {"messages": chunk, "threads": tr.threads if last else [], "outline": outline, "noise": tr.noise,
               "neighbours": neighbours, "total_messages": len(tr.messages), "page_map": page_map if i == 1 else ""}
        out.append(Page(paths.session(sid, i), "session.html", title + (f" (page {i})" if i > 1 else ""),
                        "sessions", data, ctx, key=sid))
    return out


def _anchors(msgs: list) -> list[str]:
    """Element ids on a page: messages (m-<uuid>) and tool calls (t-<tool id>), subagent threads included."""
    out = []
    for m in msgs:
        out.append(m.anchor)
        for p in m.parts:
            if p.tool is not None:
                if p.tool.id:
                    out.append(f"t-{p.tool.id}")
                if p.tool.thread:
                    out += _anchors(p.tool.thread)
    return out


def _excerpt(s: str) -> str:
    s = " ".join((s or "").split())
    return s if len(s) <= OUTLINE_LEN else s[: OUTLINE_LEN - 1] + "…"


__all__ = ["Job", "Loaded", "fingerprint", "load_jobs", "render_jobs", "render_loaded", "session_pages"]
