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

    cold, cold_rss = [], []
    for _ in range(a.repeat):
        s, rss, _ = run([*base, "--full", "--no-site"], env)
        cold.append(s)
        cold_rss.append(rss)
    nochange = [run([*base, "--no-site"], env)[0] for _ in range(a.repeat)]
    appended = []
    for _ in range(a.repeat):
        append_message(corpus)
        appended.append(run([*base, "--no-site"], env)[0])
    rows += [
        ("corpus", f"{size_mb:,.0f} MB, {lines:,} lines"),
        ("cold ingest + tables (median)", f"{median(cold):.2f} s (runs: {', '.join(f'{x:.2f}' for x in cold)})"),
        ("peak RSS, cold build", f"{max(cold_rss)} MB"),
        ("nothing-changed build (median, whole process)", f"{median(nochange):.2f} s"),
        ("one appended message (median, whole process)", f"{median(appended):.2f} s"),
    ]
    # site
    try:
        s1, rss1, _ = run([*base, "--out", str(site)], env)
        s2, _, out2 = run([*base, "--out", str(site), "--json"], env)
        rows.append(("site build (tables cached)", f"{s1:.2f} s, {dir_size(site) / 1e6:,.1f} MB, peak RSS {rss1} MB"))
        rows.append(("site rebuild, nothing changed", f"{s2:.2f} s"))
    except RuntimeError as e:
        rows.append(("site build", f"failed: {str(e)[:200]}"))
    if not a.skip_peers:
        rows += peers(corpus, tmp)
    write_results(a.size, rows)
    shutil.rmtree(tmp, ignore_errors=True)


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
    return rows


def write_results(size: str, rows: list[tuple[str, str]]) -> None:
    out = HERE / "results.md"
    head = "" if out.exists() else "# Benchmark results\n\nAppended by `just bench` (bench/run.py).\n"
    lines = [head, f"\n## {dt.datetime.now().strftime('%Y-%m-%d %H:%M')} — {size} demo corpus\n",
             f"Machine: {machine()}\n", "| what | figure |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    text = "\n".join(lines) + "\n"
    with open(out, "a") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
