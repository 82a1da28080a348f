"""Index: tables -> documents -> a tantivy index, plus the Q&A pairs and auto tags derived on the way.

Layout under ``cfg.index_dir`` (cache, rebuildable)::

    CURRENT                 name of the live generation (replaced atomically)
    gen-<ms>-<pid>/         one generation
        tantivy/            the index
        qa.parquet          Q&A pairs (ccsgen/qa.py)
        tags.parquet        auto tags (ccsgen/tags.py)
        state.json          what was indexed: per session a signature, its project, counts, indexed_at

A full build writes a new generation and then points CURRENT at it, so readers never see a half-built
index. An incremental update deletes the documents of the sessions whose signature changed (or that
vanished) and adds them again; everything else is untouched.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import tantivy

from .. import cache, qa, tags
from ..tables import HUMAN_USER_KINDS, parse_ts
from . import schema as S

if TYPE_CHECKING:
    from ..catalog import Catalog

log = logging.getLogger(__name__)

TOOL_RESULT_CAP = 2048  # characters of a tool result indexed (and stored)
TOOL_INPUT_CAP = 4096  # characters of one tool input indexed
EXTRA_CAP = 16_384  # characters of thinking + tool inputs of one response
BASE64 = r"(?:data:[\w/+.-]+;base64,)?[A-Za-z0-9+/]{200,}={0,2}"
FULL_HEAP = 512_000_000
UPDATE_HEAP = 64_000_000
THREADS = 2
CURRENT = "CURRENT"

ENTRY_COLS = ["file_id", "line_no", "uuid", "session_id", "project", "is_sidechain", "kind", "user_kind", "text",
              "timestamp", "model", "msg_id", "request_id", "is_api_error"]
BLOCK_COLS = ["file_id", "line_no", "idx", "uuid", "session_id", "btype", "text", "tool_id", "tool_name",
              "input_json", "is_error"]
DOC_COLS = [S.DOC_TYPE, S.OWNER, S.KEY, S.SESSION, S.PROJECT, S.PATH, S.ROLE, S.KIND, S.MODEL, "tools", S.TS,
            S.CONTENT, S.EXTRA, S.UNI, S.TOKENS_IN, S.TOKENS_OUT, S.UUID]
DOC_SCHEMA = {
    S.DOC_TYPE: pl.String, S.OWNER: pl.String, S.KEY: pl.String, S.SESSION: pl.String, S.PROJECT: pl.String,
    S.PATH: pl.String, S.ROLE: pl.String, S.KIND: pl.String, S.MODEL: pl.String, "tools": pl.List(pl.String),
    S.TS: pl.Int64, S.CONTENT: pl.String, S.EXTRA: pl.String, S.UNI: pl.Boolean, S.TOKENS_IN: pl.Int64,
    S.TOKENS_OUT: pl.Int64, S.UUID: pl.String,
}


def now_iso() -> str:
    t = dt.datetime.now(dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


# ---------------------------------------------------------------- reading rows


def load_rows(cat: Catalog, sessions: set[str] | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(entries, blocks) of all sessions, or of ``sessions`` only, in file order."""
    m = cache.load_manifest(cat.cfg.cache_dir)
    seg = cat.cfg.cache_dir / "segments"
    ent = cache.scan_raw(seg, m, "entries").select(ENTRY_COLS)
    blk = cache.scan_raw(seg, m, "blocks").select(BLOCK_COLS).filter(pl.col("btype") != "image")
    if sessions is not None:
        ids = sorted(sessions)
        ent = ent.filter(pl.col("session_id").is_in(ids))
        blk = blk.filter(pl.col("session_id").is_in(ids))
    entries, blocks = pl.collect_all([ent.with_columns(parse_ts("timestamp")), blk])
    return entries.sort(["file_id", "line_no"]), blocks.sort(["file_id", "line_no", "idx"])


def _clean(col: str) -> pl.Expr:
    return pl.col(col).str.replace_all(BASE64, "…")


def _unjson(col: str) -> pl.Expr:
    """A tool input's JSON, capped, with its string escapes undone (for reading; the words are the same)."""
    return (pl.col(col).fill_null("").str.slice(0, TOOL_INPUT_CAP).str.replace_all("\\n", "\n", literal=True)
            .str.replace_all("\\t", "\t", literal=True).str.replace_all('\\"', '"', literal=True))


