"""Guards: Host header (DNS rebinding), JSON-only mutations, Origin, bearer token, the static site's paths,
site/API separation, and the OpenAPI document and docs page."""

from __future__ import annotations

import os

import pytest
import server_corpus as C
from webtest import TestApp

from ccsgen.server import Settings, make_app
from ccsgen.server.app import all_routes, host_allowed, openapi_document


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return C.build(tmp_path_factory.mktemp("sec"))


@pytest.fixture(scope="module")
def site(tmp_path_factory, corpus):
    out = tmp_path_factory.mktemp("site")
    (out / "index.html").write_text("<html>ZZINDEXZZ</html>")
    (out / "session" / C.S1).mkdir(parents=True)
    (out / "session" / C.S1 / "index.html").write_text("<html>ZZSESSIONPAGEZZ</html>")
    (out / "project" / C.PROJECT).mkdir(parents=True)
    (out / "project" / C.PROJECT / "index.html").write_text("<html>ZZPROJECTPAGEZZ</html>")
    (out / "static").mkdir()
    (out / "static" / "app.css").write_text("body{}")
    (out / "leak.txt").symlink_to(corpus.outside)
    (out / "leakdir").symlink_to(corpus.outside.parent, target_is_directory=True)
    return out


def mk(corpus, **kw):
    return TestApp(make_app(corpus.cat, Settings(**kw)), extra_environ={"HTTP_HOST": f"127.0.0.1:{kw.get('port', 8080)}"})


# ---------------------------------------------------------------- Host header


@pytest.mark.parametrize(("host", "ok"), [
    ("127.0.0.1:8080", True), ("localhost:8080", True), ("LOCALHOST:8080", True), ("[::1]:8080", True),
    ("localhost", True), ("localhost.:8080", True), ("localhost:9999", False), ("evil.com", False),
    ("evil.com:8080", False), ("127.0.0.1.evil.com:8080", False), ("localhost.evil.com", False),
    ("10.0.0.5:8080", False), ("", False), ("localhost:80:80", False), ("[::1", False), ("localhost:abc", False),
])
def test_host_allowed_on_loopback(host, ok):
    assert host_allowed(host, Settings(host="127.0.0.1", port=8080)) is ok


def test_host_allowed_on_wildcard_accepts_ip_literals_only():
    s = Settings(host="0.0.0.0", port=8080, allowed_hosts=("box.lan",))
    assert host_allowed("192.168.1.20:8080", s)
    assert host_allowed("box.lan:8080", s)
    assert not host_allowed("rebind.attacker.example:8080", s)
    assert host_allowed("myhost:8080", Settings(host="myhost", port=8080))


def test_bad_host_is_refused_with_the_surface_shape(corpus):
    app = mk(corpus, port=8080)
    assert app.get("/health").status_int == 200
    r = app.get("/health", extra_environ={"HTTP_HOST": "evil.com:8080"}, status=403)
    assert r.json == {"detail": "Host not allowed"}
    r = app.get("/api/health", extra_environ={"HTTP_HOST": "evil.com:8080"}, status=403)
    assert r.json == {"error": "Host not allowed"}
    app.get("/api/health", extra_environ={"HTTP_HOST": "localhost:1234"}, status=403)
    app.post_json("/api/bookmarks", {"session_id": C.S1}, extra_environ={"HTTP_HOST": "evil.com"}, status=403)


def test_missing_host_is_400(corpus):
    app = TestApp(make_app(corpus.cat, Settings(port=8080)))
    r = app.get("/api/health", extra_environ={"HTTP_HOST": ""}, status=400)
    assert r.json == {"error": "Missing Host header"}


# ---------------------------------------------------------------- JSON only, Origin


@pytest.mark.parametrize("ctype", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                                   "text/plain", "", "application/jsonx"])
def test_mutations_need_a_json_body(corpus, ctype):
    app = mk(corpus)
    r = app.post("/api/bookmarks", "session_id=x", headers={"Content-Type": ctype} if ctype else {}, status=415)
    assert r.json == {"error": "Content-Type must be application/json"}
    app.put("/api/bookmarks/bm_x", "title=x", headers={"Content-Type": ctype} if ctype else {}, status=415)
    assert app.get("/api/bookmarks").json["bookmarks"] == []  # nothing was written


