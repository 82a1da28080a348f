"""Load test a running ``ccsgen serve`` on loopback: p50/p99 latency and requests/s per route.

    ccsgen serve --claude-dir /tmp/demo --cache-dir /tmp/c --data-dir /tmp/d --port 8080 --no-watch &
    python bench/load.py --url http://127.0.0.1:8080 --seconds 60 --connections 32
    # search with 50 different queries, each answer computed afresh (no response cache):
    python bench/load.py --route '/api/search?q={q}' --queries builtin --no-cache

Bounded: each route runs for ``--seconds`` (at most 300) with ``--connections`` keep-alive connections (at
most 256), one thread each, plain http.client; it stops by itself. Only loopback addresses are accepted.
Prints a markdown table (append it to bench/results.md).

The server caches answers (per Catalog snapshot, search index and write epoch), so a route asked the same
thing again and again measures a cache hit. To measure more than that: ``--queries`` makes requests to routes
with ``{q}`` rotate through several queries (``builtin``: the 50 of ``QUERIES``), and ``--no-cache`` sends
``Cache-Control: no-cache``, which makes the server compute every answer afresh. ``--gzip`` asks for gzip as
browsers do (the bytes are read, not decompressed). ``--server-pid`` reports the server's RSS per route (its
worker processes included).
"""

from __future__ import annotations

import argparse
import http.client
import ipaddress
import json
import socket
import statistics
import sys
import threading
import time
from itertools import count
from pathlib import Path
from urllib.parse import quote, urlsplit

DEFAULT_ROUTES = ["/health", "/stats", "/sessions?limit=50", "/api/dashboard-data?project={project}",
                  "/api/search?q={q}"]
#: words that occur in the demo corpus (``ccsgen demo``), common and rare: ``--queries builtin``
QUERIES = [
    "error", "test", "refactor", "database", "migration", "config", "timeout", "cache", "import", "function",
    "docker", "api", "token", "fix", "bug", "python", "rust", "build", "review", "performance", "memory",
    "async", "request", "response", "query", "index", "session", "file", "commit", "merge", "lint", "type",
    "class", "module", "endpoint", "auth", "retry", "queue", "logging", "metrics", "benchmark", "release",
    "version", "handler", "client", "server", "debug", "pytest", "flaky", "json",
]
MAX_QUERIES = 1000
MAX_QUERY_CHARS = 200


def loopback_only(host: str) -> None:
    for info in socket.getaddrinfo(host, None):
        addr = ipaddress.ip_address(info[4][0])
        if not addr.is_loopback:
            sys.exit(f"refusing {host}: {addr} is not a loopback address")


def pick_project(host: str, port: int) -> str:
    c = http.client.HTTPConnection(host, port, timeout=30)
    c.request("GET", "/api/projects?sort_by=size&limit=1")
    r = c.getresponse()
    body = json.loads(r.read())
    c.close()
    return body["projects"][0]["dir_name"] if body.get("projects") else ""


def _children(pid: int) -> list[int]:
    out = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                out += [int(x) for x in (task / "children").read_text().split()]
            except (OSError, ValueError):
                continue
    except OSError:
        pass
    return out


