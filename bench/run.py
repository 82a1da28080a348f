"""Benchmarks (`just bench`): a generated corpus, timed builds, peers; appends to bench/results.md.

    python bench/run.py --size 1GB [--repeat 3] [--skip-peers]

Every figure is the median of --repeat runs in one invocation, on this machine.
Each build runs as its own process (``ccsgen build``) so peak RSS is that of the
build alone (os.wait4).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = ROOT.parent / "shared" / "corpus" / "claude"
EXTRA: list[str] = []  # markdown blocks appended after the results table
LOAD0 = os.getloadavg()[0]  # other work on the machine skews every figure: recorded with them


def run(cmd: list[str], env: dict | None = None, cwd: Path | None = None) -> tuple[float, int, str]:
    """(seconds, peak RSS in MB, stdout) of one command."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd)
    out = p.stdout.read() if p.stdout else b""
    err = p.stderr.read() if p.stderr else b""
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    secs = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): {err.decode()[-2000:]}")
    return secs, ru.ru_maxrss // 1024, out.decode()


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def dir_size(p: Path) -> int:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return f"{cpu}, {os.cpu_count()} cores{mem}, Python {platform.python_version()}, {platform.system()}"


def append_message(corpus: Path) -> Path:
    """Append one user+assistant exchange to the largest main session file."""
    files = [p for p in (corpus / "projects").glob("*/*.jsonl") if not p.name.startswith("agent-")]
    target = max(files, key=lambda p: p.stat().st_size)
    sid = target.stem
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    u = {"type": "user", "uuid": f"bench-u-{time.time_ns()}", "parentUuid": None, "sessionId": sid,
         "timestamp": now, "isSidechain": False, "cwd": "/bench", "message": {"role": "user",
         "content": "benchmark appended question zzbenchzz?"}}
    a = {"type": "assistant", "uuid": f"bench-a-{time.time_ns()}", "parentUuid": u["uuid"], "sessionId": sid,
         "timestamp": now, "isSidechain": False, "cwd": "/bench", "requestId": f"req_bench{time.time_ns()}",
         "message": {"id": f"msg_bench{time.time_ns()}", "role": "assistant", "model": "claude-sonnet-4-6",
                     "content": [{"type": "text", "text": "benchmark answer"}],
                     "usage": {"input_tokens": 3, "output_tokens": 5, "cache_creation_input_tokens": 0,
                               "cache_read_input_tokens": 100}}}
    with open(target, "a") as f:
        f.write(json.dumps(u) + "\n" + json.dumps(a) + "\n")
    return target


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="1GB")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-peers", action="store_true")
    ap.add_argument("--skip-server", action="store_true")
    ap.add_argument("--load-seconds", type=float, default=20.0)
    ap.add_argument("--soak-seconds", type=float, default=60.0, help="per route at 64 connections; 0: no soak")
    ap.add_argument("--work", type=Path, default=HERE / "data")
    a = ap.parse_args()
    ccsgen = [sys.executable, "-m", "ccsgen.cli"]
    work = a.work
    work.mkdir(parents=True, exist_ok=True)
    corpus = work / f"demo-{a.size}"
    rows: list[tuple[str, str]] = []
    if not (corpus / "projects").is_dir():
        shutil.rmtree(corpus, ignore_errors=True)
        secs, _, _ = run([*ccsgen, "demo", "--out", str(corpus), "--size", a.size, "--seed", "1"])
        rows.append(("generate demo corpus", f"{secs:.1f} s"))
    size_mb = dir_size(corpus) / 1e6
    lines = sum(1 for p in corpus.rglob("*.jsonl") for _ in open(p, "rb"))
    env = dict(os.environ)
    for k in ("CLAUDE_CONFIG_DIR", "CCSGEN_CACHE_DIR", "CCSGEN_DATA_DIR"):
        env.pop(k, None)
    tmp = Path(tempfile.mkdtemp(prefix="ccsgen-bench-"))
    cache, data, site = tmp / "cache", tmp / "data", tmp / "site"
    base = [*ccsgen, "build", "--quiet", "--claude-dir", str(corpus), "--cache-dir", str(cache), "--data-dir",
            str(data)]

    modes: list[str] = []

    def timed(extra: list[str]) -> tuple[float, int, float]:
        """(whole process seconds, peak RSS MB, seconds of the build's own stages)."""
        secs, rss, out = run([*base, *extra, "--no-site", "--no-index", "--json"], env)
        d = json.loads(out)
        modes.append(d.get("derive", "?"))
        return secs, rss, sum(d["stages"].values())

    cold = [timed(["--full"]) for _ in range(a.repeat)]
    nochange = [timed([]) for _ in range(a.repeat)]
    appended = []
    modes.clear()
    for _ in range(a.repeat):
        append_message(corpus)
        appended.append(timed([]))
    append_modes = sorted(set(modes))

    def fig(xs: list[tuple[float, int, float]]) -> str:
        return (f"{median([x[2] for x in xs]):.2f} s of work, {median([x[0] for x in xs]):.2f} s whole process "
                f"(runs: {', '.join(f'{x[0]:.2f}' for x in xs)})")

    rows += [
        ("corpus", f"{size_mb:,.0f} MB, {lines:,} lines"),
        ("cold ingest + tables (median)", fig(cold)),
        ("peak RSS, cold ingest + tables", f"{max(x[1] for x in cold)} MB"),
        ("nothing-changed build (median)", fig(nochange)),
        ("one appended message (median)", fig(appended) + f"; tables derived: {', '.join(append_modes)}"),
        ("peak RSS, one appended message", f"{max(x[1] for x in appended)} MB"),
    ]
    # site
    try:
        s1, rss1, _ = run([*base, "--out", str(site), "--no-index"], env)
        s2, _, out2 = run([*base, "--out", str(site), "--no-index", "--json"], env)
        written = json.loads(out2).get("site", {}).get("pages_written", "?")
        rows.append(("site build (tables cached; whole process)",
                     f"{s1:.2f} s, {dir_size(site) / 1e6:,.1f} MB, peak RSS {rss1} MB"))
        rows.append(("site rebuild, nothing changed (whole process)", f"{s2:.2f} s, {written} pages written"))
    except RuntimeError as e:
        rows.append(("site build", f"failed: {str(e)[:200]}"))
    rows += search_bench(corpus, cache, data)
    if not a.skip_server:
        rows += server_bench(corpus, cache, data, a.load_seconds, a.soak_seconds)
    if not a.skip_peers:
        rows += peers(corpus, tmp)
    write_results(a.size, rows)
    shutil.rmtree(tmp, ignore_errors=True)


