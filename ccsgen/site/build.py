"""The site build, as a list of stages:

    assets     templates/static -> site/assets/<name>.<hash>.<ext>
    data       Catalog -> SiteData (tables read once; text redacted for a published site)
    plan       which transcripts changed (fingerprints against the last build's manifest)
    sessions   changed transcripts rendered and written — when there are enough of them, also by a
               forked helper (forked.py) or, for big builds, spawned workers, while this process does
               the rest and then joins in
    search     the static search index (ccsgen.search.static, when installed)
    pages      every other page gathered, then rendered and written
    prune      files of the previous build that no page produced any more are removed

Incremental: a page is written only when its bytes differ from what is on disk, and a session
whose fingerprint (its row, its neighbours, the code and templates) is unchanged is not even
rendered. See writer.py for the manifest.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import logging
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from .. import __version__
from ..progress import Progress
from . import forked
from . import pages as P
from . import session_pages as SP
from .assets import build_assets
from .render import Renderer, templates_dir, write_page
from .writer import Writer

log = logging.getLogger(__name__)

#: render transcripts in worker processes when the changed sessions hold at least this many lines
PARALLEL_MIN_LINES = 40_000
#: below that, fork one helper process (Linux) when they hold at least this many lines
FORK_MIN_LINES = 3_000
#: lines of transcript per task handed to a worker (small enough to balance the load)
TASK_LINES = 25_000
#: the templates a transcript page is made of (a change to one re-renders every transcript)
SESSION_TEMPLATES = ("base.html", "_macros.html", "_transcript.html", "session.html")


def build_site(cat, out: Path, *, publish: bool = False, quiet: bool = True,
               redactor: Callable[[str], str] | None = None, workers: int | None = None,
               alongside: Callable[[], object] | None = None) -> dict:
    """Write the static site for ``cat`` into ``out``; returns what was done.

    ``publish``: a site meant for sharing: log text passes through ``redactor`` (default: ccsgen's
    own, when installed), images are left out and no static search index is written.
    ``workers``: processes for transcripts (default: the CPUs available, when the work is large). They are
    spawned, so a script calling this must guard its top level with ``if __name__ == "__main__":`` (as any
    multiprocessing program must), or pass ``workers=1``.
    ``alongside``: other work for this process, done while worker processes render the transcripts (for
    ``ccsgen build``: the search index), or before them when there are none. Its time is the ``alongside``
    stage of the report.
    """
    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    lap = _stopwatch(timings)

    with _fewer_collections() as freeze:
        redact = _redactor(publish, redactor)
        w = Writer.open(out)
        renderer = Renderer(templates_dir(), _bytecode_dir(cat))
        assets = build_assets(renderer.static_dir)
        for a in assets.files:
            w.put(f"assets/{a.hashed}", a.data)
        renderer.set_assets(assets.names, publish=publish)
        lap("assets")

        sd = P.SiteData.load(cat, redact, publish)
        lap("data")

        jobs = plan_sessions(sd, w, _build_key(assets.names, publish, redact))
        data_key = _data_key(w, jobs)
        lap("plan")

        mode = _mode(jobs, workers, redact)
        helper, pool, futures, n_workers = None, None, [], 1
        if mode == "pool":
            pool, futures, n_workers = _start_workers(cat, out, renderer, assets.names, publish, redact, jobs, w,
                                                      workers)
        elif mode == "fork":
            renderer.warm(SESSION_TEMPLATES)  # compiled once, here, rather than in both processes
            items = list(SP.load_jobs(cat, jobs, redact=redact))
            freeze()  # no collection here writes to the pages the helper shares either
            helper = forked.Helper.start(renderer, out, w.prev_files, items, images=not publish)
            n_workers = 2
            lap("sessions")
        progress = Progress(enabled=not quiet and len(jobs) > 50, units="pages")
        try:
            if alongside is not None:
                alongside()
                lap("alongside")
            progress.start("site", len(jobs))
            if mode == "serial":
                SP.render_jobs(cat, renderer, w, jobs, images=not publish, redact=redact, progress=progress.advance)
                lap("sessions")

            static_index = None if publish else _static_search_index(cat, w, data_key)
            renderer.set_search(bool(static_index) and "search.js" in assets.names)
            lap("search")

            for page in P.gather(sd, static_index):
                write_page(renderer, w, page)
            lap("pages")

            if helper is not None:
                SP.render_loaded(renderer, w, helper.take(), images=not publish, progress=progress.advance)
                progress.advance(helper.finish(renderer, w, images=not publish))
                lap("sessions")
            if pool is not None:
                for f in futures:
                    part = f.result()
                    w.merge(part)
                    progress.advance(len(part["sessions"]))
                pool.shutdown()
                lap("sessions")
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
            if helper is not None:
                helper.kill()
            progress.stop()

        removed = w.prune()
        w.save()
        lap("prune")
    html_written = sum(1 for r in w.written if r.endswith(".html"))
    html_total = sum(1 for r in w.files if r.endswith(".html"))
    return {
        "out": str(out),
        "pages": html_total,
        "pages_written": html_written,
        "pages_unchanged": html_total - html_written,
        "pages_removed": sum(1 for r in removed if r.endswith(".html")),
        "files_written": len(w.written),
        "files_removed": len(removed),
        "sessions_rendered": len(jobs),
        "workers": n_workers,
        "bytes_written": w.bytes_written,
        "bytes": sum(v[1] for v in w.files.values()),
        "seconds": round(time.perf_counter() - t0, 3),
        "stages": timings,
        "publish": publish,
        "search_index": bool(static_index),
    }


# ---------------------------------------------------------------- sessions


def plan_sessions(sd: P.SiteData, w: Writer, build_key: str) -> list[SP.Job]:
    """Transcripts to render: those whose fingerprint changed. Unchanged ones are carried over."""
    srows = sd.session_rows()
    neighbours = _neighbours(srows)
    weight = dict(zip(sd.sessions.get_column("session_id").to_list(), sd.sessions.get_column("lines").to_list(),
                      strict=True))
    jobs = []
    for s in srows:
        sid = s["session_id"]
        nb = neighbours.get(sid, (None, None))
        fp = SP.fingerprint(s, nb, build_key)
        prev = w.prev_sessions.get(sid)
        if prev and prev.get("fp") == fp and w.keep_session(sid):
            continue
        jobs.append(SP.Job(s, fp, nb, int(weight.get(sid) or 0)))
    return jobs


def _mode(jobs: list[SP.Job], workers: int | None, redact) -> str:
    """How transcripts are rendered: ``serial``; ``fork``, by this process and one forked helper (mid-sized
    work: a fork starts in milliseconds, but holds every changed session's rows in memory); ``pool``, by
    spawned workers that read their own rows (big work, or no fork on this platform)."""
    n = workers if workers is not None else _cpus()
    if n < 2 or not jobs or multiprocessing.parent_process() is not None:  # never workers of a worker
        return "serial"
    total = sum(j.weight for j in jobs)
    portable = _portable(redact) is not _NOT_PORTABLE
    if total >= PARALLEL_MIN_LINES:
        return "pool" if portable else "serial"
    if forked.available() and (workers is not None or (total >= FORK_MIN_LINES and forked.spare_cpu())):
        return "fork"
    return "pool" if workers is not None and portable else "serial"


def _start_workers(cat, out: Path, renderer: Renderer, asset_names: dict, publish: bool, redact, jobs: list,
                   w: Writer, workers: int | None) -> tuple[ProcessPoolExecutor, list[Future], int]:
    """Hand the transcripts to spawned worker processes."""
    n = workers if workers is not None else _cpus()
    total = sum(j.weight for j in jobs)
    tasks = _tasks(jobs, max(1, min(TASK_LINES, total // (n * 4))))
    n = min(n, len(tasks))
    pool = ProcessPoolExecutor(
        max_workers=n, mp_context=multiprocessing.get_context("spawn"),
        initializer=_worker_init, initargs=(cat.cfg, str(renderer.tdir), renderer.bytecode_dir, asset_names, publish,
                                            _portable(redact), w.prev_files),
    )
    futures = [pool.submit(_worker_run, str(out), t) for t in tasks]
    return pool, futures, n


def _tasks(jobs: list[SP.Job], size: int) -> list[list[SP.Job]]:
    """Largest sessions first, cut into tasks of about ``size`` lines (the pool balances them)."""
    tasks: list[list[SP.Job]] = []
    cur: list[SP.Job] = []
    acc = 0
    for j in sorted(jobs, key=lambda j: -j.weight):
        cur.append(j)
        acc += j.weight
        if acc >= size:
            tasks.append(cur)
            cur, acc = [], 0
    if cur:
        tasks.append(cur)
    return tasks


_WORKER: dict = {}


def _worker_init(cfg, tdir: str, bytecode_dir: Path | None, asset_names: dict, publish: bool, redact,
                 prev_files: dict) -> None:
    from ..catalog import Catalog

    renderer = Renderer(Path(tdir), bytecode_dir)
    renderer.set_assets(asset_names, publish=publish)
    if redact == DEFAULT_REDACTOR:
        redact = _default_redactor()
    _WORKER.update(cat=Catalog(cfg), renderer=renderer, publish=publish, redact=redact, prev_files=prev_files)


def _worker_run(out: str, jobs: list[SP.Job]) -> dict:
    st = _WORKER
    w = Writer(Path(out), prev_files=st["prev_files"])
    with _fewer_collections():
        SP.render_jobs(st["cat"], st["renderer"], w, jobs, images=not st["publish"], redact=st["redact"])
    return w.report()


def _bytecode_dir(cat) -> Path | None:
    cfg = getattr(cat, "cfg", None)
    return Path(cfg.cache_dir) / "site-templates" if cfg is not None else None


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _picklable(fn) -> bool:
    if fn is None:
        return True
    import pickle

    try:
        pickle.dumps(fn)
        return True
    except Exception:  # noqa: BLE001 - lambdas, closures, bound methods of odd objects
        return False


def _neighbours(srows: list[dict]) -> dict[str, tuple]:
    """Previous and next session (by start time) within each project: ((id, title) | None, …)."""
    by_p: dict[str, list[dict]] = {}
    for s in srows:
        by_p.setdefault(s["project"], []).append(s)
    out = {}
    for ss in by_p.values():
        ss = sorted(ss, key=lambda s: (s["first_ts"] or "", s["session_id"]))
        for i, s in enumerate(ss):
            prev = (ss[i - 1]["session_id"], ss[i - 1]["title"]) if i > 0 else None
            nxt = (ss[i + 1]["session_id"], ss[i + 1]["title"]) if i + 1 < len(ss) else None
            out[s["session_id"]] = (prev, nxt)
    return out


def _build_key(asset_names: dict[str, str], publish: bool, redact) -> str:
    """What every transcript page depends on besides its session: code, templates, assets, options."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{__version__}|{publish}|{getattr(redact, '__module__', '')}.{getattr(redact, '__qualname__', redact)}"
             .encode())
    for p in sorted(Path(__file__).parent.glob("*.py")):
        h.update(p.read_bytes())
    for name in SESSION_TEMPLATES:
        p = templates_dir() / name
        h.update(name.encode() + (p.read_bytes() if p.is_file() else b""))
    h.update(repr(sorted(asset_names.items())).encode())
    return h.hexdigest()