def _uni(*cols: str) -> pl.Expr:
    """True when the text needs the ``uni`` field (add_docs then indexes content and extra there too)."""
    return pl.any_horizontal(pl.col(c).fill_null("").str.contains(S.UNI_DETECT) for c in cols).alias(S.UNI)


def _rkey() -> pl.Expr:
    """One API response: (message.id, requestId) when both are set, else the line (as tables.py merges)."""
    return pl.coalesce(pl.col("msg_id") + ":" + pl.col("request_id"), pl.col("uuid")).alias("_rk")


def message_docs(entries: pl.DataFrame, blocks: pl.DataFrame, responses: pl.DataFrame,
                 project_paths: dict[str, str]) -> pl.DataFrame:
    """Documents of type ``message``: prompts, responses (streamed lines merged), tool results (capped)."""
    e = entries
    line = ["file_id", "line_no"]
    prompts = e.filter((pl.col("kind") == "user") & pl.col("user_kind").is_in(HUMAN_USER_KINDS)).select(
        pl.lit(S.K_PROMPT).alias(S.KIND), "session_id", "project", "uuid", pl.lit("user").alias(S.ROLE),
        pl.lit(None, pl.String).alias(S.MODEL), pl.lit([], pl.List(pl.String)).alias("tools"), "timestamp",
        _clean("text").alias(S.CONTENT), pl.lit(None, pl.String).alias(S.EXTRA),
        pl.lit(0, pl.Int64).alias(S.TOKENS_IN), pl.lit(0, pl.Int64).alias(S.TOKENS_OUT), pl.lit("").alias("_sub"),
    )
    # thinking and tool inputs of each assistant line
    extra = (
        blocks.filter(pl.col("btype").is_in(["thinking", "redacted_thinking", "tool_use", "server_tool_use"]))
        .with_columns(
            pl.when(pl.col("btype").str.ends_with("thinking")).then(pl.col("text"))
            .otherwise(pl.concat_str([pl.col("tool_name").fill_null(""), _unjson("input_json")], separator=" "))
            .alias("_piece"))
        .group_by(line, maintain_order=True)
        .agg(pl.col("_piece").drop_nulls().str.join("\n").alias("_extra"),
             pl.col("tool_name").drop_nulls().alias("_tools"))
    )
    asst = e.filter(pl.col("kind") == "assistant").with_columns(_rkey()).join(extra, on=line, how="left")
    resp = (
        asst.group_by("session_id", "_rk", maintain_order=True).agg(
            pl.col("project").first(), pl.col("uuid").first(), pl.col("timestamp").min(),
            pl.col("model").drop_nulls().first(),
            pl.col("text").filter(pl.col("text").is_not_null() & (pl.col("text") != "")).str.join("\n")
            .alias(S.CONTENT),
            pl.col("_extra").drop_nulls().str.join("\n").str.slice(0, EXTRA_CAP).alias(S.EXTRA),
            pl.col("_tools").list.explode(keep_nulls=False, empty_as_null=False).drop_nulls()
            .unique(maintain_order=True).alias("tools"),
        )
    )
    toks = responses.select("session_id", _rkey(), pl.col("input_tokens").alias(S.TOKENS_IN),
                            pl.col("output_tokens").alias(S.TOKENS_OUT)).unique(["session_id", "_rk"])
    resp = resp.join(toks, on=["session_id", "_rk"], how="left").select(
        pl.lit(S.K_RESPONSE).alias(S.KIND), "session_id", "project", "uuid", pl.lit("assistant").alias(S.ROLE),
        S.MODEL, "tools", "timestamp", _clean(S.CONTENT).alias(S.CONTENT), _clean(S.EXTRA).alias(S.EXTRA),
        pl.col(S.TOKENS_IN).fill_null(0), pl.col(S.TOKENS_OUT).fill_null(0), pl.lit("").alias("_sub"),
    ).filter((pl.col(S.CONTENT) != "") | (pl.col(S.EXTRA) != ""))
    # tool results, capped; named after the call they answer
    names = blocks.filter(pl.col("btype").is_in(["tool_use", "server_tool_use"])).select(
        "session_id", "tool_id", pl.col("tool_name").alias("_name")).unique(["session_id", "tool_id"])
    results = (
        blocks.filter((pl.col("btype") == "tool_result") & (pl.col("text").fill_null("") != ""))
        .join(names, on=["session_id", "tool_id"], how="left")
        .join(e.select(*line, "project", "timestamp"), on=line, how="inner")
        .select(
            pl.lit(S.K_TOOL_RESULT).alias(S.KIND), "session_id", "project", "uuid", pl.lit("user").alias(S.ROLE),
            pl.lit(None, pl.String).alias(S.MODEL),
            pl.concat_list([pl.col("_name")]).list.drop_nulls().alias("tools"), "timestamp",
            pl.col("text").str.slice(0, TOOL_RESULT_CAP).str.replace_all(BASE64, "…").alias(S.CONTENT),
            pl.lit(None, pl.String).alias(S.EXTRA),
            pl.lit(0, pl.Int64).alias(S.TOKENS_IN), pl.lit(0, pl.Int64).alias(S.TOKENS_OUT),
            pl.coalesce(pl.col("tool_id"), pl.col("idx").cast(pl.String)).alias("_sub"),
        )
    )
    msgs = pl.concat([prompts, resp, results], how="vertical_relaxed")
    return msgs.with_columns(
        pl.lit(S.T_MESSAGE).alias(S.DOC_TYPE), pl.col("session_id").alias(S.OWNER),
        pl.concat_str([pl.col("session_id"), pl.col("uuid"), pl.col("_sub")], separator=":").alias(S.KEY),
        pl.col("project").alias(S.PROJECT), pl.col("project").replace_strict(project_paths, default=None,
                                                                           return_dtype=pl.String).alias(S.PATH),
        pl.col("timestamp").dt.epoch("ms").alias(S.TS), pl.col("uuid").alias(S.UUID), _uni(S.CONTENT, S.EXTRA),
    ).unique([S.KEY], keep="first", maintain_order=True).select(DOC_COLS).cast(DOC_SCHEMA)