def search_bench(corpus: Path, cache: Path, data: Path) -> list[tuple[str, str]]:
    """Index build (cold, after one appended message) and query latency, in a child process."""
    code = f"""
import json, time
from pathlib import Path
from ccsgen.config import Config
from ccsgen.catalog import Catalog
cfg = Config.from_options([Path({str(corpus)!r})], Path({str(cache)!r}), Path({str(data)!r}))
cat = Catalog.open(cfg)
t = time.perf_counter(); r = cat.reindex(); cold = time.perf_counter() - t
import sys; sys.path.insert(0, {str(HERE)!r})
from run import append_message
append_message(Path({str(corpus)!r}))
t = time.perf_counter(); cat.refresh(); inc = time.perf_counter() - t
from ccsgen.search import bench_queries
q = bench_queries(cat, ["error", "test", "refactor database", "\\"fix the bug\\"", "python OR rust",
                       "deploy -docker", "role:user config", "session*", "migration", "timeout"])
print(json.dumps({{"cold": cold, "inc": inc, "q": q, "idx": r}}))
"""
    try:
        secs, rss, out = run([sys.executable, "-c", code])
        d = json.loads(out.strip().splitlines()[-1])
    except (RuntimeError, ValueError, IndexError) as e:
        return [("search index", f"not measured: {str(e)[:300]}")]
    q = d["q"]
    return [
        ("search index, cold (reindex)", f"{d['cold']:.2f} s"),
        ("refresh + reindex after one appended message", f"{d['inc']:.2f} s"),
        ("query latency over 10 queries", f"p50 {q.get('p50_ms', float('nan')):.1f} ms, "
                                          f"p99 {q.get('p99_ms', float('nan')):.1f} ms"),
    ]


