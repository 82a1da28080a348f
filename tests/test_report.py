"""ccsgen report: numbers, formats, and redaction of everything that came from the logs.

The planted corpus puts one secret (or personal datum) of every kind from test_redact.PLANTED in session
titles (prompts, an ai-title, a custom title), in project paths and names, in tool inputs and outputs, and in
file names; after ``report --format html/md/json`` none of them may be found in the file, while with
``--no-redact`` the ones that reach the report are there (so the check checks something).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import time
from pathlib import Path

import factories as F
import pytest
import typer
from test_redact import (
    ANTHROPIC,
    AWS_KEY,
    AWS_SECRET,
    EMAIL,
    GITHUB,
    GITHUB_PAT,
    GITLAB,
    GOOGLE,
    HF,
    HOST,
    IPV4,
    IPV6,
    JWT,
    NPM,
    OPENAI,
    SLACK,
    STRIPE,
    STRIPE_RK,
    URL_PASSWORD,
)
from typer.testing import CliRunner

from ccsgen import cli_query, cli_report, report
from ccsgen.config import Config

SSH_KEY_BODY = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZWQyNTUxOQ"
HIGH_ENTROPY = "Zx81kd02PqLm9vTr4hYcW7uB3nM5kL8jH2gF6dS4aQ1"
#: (title text of one session, the strings of it that must not survive); each text fits a title (120 chars)
TITLES: list[tuple[str, tuple[str, ...]]] = [
    (f"use {ANTHROPIC}", (ANTHROPIC,)),
    (f"openai {OPENAI} please", (OPENAI,)),
    (f"aws {AWS_KEY} secret_access_key={AWS_SECRET}", (AWS_KEY, AWS_SECRET)),
    (f"push with {GITHUB} or {GITLAB}", (GITHUB, GITLAB)),
    (f"pat {GITHUB_PAT}", (GITHUB_PAT,)),
    (f"slack {SLACK} stripe {STRIPE}", (SLACK, STRIPE)),
    (f"google {GOOGLE} npm {NPM}", (GOOGLE, NPM)),
    (f"hf {HF} and {STRIPE_RK}", (HF, STRIPE_RK)),
    (f"-----BEGIN OPENSSH PRIVATE KEY----- {SSH_KEY_BODY}", (SSH_KEY_BODY, SSH_KEY_BODY[:40])),
    (f"check {JWT[:100]}", (JWT[:100], JWT.split(".")[1])),
    (f"psql postgres://admin:{URL_PASSWORD}@db.acme-prod.com/app", (URL_PASSWORD, "db.acme-prod.com")),
    (f"token {HIGH_ENTROPY}", (HIGH_ENTROPY,)),
    ("fix /home/alice/clients/acme/app.py and C:\\Users\\alice\\x.txt", ("/home/alice", "Users\\alice")),
    (f"mail {EMAIL} about {HOST}", (EMAIL, HOST)),
    (f"ping {IPV4} and {IPV6}", (IPV4, IPV6)),
    ("<script>alert('ZZXSSZZ')</script> | **bold** [x](javascript:alert(1))", ()),
]
#: project dirs whose path (and so name) is itself sensitive: (id, cwd, strings that must not survive)
PROJECTS = [
    ("-home-alice-clients-acme", "/home/alice/clients/acme", ("/home/alice",)),
    ("-home-alice-vpn-gw-corp-acme-internal-net", "/home/alice/vpn/gw.corp.acme-internal.net", ("gw.corp.acme-internal.net",)),
    ("-Users-alice-ops-10-42-7-19", "/Users/alice/ops-10.42.7.19", ("10.42.7.19", "/Users/alice")),
    ("-home-alice-bob-acme-corp-io", "/home/alice/bob@acme-corp.io", ("bob@acme-corp.io",)),
]
#: planted where the report never looks (tool input/output, an ai-title and a custom title do reach it)
ELSEWHERE = [f"cat ~/.aws/credentials -> {AWS_SECRET}", f"curl -H 'Authorization: Bearer {JWT}' https://{HOST}/x"]
AI_TITLE = f"Rotate the leaked key {AWS_KEY}"
CUSTOM_TITLE = f"deploy to {HOST}"


def write_planted(root: Path) -> Path:
    F.reset()
    layout: dict = {}
    base = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
    n = 0
    for i, (text, _) in enumerate(TITLES):
        pid, cwd, _ = PROJECTS[i % len(PROJECTS)]
        sid = f"a0000000-0000-4000-8000-{i:012d}"
        t0 = base + dt.timedelta(days=i)
        lines = [F.make_user(text, sessionId=sid, cwd=cwd, timestamp=F.iso(t0))]
        tool = F.make_tool_use("Bash", {"command": ELSEWHERE[1]}, sessionId=sid, cwd=cwd,
                               timestamp=F.iso(t0 + dt.timedelta(minutes=1)))
        lines += [tool, F.make_tool_result(tool, ELSEWHERE[0], sessionId=sid, cwd=cwd,
                                           timestamp=F.iso(t0 + dt.timedelta(minutes=2)))]
        lines.append(F.make_assistant("done", sessionId=sid, cwd=cwd, timestamp=F.iso(t0 + dt.timedelta(minutes=3 + i)),
                                      usage=F.usage(input=100 + i, output=1000 * (i + 1))))
        layout[F.session_path(sid, pid)] = lines
        n += 1
    # one session titled by an ai-title, one by a custom title (/rename)
    for j, extra in enumerate((F.make_ai_title, F.make_custom_title)):
        sid = f"b0000000-0000-4000-8000-{j:012d}"
        pid, cwd, _ = PROJECTS[j]
        t0 = base + dt.timedelta(days=n + j)
        layout[F.session_path(sid, pid)] = [
            F.make_user("hello", sessionId=sid, cwd=cwd, timestamp=F.iso(t0)),
            F.make_assistant("hi", sessionId=sid, cwd=cwd, timestamp=F.iso(t0 + dt.timedelta(minutes=1))),
            extra(AI_TITLE if j == 0 else CUSTOM_TITLE, session=sid)]
    layout["history.jsonl"] = [F.make_history(t, 1772355600000, project=PROJECTS[0][1]) for t, _ in TITLES[:3]]
    claude = F.make_claude_dir(root, layout)
    old = time.time() - 3600
    for p in claude.rglob("*"):
        os.utime(p, (old, old))
    return claude


def all_secrets() -> list[str]:
    out = [s for _, ss in TITLES for s in ss] + [s for *_, ss in PROJECTS for s in ss]
    return sorted(set(out + [AWS_SECRET, JWT, HOST, AWS_KEY]), key=len, reverse=True)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = tmp_path_factory.mktemp("report-planted")
    claude = write_planted(root)
    return claude, root


def make_app() -> typer.Typer:
    from ccsgen import cli

    if any((c.name or c.callback.__name__) == "report" for c in cli.app.registered_commands):
        return cli.app
    app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
    cli_query.register(app)
    app.command("report")(cli_report.report_cmd)
    return app


APP = make_app()


def run_report(planted, *args: str):
    claude, root = planted
    return CliRunner().invoke(APP, ["report", "--claude-dir", str(claude), "--cache-dir", str(root / "cache"),
                                    "--data-dir", str(root / "data"), *args], catch_exceptions=False)


def readable(path: Path, fmt: str) -> str:
    """The file's text as a reader sees it (entities, Markdown and JSON escapes undone), for grepping."""
    raw = path.read_text(encoding="utf-8")
    if fmt == "html":
        return raw + "\n" + html.unescape(raw)
    if fmt == "md":
        return raw + "\n" + re.sub(r"\\(.)", r"\1", raw)
    strings: list[str] = []

    def walk(v):
        if isinstance(v, str):
            strings.append(v)
        elif isinstance(v, dict):
            for k, x in v.items():
                strings.append(str(k))
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(json.loads(raw))
    return raw + "\n" + "\n".join(strings)