def session_docs(sessions: pl.DataFrame, project_paths: dict[str, str]) -> pl.DataFrame:
    """Documents of type ``session``: id, slug, title, cwd, git branch, project path and id."""
    s = sessions.with_columns(pl.col("project").replace_strict(project_paths, default=None,
                                                               return_dtype=pl.String).alias("_path"))
    text = pl.concat_str([pl.col(c).cast(pl.String) for c in ("title", "slug", "session_id", "cwd", "git_branch",
                                                               "_path", "project")],
                         separator="\n", ignore_nulls=True)
    return s.select(
        pl.lit(S.T_SESSION).alias(S.DOC_TYPE), pl.col("session_id").alias(S.OWNER), pl.col("session_id").alias(S.KEY),
        "session_id", pl.col("project").alias(S.PROJECT), pl.col("_path").alias(S.PATH),
        pl.lit(None, pl.String).alias(S.ROLE), pl.lit(None, pl.String).alias(S.KIND),
        pl.lit(None, pl.String).alias(S.MODEL), pl.lit([], pl.List(pl.String)).alias("tools"),
        pl.col("last_ts").dt.epoch("ms").alias(S.TS), text.alias(S.CONTENT), pl.lit(None, pl.String).alias(S.EXTRA),
        text.str.contains(S.UNI_DETECT).alias(S.UNI),
        pl.lit(0, pl.Int64).alias(S.TOKENS_IN), pl.lit(0, pl.Int64).alias(S.TOKENS_OUT),
        pl.lit(None, pl.String).alias(S.UUID),
    ).cast(DOC_SCHEMA)


def prompt_docs(prompts: pl.DataFrame, path_projects: dict[str, str]) -> pl.DataFrame:
    """Documents of type ``prompt``: the lines of history.jsonl."""
    return prompts.select(
        pl.lit(S.T_PROMPT).alias(S.DOC_TYPE), pl.lit(S.HISTORY_OWNER).alias(S.OWNER),
        pl.concat_str([pl.lit("p"), pl.col("file_id").cast(pl.String), pl.col("line_no").cast(pl.String)],
                      separator=":").alias(S.KEY),
        pl.col("session_id"),
        pl.col("project_path").replace_strict(path_projects, default=None, return_dtype=pl.String).alias(S.PROJECT),
        pl.col("project_path").alias(S.PATH), pl.lit(None, pl.String).alias(S.ROLE),
        pl.lit(None, pl.String).alias(S.KIND), pl.lit(None, pl.String).alias(S.MODEL),
        pl.lit([], pl.List(pl.String)).alias("tools"), pl.col("timestamp").dt.epoch("ms").alias(S.TS),
        pl.col("display").fill_null("").alias(S.CONTENT), pl.lit(None, pl.String).alias(S.EXTRA),
        _uni("display"), pl.lit(0, pl.Int64).alias(S.TOKENS_IN), pl.lit(0, pl.Int64).alias(S.TOKENS_OUT),
        pl.lit(None, pl.String).alias(S.UUID),
    ).cast(DOC_SCHEMA)


