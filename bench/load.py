"""Load test a running ``ccsgen serve`` on loopback: p50/p99 latency and requests/s per route.

    ccsgen serve --claude-dir /tmp/demo --cache-dir /tmp/c --data-dir /tmp/d --port 8080 --no-watch &
    python bench/load.py --url http://127.0.0.1:8080 --seconds 60 --connections 32

Bounded: each route runs for ``--seconds`` (at most 300) with ``--connections`` keep-alive connections (at
most 256), one thread each, plain http.client; it stops by itself. Only loopback addresses are accepted.
Prints a markdown table (append it to bench/results.md).
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
from urllib.parse import quote, urlsplit

DEFAULT_ROUTES = ["/health", "/stats", "/sessions?limit=50", "/api/dashboard-data?project={project}",
                  "/api/search?q={q}"]


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


def run_route(host: str, port: int, path: str, seconds: float, conns: int) -> dict:
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
            t0 = time.perf_counter()
            try:
                c.request("GET", path)
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

    return {"route": path, "requests": n, "errors": sum(errors), "rps": n / elapsed if elapsed else 0.0,
            "p50": pct(0.50), "p99": pct(0.99), "mean": statistics.fmean(all_lat) * 1000 if n else float("nan"),
            "statuses": statuses}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--q", default="error", help="search query for /api/search")
    ap.add_argument("--project", default=None, help="project for /api/dashboard-data (default: the largest)")
    ap.add_argument("--route", action="append", help="route to load (repeatable; default: the five of issue 6)")
    a = ap.parse_args()
    seconds = max(1.0, min(a.seconds, 300.0))
    conns = max(1, min(a.connections, 256))
    u = urlsplit(a.url)
    host, port = u.hostname or "127.0.0.1", u.port or 80
    loopback_only(host)
    project = a.project if a.project is not None else pick_project(host, port)
    routes = [r.format(project=quote(project), q=quote(a.q)) for r in (a.route or DEFAULT_ROUTES)]
    print(f"{conns} connections, {seconds:.0f} s per route, {a.url}\n")
    print("| route | requests | errors | req/s | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in routes:
        res = run_route(host, port, r, seconds, conns)
        print(f"| `{r}` | {res['requests']:,} | {res['errors']} | {res['rps']:,.0f} | {res['p50']:.1f} | "
              f"{res['p99']:.1f} |", flush=True)
        if res["errors"]:
            print(f"<!-- statuses for {r}: {res['statuses']} -->", flush=True)


if __name__ == "__main__":
    main()
