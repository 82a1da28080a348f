"""Parquet + manifest: incremental ingest by byte offset.

The manifest keeps, per source file: size, mtime, inode, the byte offset just
after its last complete line, and a hash of its head. A build compares each
file with it:

- unchanged (same size, mtime, inode): nothing is read;
- grown, same head and inode: only the bytes after the offset are read;
- shrunk, rewritten (head changed) or replaced (inode changed): read again whole;
- gone: its rows are dropped.

Rows read by one build are written as one *segment* (a Parquet file per raw
table). A file read again gets a new ``file_id`` and its old id is listed as
dropped, so its stale rows are filtered out when segments are loaded. Once
there are many segments they are compacted into one.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from . import records, sources
from .records import Chunk, ParseIssue

if TYPE_CHECKING:
    import polars as pl

log = logging.getLogger(__name__)

HEAD_BYTES = 1024
#: the sessions read into the segments but not derived yet (see ``Manifest.pending``)
PENDING_FILE = "pending.json"
RAW_TABLES = ("entries", "usage", "blocks", "meta", "history", "issues")
MAX_SEGMENTS = 12
#: more dropped file ids than this: the next compaction rewrites every segment (and forgets them)
MAX_DROPPED = 200
#: segments smaller than this (bytes of Parquet) are merged by a compaction; larger ones are left as they are
SMALL_SEGMENT_BYTES = 16 * 1024 * 1024
#: bump when the meaning of the raw rows changes; schema changes are caught by ``cache_format()`` itself
CACHE_VERSION = 5


def cache_format() -> str:
    """Identifies the layout of the cached rows: a cache written with another layout is rebuilt."""
    sig = repr(sorted((n, list(cols.items())) for n, cols in records.RAW_TYPES.items()))
    return f"{CACHE_VERSION}-" + hashlib.blake2b(sig.encode(), digest_size=6).hexdigest()
#: files smaller than this are read in the main process even when a pool is used
POOL_MIN_BYTES = 64 * 1024 * 1024
#: input bytes buffered before a Parquet part is written (bounds memory on a cold build)
#: input bytes one worker reads into one Parquet part (bounds memory; fewer, larger parts read faster)
BATCH_BYTES = 32 * 1024 * 1024


class FileState(msgspec.Struct):
    file_id: int
    kind: str
    project: str
    session_hint: str
    agent_id: str
    size: int
    mtime_ns: int
    inode: int
    offset: int
    lines: int
    head_len: int
    head_hash: str
    tail_hash: str = ""  # hash of the TAIL_BYTES before ``offset``: a file regrown past a truncation differs there
    #: bad lines read from it so far, by reason (see ``Manifest.counts_issues``)
    issues: dict[str, int] = {}


class PartInfo(msgspec.Struct):
    """What one Parquet part of a segment holds rows of: source file ids and session ids (``""`` included)."""

    files: list[int] = []
    sessions: list[str] = []


class Manifest(msgspec.Struct):
    format: str = ""
    next_file_id: int = 1
    next_segment: int = 1
    files: dict[str, FileState] = {}
    segments: list[int] = []
    dropped: list[int] = []
    issues_total: int = 0
    #: sessions read into the segments whose tables are not derived yet (cleared by ``derived``): a build that
    #: stops between reading and deriving leaves them here, and the next build derives them
    pending: list[str] = []
    #: True when every FileState counts its bad lines (manifests of older versions did not: their counts come
    #: from the issues table)
    counts_issues: bool = False
    #: ``"<segment>.<part>"`` -> what that part holds, so a derive that wants a few sessions or files opens only
    #: the parts that may hold them (a part not listed may hold anything)
    parts: dict[str, PartInfo] = {}
    #: a transcript at the same path under two Claude dirs (``~/.claude`` copied to ``~/.config/claude``) or
    #: two project dirs (one copied under another name): the copy that is a byte prefix of the other is read
    #: but its rows are hidden (``scan_raw``), so nothing is counted or shown twice and nothing is lost.
    #: path -> [the path kept, its size, its mtime_ns, this copy's size, its mtime_ns] (as compared)
    shadowed: dict[str, list] = {}

    def hidden_ids(self) -> set[int]:
        """File ids whose rows no table may use: dropped files and shadowed copies."""
        out = set(self.dropped)
        for path in self.shadowed:
            st = self.files.get(path)
            if st is not None:
                out.add(st.file_id)
        return out


@dataclass
class IngestReport:
    files_seen: int = 0
    files_read: int = 0
    files_unchanged: int = 0
    files_grown: int = 0
    files_rewritten: int = 0
    files_new: int = 0
    files_deleted: int = 0
    lines_read: int = 0
    bytes_read: int = 0
    issues: list[ParseIssue] = field(default_factory=list)
    issue_counts: Counter = field(default_factory=Counter)
    unknown_types: Counter = field(default_factory=Counter)
    changed: bool = False
    changed_sessions: set[str] = field(default_factory=set)
    #: the manifest as saved by this ingest (so the stages after it need not read it again)
    manifest: Manifest | None = None


TAIL_BYTES = 256


def _tail_hash(path: Path, offset: int) -> str:
    with open(path, "rb") as f:
        f.seek(max(0, offset - TAIL_BYTES))
        return hashlib.blake2b(f.read(min(offset, TAIL_BYTES)), digest_size=12).hexdigest()


def _head_hash(path: Path, n: int) -> str:
    with open(path, "rb") as f:
        return hashlib.blake2b(f.read(n), digest_size=12).hexdigest()


def load_manifest(cache_dir: Path) -> Manifest:
    p = cache_dir / "manifest.json"
    if not p.is_file():
        return Manifest(format=cache_format(), counts_issues=True)
    try:
        m = msgspec.json.decode(p.read_bytes(), type=Manifest)
    except msgspec.MsgspecError:
        log.warning("cache manifest unreadable or from another version; rebuilding")
        return Manifest(format=cache_format(), counts_issues=True)
    if m.format != cache_format():
        log.info("cache written by another version; rebuilding")
        return Manifest(format=cache_format(), counts_issues=True)
    pending = cache_dir / PENDING_FILE
    if pending.is_file():
        try:
            m.pending = sorted(set(m.pending) | set(msgspec.json.decode(pending.read_bytes(), type=list[str])))
        except msgspec.MsgspecError:  # unreadable: which sessions wait to be derived is unknown, so read all again
            log.warning("cache pending list unreadable; rebuilding")
            return Manifest(format=cache_format(), counts_issues=True)
    return m


def save_manifest(cache_dir: Path, m: Manifest) -> None:
    """Write the manifest; its pending sessions go to their own small file first (so that ``derived`` needs
    only to remove that file, not to write the manifest again)."""
    if m.pending:
        _write_atomic(cache_dir / PENDING_FILE, msgspec.json.encode(m.pending))
    else:
        (cache_dir / PENDING_FILE).unlink(missing_ok=True)
    _write_atomic(cache_dir / "manifest.json", msgspec.json.encode(msgspec.structs.replace(m, pending=[])))


def _write_atomic(p: Path, data: bytes) -> None:
    tmp = p.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, p)


@dataclass(frozen=True)
class ReadTask:
    path: str
    kind: str
    file_id: int
    project: str
    session_hint: str
    agent_id: str
    offset: int
    start_line: int


@dataclass
class ReadResult:
    """What reading one file produced: its rows as DataFrames, and where to resume next time."""

    task: ReadTask
    frames: dict[str, pl.DataFrame]
    lines: int
    bytes_read: int
    end_offset: int
    end_line: int
    issue_reasons: list[str]
    unknown_types: Counter
    sessions: set[str]
    #: the session id of every row read (``""`` too), for the manifest's part index
    all_sessions: set[str] = field(default_factory=set)


def _read_chunk(t: ReadTask) -> tuple[Chunk, int]:
    try:
        with open(t.path, "rb") as f:
            f.seek(t.offset)
            data = f.read()
    except OSError as e:
        ch = Chunk()
        ch.issues.append(ParseIssue(t.path, 0, f"unreadable: {e.__class__.__name__}"))
        ch.file_id = t.file_id
        ch.end_line = t.start_line
        return ch, 0
    n = records.complete_part(data)
    part = data if n == len(data) else memoryview(data)[:n].tobytes()
    del data
    if t.kind == sources.HISTORY:
        ch = records.read_history(part, path=t.path, file_id=t.file_id, start_line=t.start_line)
    else:
        ch = records.read_transcript(
            part, path=t.path, file_id=t.file_id, project=t.project, session_hint=t.session_hint,
            agent_hint=t.agent_id, kind=t.kind, start_line=t.start_line,
        )
    ch.file_id = t.file_id
    return ch, n


def read_batch(batch: list[ReadTask], part_prefix: str | None = None) -> tuple[list[ReadResult], dict]:
    """Read some files from their offsets (runs in a worker process).

    With ``part_prefix`` the rows are written as Parquet parts ``<prefix>.<table>.parquet`` by the
    worker itself (no rows cross the process boundary) and no frames are returned.
    """
    results, chunks = [], []
    for t in batch:
        ch, n = _read_chunk(t)
        sessions = set(ch.entries["session_id"]) | set(ch.usage["session_id"])
        every = sessions | set(ch.blocks["session_id"]) | set(ch.meta["session_id"])
        results.append(ReadResult(
            t, {}, ch.lines, n, t.offset + n, ch.end_line, [i.reason for i in ch.issues], ch.unknown_types,
            {s for s in sessions if s}, {s if isinstance(s, str) else "" for s in every},
        ))
        chunks.append(ch)
    frames = _frames(chunks)
    if part_prefix is None:
        return results, frames
    if any(r.lines for r in results):
        for name, df in frames.items():
            if df.height:  # a table with no rows here has no file (one file fewer to open on every scan)
                _write_segment(df, Path(f"{part_prefix}.{name}.parquet"))
    return results, {}


def read_task(t: ReadTask) -> ReadResult:
    """Read one file (used by tests and tools)."""
    results, frames = read_batch([t])
    results[0].frames = frames
    return results[0]


def _batches(tasks: list[ReadTask], sizes: dict[str, int], target: int) -> list[list[ReadTask]]:
    out: list[list[ReadTask]] = []
    cur: list[ReadTask] = []
    acc = 0
    for t in tasks:
        cur.append(t)
        acc += sizes.get(t.path, 0) - t.offset
        if acc >= target:
            out.append(cur)
            cur, acc = [], 0
    if cur:
        out.append(cur)
    return out


def _frames(chunks: list[Chunk]) -> dict[str, pl.DataFrame]:
    import polars as pl

    from .tables import RAW_SCHEMAS

    out = {}
    for name in RAW_TABLES:
        schema = RAW_SCHEMAS[name]
        cols: dict[str, list] = {c: [] for c in schema}
        for ch in chunks:
            if name == "issues":
                for i in ch.issues:
                    cols["file_id"].append(ch.file_id)
                    cols["path"].append(i.path)
                    cols["line_no"].append(i.line)
                    cols["reason"].append(i.reason)
                continue
            part = getattr(ch, name)
            for c in schema:
                cols[c].extend(part[c])
        out[name] = pl.DataFrame(cols, schema=schema)
    return out


def ingest(
    files: list[sources.SourceFile],
    cache_dir: Path,
    *,
    full: bool = False,
    workers: int = 0,
    progress=None,
) -> IngestReport:
    """Bring the raw segments in ``cache_dir`` up to date with ``files``. Reads only what changed."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    seg_dir = cache_dir / "segments"
    if full and seg_dir.exists():
        shutil.rmtree(seg_dir)
    m = Manifest(format=cache_format(), counts_issues=True) if full else load_manifest(cache_dir)
    if not m.segments and seg_dir.exists():
        shutil.rmtree(seg_dir)
    if not m.files:
        m.counts_issues = True
    seg_dir.mkdir(parents=True, exist_ok=True)
    rep = IngestReport()
    dropped_before = len(m.dropped)
    tasks: list[ReadTask] = []
    sizes: dict[str, int] = {}
    live = set()
    for sf in files:
        if sf.kind not in sources.TRANSCRIPT_KINDS and sf.kind != sources.HISTORY:
            continue
        rep.files_seen += 1
        key = sf.key
        live.add(key)
        try:
            st = os.stat(sf.path)
        except OSError:
            continue
        old = m.files.get(key)
        if old is not None and old.size == st.st_size and old.mtime_ns == st.st_mtime_ns and old.inode == st.st_ino:
            rep.files_unchanged += 1
            continue
        start, line0, fid = 0, 0, 0
        if old is not None:
            same_head = (
                old.inode == st.st_ino
                # the same size with another mtime is an edit in place (or a touch), not an append: read it again
                and st.st_size != old.size
                and st.st_size >= old.offset
                and old.head_len <= st.st_size
                and _head_hash(sf.path, old.head_len) == old.head_hash
                and (not old.tail_hash or _tail_hash(sf.path, old.offset) == old.tail_hash)
            )
            if same_head:
                start, line0, fid = old.offset, old.lines, old.file_id
                rep.files_grown += 1
            else:
                m.dropped.append(old.file_id)
                rep.files_rewritten += 1
        else:
            rep.files_new += 1
        if not fid:
            fid = m.next_file_id
            m.next_file_id += 1
        tasks.append(ReadTask(key, sf.kind, fid, sf.project, sf.session_hint, sf.agent_id, start, line0))
        sizes[key] = st.st_size
        m.files[key] = FileState(
            file_id=fid, kind=sf.kind, project=sf.project, session_hint=sf.session_hint, agent_id=sf.agent_id,
            size=st.st_size, mtime_ns=st.st_mtime_ns, inode=st.st_ino, offset=start, lines=line0,
            head_len=old.head_len if (start and old) else min(HEAD_BYTES, st.st_size),
            head_hash="", issues=dict(old.issues) if (start and old) else {},
        )
    for key in list(m.files):
        if key not in live:
            m.dropped.append(m.files.pop(key).file_id)
            rep.files_deleted += 1
    changed_sessions: set[str] = set()
    total = sum(sizes.get(t.path, 0) - t.offset for t in tasks)
    if progress:
        progress.start("read", total)
    seg = m.next_segment
    unknown: dict[int, Counter] = {}

    def take(r: ReadResult) -> None:
        st = m.files[r.task.path]
        st.offset = r.end_offset
        st.lines = r.end_line
        st.head_hash = _head_hash(Path(r.task.path), st.head_len)
        st.tail_hash = _tail_hash(Path(r.task.path), st.offset)
        rep.files_read += 1
        rep.lines_read += r.lines
        rep.bytes_read += r.bytes_read
        if r.issue_reasons:
            got = Counter(reason.split(":")[0] for reason in r.issue_reasons)
            rep.issue_counts.update(got)
            st.issues = dict(Counter(st.issues) + got)
        rep.unknown_types.update(r.unknown_types)
        if r.unknown_types:
            unknown[r.task.file_id] = r.unknown_types
        changed_sessions.update(r.sessions)
        if progress:
            progress.advance(sizes.get(r.task.path, 0) - r.task.offset)

    wrote = False

    def take_batch(i: int, results: list[ReadResult]) -> None:
        nonlocal wrote
        for r in results:
            take(r)
        if any(r.lines for r in results):
            wrote = True
            m.parts[f"{seg}.{i}"] = PartInfo(
                sorted({r.task.file_id for r in results}), sorted(set().union(*(r.all_sessions for r in results))))

    use_pool = workers > 1 and total >= POOL_MIN_BYTES and len(tasks) > 1
    ordered = sorted(tasks, key=lambda t: -(sizes.get(t.path, 0) - t.offset)) if use_pool else tasks
    batches = _batches(ordered, sizes, BATCH_BYTES)
    prefixes = [str(seg_dir / f"{seg}.{i}") for i in range(len(batches))]
    if use_pool:
        from concurrent.futures import ProcessPoolExecutor  # not imported by builds that read a few files

        with ProcessPoolExecutor(max_workers=workers) as ex:
            for i, (results, _) in enumerate(ex.map(read_batch, batches, prefixes)):
                take_batch(i, results)
    else:
        for i, (batch, prefix) in enumerate(zip(batches, prefixes, strict=True)):
            take_batch(i, read_batch(batch, prefix)[0])
    if progress:
        progress.stop()
    if wrote:
        m.segments.append(seg)
        m.next_segment += 1
    # copies at the same path under two Claude dirs: hide the one that is a prefix of the other
    shadowed = _shadows(files, m)
    flipped = {p for p in set(shadowed) ^ set(m.shadowed) if p in m.files}
    flipped |= {p for p in set(shadowed) & set(m.shadowed) if shadowed[p][0] != m.shadowed[p][0] and p in m.files}
    m.shadowed = shadowed
    # sessions whose rows were dropped (or hidden, or shown again) by this build changed too (earlier drops were
    # handled by earlier builds)
    dropped_now = sorted(set(m.dropped[dropped_before:]) | {m.files[p].file_id for p in flipped})
    if dropped_now and m.segments:
        import polars as pl

        for p in _part_paths(seg_dir, m, "entries", file_ids=dropped_now):
            s = pl.scan_parquet(p).filter(pl.col("file_id").is_in(dropped_now)).select("session_id")
            changed_sessions.update(s.unique().collect().get_column("session_id").to_list())
    _update_unknown(seg_dir, m, unknown)
    m.pending = sorted(set(m.pending) | {s for s in changed_sessions if s})
    rep.changed = wrote or rep.files_deleted > 0 or rep.files_rewritten > 0 or bool(m.pending) or bool(flipped)
    rep.changed_sessions = set(m.pending)
    obsolete: list[Path] = []
    if len(m.segments) > MAX_SEGMENTS or (m.dropped and len(m.dropped) > MAX_DROPPED):
        obsolete = _compact(seg_dir, m)
    save_manifest(cache_dir, m)
    for p in obsolete:
        p.unlink(missing_ok=True)
    rep.manifest = m
    return rep