def qa_docs(pairs: pl.DataFrame) -> pl.DataFrame:
    """Documents of type ``qa``: question in ``content``, answer and code in ``extra``, status in ``kind``."""
    answer = pl.concat_str([pl.col("answer_text").fill_null(""), pl.col("code_snippets").list.join("\n")],
                           separator="\n")
    return pairs.select(
        pl.lit(S.T_QA).alias(S.DOC_TYPE), pl.col("session_id").alias(S.OWNER), pl.col("id").alias(S.KEY),
        "session_id", pl.col("project").alias(S.PROJECT), pl.lit(None, pl.String).alias(S.PATH),
        pl.lit(None, pl.String).alias(S.ROLE), pl.col("resolution_status").alias(S.KIND), pl.col("model"),
        pl.col("tools_used").alias("tools"),
        parse_ts("timestamp").dt.epoch("ms").alias(S.TS),
        pl.col("question_text").alias(S.CONTENT), answer.alias(S.EXTRA),
        pl.lit(False).alias(S.UNI), pl.lit(0, pl.Int64).alias(S.TOKENS_IN),
        pl.lit(0, pl.Int64).alias(S.TOKENS_OUT), pl.col("question_uuid").alias(S.UUID),
    ).with_columns(_uni(S.CONTENT, S.EXTRA)).cast(DOC_SCHEMA)