def test_json_with_charset_is_fine_and_delete_needs_no_body(corpus):
    app = mk(corpus)
    b = app.post("/api/bookmarks", '{"session_id": "s-json"}', content_type="application/json; charset=utf-8",
                 status=201).json
    app.delete(f"/api/bookmarks/{b['id']}", status=200)
    app.delete(f"/api/bookmarks/{b['id']}", params="x=1", content_type="text/plain", status=415)


def test_invalid_json_and_wrong_types_are_400(corpus):
    app = mk(corpus)
    assert app.post("/api/bookmarks", "{nope", content_type="application/json", status=400).json == {
        "error": "Invalid JSON body"}
    app.post("/api/bookmarks", "[1, 2]", content_type="application/json", status=400)
    app.post_json("/api/bookmarks", {"session_id": C.S1, "title": 5}, status=400)
    app.post("/api/bookmarks", b'{"session_id": "' + b"x" * 1_100_000 + b'"}', content_type="application/json",
             status=413)


def test_foreign_origin_cannot_mutate(corpus):
    app = mk(corpus)
    app.post_json("/api/bookmarks", {"session_id": C.S1}, headers={"Origin": "https://evil.example"}, status=403)
    app.post_json("/api/bookmarks", {"session_id": C.S1}, headers={"Origin": "http://127.0.0.1:8080"}, status=201)


# ---------------------------------------------------------------- token


def test_bearer_token(corpus):
    app = mk(corpus, token="s3cret")
    r = app.get("/api/health", status=401)
    assert r.json == {"error": "Missing or invalid bearer token"} and r.headers["WWW-Authenticate"] == "Bearer"
    assert app.get("/health", status=401).json == {"detail": "Missing or invalid bearer token"}
    app.get("/api/health", headers={"Authorization": "Bearer wrong"}, status=401)
    app.get("/api/health", headers={"Authorization": "Bearer s3cret"}, status=200)
    app.get("/", status=401)
    # ?token= once sets an HttpOnly cookie, so a browser can use the site
    r = app.get("/info?token=s3cret", status=200)
    assert "HttpOnly" in r.headers["Set-Cookie"]
    assert app.get("/info").status_int == 200  # the cookie jar now carries it
    assert "securitySchemes" in openapi_document(Settings(token="x"))["components"]


# ---------------------------------------------------------------- static site


def test_site_pages_and_api_never_collide(corpus, site):
    app = mk(corpus, out_dir=site)
    assert "ZZINDEXZZ" in app.get("/").text
    assert "ZZSESSIONPAGEZZ" in app.get(f"/session/{C.S1}/").text
    assert "ZZPROJECTPAGEZZ" in app.get(f"/project/{C.PROJECT}/").text
    assert app.get(f"/session/{C.S1}", status=301).headers["Location"].endswith(f"/session/{C.S1}/")
    assert app.get("/static/app.css").content_type == "text/css"
    assert app.get(f"/sessions/{C.S1}").json["id"] == C.S1  # the API
    assert app.get(f"/projects/{C.PROJECT}").json["id"] == C.PROJECT
    assert app.get("/api/nothing", status=404).json == {"error": "Not Found"}
    from ccsgen.server.app import RESERVED

    assert not {p.name for p in site.iterdir()} & set(RESERVED)


@pytest.mark.parametrize("path", [
    "/../outside/secret.jsonl", "/%2e%2e/outside/secret.jsonl", "/%2e%2e%2foutside%2fsecret.jsonl",
    "/..%2f..%2fetc%2fpasswd", "//etc/passwd", "/leak.txt", "/leakdir/secret.jsonl", "/static/../../outside/secret.jsonl",
    "/%00", "/session/..%5c..%5cx", "/etc/passwd",
])
def test_site_paths_never_leave_the_out_dir(corpus, site, path):
    app = mk(corpus, out_dir=site)
    r = app.get(path, status="*", expect_errors=True)
    assert r.status_int in (400, 403, 404), (path, r.status_int)
    assert C.SECRET not in r.text and "root:" not in r.text


def test_no_site_means_json_index(corpus):
    app = mk(corpus)
    d = app.get("/").json
    assert d["docs"] == "/docs" and d["openapi"] == "/openapi.json"
    assert app.get("/session/x/", status=404).json == {"detail": "Not Found"}