@pytest.fixture
def many_sessions(monkeypatch):
    """Every session in the notable lists, so every planted title reaches the report."""
    monkeypatch.setattr(report, "TOP_SESSIONS", 100)


# ---------------------------------------------------------------- redaction


@pytest.mark.parametrize("fmt", report.FORMATS)
def test_no_planted_secret_survives(planted, tmp_path, many_sessions, fmt):
    out = tmp_path / f"r.{fmt}"
    res = run_report(planted, "--period", "all", "--format", fmt, "--out", str(out))
    assert res.exit_code == 0, res.output
    text = readable(out, fmt)
    left = [s for s in all_secrets() if s in text]
    assert not left, left
    assert "alice" not in text.lower()
    for s in all_secrets():
        assert s not in res.output
    assert "[REDACTED:" in text and "[email]" in text and "[host]" in text and "[ip]" in text and "~" in text


@pytest.mark.parametrize("fmt", report.FORMATS)
def test_without_redaction_the_planted_secrets_are_there(planted, tmp_path, many_sessions, fmt):
    out = tmp_path / f"r.{fmt}"
    res = run_report(planted, "--period", "all", "--format", fmt, "--out", str(out), "--no-redact")
    assert res.exit_code == 0, res.output
    text = readable(out, fmt)
    reach = [s for text_, ss in TITLES for s in ss] + [AWS_KEY, HOST]
    missing = [s for s in reach if s not in text]
    assert not missing, missing  # every planted title reached the report: the test above checks something