def tag_inputs(entries: pl.DataFrame, blocks: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    texts = entries.filter(
        ((pl.col("kind") == "user") & (pl.col("user_kind") == "prompt") & ~pl.col("is_sidechain").fill_null(False))
        | ((pl.col("kind") == "assistant") & (pl.col("text").fill_null("") != ""))
    ).select("session_id", pl.when(pl.col("kind") == "user").then(pl.lit("user")).otherwise(pl.lit("assistant"))
             .alias("role"), pl.col("text").str.slice(0, tags.TEXT_CAP))
    uses = blocks.filter(pl.col("btype").is_in(["tool_use", "server_tool_use"])).select(
        "session_id", "tool_name", pl.col("input_json").str.slice(0, TOOL_INPUT_CAP))
    return texts, uses


def add_docs(writer: tantivy.IndexWriter, docs: pl.DataFrame) -> int:
    n = 0
    for (dtype, owner, key, sid, project, path, role, kind, model, tools, ts, content, extra, uni, t_in, t_out,
         uuid) in docs.iter_rows():
        d = tantivy.Document()
        d.add_text(S.DOC_TYPE, dtype)
        d.add_text(S.OWNER, owner or "")
        d.add_bytes(S.KEY, key.encode("utf-8"))
        if sid:
            d.add_text(S.SESSION, sid)
        if project:
            d.add_text(S.PROJECT, project)
        if path:
            d.add_text(S.PATH, path)
        if role:
            d.add_text(S.ROLE, role)
        if kind:
            d.add_text(S.KIND, kind)
        if model:
            d.add_text(S.MODEL, model)
        if tools:
            for t in tools:
                d.add_text(S.TOOL, t.lower())
        d.add_integer(S.TS, ts if ts is not None else 0)
        d.add_text(S.OUTPUT if kind == S.K_TOOL_RESULT else S.CONTENT, content or "")
        if extra:
            d.add_text(S.EXTRA, extra)
        if uni:
            d.add_text(S.UNI, content or "")
            if extra:
                d.add_text(S.UNI, extra)
        if t_in:
            d.add_integer(S.TOKENS_IN, t_in)
        if t_out:
            d.add_integer(S.TOKENS_OUT, t_out)
        if uuid:
            d.add_bytes(S.UUID, uuid.encode("utf-8"))
        writer.add_document(d)
        n += 1
    return n


# ---------------------------------------------------------------- signatures (what changed)


def session_sigs(sessions: pl.DataFrame) -> dict[str, tuple[int, str]]:
    """session_id -> (signature, project); a session is reindexed when its signature changes."""
    sig = pl.concat_str([pl.col(c).cast(pl.String).fill_null("") for c in (
        "lines", "last_ts", "first_ts", "title", "slug", "git_branch", "cwd", "project")], separator="|").hash(seed=7)
    df = sessions.select("session_id", sig.alias("sig"), pl.col("project"))
    return {sid: (int(h), p) for sid, h, p in df.iter_rows()}


def prompts_sig(prompts: pl.DataFrame) -> str:
    if not prompts.height:
        return "0"
    return f"{prompts.height}:{prompts.get_column('timestamp').max()}:{prompts.get_column('file_id').max()}"


# ---------------------------------------------------------------- a generation


@dataclass
class Generation:
    path: Path
    index: tantivy.Index
    qa: pl.DataFrame
    tags: pl.DataFrame
    state: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.name

    @classmethod
    def open(cls, path: Path) -> Generation:
        state = json.loads((path / "state.json").read_text())
        if state.get("schema_version") != S.SCHEMA_VERSION or state.get("polars") != pl.__version__:
            raise ValueError("index of another version")
        index = S.register(tantivy.Index.open(str(path / "tantivy")))
        return cls(path, index, pl.read_parquet(path / "qa.parquet"), pl.read_parquet(path / "tags.parquet"), state)

    def save(self) -> None:
        _write_parquet(self.qa, self.path / "qa.parquet")
        _write_parquet(self.tags, self.path / "tags.parquet")
        tmp = self.path / "state.json.tmp"
        tmp.write_text(json.dumps(self.state))
        os.replace(tmp, self.path / "state.json")


def _write_parquet(df: pl.DataFrame, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    df.write_parquet(tmp, compression="lz4")
    os.replace(tmp, path)


def current_name(index_dir: Path) -> str | None:
    try:
        return (index_dir / CURRENT).read_text().strip() or None
    except OSError:
        return None


def open_current(index_dir: Path) -> Generation | None:
    name = current_name(index_dir)
    if not name:
        return None
    try:
        return Generation.open(index_dir / name)
    except (OSError, ValueError, KeyError, pl.exceptions.PolarsError) as e:
        log.info("search index %s not usable (%s); rebuilding", name, e)
        return None


@dataclass
class IndexReport:
    full: bool = False
    sessions: int = 0
    messages: int = 0
    tool_results: int = 0
    qa_pairs: int = 0
    tagged_sessions: int = 0
    prompts: int = 0
    projects: int = 0
    docs_added: int = 0
    stages: dict[str, float] = field(default_factory=dict)
    elapsed_ms: float = 0.0


def _session_counts(msgs: pl.DataFrame, pairs: pl.DataFrame) -> dict[str, tuple[int, int, int]]:
    m = msgs.group_by(S.SESSION).agg((pl.col(S.KIND) != S.K_TOOL_RESULT).sum().alias("m"),
                                     (pl.col(S.KIND) == S.K_TOOL_RESULT).sum().alias("r"))
    q = pairs.group_by("session_id").agg(pl.len().alias("q")).rename({"session_id": S.SESSION})
    j = m.join(q, on=S.SESSION, how="full", coalesce=True).fill_null(0)
    return {sid: (int(a), int(b), int(c)) for sid, a, b, c in j.select(S.SESSION, "m", "r", "q").iter_rows()}


def _models(msgs: pl.DataFrame) -> dict[str, list[str]]:
    g = msgs.filter(pl.col(S.MODEL).is_not_null()).group_by(S.SESSION).agg(pl.col(S.MODEL).unique().sort())
    return dict(g.iter_rows())


def _maps(cat: Catalog) -> tuple[dict[str, str], dict[str, str]]:
    p = cat.snapshot.projects.select("id", "path")
    by_id = dict(p.iter_rows())
    by_path: dict[str, str] = {}
    for pid, path in p.iter_rows():
        by_path.setdefault(path, pid)
    return by_id, by_path


class _Timer:
    def __init__(self, rep: IndexReport):
        self.rep = rep

    def __call__(self, name: str, fn, *args):
        t0 = time.perf_counter()
        out = fn(*args)
        self.rep.stages[name] = self.rep.stages.get(name, 0.0) + time.perf_counter() - t0
        return out


def _qa_and_tags(entries: pl.DataFrame, blocks: pl.DataFrame, timer: _Timer) -> tuple[pl.DataFrame, pl.DataFrame]:
    pairs = timer("qa", qa.extract_frame, entries, blocks)
    auto = timer("tags", lambda: tags.auto_tags(*tag_inputs(entries, blocks)))
    return pairs, auto


def _side(out: dict, entries: pl.DataFrame, blocks: pl.DataFrame, timer: _Timer) -> None:
    try:
        out["result"] = _qa_and_tags(entries, blocks, timer)
    except BaseException as e:  # noqa: BLE001 - handed to the caller
        out["error"] = e


def _record(state: dict, msgs: pl.DataFrame, pairs: pl.DataFrame, sigs: dict, only: set[str] | None) -> None:
    counts = _session_counts(msgs, pairs)
    models = _models(msgs)
    now = now_iso()
    ss = state.setdefault("sessions", {})
    for sid, (sig, project) in sigs.items():
        if only is not None and sid not in only:
            continue
        m, r, q = counts.get(sid, (0, 0, 0))
        ss[sid] = {"sig": sig, "project": project, "messages": m, "tool_results": r, "qa": q,
                   "models": models.get(sid, []), "indexed_at": now}


def build_full(cat: Catalog, index_dir: Path) -> tuple[Generation, IndexReport]:
    """Index everything into a new generation and make it current."""
    t_start = time.perf_counter()
    rep = IndexReport(full=True)
    index_dir.mkdir(parents=True, exist_ok=True)
    name = f"gen-{int(time.time() * 1000)}-{os.getpid()}"
    path = index_dir / name
    (path / "tantivy").mkdir(parents=True)
    try:
        index = S.register(tantivy.Index(S.build_schema(), path=str(path / "tantivy")))
        writer = index.writer(heap_size=FULL_HEAP, num_threads=THREADS)
        snap = cat.snapshot
        by_id, by_path = _maps(cat)
        timer = _Timer(rep)
        entries, blocks = timer("read", load_rows, cat)
        msgs = timer("messages", message_docs, entries, blocks, snap.responses, by_id)
        # Q&A and tags (mostly Polars, which releases the GIL) are derived while the writer indexes
        side: dict = {}
        worker = threading.Thread(target=_side, args=(side, entries, blocks, timer), name="ccsgen-qa-tags")
        worker.start()
        t0 = time.perf_counter()
        n = add_docs(writer, msgs)
        rep.stages["add"] = time.perf_counter() - t0
        worker.join()
        if "error" in side:
            raise side["error"]
        pairs, auto = side["result"]
        del entries, blocks
        t0 = time.perf_counter()
        n += add_docs(writer, session_docs(snap.sessions, by_id))
        n += add_docs(writer, prompt_docs(snap.prompts, by_path))
        n += add_docs(writer, qa_docs(pairs))
        rep.stages["add"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        writer.commit()
        writer.wait_merging_threads()
        rep.stages["commit"] = time.perf_counter() - t0
        index.reload()
        gen = Generation(path, index, pairs, auto, {
            "schema_version": S.SCHEMA_VERSION, "polars": pl.__version__, "created_at": now_iso(),
            "prompts_sig": prompts_sig(snap.prompts), "prompts": snap.prompts.height, "sessions": {},
        })
        _record(gen.state, msgs, pairs, session_sigs(snap.sessions), None)
        gen.save()
        _point_current(index_dir, name)
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise
    _remove_old(index_dir, keep=name)
    rep.docs_added = n
    _fill_report(rep, gen)
    rep.elapsed_ms = round((time.perf_counter() - t_start) * 1000, 1)
    log.info("search index built: %d docs in %.0f ms", n, rep.elapsed_ms)
    return gen, rep


def update(gen: Generation, cat: Catalog, hint: set[str] | None = None) -> IndexReport | None:
    """Re-index the sessions whose rows changed (and drop vanished ones); None when nothing changed."""
    t_start = time.perf_counter()
    snap = cat.snapshot
    sigs = session_sigs(snap.sessions)
    old = gen.state.get("sessions", {})
    changed = {sid for sid, (sig, _p) in sigs.items() if old.get(sid, {}).get("sig") != sig}
    changed |= {s for s in (hint or ()) if s in sigs}
    removed = set(old) - set(sigs)
    psig = prompts_sig(snap.prompts)
    prompts_changed = gen.state.get("prompts_sig") != psig
    if not changed and not removed and not prompts_changed:
        return None
    rep = IndexReport(full=False, sessions=len(changed))
    by_id, by_path = _maps(cat)
    writer = gen.index.writer(heap_size=UPDATE_HEAP, num_threads=1)
    try:
        for sid in changed | removed:
            writer.delete_documents_by_term(S.OWNER, sid)
        n = 0
        if changed:
            timer = _Timer(rep)
            entries, blocks = timer("read", load_rows, cat, changed)
            responses = snap.responses.filter(pl.col("session_id").is_in(sorted(changed)))
            msgs = timer("messages", message_docs, entries, blocks, responses, by_id)
            pairs, auto = _qa_and_tags(entries, blocks, timer)
            n += add_docs(writer, msgs)
            n += add_docs(writer, session_docs(snap.sessions.filter(pl.col("session_id").is_in(sorted(changed))),
                                               by_id))
            n += add_docs(writer, qa_docs(pairs))
        else:
            msgs = pl.DataFrame(schema=DOC_SCHEMA)
            pairs = pl.DataFrame(schema=qa.QA_SCHEMA)
            auto = tags.empty_tags()
        if prompts_changed:
            writer.delete_documents_by_term(S.OWNER, S.HISTORY_OWNER)
            n += add_docs(writer, prompt_docs(snap.prompts, by_path))
        t0 = time.perf_counter()
        writer.commit()
        rep.stages["commit"] = time.perf_counter() - t0
    except BaseException:
        writer.rollback()
        raise
    finally:
        del writer
    gen.index.reload()
    drop = sorted(changed | removed)
    gen.qa = pl.concat([gen.qa.filter(~pl.col("session_id").is_in(drop)), pairs.cast(qa.QA_SCHEMA)])
    gen.tags = pl.concat([gen.tags.filter(~pl.col("session_id").is_in(drop)), auto]).sort(
        ["session_id", "category", "score", "tag"], descending=[False, False, True, False])
    for sid in removed:
        gen.state["sessions"].pop(sid, None)
    _record(gen.state, msgs, pairs, sigs, changed)
    gen.state["prompts_sig"] = psig
    gen.state["prompts"] = snap.prompts.height
    gen.save()
    rep.docs_added = n
    _fill_report(rep, gen)
    rep.sessions = len(changed)
    rep.elapsed_ms = round((time.perf_counter() - t_start) * 1000, 1)
    log.info("search index updated: %d sessions, %d removed, %d docs in %.0f ms", len(changed), len(removed), n,
             rep.elapsed_ms)
    return rep


def _fill_report(rep: IndexReport, gen: Generation) -> None:
    ss = gen.state.get("sessions", {})
    if rep.full:
        rep.sessions = len(ss)
    rep.messages = sum(v.get("messages", 0) for v in ss.values())
    rep.tool_results = sum(v.get("tool_results", 0) for v in ss.values())
    rep.projects = len({v.get("project") for v in ss.values() if v.get("messages")})
    rep.qa_pairs = gen.qa.height
    rep.tagged_sessions = gen.tags.get_column("session_id").n_unique() if gen.tags.height else 0
    rep.prompts = gen.state.get("prompts", 0)
    rep.stages = {k: round(v, 3) for k, v in rep.stages.items()}


def _point_current(index_dir: Path, name: str) -> None:
    tmp = index_dir / f"{CURRENT}.{os.getpid()}.tmp"
    tmp.write_text(name)
    os.replace(tmp, index_dir / CURRENT)


def _remove_old(index_dir: Path, keep: str) -> None:
    """Drop other generations (open readers keep their files: POSIX unlink semantics)."""
    for p in index_dir.glob("gen-*"):
        if p.name != keep and p.is_dir():
            # a generation younger than a minute may be another process's build in progress
            try:
                if time.time() - p.stat().st_mtime < 60 and not (p / "state.json").is_file():
                    continue
            except OSError:
                continue
            shutil.rmtree(p, ignore_errors=True)