def _is_prefix(short: str, long: str, n: int) -> bool:
    """Whether the first ``n`` bytes of ``short`` and ``long`` are the same."""
    try:
        with open(short, "rb") as a, open(long, "rb") as b:
            left = n
            while left > 0:
                k = min(left, 1 << 20)
                x, y = a.read(k), b.read(k)
                if len(x) != k or x != y:
                    return False
                left -= k
        return True
    except OSError:
        return False


def _shadows(files: list[sources.SourceFile], m: Manifest) -> dict[str, list]:
    """The transcripts to hide (see ``Manifest.shadowed``): of the copies of one path relative to their
    Claude dir and project dir (``<session>.jsonl``, ``<session>/subagents/agent-<id>.jsonl`` …), the largest
    is kept (the first found on a tie) and each other copy that is a byte prefix of it is hidden. A comparison
    is made again only when a size or mtime changed."""
    first: dict[str, sources.SourceFile] = {}
    groups: dict[str, list[sources.SourceFile]] = {}  # only names seen more than once
    prefixes: dict[Path, str] = {}
    kinds, sep = sources.TRANSCRIPT_KINDS, os.sep
    for sf in files:  # string work only: Path.relative_to on 10,000 files took 60 ms of a 160 ms build
        if sf.kind not in kinds:
            continue
        key = str(sf.path)
        prefix = prefixes.get(sf.root)
        if prefix is None:
            prefix = prefixes[sf.root] = os.path.join(str(sf.root), "projects", "")
        if not key.startswith(prefix):
            continue
        # the path inside the project dir: a project dir copied under another name holds the same files
        cut = key.find(sep, len(prefix))
        name = key[cut + 1:] if cut >= 0 else key[len(prefix):]
        seen = first.setdefault(name, sf)
        if seen is not sf:
            groups.setdefault(name, [seen]).append(sf)
    out: dict[str, list] = {}
    for copies in groups.values():
        copies = [c for c in copies if c.key in m.files]
        if len(copies) < 2:
            continue
        kept = max(copies, key=lambda c: m.files[c.key].size)  # max() keeps the first of equals
        k = m.files[kept.key]
        for c in copies:
            if c is kept:
                continue
            st = m.files[c.key]
            sig = [kept.key, k.size, k.mtime_ns, st.size, st.mtime_ns]
            if m.shadowed.get(c.key) == sig or _is_prefix(c.key, kept.key, st.size):
                out[c.key] = sig
    return out