def test_redact_preview_lists_and_writes_nothing(planted, tmp_path, many_sessions):
    out = tmp_path / "r.html"
    res = run_report(planted, "--period", "all", "--out", str(out), "--redact-preview")
    assert res.exit_code == 0, res.output
    assert not out.exists() and not list(tmp_path.iterdir())
    for rule in ("anthropic-key", "aws-key", "github-token", "private-key", "jwt", "url-credentials", "email",
                 "host", "ip", "home", "high-entropy"):
        assert rule in res.stdout, rule
    assert "Nothing written." in res.stdout
    left = [s for s in all_secrets() if s in res.output]
    assert not left, left


def test_alias_projects(planted, tmp_path):
    out = tmp_path / "r.json"
    res = run_report(planted, "--period", "all", "--out", str(out), "--alias-projects")
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    names = {p["name"] for p in data["projects"]}
    assert names == {"project-1", "project-2", "project-3", "project-4"}
    assert "acme" not in out.read_text()


def test_invalid_redact_pattern_fails_closed(planted, tmp_path):
    out = tmp_path / "r.html"
    res = run_report(planted, "--period", "all", "--out", str(out), "--redact-pattern", "(oops")
    assert res.exit_code == 4 and "nothing written" in res.output
    assert not out.exists()


def test_redaction_error_during_report_writes_nothing(planted, tmp_path, monkeypatch):
    from ccsgen import redact

    def boom(self, value, skip_keys=frozenset()):
        raise redact.RedactionError("rule 'email' failed: boom")

    monkeypatch.setattr(redact.Redactor, "redact_value", boom)
    out = tmp_path / "r.md"
    res = run_report(planted, "--period", "all", "--out", str(out))
    assert res.exit_code == 4 and not out.exists()


def test_extra_pattern_masks(planted, tmp_path):
    out = tmp_path / "r.md"
    res = run_report(planted, "--period", "all", "--out", str(out), "--redact-pattern", "acme")
    assert res.exit_code == 0 and "acme" not in out.read_text()


# ---------------------------------------------------------------- the file


def test_html_is_one_self_contained_escaped_file(planted, tmp_path, many_sessions):
    out = tmp_path / "r.html"
    res = run_report(planted, "--period", "all", "--out", str(out))
    assert res.exit_code == 0, res.output
    page = out.read_text()
    assert page.startswith("<!doctype html>") and page.count("<svg") >= 5 and "<style>" in page
    assert "<script" not in page.replace("&lt;script", "") and "<link" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "&lt;script&gt;alert(&#39;ZZXSSZZ&#39;)&lt;/script&gt;" in page
    assert "Prices:" in page and "LiteLLM" in page and "About these numbers" in page
    assert page.count(">Cost</dt>") == 1


def test_markdown_is_inert(planted, tmp_path, many_sessions):
    out = tmp_path / "r.md"
    assert run_report(planted, "--period", "all", "--out", str(out)).exit_code == 0
    text = out.read_text()
    assert "<script>" not in text and "\\<script\\>" in text and "](javascript" not in text
    assert text.startswith("# Claude Code usage report") and "## Cost by model" in text and "█" in text


def test_json_shape(planted, tmp_path):
    res = run_report(planted, "--period", "all", "--format", "json", "--out", "-")
    data = json.loads(res.stdout)
    assert set(data) == {"report", "totals", "by_model", "unpriced_models", "by_day", "projects", "tools",
                         "notable", "definitions"}
    assert data["report"]["redacted"] is True and data["report"]["prices"]["source"]
    assert data["totals"]["sessions"] == len(TITLES) + 2


