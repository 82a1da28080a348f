"""The StackUnderflow service routes (seeds/004): search, Q&A and tags (delegated to the Catalog's methods,
``ccsgen/search``), bookmarks (``ccsgen/userdata.py``), health and pricing. The route table is in api.py.

Handlers take the request context and validated parameters and return JSON-ready values; a service that is
not there answers 503 (``ctx.require_service``).
"""

from __future__ import annotations

import datetime as dt

from ..catalog import NotFound
from ..pricing import PriceTable, PricingError
from ..stats import iso
from .openapi import ApiError

PER_PAGE_MAX = 100
PRICES_STALE_DAYS = 90


# ---------------------------------------------------------------- search, Q&A, tags (ccsgen/search)


def _check_dates(*vals):
    for v in vals:
        if v is not None:
            try:
                dt.date.fromisoformat(v)
            except ValueError:
                raise ApiError(400, f"Invalid date: {v} (expected YYYY-MM-DD)") from None


def search(ctx, q="", project=None, date_from=None, date_to=None, model=None, role=None, page=1, per_page=20,
           order="relevance"):
    ctx.require_service("search", "search_messages")
    _check_dates(date_from, date_to)
    return ctx.cat.search_messages(q, page=page, per_page=min(per_page, PER_PAGE_MAX), project=project,
                                   date_from=date_from, date_to=date_to, model=model, role=role, order=order)


def search_reindex(ctx, body):
    ctx.require_service("search", "reindex")
    return ctx.cat.reindex()


def search_stats(ctx):
    ctx.require_service("search", "index_stats")
    return ctx.cat.index_stats()


def qa_list(ctx, project=None, date_from=None, date_to=None, search=None, resolution_status=None, page=1,
            per_page=20):
    ctx.require_service("qa", "qa_list")
    _check_dates(date_from, date_to)
    return ctx.cat.qa_list(project=project, date_from=date_from, date_to=date_to, search=search,
                           resolution_status=resolution_status, page=page, per_page=min(per_page, PER_PAGE_MAX))


def qa_get(ctx, qa_id):
    ctx.require_service("qa", "qa_get")
    try:
        got = ctx.cat.qa_get(qa_id)
    except (KeyError, NotFound):
        got = None
    if not got:
        raise ApiError(404, "Q&A pair not found")
    return got


def qa_reindex(ctx, body):
    ctx.require_service("qa", "reindex_qa")
    return ctx.cat.reindex_qa()


def qa_stats(ctx):
    ctx.require_service("qa", "qa_stats")
    return ctx.cat.qa_stats()


def tags_cloud(ctx):
    ctx.require_service("tags", "tags_cloud")
    return ctx.cat.tags_cloud()


def tags_browse(ctx, tag):
    ctx.require_service("tags", "sessions_by_tag")
    got = ctx.cat.sessions_by_tag(tag)
    if isinstance(got, list):
        return {"tag": tag, "sessions": got, "count": len(got)}
    return got


def tags_session(ctx, session_id):
    ctx.require_service("tags", "session_tags")
    return ctx.cat.session_tags(session_id)


def tags_add(ctx, session_id, body):
    ctx.require_service("tags", "add_tag")
    tag = body.get("tag")
    if not isinstance(tag, str) or not tag.strip():
        raise ApiError(400, "Tag is required")
    got = ctx.cat.add_tag(session_id, tag.strip())
    return got if isinstance(got, dict) else {"status": "added", "tag": tag.strip(), "session_id": session_id}


def tags_remove(ctx, session_id, tag):
    ctx.require_service("tags", "remove_tag")
    got = ctx.cat.remove_tag(session_id, tag)
    return got if isinstance(got, dict) else {"status": "removed", "tag": tag, "session_id": session_id}


def tags_reindex(ctx, body):
    ctx.require_service("tags", "reindex_tags")
    return ctx.cat.reindex_tags()


# ---------------------------------------------------------------- bookmarks (ccsgen/userdata.py)


