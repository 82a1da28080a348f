"""The Bottle app: both API surfaces, the OpenAPI document, the docs page and the static site, on one port.

    app = make_app(catalog, Settings(host="127.0.0.1", port=8080, out_dir=Path("site")))

Routes come from the declarations in ``ccsinfo.ROUTES`` and ``api.ROUTES`` (see openapi.py); every request
passes the guards first:

- Host header: only the names this server is bound to (localhost, 127.0.0.1, [::1], the bound host, with
  the bound port) — a DNS-rebinding page cannot talk to it (403);
- mutating methods: only ``application/json`` bodies (415), and a foreign ``Origin`` is refused (403), so
  no form post or cross-site script can change anything;
- optional bearer token (401), also accepted once as ``?token=`` (which sets an HttpOnly cookie, so the site
  works in a browser).

Handlers return JSON-ready values; errors go through one place (:func:`_render_error`) in the shape of
the route's surface. Answers of routes declared ``cacheable`` are kept in a bounded response cache, sent
gzip-encoded to clients that accept it; respcache.py says what the cache keys hold and why no answer is
served after what it was computed from changed (``Cache-Control: no-cache`` computes an answer afresh).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bottle
import orjson

from .. import __version__, views
from ..catalog import Ambiguous, Catalog, NotFound
from ..userdata import UserData, UserDataError, open_userdata
from . import api, ccsinfo
from .openapi import ApiError, Invalid, Route, Unavailable, parse_body, parse_params, spec
from .respcache import (
    GZIP_MIN,
    LRU,
    Entry,
    IndexFingerprint,
    SingleFlight,
    accepts_gzip,
    cache_key,
    generation,
    streamed,
    wants_fresh,
)

log = logging.getLogger(__name__)

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
WILDCARD_HOSTS = ("0.0.0.0", "::", "")
MUTATING = ("POST", "PUT", "PATCH", "DELETE")
MAX_BODY = 1_000_000
#: the response cache (see respcache.py): entries, largest body kept, bytes in all
RESPONSE_CACHE = dict(size=1024, max_bytes=16_000_000, max_total=128_000_000)
TOKEN_COOKIE = "ccsgen_token"
#: service -> the Catalog methods it needs (ccsgen/search adds them)
SERVICE_METHODS = {
    "search": ("search_messages", "reindex", "index_stats"),
    "qa": ("qa_list", "qa_get", "qa_stats", "reindex_qa"),
    "tags": ("tags_cloud", "sessions_by_tag", "session_tags", "add_tag", "remove_tag", "reindex_tags"),
}
#: first path segments the API owns; the site must not use them
RESERVED = ("api", "sessions", "projects", "tasks", "stats", "search", "health", "info", "docs", "openapi.json")


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int | None = 8080  # None: accept any port in the Host header (tests)
    token: str | None = None
    out_dir: Path | None = None  # the static site; None serves no pages
    allowed_hosts: tuple[str, ...] = ()  # extra Host names to accept (e.g. a LAN name with --host 0.0.0.0)


class State:
    """Server-wide mutable state: the current project (StackUnderflow's), refreshes in progress, and the write
    epoch (bumped after every write and refresh; part of every response-cache key)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.current_project: str | None = None
        self._refreshing = 0
        self.epoch = 0

    def set_project(self, pid: str | None) -> None:
        with self._lock:
            self.current_project = pid
            self.epoch += 1

    def bump(self) -> None:
        """Something may have changed: no answer cached before now is served again."""
        with self._lock:
            self.epoch += 1

    @property
    def refreshing(self) -> bool:
        return self._refreshing > 0

    def begin_refresh(self) -> None:
        with self._lock:
            self._refreshing += 1

    def end_refresh(self) -> None:
        with self._lock:
            self._refreshing -= 1


class Context:
    """What a handler gets: the shared Catalog, user data, server state and settings."""

    def __init__(self, cat: Catalog, settings: Settings, userdata: UserData | None, state: State | None = None):
        self.cat = cat
        self.settings = settings
        self.userdata = userdata
        self.state = state or State()
        # per-project frames are big (a project's messages): keep a few; serialised statistics: more
        self._caches = {"frames": LRU(size=8), "json": LRU(size=64, max_bytes=64_000_000, max_total=192_000_000)}
        self.index_fingerprint = IndexFingerprint(cat.cfg.index_dir)

    def cached(self, kind: str, key, fn):
        """``fn()`` computed once per Catalog snapshot (bounded LRU per ``kind``)."""
        loaded_at = self.cat.snapshot.loaded_at
        full = (loaded_at, key)
        got = self._caches[kind].get(full)
        if got is None:
            got = fn()
            self._caches[kind].put(full, got, loaded_at)  # and drop what older snapshots left
        return got

    def services(self) -> dict[str, bool]:
        declared = self.cat.extensions.get("services", {}) if isinstance(self.cat.extensions, dict) else {}
        out = {}
        for name, methods in SERVICE_METHODS.items():
            out[name] = all(callable(getattr(self.cat, m, None)) for m in methods) and declared.get(name, True)
        out["bookmarks"] = self.userdata is not None and self.userdata.ping()
        out["pricing"] = getattr(self.cat, "prices", None) is not None
        return out

    def require_service(self, name: str, method: str | None = None) -> None:
        if name == "bookmarks":
            if self.userdata is None:
                raise Unavailable(name)
            return
        declared = self.cat.extensions.get("services", {}) if isinstance(self.cat.extensions, dict) else {}
        if declared.get(name) is False or (method and not callable(getattr(self.cat, method, None))):
            raise Unavailable(name)

    def refresh(self):
        """Incremental re-ingest (Catalog.refresh swaps tables atomically; concurrent callers wait for one)."""
        self.state.begin_refresh()
        try:
            return self.cat.refresh()
        finally:
            self.state.end_refresh()
            self.state.bump()

    def refresh_in_background(self) -> threading.Thread:
        def run() -> None:
            try:
                self.refresh()
            except Exception:  # noqa: BLE001 - a background refresh must not kill the server
                log.exception("background refresh failed")

        t = threading.Thread(target=run, name="ccsgen-refresh", daemon=True)
        t.start()
        return t


# ---------------------------------------------------------------- JSON and errors


def _dumps(value: Any) -> bytes:
    if isinstance(value, api.RawJSON):
        return value  # already JSON (a bytes subclass): no copy
    return api.dumps(value)


def _surface_of(path: str) -> str:
    return "api" if path == "/api" or path.startswith("/api/") else "ccsinfo"


def _error_body(surface: str, status: int, message: str | list) -> bytes:
    if surface == "api":
        return _dumps({"error": message if isinstance(message, str) else "; ".join(
            f"{'.'.join(str(x) for x in e['loc'][1:])}: {e['msg']}" for e in message)})
    return _dumps({"detail": message})


def _json_response(body: bytes, status: int, headers: dict | None = None) -> bottle.HTTPResponse:
    return bottle.HTTPResponse(body=body, status=status,
                               headers={"Content-Type": "application/json", **(headers or {})})


def _render_error(surface: str, exc: BaseException) -> tuple[int, bytes]:
    """The one place exceptions become responses."""
    if isinstance(exc, Invalid):
        return (422, _error_body(surface, 422, exc.errors)) if surface == "ccsinfo" else \
            (400, _error_body(surface, 400, exc.errors))
    if isinstance(exc, ApiError):
        return exc.status, _error_body(surface, exc.status, exc.message)
    if isinstance(exc, Unavailable | NotImplementedError):
        msg = str(exc) if isinstance(exc, Unavailable) else "Service unavailable"
        return 503, _error_body(surface, 503, msg)
    if isinstance(exc, NotFound | Ambiguous):
        return 404, _error_body(surface, 404, str(exc).strip("'\""))
    if isinstance(exc, views.BadRequest | UserDataError):
        return 400, _error_body(surface, 400, str(exc))
    if isinstance(exc, ValueError):
        if surface == "ccsinfo":
            return 422, _error_body(surface, 422, [{"type": "value_error", "loc": ["query"], "msg": str(exc),
                                                    "input": None}])
        return 400, _error_body(surface, 400, str(exc))
    log.error("unhandled error", exc_info=exc)
    return 500, _error_body(surface, 500, "Internal Server Error")


def _query_get(name: str) -> str | None:
    vals = bottle.request.query.getall(name)
    if not vals:
        return None
    try:
        return vals[-1].encode("latin1").decode("utf-8")
    except UnicodeError:
        raise Invalid([{"type": "string_unicode", "loc": ["query", name], "msg": "Input should be valid UTF-8",
                        "input": None}]) from None


def _read_json_body() -> Any:
    req = bottle.request
    n = req.content_length
    if n > MAX_BODY:
        raise ApiError(413, "Request body too large")
    raw = req.body.read(MAX_BODY + 1) if n != 0 else b""
    if len(raw) > MAX_BODY:
        raise ApiError(413, "Request body too large")
    if not raw.strip():
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError(400, "Invalid JSON body") from None


def _endpoint(route: Route, ctx: Context, cache: LRU, flights: SingleFlight):
    mutating = route.method in MUTATING

    def handle(**path: str):
        env = bottle.request.environ
        key = entry = None
        leader = False
        fresh = wants_fresh(env)
        try:
            ctx.cat.sync()  # tables another process wrote (a server worker's refresh, `ccsgen build`)
            if route.cacheable:
                key = cache_key(route, ctx, path, bottle.request.query_string)
                entry = cache.get(key)
                if entry is None and not fresh:
                    running = flights.lead(key)
                    if running is None:
                        leader = True
                    else:  # the same answer is being computed: wait for it (computed here if that failed)
                        running.wait(flights.WAIT_SECONDS)
                        entry = cache.get(key)
            if entry is None or fresh:
                kwargs = parse_params(route, _query_get, path)
                if route.body is not None:
                    kwargs["body"] = parse_body(route, _read_json_body())
                body = _dumps(route.handler(ctx, **kwargs))
                if key is None:
                    return _send(env, route.status, body)
                if entry is None or entry.body != body:  # the same answer keeps its gzip encoding
                    entry = Entry(body)
                    cache.put(key, entry, generation(key))
            return _send_entry(env, route.status, entry, cache, key)
        except Exception as e:  # noqa: BLE001 - one error handler, shaped by the surface
            status, body = _render_error(route.surface, e)
            return _send(env, status, body)
        finally:
            if leader:
                flights.done(key)
            if mutating:  # whatever it changed, answers cached before it are not served after it
                ctx.state.bump()

    handle.__name__ = route.handler.__name__
    return handle


def _send(env: dict, status: int, body: bytes):
    resp = bottle.response
    if status != 200:
        resp.status = status
    resp.content_type = "application/json"
    out = streamed(env, body)
    if out is not body:  # a file: Bottle cannot know its length
        resp.content_length = len(body)
    return out


def _send_entry(env: dict, status: int, entry: Entry, cache: LRU, key):
    """A cached answer, gzip-encoded when the client accepts it and it is worth it."""
    body = entry.body
    if len(body) >= GZIP_MIN:
        bottle.response.set_header("Vary", "Accept-Encoding")
        if accepts_gzip(env):
            had = entry.gz is not None
            body = entry.gzipped()
            if not had:
                cache.grew(key)
            bottle.response.set_header("Content-Encoding", "gzip")
    return _send(env, status, body)


# ---------------------------------------------------------------- guards


def _split_host(value: str) -> tuple[str, int | None] | None:
    value = value.strip().lower()
    if not value:
        return None
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        name, rest = value[: end + 1], value[end + 1:]
        if rest and not rest.startswith(":"):
            return None
        port_s = rest[1:] if rest else ""
    else:
        name, _, port_s = value.partition(":")
    if port_s:
        if not port_s.isdigit() or len(port_s) > 5:
            return None
        return name.rstrip("."), int(port_s)
    return name.rstrip("."), None


def _is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
        return True
    except ValueError:
        return False


def host_allowed(host_header: str, settings: Settings) -> bool:
    """DNS-rebinding guard: is this Host one of the names this server answers to?"""
    parsed = _split_host(host_header)
    if parsed is None:
        return False
    name, port = parsed
    bound = settings.host.strip().lower()
    if ":" in bound and not bound.startswith("["):
        bound = f"[{bound}]"
    names = {*LOOPBACK_NAMES, bound, *(h.lower() for h in settings.allowed_hosts)}
    ok = name in names or (settings.host in WILDCARD_HOSTS and _is_ip_literal(name))
    if not ok:
        return False
    return port is None or settings.port is None or port == settings.port


def _media_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def _guards(ctx: Context):
    settings = ctx.settings

    def check() -> None:
        env = bottle.request.environ
        path = env.get("PATH_INFO") or "/"
        surface = _surface_of(path)
        host = env.get("HTTP_HOST")
        if not host:
            raise _json_response(_error_body(surface, 400, "Missing Host header"), 400)
        if not host_allowed(host, settings):
            raise _json_response(_error_body(surface, 403, "Host not allowed"), 403)
        method = env.get("REQUEST_METHOD", "GET").upper()
        if method in MUTATING:
            origin = env.get("HTTP_ORIGIN")
            if origin and origin != "null":
                hostpart = origin.split("://", 1)[-1].split("/", 1)[0]
                if not host_allowed(hostpart, settings):
                    raise _json_response(_error_body(surface, 403, "Cross-origin request refused"), 403)
            has_body = bottle.request.content_length > 0 or "chunked" in env.get("HTTP_TRANSFER_ENCODING", "")
            if (method != "DELETE" or has_body) and _media_type(env.get("CONTENT_TYPE")) != "application/json":
                raise _json_response(_error_body(surface, 415, "Content-Type must be application/json"), 415)
        if settings.token:
            _check_token(settings.token, surface)

    return check


def _check_token(token: str, surface: str) -> None:
    req = bottle.request
    auth = req.environ.get("HTTP_AUTHORIZATION", "")
    given = auth[7:].strip() if auth[:7].lower() == "bearer " else None
    if given is None:
        given = req.get_cookie(TOKEN_COOKIE)
    from_query = None
    if given is None:
        from_query = req.query.get("token")
        given = from_query
    if not given or not hmac.compare_digest(given.encode("utf-8", "replace"), token.encode()):
        raise _json_response(_error_body(surface, 401, "Missing or invalid bearer token"), 401,
                             {"WWW-Authenticate": "Bearer"})
    if from_query:
        bottle.response.set_cookie(TOKEN_COOKIE, token, path="/", httponly=True, samesite="strict")


# ---------------------------------------------------------------- static site and docs


def apidocs_dir() -> Path:
    """The vendored, pinned Swagger UI (ccsgen/vendor/apidocs; see its README for the version)."""
    return Path(__file__).resolve().parents[1] / "vendor" / "apidocs"


def _safe_static(root: Path, rel: str):
    """``bottle.static_file`` inside ``root`` only: no ``..``, no absolute paths, no symlinks leading out."""
    root_real = os.path.realpath(root)
    rel = rel.lstrip("/")
    parts = rel.split("/")
    if any(p in ("..", ".") or "\\" in p or "\x00" in p for p in parts):
        raise bottle.HTTPError(404, "Not Found")
    target = os.path.realpath(os.path.join(root_real, rel))
    if target != root_real and not target.startswith(root_real + os.sep):
        raise bottle.HTTPError(404, "Not Found")
    if os.path.isdir(target):
        if rel and not rel.endswith("/"):
            qs = bottle.request.query_string
            raise bottle.HTTPResponse(status=301, headers={"Location": "/" + rel + "/" + ("?" + qs if qs else "")})
        target = os.path.join(target, "index.html")
        rel = (rel + "index.html") if rel else "index.html"
        if not os.path.isfile(target):
            raise bottle.HTTPError(404, "Not Found")
    if not os.path.isfile(target):
        raise bottle.HTTPError(404, "Not Found")
    return bottle.static_file(os.path.relpath(target, root_real), root=root_real, charset="utf-8")


def site_collisions(out_dir: Path | None) -> list[str]:
    """Top-level names in the site that would shadow or be shadowed by API routes."""
    if out_dir is None or not Path(out_dir).is_dir():
        return []
    return sorted(p.name for p in Path(out_dir).iterdir() if p.name in RESERVED)


# ---------------------------------------------------------------- the app


def all_routes() -> list[Route]:
    return [*ccsinfo.ROUTES, *api.ROUTES]


def openapi_document(settings: Settings | None = None) -> dict:
    settings = settings or Settings()
    return spec(
        all_routes(), title="ccsgen", version=__version__,
        description="Claude Code logs as a JSON API: the ccsinfo routes at the root (errors `{\"detail\": …}`) "
                    "and the StackUnderflow routes under `/api/` (errors `{\"error\": …}`).",
        components={**ccsinfo.COMPONENTS, **api.COMPONENTS}, secured=bool(settings.token),
    )


def make_app(catalog: Catalog, settings: Settings | None = None, userdata: UserData | None = None,
             state: State | None = None) -> bottle.Bottle:
    """The WSGI app over one shared Catalog. ``userdata`` defaults to ``<data dir>/userdata.sqlite3``;
    ``state`` to one of this process (server workers share a ``workers.SharedState``)."""
    settings = settings or Settings()
    if userdata is None:
        try:
            userdata = open_userdata(catalog.cfg)
        except (OSError, UserDataError) as e:  # bookmarks answer 503, the rest works
            log.error("user data unavailable: %s", e)
            userdata = None
    ctx = Context(catalog, settings, userdata, state)
    app = bottle.Bottle()
    app.config["ccsgen.context"] = ctx
    app.add_hook("before_request", _guards(ctx))

    cache = LRU(**RESPONSE_CACHE)
    flights = SingleFlight()
    for r in all_routes():
        app.route(r.bottle_path, r.method, _endpoint(r, ctx, cache, flights), name=r.operation_id)

    doc = _dumps(openapi_document(settings))

    @app.get("/openapi.json")
    def openapi_json():
        bottle.response.content_type = "application/json"
        return doc

    docs_root = apidocs_dir()

    @app.get("/docs")
    @app.get("/docs/")
    def docs_page():
        return _safe_static(docs_root, "index.html")

    @app.get("/docs/static/<name>")
    def docs_static(name):
        return _safe_static(docs_root, name)

    @app.get("/")
    def index():
        if settings.out_dir and (Path(settings.out_dir) / "index.html").is_file():
            return _safe_static(Path(settings.out_dir), "")
        bottle.response.content_type = "application/json"
        return _dumps({"name": "ccsgen", "version": __version__, "docs": "/docs", "openapi": "/openapi.json",
                       "site": None})

    @app.get("/<rel:path>")
    def site(rel):
        if _surface_of("/" + rel) == "api" or not settings.out_dir:
            raise bottle.HTTPError(404, "Not Found")
        return _safe_static(Path(settings.out_dir), rel)

    def default_error(res: bottle.HTTPError) -> bytes:
        surface = _surface_of(bottle.request.path)
        status = res.status_code
        if status >= 500:
            log.error("server error on %s: %s", bottle.request.path, res.exception)
        msg = {404: "Not Found", 405: "Method Not Allowed"}.get(status, res.body or "Error")
        first = bottle.request.path.lstrip("/").split("/", 1)[0]
        if (settings.out_dir and status == 404 and first not in RESERVED
                and (Path(settings.out_dir) / "404.html").is_file()):
            bottle.response.content_type = "text/html; charset=utf-8"
            return (Path(settings.out_dir) / "404.html").read_bytes()
        bottle.response.content_type = "application/json"
        return _error_body(surface, status, msg if isinstance(msg, str) else "Error")

    app.default_error_handler = default_error
    for bad in site_collisions(settings.out_dir):
        log.warning("site path /%s collides with an API route; the API wins", bad)
    return app


def context_of(app: bottle.Bottle) -> Context:
    return app.config["ccsgen.context"]
