"""Regenerate docs/cli.md: run every command on a fresh demo corpus and record the real output.

    python tools/gen_cli_md.py > docs/cli.md
"""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

BASE = "/tmp/clidemo"
ENV = dict(os.environ, CLAUDE_CONFIG_DIR=BASE, CCSGEN_CACHE_DIR=BASE + "-cache", CCSGEN_DATA_DIR=BASE + "-data",
           COLUMNS="110", NO_COLOR="1")
ENV.pop("CCSGEN_SERVER_URL", None)
CWD = "/tmp/clidemo-work"

for d in (BASE, BASE + "-cache", BASE + "-data", CWD):
    shutil.rmtree(d, ignore_errors=True)
os.makedirs(CWD)

out: list[str] = []


def p(s=""):
    out.append(s)


def sh(cmd: str, show: str | None = None, max_lines: int | None = None):
    r = subprocess.run(["bash", "-c", cmd], env=ENV, cwd=CWD, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    text = r.stdout.rstrip("\n")
    lines = [ln.rstrip() for ln in text.splitlines()]
    if max_lines and len(lines) > max_lines:
        lines = lines[:max_lines] + [f"… ({len(lines) - max_lines} more lines)"]
    p("```console")
    p(f"$ {show or cmd}")
    p("\n".join(lines))
    p("```")
    p()
    return r


def first(cmd: str) -> str:
    return subprocess.run(["bash", "-c", cmd], env=ENV, cwd=CWD, capture_output=True, text=True).stdout.strip()


p("# The ccsgen command line")
p()
p("A real session: every command below was run on a demo corpus (`ccsgen demo --size 10MB`, seed 0) and its")
p("output pasted as printed (off a terminal, so plain text; `COLUMNS=110`). Dates are those of the demo data.")
p("Exit codes and the redaction rules are at the end.")
p()
p("Every command has `--help` with an example. Every command that reads logs takes `--claude-dir DIR`")
p("(repeatable; default `$CLAUDE_CONFIG_DIR`, else `~/.config/claude` and `~/.claude`), `--cache-dir`")
p("(`CCSGEN_CACHE_DIR`) and `--data-dir` (`CCSGEN_DATA_DIR`); this session sets the environment once:")
p()
p("```console")
p(f"$ export CLAUDE_CONFIG_DIR={BASE} CCSGEN_CACHE_DIR={BASE}-cache CCSGEN_DATA_DIR={BASE}-data")
p("```")
p()
p("## Contents")
p()
for a, t in (("setup", "Set up: demo, build, version, pricing"), ("usage", "Usage reports (ccusage)"),
             ("sessions", "Sessions"), ("projects", "Projects"), ("tasks", "Tasks"), ("stats", "Stats"),
             ("search", "Search"), ("remote", "Remote mode: serve and --server-url"),
             ("report", "Reports to publish"), ("exit-codes", "Output, JSON and exit codes")):
    p(f"- [{t}](#{a})")
p()

p('<a id="setup"></a>')
p("## Set up: demo, build, version, pricing")
p()
sh(f"ccsgen demo --out {BASE} --size 10MB", max_lines=4)
# date the demo files an hour back, as if written earlier (else every session counts as active: written in the
# last 5 minutes)
_old = time.time() - 3600
for _root, _dirs, _files in os.walk(BASE):
    for _f in _files:
        os.utime(os.path.join(_root, _f), (_old, _old))
sh("ccsgen build --out site")
sh("ccsgen version")
sh("ccsgen pricing --model opus-4", max_lines=14)

p('<a id="usage"></a>')
p("## Usage reports (ccusage)")
p()
p("The same grouping and numbers as ccusage; `--json` prints ccusage's JSON shapes. Days are UTC unless")
p("`--timezone`; `--breakdown` adds a row per model.")
p()
sh("ccsgen usage daily --since 2026-10-01")
sh("ccsgen usage weekly --since 2026-09-20 --breakdown", max_lines=24)
sh("ccsgen usage monthly")
sh("ccsgen usage session --since 2026-10-10")
sh("ccsgen usage blocks --since 2026-10-13")

sid = first("ccsgen sessions list --limit 1 --json | python -c 'import json,sys; print(json.load(sys.stdin)[0][\"id\"])'")
big = first("ccsgen tasks list --json | python -c 'import json,sys; print(json.load(sys.stdin)[0][\"session_id\"])'")
pid = first("ccsgen projects list --json | python -c 'import json,sys; print(json.load(sys.stdin)[0][\"id\"])'")
pname = first("ccsgen projects list --json | python -c 'import json,sys; print(json.load(sys.stdin)[1][\"name\"])'")

p('<a id="sessions"></a>')
p("## Sessions")
p()
p("ccsinfo's commands, with the same names and options. Session ids accept any unique prefix.")
p()
sh("ccsgen sessions list --limit 5")
sh(f"ccsgen sessions list --project {pname} --json", max_lines=24)
sh("ccsgen sessions active")
sh(f"ccsgen sessions show {sid[:8]}")
sh(f"ccsgen sessions messages {sid[:8]} --limit 6")
sh(f"ccsgen sessions messages {sid[:8]} --role user --limit 2 --json")
sh(f"ccsgen sessions tools {sid[:8]}", max_lines=14)

p('<a id="projects"></a>')
p("## Projects")
p()
p("A project id is its log dir name, which starts with `-`: write it after `--`, or drop the leading `-`,")
p("or give the project's name (when one project has it), or any unique prefix.")
p()
sh("ccsgen projects list")
sh(f"ccsgen projects show -- {pid}")
sh(f"ccsgen projects show {pname}")
sh(f"ccsgen projects stats {pid[1:]} --json")

p('<a id="tasks"></a>')
p("## Tasks")
p()
sh("ccsgen tasks list")
sh(f"ccsgen tasks list --session {big[:8]} --status in_progress --json")
sh(f"ccsgen tasks show 1 --session {big[:8]}")
sh("ccsgen tasks pending")
sh("ccsgen tasks list --status done; echo \"exit $?\"")

p('<a id="stats"></a>')
p("## Stats")
p()
p("`stats daily` buckets sessions by the UTC day of their first activity (ccsinfo's rule), newest first.")
p()
sh("ccsgen stats global")
sh("ccsgen stats daily --days 60")
sh("ccsgen stats trends")
sh("ccsgen stats global --json")

p('<a id="search"></a>')
p("## Search")
p()
p("`search sessions` matches session ids, slugs, titles, working dirs, branches and project paths;")
p("`search messages` is full-text over the conversation, with snippets; `search history` searches the")
p("prompts you typed (`history.jsonl`).")
p()
sh("ccsgen search sessions blog --limit 3")
sh("ccsgen search messages 'webhook handler' --limit 3")
sh("ccsgen search history 'tests' --limit 3 --json")

# ---- remote
p('<a id="remote"></a>')
p("## Remote mode: serve and --server-url")
p()
p("With `--server-url URL` (or `CCSGEN_SERVER_URL`) every query command becomes a thin HTTP client of the")
p("matching route of a running server, with the same output: `--json` prints the route's body.")
p()
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
srv = subprocess.Popen(["ccsgen", "serve", "--port", str(port), "--no-watch", "--quiet", "--out", "site"], env=ENV,
                       cwd=CWD, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    p("```console")
    p(f"$ ccsgen serve --port {port} --no-watch --quiet &")
    p("```")
    p()
    sh(f"ccsgen stats global --server-url http://127.0.0.1:{port}")
    sh(f"export CCSGEN_SERVER_URL=http://127.0.0.1:{port}; ccsgen sessions list --limit 3 --json | head -12",
       max_lines=14)
    sh(f"curl -s 'http://127.0.0.1:{port}/sessions?limit=3' | python -m json.tool | head -12", max_lines=14)
    sh(f"ccsgen sessions show 0000 --server-url http://127.0.0.1:{port}; echo \"exit $?\"")
finally:
    srv.terminate()
    srv.wait(timeout=10)
sh(f"ccsgen stats global --server-url http://127.0.0.1:{port}; echo \"exit $?\"")

# ---- report
p('<a id="report"></a>')
p("## Reports to publish")
p()
p("`ccsgen report` writes one self-contained file (HTML with inline CSS and SVG charts, Markdown, or JSON):")
p("totals, cost by model and by day, charts, top projects, tools, the most expensive and the longest sessions,")
p("the price table's source and date, and the definitions of its numbers. `--period` is `week` (7 days),")
p("`month` (30 days, the default), `custom` (`--since`/`--until`) or `all`.")
p()
p("Redaction is on by default: API keys and tokens, private keys, JWTs, credentials in URLs, secret-named")
p("values and high-entropy strings become `[REDACTED:<kind>]`; home directories `~`; e-mail addresses")
p("`[email]`; host names `[host]`; IP addresses `[ip]`; with `--alias-projects`, project names `project-N`.")
p("`--redact-preview` lists every masking and writes nothing; a rule that fails stops the report (exit 4).")
p()
sh("ccsgen report --period all --out report.html")
sh("ccsgen report --period custom --since 2026-10-01 --until 2026-10-31 --format md --out - | head -32", max_lines=34)
sh("ccsgen report --period all --alias-projects --redact-preview", max_lines=16)
sh("ccsgen report --period all --alias-projects --format json --out report.json && "
   "python -c 'import json; d=json.load(open(\"report.json\")); print([p[\"name\"] for p in d[\"projects\"]][:4], "
   "d[\"report\"][\"redactions\"])'")
sh("ccsgen report --redact-pattern '(unclosed' ; echo \"exit $?\"")

p('<a id="exit-codes"></a>')
p("## Output, JSON and exit codes")
p()
p("- Tables off a terminal (a pipe, a file) are plain text; `NO_COLOR` turns colours off on a terminal too.")
p("- `--json` prints exactly what the matching API route returns (indented), and nothing else on stdout.")
p("- Messages go to stderr, without tracebacks.")
p()
p("| exit code | meaning |")
p("|---|---|")
p("| 0 | ok |")
p("| 1 | not found: unknown or ambiguous session/project/task id (HTTP 404 remotely) |")
p("| 2 | usage error: bad option value, invalid `--status`, no Claude dir (HTTP 400/422 remotely) |")
p("| 3 | the server is unreachable or failed (remote mode), or search is not available |")
p("| 4 | `report`: redaction failed (an invalid `--redact-pattern`, an error in a rule); nothing written |")
p()
sys.stdout.write("\n".join(out).rstrip("\n") + "\n")