def _session_index(ctx) -> dict[str, tuple]:
    return ctx.cat.memo("su_session_index", lambda: {
        sid: (iso(a), iso(b), int(n)) for sid, a, b, n in
        ctx.cat.sessions.select("session_id", "first_ts", "last_ts", "message_count").iter_rows()})


def _enrich(ctx, bms: list[dict]) -> list[dict]:
    idx = _session_index(ctx)
    for b in bms:
        got = idx.get(b["session_id"])
        if got:
            b["session_first_ts"], b["session_last_ts"], b["session_message_count"] = got
    return bms


def _ud(ctx):
    ctx.require_service("bookmarks")
    return ctx.userdata


def bookmarks_list(ctx, tag=None, sort_by="created_at"):
    return {"bookmarks": _enrich(ctx, _ud(ctx).list_bookmarks(tag=tag, sort_by=sort_by))}


def bookmark_create(ctx, body):
    ud = _ud(ctx)
    if not body.get("session_id"):
        raise ApiError(400, "session_id is required")
    b = ud.create_bookmark(body["session_id"], body.get("message_index"), body.get("title"), body.get("notes"),
                           body.get("tags"))
    return _enrich(ctx, [b])[0]


def bookmark_get(ctx, bookmark_id):
    b = _ud(ctx).get_bookmark(bookmark_id)
    if b is None:
        raise ApiError(404, "Bookmark not found")
    return _enrich(ctx, [b])[0]


def bookmark_update(ctx, bookmark_id, body):
    b = _ud(ctx).update_bookmark(bookmark_id, body.get("title"), body.get("notes"), body.get("tags"))
    if b is None:
        raise ApiError(404, "Bookmark not found")
    return _enrich(ctx, [b])[0]


def bookmark_delete(ctx, bookmark_id):
    if not _ud(ctx).delete_bookmark(bookmark_id):
        raise ApiError(404, "Bookmark not found")
    return {"status": "success", "message": "Bookmark removed"}


def bookmark_toggle(ctx, body):
    ud = _ud(ctx)
    if not body.get("session_id"):
        raise ApiError(400, "session_id is required")
    got = ud.toggle_bookmark(body["session_id"], body.get("message_index"), body.get("title"), body.get("notes"),
                             body.get("tags"))
    if got["action"] == "added":
        _enrich(ctx, [got["bookmark"]])
    return got


def bookmarks_by_session(ctx, session_id):
    return {"bookmarks": _enrich(ctx, _ud(ctx).list_bookmarks(session_id=session_id))}


# ---------------------------------------------------------------- health and pricing


def health(ctx):
    return {"status": "ok", "services": ctx.services()}


def _price_info(pt: PriceTable) -> dict:
    try:
        day = dt.date.fromisoformat(pt.date)
        ts = dt.datetime.combine(day, dt.time(), dt.UTC)
        stale = (dt.datetime.now(dt.UTC) - ts).days > PRICES_STALE_DAYS
        stamp = iso(ts)
    except (TypeError, ValueError):
        stamp, stale = None, True
    src = pt.source + (" + local overrides" if pt.overrides_from else "")
    return {"source": src, "timestamp": stamp, "is_stale": stale}


def pricing(ctx):
    pt = ctx.cat.prices
    return {"pricing": pt.as_api(), **_price_info(pt)}


def pricing_refresh(ctx, body):
    """Reload the bundled table and the user's overrides (offline; never fetches, never hangs)."""
    try:
        pt = PriceTable.load(ctx.cat.cfg.prices_file)
    except (PricingError, OSError, ValueError) as e:
        return {"status": "error", "message": f"Pricing not reloaded, the current table stays in use: {e}",
                **_price_info(ctx.cat.prices)}
    changed = pt != ctx.cat.prices
    ctx.cat.prices = pt
    if changed:
        ctx.refresh_in_background()  # costs are derived at build time: recompute them
    return {"status": "success", "message": f"Pricing updated successfully from {_price_info(pt)['source']}",
            "models": len(pt.models), **_price_info(pt)}