def test_format_from_extension_and_default_name(planted, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_report(planted, "--period", "all", "--out", "x.md").exit_code == 0
    assert (tmp_path / "x.md").read_text().startswith("# ")
    assert run_report(planted, "--period", "all", "-q").exit_code == 0
    assert (tmp_path / "ccsgen-report.html").read_text().startswith("<!doctype html>")


# ---------------------------------------------------------------- numbers


def test_numbers_add_up(planted):
    claude, root = planted
    from ccsgen.catalog import Catalog

    cat = Catalog.open(Config(claude_dirs=(claude,), cache_dir=root / "lib-cache", data_dir=root / "lib-data",
                              prices_file=None))
    data = report.build_report(cat, report.resolve_period("all"))
    t = data["totals"]
    assert t["responses"] == cat.responses.height
    assert t["cost_usd"] == pytest.approx(float(cat.responses["cost_usd"].sum()))
    assert t["cost_usd"] > 0
    assert sum(m["cost_usd"] for m in data["by_model"]) == pytest.approx(t["cost_usd"])
    assert sum(d["cost_usd"] for d in data["by_day"]) == pytest.approx(t["cost_usd"])
    assert sum(p["cost_usd"] for p in data["projects"]) == pytest.approx(t["cost_usd"])
    assert sum(d["by_model"].get("other", 0) + sum(v for k, v in d["by_model"].items() if k != "other")
               for d in data["by_day"]) == pytest.approx(t["cost_usd"])
    assert t["tool_calls"] == cat.tool_calls.height == len(TITLES)
    assert t["active_days"] == len(TITLES) + 2
    assert data["notable"]["most_expensive"][0]["cost_usd"] >= data["notable"]["most_expensive"][-1]["cost_usd"]
    # a period: only its days
    week = report.build_report(cat, report.resolve_period("week", until="2026-03-07"))
    assert week["report"]["period"]["since"] == "2026-03-01" and len(week["by_day"]) == 7
    assert week["totals"]["sessions"] == 7
    # a project filter
    pid = "-home-alice-clients-acme"
    one = report.build_report(cat, report.resolve_period("all"), [pid])
    assert one["totals"]["projects"] == 1 and [p["name"] for p in one["projects"]] == ["acme"]


def test_empty_period(planted, tmp_path):
    out = tmp_path / "r.html"
    res = run_report(planted, "--period", "custom", "--since", "2020-01-01", "--until", "2020-01-31", "--out", str(out))
    assert res.exit_code == 0, res.output
    page = out.read_text()
    assert "No activity in this period." in page and "$0.00" in page


def test_project_option(planted, tmp_path):
    out = tmp_path / "r.json"
    res = run_report(planted, "--period", "all", "-p", "acme", "-p", "home-alice-bob", "--out", str(out))
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text())["totals"]["projects"] == 2
    res = run_report(planted, "--period", "all", "-p", "nope", "--out", str(out))
    assert res.exit_code == 1 and "Project not found" in res.output


@pytest.mark.parametrize("args,msg", [
    (("--period", "year"), "period must be one of"),
    (("--period", "week", "--since", "2026-01-01"), "--since goes with --period custom"),
    (("--since", "yesterday"), "--since must be a date"),
    (("--since", "2026-02-01", "--until", "2026-01-01"), "is after"),
    (("--format", "pdf"), "--format must be one of"),
    (("--no-redact", "--redact-preview"), "cannot be combined"),
    (("--timezone", "Mars/Base"), "Mars/Base"),
])
def test_usage_errors(planted, tmp_path, args, msg):
    res = run_report(planted, *args, "--out", str(tmp_path / "x.html"))
    assert res.exit_code == 2, res.output
    assert msg in res.output and not (tmp_path / "x.html").exists()


def test_resolve_period():
    today = dt.date(2026, 11, 24)
    p = report.resolve_period("week", today=today)
    assert (p.since, p.until) == (dt.date(2026, 11, 18), today)
    p = report.resolve_period("month", until="20261031", today=today)
    assert (p.since, p.until) == (dt.date(2026, 10, 2), dt.date(2026, 10, 31))
    assert report.resolve_period(None, since="2026-01-01", today=today).kind == "custom"
    assert report.resolve_period(None, today=today).kind == "month"
    p = report.resolve_period("all", today=today)
    assert (p.since, p.until) == (None, None)