# ---------------------------------------------------------------- helpers


@contextlib.contextmanager
def _fewer_collections():
    """Cyclic GC, rarely, and never over what existed before the build (the tables, the ingest's leftovers):
    a build allocates millions of short-lived objects (markdown tokens), and each full collection would walk
    the whole heap — a tenth of a site's time."""
    old = gc.get_threshold()
    mine = gc.get_freeze_count() == 0  # a caller's own frozen objects stay frozen
    if mine:
        gc.freeze()
    gc.set_threshold(max(old[0], 20_000), max(old[1], 20), max(old[2], 20))
    try:
        yield gc.freeze if mine else (lambda: None)  # freeze what was made since (undone at the end too)
    finally:
        gc.set_threshold(*old)
        if mine:
            gc.unfreeze()


def _stopwatch(timings: dict[str, float]) -> Callable[[str], None]:
    last = [time.perf_counter()]

    def lap(name: str) -> None:
        now = time.perf_counter()
        timings[name] = round(timings.get(name, 0.0) + now - last[0], 3)
        last[0] = now

    return lap


DEFAULT_REDACTOR = "ccsgen.redact"


def _redactor(publish: bool, redactor: Callable[[str], str] | None) -> Callable[[str], str] | None:
    """The text filter of a published site: the one given, else ccsgen's own redaction."""
    if redactor is not None or not publish:
        return redactor
    return _default_redactor()