def _rss_one(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def rss_mb(pid: int | None) -> float | None:
    """The resident set in MB (Linux /proc) of process ``pid`` and every process under it (``ccsgen serve
    --workers N`` runs N processes), or None."""
    if not pid:
        return None
    total = _rss_one(pid)
    if total is None:
        return None
    todo = _children(pid)
    while todo:
        c = todo.pop()
        total += _rss_one(c) or 0.0
        todo += _children(c)
    return total


def run_route(host: str, port: int, paths: list[str], seconds: float, conns: int,
              headers: dict[str, str] | None = None) -> dict:
    """Load ``paths`` (in turn, across all connections) for ``seconds``: counts, req/s, p50/p99 in ms."""
    headers = headers or {}
    turn = count()
    lat: list[list[float]] = [[] for _ in range(conns)]
    errors = [0] * conns
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    start = threading.Barrier(conns + 1)
    deadline = [0.0]

    def worker(i: int) -> None:
        c = http.client.HTTPConnection(host, port, timeout=30)
        start.wait()
        while time.perf_counter() < deadline[0]:
            path = paths[next(turn) % len(paths)]
            t0 = time.perf_counter()
            try:
                c.request("GET", path, headers=headers)
                r = c.getresponse()
                r.read()
                status = r.status
            except (OSError, http.client.HTTPException):
                errors[i] += 1
                c.close()
                c = http.client.HTTPConnection(host, port, timeout=30)
                continue
            lat[i].append(time.perf_counter() - t0)
            if status >= 400:
                errors[i] += 1
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
        c.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(conns)]
    for t in threads:
        t.start()
    deadline[0] = time.perf_counter() + seconds
    t0 = time.perf_counter()
    start.wait()
    for t in threads:
        t.join(timeout=seconds + 60)
    elapsed = time.perf_counter() - t0
    all_lat = sorted(x for xs in lat for x in xs)
    n = len(all_lat)

    def pct(p: float) -> float:
        return all_lat[min(n - 1, int(p * n))] * 1000 if n else float("nan")

    return {"route": paths[0], "requests": n, "errors": sum(errors), "rps": n / elapsed if elapsed else 0.0,
            "p50": pct(0.50), "p99": pct(0.99), "mean": statistics.fmean(all_lat) * 1000 if n else float("nan"),
            "statuses": statuses}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--q", default="error", help="search query for /api/search")
    ap.add_argument("--project", default=None, help="project for /api/dashboard-data (default: the largest)")
    ap.add_argument("--route", action="append",
                    help="route to load (repeatable; default: the five of issue 6); {q} and {project} are filled in")
    ap.add_argument("--queries", default=None,
                    help="comma-separated queries that requests to routes with {q} rotate through, or 'builtin' "
                         f"for {len(QUERIES)} words (default: just --q)")
    ap.add_argument("--no-cache", action="store_true",
                    help="send Cache-Control: no-cache: the server computes every answer afresh")
    ap.add_argument("--gzip", action="store_true", help="send Accept-Encoding: gzip (as browsers do)")
    ap.add_argument("--server-pid", type=int, default=None, 
                    help="report the RSS of this server process and its workers per route")
    a = ap.parse_args()
    seconds = max(1.0, min(a.seconds, 300.0))
    conns = max(1, min(a.connections, 256))
    u = urlsplit(a.url)
    host, port = u.hostname or "127.0.0.1", u.port or 80
    loopback_only(host)
    if a.queries is None:
        queries = [a.q]
    elif a.queries.strip() == "builtin":
        queries = list(QUERIES)
    else:
        queries = [q.strip() for q in a.queries.split(",") if q.strip()]
    queries = [q[:MAX_QUERY_CHARS] for q in dict.fromkeys(queries)][:MAX_QUERIES] or [a.q]
    headers = {}
    if a.no_cache:
        headers["Cache-Control"] = "no-cache"
    if a.gzip:
        headers["Accept-Encoding"] = "gzip"
    project = a.project if a.project is not None else pick_project(host, port)
    mode = ", ".join(x for x in ("no-cache" if a.no_cache else "", "gzip" if a.gzip else "") if x)
    print(f"{conns} connections, {seconds:.0f} s per route, {a.url}" + (f", {mode}" if mode else "") + "\n")
    rss_col = a.server_pid is not None
    print("| route | requests | errors | req/s | p50 ms | p99 ms |" + (" server RSS MB |" if rss_col else ""))
    print("|---|---:|---:|---:|---:|---:|" + ("---:|" if rss_col else ""))
    notes = []
    for r in a.route or DEFAULT_ROUTES:
        rotating = "{q}" in r and len(queries) > 1
        paths = [r.format(project=quote(project), q=quote(q)) for q in (queries if rotating else queries[:1])]
        label = r.format(project=quote(project), q="{q}") + f"` ({len(paths)} queries in turn)" if rotating \
            else paths[0] + "`"
        before = rss_mb(a.server_pid)
        res = run_route(host, port, paths, seconds, conns, headers)
        after = rss_mb(a.server_pid)
        rss = ""
        if rss_col:  # a column, not a line between rows: a Markdown table ends at the first line that is not a row
            rss = f" {before:,.0f} -> {after:,.0f} |" if before is not None and after is not None else " ? |"
        print(f"| `{label} | {res['requests']:,} | {res['errors']} | {res['rps']:,.0f} | {res['p50']:.1f} | "
              f"{res['p99']:.1f} |{rss}", flush=True)
        if res["errors"]:
            notes.append(f"statuses for {label.rstrip('`')}: {res['statuses']}")
    for n in notes:
        print(f"\n{n}")

if __name__ == "__main__":
    main()