def server_bench(corpus: Path, cache: Path, data: Path, seconds: float, soak: float = 0) -> list[tuple[str, str]]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = subprocess.Popen([sys.executable, "-m", "ccsgen.cli", "serve", "--claude-dir", str(corpus), "--cache-dir",
                            str(cache), "--data-dir", str(data), "--port", str(port), "--no-watch", "--quiet",
                            "--out", str(cache.parent / "site")],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import urllib.request

        for _ in range(600):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        common = [sys.executable, str(HERE / "load.py"), "--url", f"http://127.0.0.1:{port}",
                  "--seconds", str(seconds), "--connections", "32", "--server-pid", str(srv.pid)]
        runs = [
            ("The five routes of issue 6 (repeated requests: cached answers)", []),
            ("Dashboard as a browser asks for it (gzip)", ["--gzip", "--route", "/api/dashboard-data?project={project}"]),
            ("Search, 50 different queries in turn", ["--queries", "builtin", "--route", "/api/search?q={q}"]),
            ("Search, 50 queries, every answer computed afresh (Cache-Control: no-cache)",
             ["--queries", "builtin", "--no-cache", "--route", "/api/search?q={q}"]),
        ]
        if soak > 0:
            runs.append((f"Soak: {soak:.0f} s per route at 64 connections (errors and server memory over time)",
                         ["--seconds", str(soak), "--connections", "64", "--route", "/stats",
                          "--route", "/sessions?limit=50", "--queries", "builtin", "--route", "/api/search?q={q}"]))
        tables = []
        for title, extra in runs:
            out = subprocess.run([*common, *extra], capture_output=True, text=True,
                                 timeout=max(seconds, soak) * 10 + 120)
            if not out.stdout.strip():
                return [("server load", f"failed: {out.stderr[-300:]}")]
            tables.append(f"{title}:\n\n{out.stdout.strip()}\n")
        wrk = wrk_bench(port, seconds)
        if wrk:
            tables.append(wrk)
        from ccsgen.server.serve import THREADS
        from ccsgen.server.workers import default_workers

        EXTRA.append(f"Server load, {seconds:.0f} s per route, 32 keep-alive connections, client on the same "
                     f"machine; `ccsgen serve` as it starts by default here: {default_workers()} processes × "
                     f"{THREADS} threads:\n\n" + "\n".join(tables))
        return [("server load", "tables below")]
    finally:
        srv.terminate()
        try:
            srv.wait(timeout=10)
        except subprocess.TimeoutExpired:
            srv.kill()


WRK_ROTATE = """
local paths = {%s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1], {["Cache-Control"] = "no-cache"})
end
"""


def _ms(text: str) -> float:
    """A wrk duration (``950.00us``, ``12.34ms``, ``1.02s``) in ms."""
    for unit, f in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * f
    return float("nan")


def wrk_bench(port: int, seconds: float) -> str:
    """The same routes measured by wrk, a native client, when it is installed: bench/load.py is Python and
    shares the 2 cores with the server, so for big answers it measures itself as much as the server."""
    import re
    from urllib.parse import quote

    exe = shutil.which("wrk")
    if not exe:
        return ""
    sys.path.insert(0, str(HERE))
    from load import QUERIES, pick_project

    url = f"http://127.0.0.1:{port}"
    dash = f"/api/dashboard-data?project={quote(pick_project('127.0.0.1', port), safe='')}"
    lua = Path(tempfile.mkdtemp()) / "rotate.lua"
    lua.write_text(WRK_ROTATE % ", ".join(f'"/api/search?q={quote(q)}"' for q in QUERIES))
    runs = [("`/health`", ["/health"]), ("`/stats`", ["/stats"]), ("`/sessions?limit=50`", ["/sessions?limit=50"]),
            (f"`{dash}`", [dash]), (f"`{dash}`, gzip", ["-H", "Accept-Encoding: gzip", dash]),
            ("`/api/search?q=error`", ["/api/search?q=error"]),
            ("`/api/search?q={q}`, 50 queries, no-cache", ["-s", str(lua), "/"])]
    rows = []
    for title, extra in runs:
        *opts, path = extra
        try:
            out = subprocess.run([exe, "-t2", "-c32", f"-d{seconds:.0f}s", "--latency", *opts, url + path],
                                 capture_output=True, text=True, timeout=seconds * 3 + 60).stdout
        except (subprocess.SubprocessError, OSError) as e:
            return f"wrk failed: {e}"
        rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
        p50 = re.search(r"\s50%\s+(\S+)", out)
        p99 = re.search(r"\s99%\s+(\S+)", out)
        bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
        sock = re.search(r"Socket errors: (.*)", out)
        if not (rps and p50 and p99):
            rows.append(f"| {title} | ? | ? | ? | wrk said: {out.strip()[-120:]!r} |")
            continue
        errors = (int(bad.group(1)) if bad else 0)
        rows.append(f"| {title} | {float(rps.group(1)):,.0f} | {_ms(p50.group(1)):.1f} | {_ms(p99.group(1)):.1f} | "
                    f"{errors}{' · socket ' + sock.group(1) if sock else ''} |")
    return ("The same server measured with wrk (a native client, 2 threads, 32 connections, "
            f"{seconds:.0f} s a route):\n\n| route | req/s | p50 ms | p99 ms | errors |\n|---|---:|---:|---:|---|\n"
            + "\n".join(rows) + "\n")


def peers(corpus: Path, tmp: Path) -> list[tuple[str, str]]:
    rows = []
    npm = shutil.which("npm")
    if npm:
        d = tmp / "ccusage"
        d.mkdir()
        try:
            subprocess.run([npm, "install", "--silent", "--prefix", str(d), "ccusage@20.0.24"], check=True,
                           capture_output=True, timeout=600)
            exe = d / "node_modules" / ".bin" / "ccusage"
            env = dict(os.environ, CLAUDE_CONFIG_DIR=str(corpus))
            times = [run([str(exe), "daily", "--json", "--offline"], env)[0] for _ in range(2)]
            rows.append(("ccusage 20.0.24 `daily --json --offline`", f"{median(times):.2f} s"))
        except (subprocess.SubprocessError, RuntimeError, OSError) as e:
            rows.append(("ccusage", f"not measured: {str(e)[:120]}"))
    rows += claude_code_log(tmp)
    return rows


def claude_code_log(tmp: Path) -> list[tuple[str, str]]:
    """Site generation side by side with claude-code-log 1.7.0 on shared/corpus/claude."""
    if not SHARED.is_dir():
        return [("claude-code-log comparison", "not measured: shared corpus missing")]
    rows = []
    env = dict(os.environ)
    cache, data, site = tmp / "ccl-cache", tmp / "ccl-data", tmp / "ccl-site"
    base = [sys.executable, "-m", "ccsgen.cli", "build", "--quiet", "--claude-dir", str(SHARED), "--cache-dir",
            str(cache), "--data-dir", str(data), "--out", str(site)]
    ours = []
    for _ in range(3):
        shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(site, ignore_errors=True)
        ours.append(run(base, env)[0])
    our_size = dir_size(site)
    rows.append(("ccsgen build, shared corpus (cold, cache and site)", f"{median(ours):.2f} s, {our_size / 1e6:.1f} MB"))
    venv = tmp / "ccl-venv"
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "claude-code-log==1.7.0"], check=True,
                       capture_output=True, timeout=900)
    except (subprocess.SubprocessError, OSError) as e:
        return rows + [("claude-code-log 1.7.0", f"not installable here: {str(e)[:200]}")]
    work = tmp / "ccl-copy"
    times = []
    for _ in range(3):
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(SHARED, work)  # it writes its HTML next to the logs; never into shared/
        out = tmp / "ccl-out"
        shutil.rmtree(out, ignore_errors=True)
        try:
            s, _, _ = run([str(venv / "bin" / "claude-code-log"), str(work / "projects"), "-o", str(out),
                           "--all-projects"], env)
        except RuntimeError as e:
            return rows + [("claude-code-log 1.7.0", f"failed: {str(e)[:200]}")]
        times.append(s)
    their_size = dir_size(work) - dir_size(SHARED) + (dir_size(out) if out.exists() else 0)
    rows.append(("claude-code-log 1.7.0, same corpus", f"{median(times):.2f} s, {their_size / 1e6:.1f} MB"))
    rows.append(("ratio (claude-code-log / ccsgen)", f"time {median(times) / median(ours):.1f}x, "
                                                     f"size {their_size / max(our_size, 1):.1f}x"))
    return rows


def write_results(size: str, rows: list[tuple[str, str]]) -> None:
    out = HERE / "results.md"
    head = "" if out.exists() else "# Benchmark results\n\nAppended by `just bench` (bench/run.py).\n"
    lines = [head, f"\n## {dt.datetime.now().strftime('%Y-%m-%d %H:%M')} — {size} demo corpus\n",
             f"Machine: {machine()}; load average at the end {os.getloadavg()[0]:.2f} (start: {LOAD0:.2f})\n",
             "| what | figure |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    text = "\n".join(lines) + "\n" + "".join("\n" + x for x in EXTRA)
    with open(out, "a") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