_DEFAULTS: list = []  # the default redactors this process made (workers make their own: not picklable)


def _default_redactor() -> Callable[[str], str]:
    from ..redact import Redactor

    fn = Redactor().redact
    _DEFAULTS.append(fn)
    return fn


def _portable(redact) -> object:
    """What to send a worker for ``redact``: nothing, the default's name, or the (picklable) callable."""
    if redact is None:
        return None
    if any(redact is d for d in _DEFAULTS):
        return DEFAULT_REDACTOR
    return redact if _picklable(redact) else _NOT_PORTABLE


_NOT_PORTABLE = object()


def _data_key(w: Writer, jobs: list[SP.Job]) -> str:
    """Changes whenever any session's data (or the code) changed: every session's fingerprint together."""
    fps = {sid: v["fp"] for sid, v in w.sessions.items()} | {j.session["session_id"]: j.fp for j in jobs}
    h = hashlib.blake2b(digest_size=16)
    for sid in sorted(fps):
        h.update(f"{sid}={fps[sid]};".encode())
    return h.hexdigest()


def _static_search_index(cat, w: Writer, key: str) -> dict | None:
    """The offline search index (the search issue's ``write_static_index``), written through the site's
    writer: unchanged shards are not rewritten, shards that disappear are pruned like any page, and when
    no session changed the last build's index is kept as it is."""
    prev = w.prev_extra.get("search") or {}
    if prev.get("key") == key and prev.get("info") and w.keep_files(prev.get("files") or []):
        w.extra["search"] = prev
        return prev["info"]
    try:
        from ..search.static import write_static_index
    except ImportError:
        return None
    try:
        with tempfile.TemporaryDirectory(prefix="ccsgen-search-") as tmp:
            info = write_static_index(cat, Path(tmp), href=P.paths.session)
            root = Path(tmp)
            files = []
            for f in sorted(root.rglob("*")):
                if f.is_file():
                    rel = f.relative_to(root).as_posix()
                    w.put(rel, f.read_bytes())
                    files.append(rel)
    except Exception:  # noqa: BLE001 - a failing index must not cost the user the whole site
        log.exception("static search index failed; the search page will point to `ccsgen serve`")
        return None
    if not info:
        return None
    info = {k: v for k, v in info.items() if k in ("docs", "terms", "shards", "bytes")}
    w.extra["search"] = {"key": key, "info": info, "files": files}
    return info