# ---------------------------------------------------------------- OpenAPI and docs


def test_openapi_is_generated_from_the_route_table(corpus):
    app = mk(corpus)
    doc = app.get("/openapi.json").json
    assert doc["openapi"] == "3.1.0"
    ops = {(m.upper(), p) for p, item in doc["paths"].items() for m in item}
    assert ops == {(r.method, r.path) for r in all_routes()}
    sessions = doc["paths"]["/sessions"]["get"]
    limit = next(p for p in sessions["parameters"] if p["name"] == "limit")
    assert limit["schema"]["minimum"] == 1 and limit["schema"]["maximum"] == 500 and limit["schema"]["default"] == 50
    assert "422" in sessions["responses"] and "400" in doc["paths"]["/api/projects"]["get"]["responses"]
    assert "201" in doc["paths"]["/api/bookmarks"]["post"]["responses"]
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(doc)


def test_docs_page_is_offline(corpus):
    app = mk(corpus)
    html = app.get("/docs").text
    assert "/docs/static/swagger-ui-bundle.js" in html and "http" not in html.replace("http-equiv", "")
    assert app.get("/docs/static/swagger-ui-bundle.js").content_length > 100_000
    assert "/openapi.json" in app.get("/docs/static/init.js").text
    app.get("/docs/static/..%2f..%2fserver%2fapp.py", status=404)


def test_every_seed_route_is_declared():
    declared = {(r.method, r.path) for r in all_routes()}
    ccsinfo = ["/sessions", "/sessions/active", "/sessions/{session_id}", "/sessions/{session_id}/messages",
               "/sessions/{session_id}/tools", "/sessions/{session_id}/tasks", "/sessions/{session_id}/progress",
               "/sessions/{session_id}/summary", "/projects", "/projects/{project_id}",
               "/projects/{project_id}/sessions", "/projects/{project_id}/sessions/active",
               "/projects/{project_id}/stats", "/tasks", "/tasks/pending", "/tasks/{task_id}", "/stats",
               "/stats/daily", "/stats/trends", "/search", "/search/messages", "/search/history", "/health", "/info"]
    su = [("GET", "/api/project"), ("POST", "/api/project"), ("POST", "/api/project-by-dir"),
          ("GET", "/api/projects"), ("GET", "/api/recent-projects"), ("GET", "/api/global-stats"),
          ("GET", "/api/stats"), ("GET", "/api/dashboard-data"), ("GET", "/api/messages"),
          ("GET", "/api/messages/summary"), ("POST", "/api/refresh"), ("GET", "/api/jsonl-files"),
          ("GET", "/api/jsonl-content"), ("GET", "/api/search"), ("POST", "/api/search/reindex"),
          ("GET", "/api/search/stats"), ("GET", "/api/qa"), ("GET", "/api/qa/{qa_id}"), ("POST", "/api/qa/reindex"),
          ("GET", "/api/qa/stats"), ("GET", "/api/tags"), ("GET", "/api/tags/browse/{tag}"),
          ("GET", "/api/tags/session/{session_id}"), ("POST", "/api/tags/session/{session_id}"),
          ("DELETE", "/api/tags/session/{session_id}/{tag}"), ("POST", "/api/tags/reindex"),
          ("GET", "/api/bookmarks"), ("POST", "/api/bookmarks"), ("GET", "/api/bookmarks/{bookmark_id}"),
          ("PUT", "/api/bookmarks/{bookmark_id}"), ("DELETE", "/api/bookmarks/{bookmark_id}"),
          ("POST", "/api/bookmarks/toggle"), ("GET", "/api/bookmarks/session/{session_id}"),
          ("GET", "/api/health"), ("GET", "/api/pricing"), ("POST", "/api/pricing/refresh")]
    assert {("GET", p) for p in ccsinfo} | set(su) <= declared


def test_no_response_leaks_paths_outside_documented_fields(corpus):
    """Local paths appear only where the seeds put them (file_path, project_path, log_path, cwd)."""
    app = mk(corpus)
    root = str(corpus.root)
    assert root not in app.get("/sessions").text
    assert root not in app.get("/stats").text
    assert root not in app.get("/api/health").text and root not in app.get("/api/pricing").text
    assert os.path.isabs(app.get(f"/sessions/{C.S1}").json["file_path"])