def derived(cache_dir: Path, m: Manifest | None = None) -> None:
    """The tables now reflect every segment: nothing is pending. ``m``: the manifest as the ingest saved it."""
    (cache_dir / PENDING_FILE).unlink(missing_ok=True)
    if m is not None:
        m.pending = []


def _update_unknown(seg_dir: Path, m: Manifest, new: dict[int, Counter]) -> None:
    p = seg_dir / "unknown_types.json"
    per_file: dict[str, dict[str, int]] = {}
    if p.is_file():
        try:
            per_file = msgspec.json.decode(p.read_bytes())
        except msgspec.MsgspecError:
            per_file = {}
    live = {str(st.file_id) for st in m.files.values()}
    per_file = {k: v for k, v in per_file.items() if k in live}
    for fid, counts in new.items():
        cur = Counter(per_file.get(str(fid), {}))
        cur.update(counts)
        per_file[str(fid)] = dict(cur)
    p.write_bytes(msgspec.json.encode(per_file))


def issue_counts(seg_dir: Path, m: Manifest) -> dict[str, int]:
    """Bad lines in the files read (still valid), by reason."""
    total: Counter = Counter()
    if m.counts_issues:
        for path, st in m.files.items():
            if st.issues and path not in m.shadowed:  # a hidden copy's lines are counted once, in the other
                total.update(st.issues)
        return dict(total)
    issues = scan_raw(seg_dir, m, "issues").select("reason").collect()
    return dict(Counter(r.split(":")[0] for r in issues.get_column("reason").to_list()))


