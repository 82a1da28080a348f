"""Search, Q&A and tags behind the Catalog: ``attach(cat)`` once, then ``service(cat).<method>``.

    from ccsgen import search
    search.attach(cat)                                   # Catalog does this
    search.service(cat).search_messages("flaky test", project="-home-me-app", order="recency")

The index lives in ``cfg.index_dir`` and is built on first use (or by ``reindex``); after a
``cat.refresh()`` the sessions whose rows changed are re-indexed (the ``on_refresh`` hook). Every method
returns plain dicts/lists in the wire shapes of the seeds (see each docstring); timestamps are UTC
``…Z`` with milliseconds. Bad dates raise ValueError, unknown session ids raise ``catalog.NotFound``; a bad
query never raises.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from typing import TYPE_CHECKING

import polars as pl
import tantivy

from .. import qa as qa_mod
from .. import tags as tags_mod
from ..lock import cache_lock, file_sig
from . import indexer
from . import query as Q
from . import schema as S

if TYPE_CHECKING:
    from ..build import BuildReport
    from ..catalog import Catalog

log = logging.getLogger(__name__)

__all__ = ["attach", "service", "SearchService", "bench_queries"]

MAX_LIMIT = 500
ORDERS = {"relevance": False, "score": False, "recency": True, "recent": True, "date": True, "newest": True}
DEFAULT_BENCH_QUERIES = (
    "error", "test", "refactor", "database migration", '"the test"', "fix OR bug", "config -docker",
    "role:user deploy", "tool:bash pytest", "perf*", "import", "how do i", "kind:tool_result traceback",
    "session:0", "model:sonnet api",
)


def attach(cat: Catalog) -> None:
    """Give ``cat`` a search service (``cat.extensions["search"]``) and keep it fresh on ``cat.refresh()``."""
    if "search" in cat.extensions:
        return
    svc = SearchService(cat)
    cat.extensions["search"] = svc
    cat.extensions.setdefault("on_refresh", []).append(svc.on_refresh)


def service(cat: Catalog) -> SearchService:
    attach(cat)
    return cat.extensions["search"]


def bench_queries(cat: Catalog, queries=DEFAULT_BENCH_QUERIES, repeat: int = 3, **kw) -> dict:
    """Latency of ``search_messages`` (snippets included) over ``queries``: {p50_ms, p90_ms, p99_ms, …}."""
    svc = service(cat)
    svc.generation()
    return Q.bench(lambda q: svc.search_messages(q, **kw), list(queries), repeat=repeat)


def _int_id(key: str) -> int:
    """A stable integer id (< 2**48, safe in JavaScript) for a document key."""
    return int(hashlib.blake2b(key.encode("utf-8"), digest_size=6).hexdigest(), 16)


class SearchService:
    """The index, Q&A pairs and tags of one Catalog."""

    def __init__(self, cat: Catalog):
        self.cat = cat
        self.index_dir = cat.cfg.index_dir
        self.manual = tags_mod.ManualTags(cat.cfg.data_dir)
        self.last_report: indexer.IndexReport | None = None
        self._lock = threading.RLock()
        self._gen: indexer.Generation | None = None
        self._gen_sig: tuple | None = None  # _state_sig() of _gen as this process last read or wrote it
        self._seen: tuple | None = None
        self._memo: dict = {}
        self._current_path = os.path.join(self.index_dir, indexer.CURRENT)
        self._current_seen: tuple | None = None  # (stat signature of CURRENT, its name)

    # ------------------------------------------------------------ lifecycle

    def _current_name(self) -> str | None:
        """``indexer.current_name``, read again only when ``CURRENT`` changed (it is replaced atomically, so a new
        generation is a new inode): one ``stat`` per query instead of an open and a read."""
        sig = file_sig(self._current_path)
        got = self._current_seen
        if sig is None or got is None or got[0] != sig:
            got = self._current_seen = (sig, indexer.current_name(self.index_dir))
        return got[1]

    def _state_sig(self, name: str | None) -> tuple | None:
        """The stat of generation ``name``'s ``state.json``: rewritten (by rename) after every commit."""
        return file_sig(os.path.join(self.index_dir, name, "state.json")) if name else None

    def generation(self, hint: set[str] | None = None) -> indexer.Generation:
        """The live generation, caught up with the catalog's tables (built on first use).

        Other processes (server workers, ``ccsgen build``) may write the same index: every write happens
        under the cache dir's lock, and a generation another process changed on disk is opened again before
        this one writes to it. A search never waits for another writer: it answers from the index as it is
        and the next call catches up."""
        key = (self.cat.snapshot.loaded_at, self._current_name())
        if self._gen is not None and self._seen == key and not hint:
            return self._gen
        with self._lock:
            blocking = bool(hint) or self._gen is None and indexer.current_name(self.index_dir) is None
            with cache_lock(self.cat.cfg.cache_dir, blocking=blocking) as got:
                self._reopen_if_changed()  # reading is safe without the lock: every file is replaced by rename
                if self._gen is None:
                    gen, self.last_report = indexer.build_full(self.cat, self.index_dir)
                    self._use(gen)
                if not got:  # another process holds the cache: catch up next time
                    return self._gen
                try:
                    rep = indexer.update(self._gen, self.cat, hint)
                except Exception as e:  # noqa: BLE001 - an ingest is swapping segments, a disk is full … : keep
                    # serving the index as it is and try again on the next call
                    log.warning("search index not updated (will retry): %s", e)
                    return self._gen
                if rep is not None:
                    self.last_report = rep
                    self._memo = {}
                    self._gen_sig = self._state_sig(self._gen.name)
                self._seen = (self.cat.snapshot.loaded_at, indexer.current_name(self.index_dir))
                return self._gen

    def _use(self, gen: indexer.Generation) -> None:
        self._gen = gen
        self._gen_sig = self._state_sig(gen.name)
        self._memo = {}

    def _reopen_if_changed(self) -> None:
        """Open the current generation again when it is not the one held here, or another process committed
        to it since (its ``state.json`` changed)."""
        name = indexer.current_name(self.index_dir)
        if self._gen is not None and self._gen.name == name and self._gen_sig == self._state_sig(name):
            return
        gen = indexer.open_current(self.index_dir)
        if gen is not None:
            self._use(gen)

    def on_refresh(self, cat: Catalog, report: BuildReport) -> None:
        """After ``cat.refresh()``: re-index the sessions whose rows changed (when an index exists)."""
        if self._gen is None and indexer.current_name(self.index_dir) is None:
            return
        self.generation(set(getattr(report, "changed_sessions", None) or ()))

    def reindex(self, full: bool = True) -> dict:
        """Rebuild the index (``full``) or bring it up to date; blocking. Counts and milliseconds."""
        with self._lock, cache_lock(self.cat.cfg.cache_dir):
            if full:
                gen, rep = indexer.build_full(self.cat, self.index_dir)
                self._use(gen)
                self._seen = (self.cat.snapshot.loaded_at, self._gen.name)
            else:
                self._seen = None
                before = self.last_report
                self.generation()
                rep = self.last_report if self.last_report is not before else indexer.IndexReport()
                indexer._fill_report(rep, self._gen)
            self.last_report = rep
        return {
            "projects_indexed": rep.projects, "total_messages_indexed": rep.messages,
            "total_tool_results_indexed": rep.tool_results, "total_qa_indexed": rep.qa_pairs,
            "total_sessions_tagged": rep.tagged_sessions, "total_prompts_indexed": rep.prompts,
            "sessions_indexed": rep.sessions, "documents_added": rep.docs_added, "full": rep.full,
            "stages": rep.stages, "elapsed_ms": rep.elapsed_ms,
        }

    def index_stats(self) -> dict:
        """``/api/search/stats``: {total_messages, total_projects, models, indexed_projects: [{project,
        indexed_at, message_count}], …}."""
        gen = self.generation()
        ss = gen.state.get("sessions", {})
        per: dict[str, dict] = {}
        models: set[str] = set()
        for v in ss.values():
            p = per.setdefault(v["project"], {"project": v["project"], "indexed_at": None, "message_count": 0,
                                              "tool_results": 0, "sessions": 0})
            p["message_count"] += v.get("messages", 0)
            p["tool_results"] += v.get("tool_results", 0)
            p["sessions"] += 1
            if p["indexed_at"] is None or (v.get("indexed_at") or "") > p["indexed_at"]:
                p["indexed_at"] = v.get("indexed_at")
            models.update(v.get("models", []))
        projects = sorted((p for p in per.values() if p["message_count"]),
                          key=lambda p: (-p["message_count"], p["project"] or ""))
        return {
            "total_messages": sum(p["message_count"] for p in per.values()),
            "total_projects": len(projects),
            "models": sorted(models),
            "indexed_projects": projects,
            "total_tool_results": sum(p["tool_results"] for p in per.values()),
            "total_sessions": len(ss),
            "total_prompts": gen.state.get("prompts", 0),
            "total_qa_pairs": gen.qa.height,
            "created_at": gen.state.get("created_at"),
            "index_bytes": sum(f.stat().st_size for f in gen.path.rglob("*") if f.is_file()),
        }

    # ------------------------------------------------------------ resolving filter values

    def _cached(self, name, fn):
        got = self._memo.get((name, self.cat.snapshot.loaded_at))
        if got is None:
            got = fn()
            self._memo[(name, self.cat.snapshot.loaded_at)] = got
        return got

    def project_ids(self, value: str) -> list[str]:
        """Project ids a ``project`` filter names: an id, a path or name, else ids/paths containing it."""
        v = (value or "").strip()
        rows = self._cached("projects", lambda: self.cat.snapshot.projects.select("id", "path", "name").rows())
        if any(pid == v for pid, _p, _n in rows):
            return [v]
        lv = v.lower().rstrip("/")
        exact = [pid for pid, path, name in rows if (path or "").lower().rstrip("/") == lv or (name or "").lower() == lv]
        if exact:
            return exact
        return [pid for pid, path, _n in rows if lv and (lv in pid.lower() or lv in (path or "").lower())]

    def model_names(self, value: str) -> list[str]:
        v = (value or "").strip()
        models = self._cached("models", lambda: sorted(
            self.cat.snapshot.responses.get_column("model").drop_nulls().unique().to_list()))
        if v in models:
            return [v]
        return [m for m in models if v.lower() in m.lower()] or [v]

    def tool_names(self, value: str) -> list[str]:
        v = (value or "").strip().lower()
        tools = self._cached("tools", lambda: sorted(
            {t.lower() for t in self.cat.snapshot.tool_calls.get_column("name").drop_nulls().unique().to_list()}))
        if v.endswith("*"):
            return [t for t in tools if t.startswith(v[:-1])] or [v]
        if v in tools:
            return [v]
        return [t for t in tools if v in t] or [v]

    def _ctx(self, gen: indexer.Generation) -> Q.Context:
        return Q.Context(gen.index, projects=self.project_ids, models=self.model_names, tools=self.tool_names)

    def _session(self, session_id: str) -> str:
        return self.cat.resolve_session(session_id)

    # ------------------------------------------------------------ messages

    def search_messages(self, q: str = "", *, page: int = 1, per_page: int = 20, project: str | None = None,
                        date_from=None, date_to=None, model: str | None = None, role: str | None = None,
                        order: str = "relevance", include_tool_results: bool = False,
                        session_id: str | None = None, limit: int | None = None) -> dict:
        """``/api/search``: {results: [{id, session_id, project, role, content, timestamp, model, tokens_input,
        tokens_output, snippet, relevance, uuid, message_uuid, message_type, project_path, kind}], total, page,
        per_page, total_pages, query, order}. ``limit`` (ccsinfo, up to 500) means page 1 of that size."""
        gen = self.generation()
        ctx = self._ctx(gen)
        if limit is not None:
            page, per_page = 1, min(max(1, int(limit)), MAX_LIMIT)
        else:
            page, per_page = Q.page_args(page, per_page)
        recency = ORDERS.get((order or "relevance").lower(), False)
        flt = Q.filters(ctx, doc_type=None, project=self.project_ids(project) if project else None,
                        role=role or None, model=self.model_names(model) if model else None,
                        date_from=date_from, date_to=date_to)
        if session_id:
            flt.append(tantivy.Query.term_query(gen.index.schema, S.SESSION, self._session(session_id)))
        parsed = Q.parse(q)
        recency = recency or not parsed.has_words
        no_results = [] if include_tool_results or parsed.has("kind") or (role or "").lower() == "tool" else [
            tantivy.Query.term_query(gen.index.schema, S.KIND, S.K_TOOL_RESULT)]
        fields = (S.CONTENT, S.EXTRA) if no_results else (S.CONTENT, S.EXTRA, S.OUTPUT)
        query, terms, _ = Q.build(ctx, q, fields, flt, Q.other_types(ctx, S.T_MESSAGE), unless_words=no_results)
        hits, total = Q.run(gen.index, query, limit=per_page, offset=(page - 1) * per_page, recency=recency)
        results = [self._message(h, terms) for h in hits]
        return {"results": results, "total": total, "page": page, "per_page": per_page,
                "total_pages": Q.total_pages(total, per_page), "query": q, "order": "recency" if recency else
                "relevance"}

    def _message(self, h: Q.Hit, terms: Q.Terms) -> dict:
        d = h.doc
        content, extra = d.get(S.CONTENT) or d.get(S.OUTPUT) or "", d.get(S.EXTRA) or ""
        role = d.get(S.ROLE)
        return {
            "id": _int_id(d.get(S.KEY, "")),
            "session_id": d.get(S.SESSION),
            "project": d.get(S.PROJECT),
            "role": role,
            "content": Q.clip(content or extra),
            "timestamp": Q.iso_ms(d.get(S.TS)),
            "model": d.get(S.MODEL),
            "tokens_input": d.get(S.TOKENS_IN) or 0,
            "tokens_output": d.get(S.TOKENS_OUT) or 0,
            "snippet": Q.best_snippet([content, extra], terms),
            "relevance": round(h.score, 4),
            "uuid": d.get(S.UUID),
            "message_uuid": d.get(S.UUID),
            "message_type": role,
            "project_path": d.get(S.PATH),
            "kind": d.get(S.KIND),
        }

    # ------------------------------------------------------------ sessions and prompts

    def search_sessions(self, q: str = "", *, limit: int = 50, project: str | None = None,
                        order: str = "relevance") -> list[str]:
        """``/search``: ids of sessions whose id, slug, title, cwd, git branch or project path match ``q``
        (indexed words, then plain substrings), in relevance or recency order."""
        gen = self.generation()
        ctx = self._ctx(gen)
        limit = min(max(1, int(limit or 50)), MAX_LIMIT)
        recency = ORDERS.get((order or "relevance").lower(), False)
        pids = self.project_ids(project) if project else None
        sessions = self.cat.snapshot.sessions
        if pids is not None:
            sessions = sessions.filter(pl.col("project").is_in(pids))
        if not (q or "").strip():
            return sessions.sort("last_ts", descending=True, nulls_last=True).head(limit) \
                .get_column("session_id").to_list()
        query, _terms, _ = Q.build(ctx, q, (S.CONTENT,), Q.filters(ctx, doc_type=S.T_SESSION, project=pids))
        hits, _total = Q.run(gen.index, query, limit=MAX_LIMIT)
        ids = [h.doc.get(S.SESSION) for h in hits]
        needle = q.strip().lower()
        paths = self.cat.snapshot.projects.select(pl.col("id").alias("project"), pl.col("path").alias("_ppath"))
        sub = sessions.join(paths, on="project", how="left").filter(pl.any_horizontal(
            pl.col(c).cast(pl.String).fill_null("").str.to_lowercase().str.contains(needle, literal=True)
            for c in ("session_id", "slug", "title", "cwd", "git_branch", "_ppath", "project")
        )).sort("last_ts", descending=True, nulls_last=True).get_column("session_id").to_list()
        seen = set(ids)
        ids += [s for s in sub if s not in seen]
        if recency:
            last = dict(self.cat.snapshot.sessions.select("session_id", "last_ts").iter_rows())
            ids.sort(key=lambda s: (last.get(s) is not None, last.get(s)), reverse=True)
        return ids[:limit]

    def search_prompts(self, q: str = "", *, limit: int = 50, project: str | None = None, date_from=None,
                       date_to=None, order: str = "relevance") -> list[dict]:
        """``/search/history``: [{project_path, prompt, session_id, timestamp, snippet}] from history.jsonl."""
        gen = self.generation()
        ctx = self._ctx(gen)
        limit = min(max(1, int(limit or 50)), MAX_LIMIT)
        recency = ORDERS.get((order or "relevance").lower(), False) or not (q or "").strip()
        flt = Q.filters(ctx, doc_type=S.T_PROMPT, date_from=date_from, date_to=date_to)
        if project:
            pids = self.project_ids(project)
            flt.append(Q._any([Q._terms(gen.index.schema, S.PROJECT, pids),
                               tantivy.Query.term_query(gen.index.schema, S.PATH, project)]))
        query, terms, _ = Q.build(ctx, q, (S.CONTENT,), flt)
        hits, _ = Q.run(gen.index, query, limit=limit, recency=recency)
        return [{"project_path": h.doc.get(S.PATH), "prompt": h.doc.get(S.CONTENT) or "",
                 "session_id": h.doc.get(S.SESSION), "timestamp": Q.iso_ms(h.doc.get(S.TS)),
                 "snippet": Q.best_snippet([h.doc.get(S.CONTENT) or ""], terms)} for h in hits]

    # ------------------------------------------------------------ Q&A

    def qa_list(self, *, search: str | None = None, project: str | None = None, date_from=None, date_to=None,
                resolution_status: str | None = None, session_id: str | None = None, page: int = 1,
                per_page: int = 20) -> dict:
        """``/api/qa``: {results: [pair], total, page, per_page, total_pages}; newest first, or by relevance
        with ``search`` (then each pair has ``question_snippet`` and ``answer_snippet``)."""
        gen = self.generation()
        page, per_page = Q.page_args(page, per_page)
        status = (resolution_status or "").strip().lower() or None
        if status and status not in qa_mod.STATUSES:
            raise ValueError(f"invalid resolution_status {resolution_status!r}: one of {', '.join(qa_mod.STATUSES)}")
        pids = self.project_ids(project) if project else None
        sid = self._session(session_id) if session_id else None
        if not (search or "").strip():
            df = qa_mod.filter_pairs(gen.qa, project=pids, date_from=date_from, date_to=date_to,
                                     resolution_status=status, session_id=sid)
            df = df.sort(["timestamp", "id"], descending=[True, False], nulls_last=True)
            total = df.height
            rows = df.slice((page - 1) * per_page, per_page).to_dicts()
            results = [{**qa_mod.as_dict(r), "question_snippet": None, "answer_snippet": None} for r in rows]
        else:
            ctx = self._ctx(gen)
            flt = Q.filters(ctx, doc_type=S.T_QA, project=pids, date_from=date_from, date_to=date_to, status=status)
            if sid:
                flt.append(tantivy.Query.term_query(gen.index.schema, S.SESSION, sid))
            query, terms, _ = Q.build(ctx, search, (S.CONTENT, S.EXTRA), flt)
            hits, total = Q.run(gen.index, query, limit=per_page, offset=(page - 1) * per_page)
            ids = [h.doc.get(S.KEY) for h in hits]
            by_id = {r["id"]: r for r in gen.qa.filter(pl.col("id").is_in(ids)).to_dicts()}
            results = []
            for i in ids:
                r = by_id.get(i)
                if r is None:
                    continue
                d = qa_mod.as_dict(r)
                d["question_snippet"] = Q.best_snippet([d["question_text"]], terms)
                d["answer_snippet"] = Q.best_snippet([d["answer_text"], "\n".join(d["code_snippets"])], terms)
                results.append(d)
        return {"results": results, "total": total, "page": page, "per_page": per_page,
                "total_pages": Q.total_pages(total, per_page)}

    def qa_get(self, qa_id: str) -> dict | None:
        """``/api/qa/{id}``: one pair (plus ``created_at``, when it was indexed), or None."""
        gen = self.generation()
        df = gen.qa.filter(pl.col("id") == (qa_id or "").strip().lower())
        if not df.height:
            return None
        d = qa_mod.as_dict(df.row(0, named=True))
        d["created_at"] = gen.state.get("sessions", {}).get(d["session_id"], {}).get("indexed_at")
        return d

    def qa_stats(self) -> dict:
        """``/api/qa/stats``: {total_pairs, by_project, by_date, indexed_projects, with_code_snippets, by_status}."""
        gen = self.generation()
        at: dict[str, str] = {}
        for v in gen.state.get("sessions", {}).values():
            if (v.get("indexed_at") or "") > at.get(v["project"], ""):
                at[v["project"]] = v["indexed_at"]
        return qa_mod.stats(gen.qa, at)

    # ------------------------------------------------------------ tags

    def _all_tags(self) -> pl.DataFrame:
        gen = self.generation()
        known = set(self.cat.snapshot.sessions.get_column("session_id").to_list())
        manual = self.manual.frame().filter(pl.col("session_id").is_in(list(known)))
        return tags_mod.combined(gen.tags, manual)

    def tags_cloud(self) -> dict:
        """``/api/tags``: {tags: [{name, count, category, color}], total_sessions}."""
        return tags_mod.cloud(self._all_tags(), self.cat.snapshot.sessions.height)

    def sessions_by_tag(self, tag: str) -> dict:
        """``/api/tags/browse/{tag}``: {tag, sessions: [{session_id, project, title, source: [auto|manual]}],
        count}. Exact name first, else any case."""
        return tags_mod.by_tag(self._all_tags(), self.cat.snapshot.sessions, tag)

    def session_tags(self, session_id: str) -> dict:
        """``/api/tags/session/{id}``: {session_id, auto, manual, all, metadata: {name: {color, category}}}."""
        sid = self._session(session_id)
        return tags_mod.for_session(self._all_tags(), sid)

    def add_tag(self, session_id: str, tag: str) -> dict:
        """Add a manual tag: {status: "added"|"exists", tag, session_id}. ValueError for an empty tag."""
        sid = self._session(session_id)
        added, name = self.manual.add(sid, tag)
        return {"status": "added" if added else "exists", "tag": name, "session_id": sid}

    def remove_tag(self, session_id: str, tag: str) -> dict:
        """Remove a manual tag: {status: "removed"|"not_found", tag, session_id}."""
        sid = self._session(session_id)
        names = self.manual.remove(sid, tag)
        return {"status": "removed" if names else "not_found", "tag": names[0] if names else tag,
                "session_id": sid}