def unknown_type_counts(seg_dir: Path) -> dict[str, int]:
    p = seg_dir / "unknown_types.json"
    total: Counter = Counter()
    if p.is_file():
        try:
            for v in msgspec.json.decode(p.read_bytes()).values():
                total.update(v)
        except msgspec.MsgspecError:
            pass
    return dict(total)


def _write_segment(df: pl.DataFrame, path: Path) -> None:
    """Rows sorted by session so a one-session read touches few row groups (min/max statistics)."""

    if "session_id" in df.columns:
        keys = [c for c in ("session_id", "file_id", "line_no", "idx") if c in df.columns]
        df = df.sort(keys, nulls_last=True)
    df.write_parquet(path, compression="lz4", statistics=True, row_group_size=8192)


def _union(infos: list[PartInfo | None]) -> PartInfo | None:
    if any(i is None for i in infos):
        return None
    return PartInfo(sorted(set().union(*(i.files for i in infos))), sorted(set().union(*(i.sessions for i in infos))))


def _segment_parts(on_disk: OnDisk, seg: int) -> list[str]:
    return sorted({n for (s, _), names in on_disk.items() if s == str(seg) for n in names})


def _compact(seg_dir: Path, m: Manifest) -> list[Path]:
    """Fewer segments. Runs of consecutive small segments (each build's new rows) are merged, each into one part
    (their rows in the same order); with no such run, or many dropped files, everything is merged into one
    part (streaming: memory stays bounded however large the cache is). Large parts keep their session index,
    so a derive of a few sessions keeps opening few of them. Returns the files no longer used (to delete once
    the manifest is saved)."""
    t0 = time.perf_counter()
    on_disk = parts_on_disk(seg_dir)
    sizes = {}
    for seg in m.segments:
        sizes[seg] = sum(os.stat(p).st_size for p in seg_dir.glob(f"{seg}.*.parquet"))
    runs: list[list[int]] = [[]]
    for seg in m.segments:
        if sizes[seg] < SMALL_SEGMENT_BYTES:
            runs[-1].append(seg)
        elif runs[-1]:
            runs.append([])
    runs = [r for r in runs if len(r) > 1]
    full = not runs or (m.dropped and len(m.dropped) > MAX_DROPPED)
    if full:
        runs = [list(m.segments)]
    obsolete: list[Path] = []
    segments = list(m.segments)
    for run in runs:
        seg = m.next_segment
        m.next_segment += 1
        sub = msgspec.structs.replace(m, segments=run)
        for name in RAW_TABLES:
            scan_raw(seg_dir, sub, name, on_disk=on_disk, keep_shadowed=True).sink_parquet(
                seg_dir / f"{seg}.0.{name}.parquet", compression="lz4", statistics=True, row_group_size=8192)
        parts = [part for old in run for part in _segment_parts(on_disk, old)]
        info = _union([m.parts.get(part) for part in parts])
        for part in parts:
            m.parts.pop(part, None)
        if info is not None:
            m.parts[f"{seg}.0"] = info
        for old in run:
            obsolete.extend(seg_dir.glob(f"{old}.*.parquet"))
        i = segments.index(run[0])
        segments[i: i + len(run)] = [seg]
    m.segments = segments
    live = {str(s) for s in segments}
    m.parts = {k: v for k, v in m.parts.items() if k.split(".")[0] in live}
    if full:
        m.dropped = []
    log.info("compacted %d segments into %d in %.2fs", sum(map(len, runs)), len(runs), time.perf_counter() - t0)
    return obsolete


OnDisk = dict[tuple[str, str], list[str]]


def parts_on_disk(seg_dir: Path) -> OnDisk:
    """(segment, table) -> its part names ("<segment>.<part>"), from one listing of ``seg_dir`` (a derive, which
    looks parts up many times, lists them once)."""
    out: OnDisk = {}
    with os.scandir(seg_dir) as it:
        for e in it:
            bits = e.name.split(".")
            if len(bits) == 4 and bits[3] == "parquet":
                out.setdefault((bits[0], bits[2]), []).append(f"{bits[0]}.{bits[1]}")
    for v in out.values():
        v.sort()  # the order of the file names
    return out


def _part_paths(seg_dir: Path, m: Manifest, name: str, *, sessions=None, file_ids=None,
                on_disk: OnDisk | None = None) -> list[Path]:
    """The part files of raw table ``name`` that may hold rows of ``sessions`` / ``file_ids`` (None: any)."""
    want_s = None if sessions is None else {s or "" for s in sessions}
    want_f = None if file_ids is None else set(file_ids)
    if on_disk is None:
        on_disk = parts_on_disk(seg_dir)
    out = []
    for s in m.segments:
        for part in on_disk.get((str(s), name), ()):
            p = seg_dir / f"{part}.{name}.parquet"
            info = m.parts.get(part)
            if info is not None and (
                (want_s is not None and want_s.isdisjoint(info.sessions))
                or (want_f is not None and want_f.isdisjoint(info.files))
            ):
                continue
            out.append(p)
    return out


def scan_raw(seg_dir: Path, m: Manifest, name: str, *, sessions=None, file_ids=None,
             on_disk: OnDisk | None = None, keep_shadowed: bool = False) -> pl.LazyFrame:
    """All rows of raw table ``name`` still valid (dropped file ids filtered out). With ``sessions`` or
    ``file_ids``: at least all the rows of those sessions or files (only the parts that may hold them are
    read; the caller filters the rows). The rows of shadowed copies (``Manifest.shadowed``) are left out too,
    unless ``keep_shadowed`` (compaction keeps them: the copy kept may be deleted later)."""
    import polars as pl

    from .tables import RAW_SCHEMAS

    paths = _part_paths(seg_dir, m, name, sessions=sessions, file_ids=file_ids, on_disk=on_disk)
    if not paths:
        return pl.DataFrame(schema=RAW_SCHEMAS[name]).lazy()
    lf = pl.scan_parquet(paths) if len(paths) > 1 else pl.scan_parquet(paths[0])
    hidden = set(m.dropped) if keep_shadowed else m.hidden_ids()
    if hidden:
        lf = lf.filter(~pl.col("file_id").is_in(sorted(hidden)))
    return lf
