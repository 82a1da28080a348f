"""Tests for ccsgen.demo: the synthetic ~/.claude generator."""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ccsgen.demo import DEFAULT_NOW, MALFORMED_LINES, DemoSummary, generate, parse_size

SIZE = 300 * 1024
ISO_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ENVELOPE_TYPES = {"user", "assistant", "system", "progress", "attachment"}
ENVELOPE_KEYS = {"uuid", "parentUuid", "sessionId", "timestamp", "type", "isSidechain", "userType", "cwd", "version",
                 "gitBranch"}  # fmt: skip


def _vt(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split("."))


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoSummary]:
    out = tmp_path_factory.mktemp("demo") / "claude"
    return out, generate(out, SIZE, seed=1)


@pytest.fixture(scope="module")
def parsed(corpus: tuple[Path, DemoSummary]) -> dict[Path, list[dict | bytes]]:
    """Every transcript file -> its lines (dicts, or the raw bytes for malformed lines)."""
    root, _ = corpus
    out: dict[Path, list[dict | bytes]] = {}
    for f in sorted((root / "projects").rglob("*.jsonl")):
        rows: list[dict | bytes] = []
        for line in f.read_bytes().split(b"\n"):
            if not line:
                continue
            if line in MALFORMED_LINES:
                rows.append(line)
                continue
            obj = json.loads(line)
            assert isinstance(obj, dict), (f, line[:200])
            rows.append(obj)
        out[f] = rows
    return out


def _objs(parsed: dict[Path, list[dict | bytes]]) -> list[dict]:
    return [r for rows in parsed.values() for r in rows if isinstance(r, dict)]


def test_summary_matches_disk(corpus: tuple[Path, DemoSummary]) -> None:
    root, summ = corpus
    files = [p for p in root.rglob("*") if p.is_file()]
    assert summ.out_dir == root
    assert summ.files == len(files)
    assert summ.bytes == sum(p.stat().st_size for p in files)
    assert summ.lines == sum(p.read_bytes().count(b"\n") for p in (root / "projects").rglob("*.jsonl"))
    assert summ.sessions >= 3 and summ.projects >= 3
    assert 0.5 * SIZE < summ.bytes < 3 * SIZE
    assert summ.seconds >= 0


def test_deterministic(corpus: tuple[Path, DemoSummary], tmp_path: Path) -> None:
    root, _ = corpus
    again = generate(tmp_path / "again", SIZE, seed=1)
    assert _tree_digest(root) == _tree_digest(again.out_dir)
    other = generate(tmp_path / "other", SIZE, seed=2)
    assert _tree_digest(root) != _tree_digest(other.out_dir)


def test_size_roughly_respected(tmp_path: Path) -> None:
    summ = generate(tmp_path / "c", 3 * 1024**2, seed=3)
    assert 0.9 * 3 * 1024**2 < summ.bytes < 1.25 * 3 * 1024**2
    assert summ.sessions > 5
    raw = b"".join(p.read_bytes() for p in (tmp_path / "c" / "projects").rglob("*.jsonl"))
    fences = set(re.findall(rb"```(python|ts|rust|go|sql|bash)\\n", raw))
    assert len(fences) >= 5, fences


def test_lines_parse_and_malformed_present(parsed: dict[Path, list[dict | bytes]]) -> None:
    bad = [r for rows in parsed.values() for r in rows if isinstance(r, bytes)]
    assert len(set(bad)) >= 4  # invalid JSON, 42, [1], invalid UTF-8, bare string
    with pytest.raises(UnicodeDecodeError):
        MALFORMED_LINES[3].decode("utf-8")


def test_envelope_and_chains(parsed: dict[Path, list[dict | bytes]]) -> None:
    now = DEFAULT_NOW
    lo = now - timedelta(days=190)
    for f, rows in parsed.items():
        seen: set[str] = set()
        for r in rows:
            if not isinstance(r, dict) or r.get("type") not in ENVELOPE_TYPES:
                continue
            missing = ENVELOPE_KEYS - r.keys()
            assert not missing, (f, missing)
            assert r["userType"] == "external"
            assert ISO_RE.match(r["timestamp"])
            ts = datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00"))
            assert lo <= ts <= now
            if _vt(r["version"]) >= (2, 0, 55):
                assert r.get("slug")
            assert r["parentUuid"] is None or r["parentUuid"] in seen, (f, r["uuid"])
            seen.add(r["uuid"])
            if "/subagents/" in str(f) or f.name.startswith("agent-"):
                assert r["isSidechain"] is True and r["agentId"]


def test_streamed_groups(parsed: dict[Path, list[dict | bytes]]) -> None:
    multi = 0
    for rows in parsed.values():
        groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for r in rows:
            if isinstance(r, dict) and r.get("type") == "assistant" and r.get("requestId"):
                groups[(r["message"]["id"], r["requestId"])].append(r)
        for (mid, req), lines in groups.items():
            assert mid.startswith("msg_") and req.startswith("req_")
            outs = [ln["message"]["usage"]["output_tokens"] for ln in lines]
            if len(lines) > 1:
                multi += 1
                assert all(o < outs[-1] for o in outs[:-1]), outs
                assert all(ln["message"]["stop_reason"] is None for ln in lines[:-1])
            for ln in lines:
                u = ln["message"]["usage"]
                assert len(ln["message"]["content"]) == 1
                if "cache_creation" in u:
                    cc = u["cache_creation"]
                    total = cc["ephemeral_5m_input_tokens"] + cc["ephemeral_1h_input_tokens"]
                    assert total == u["cache_creation_input_tokens"]
    assert multi >= 10


def test_tool_results_match_tool_uses(parsed: dict[Path, list[dict | bytes]]) -> None:
    errors = 0
    for f, rows in parsed.items():
        uses: dict[str, str] = {}
        for r in rows:
            if not isinstance(r, dict):
                continue
            content = (r.get("message") or {}).get("content")
            if r.get("type") == "assistant":
                for b in content:
                    if b["type"] == "tool_use":
                        uses[b["id"]] = r["uuid"]
            elif r.get("type") == "user" and isinstance(content, list):
                for b in content:
                    if b.get("type") == "tool_result":
                        assert b["tool_use_id"] in uses, f
                        assert "toolUseResult" in r
                        errors += bool(b.get("is_error"))
                        if "sourceToolAssistantUUID" in r:
                            assert r["sourceToolAssistantUUID"] == uses[b["tool_use_id"]]
    assert errors >= 1


def test_subagent_layouts(corpus: tuple[Path, DemoSummary], parsed: dict[Path, list[dict | bytes]]) -> None:
    root, _ = corpus
    projects = root / "projects"
    legacy = list(projects.glob("*/agent-*.jsonl"))
    new = list(projects.glob("*/*/subagents/agent-*.jsonl"))
    assert legacy and new
    assert all(re.fullmatch(r"agent-[0-9a-f]{8}\.jsonl", p.name) for p in legacy)
    assert all(re.fullmatch(r"agent-[0-9a-f]{17}\.jsonl", p.name) for p in new)
    for p in new:
        meta = json.loads(p.with_name(p.stem + ".meta.json").read_text())
        assert meta["agentType"] and meta["description"]
        sid = p.parent.parent.name
        assert {r["sessionId"] for r in parsed[p] if isinstance(r, dict)} == {sid}
    firsts = [next(r for r in parsed[p] if isinstance(r, dict)) for p in legacy]
    assert any(r["message"]["content"] == "Warmup" for r in firsts)
    # every Task/Agent result names an agent file that exists
    agent_ids = {p.stem.removeprefix("agent-") for p in legacy + new}
    linked = [r["toolUseResult"]["agentId"] for r in _objs(parsed)
              if isinstance(r.get("toolUseResult"), dict) and "totalDurationMs" in r["toolUseResult"]]  # fmt: skip
    assert linked and set(linked) <= agent_ids
    # a subagents/ folder whose main session file is missing, and a 0-byte session file
    assert any(not (d.parent / f"{d.name}.jsonl").exists() for d in projects.glob("*/*") if d.is_dir())
    assert any(p.stat().st_size == 0 for p in projects.glob("*/*.jsonl"))


def test_feature_coverage(parsed: dict[Path, list[dict | bytes]]) -> None:
    objs = _objs(parsed)
    types = {r.get("type") for r in objs}
    for t in ("summary", "ai-title", "custom-title", "last-prompt", "file-history-snapshot", "queue-operation",
              "attachment", "permission-mode", "progress", "frame-link"):  # fmt: skip
        assert t in types, t
    subtypes = {r.get("subtype") for r in objs if r.get("type") == "system"}
    assert {"turn_duration", "stop_hook_summary", "local_command", "compact_boundary"} <= subtypes
    progress = {r["data"]["type"] for r in objs if r.get("type") == "progress"}
    assert {"hook_progress", "bash_progress", "agent_progress"} <= progress
    for r in objs:
        if r.get("type") == "progress":
            assert (2, 1, 17) <= _vt(r["version"]) <= (2, 1, 81)
    boundary = next(r for r in objs if r.get("subtype") == "compact_boundary")
    assert boundary["parentUuid"] is None and boundary["logicalParentUuid"]
    texts = []
    for r in objs:
        c = (r.get("message") or {}).get("content")
        if isinstance(c, str):
            texts.append(c)
        elif isinstance(c, list):
            texts += [b.get("text") or b.get("thinking") or "" for b in c if isinstance(b, dict)]
    blob = "\n".join(texts)
    for needle in ("This session is being continued from a previous conversation", "<command-name>/commit",
                   "<bash-input>", "<bash-stdout>", "[Request interrupted by user", "```", "Error: Exit code 1"):  # fmt: skip
        assert needle in blob or any(needle in json.dumps(r, ensure_ascii=False) for r in objs), needle
    assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", blob) and re.search(
        r"[\U0001F300-\U0001FAFF\u2600-\u27BF]", blob
    )
    assert re.search(r"[éèàçñü]", blob)
    assert any(r.get("isCompactSummary") for r in objs) and any(r.get("isMeta") for r in objs)
    models = {r["message"]["model"] for r in objs if r.get("type") == "assistant"}
    assert "<synthetic>" in models and "claude-experimental-9" in models
    assert any(r.get("isApiErrorMessage") for r in objs)
    images = [b for r in objs if r.get("type") == "user" and isinstance(r["message"]["content"], list)
              for b in r["message"]["content"] if b.get("type") == "image"]  # fmt: skip
    assert images and all(len(b["source"]["data"]) < 2000 for b in images)
    thinking = [
        b
        for r in objs
        if r.get("type") == "assistant"
        for b in r["message"]["content"]
        if b["type"] == "thinking"
    ]
    assert any(b["thinking"] == "" for b in thinking) and any(b["thinking"] for b in thinking)
    tools = {b["name"] for r in objs if r.get("type") == "assistant" for b in r["message"]["content"]
             if b["type"] == "tool_use"}  # fmt: skip
    assert {"Bash", "TodoWrite", "mcp__github__get_issue"} <= tools and tools & {"Task", "Agent"}
    assert any(r["message"]["usage"].get("speed") == "fast" for r in objs if r.get("type") == "assistant")


def test_history_tasks_todos(corpus: tuple[Path, DemoSummary]) -> None:
    root, _ = corpus
    hist = [json.loads(line) for line in (root / "history.jsonl").read_text().splitlines()]
    assert hist
    for h in hist:
        assert set(h) == {"display", "pastedContents", "timestamp", "project", "sessionId"}
        assert isinstance(h["timestamp"], int) and h["project"].startswith("/home/demo/code/")
    assert [h["timestamp"] for h in hist] == sorted(h["timestamp"] for h in hist)
    tasks = list((root / "tasks").glob("*/*.json"))
    assert tasks
    for p in tasks:
        t = json.loads(p.read_text())
        assert {"id", "subject", "description", "activeForm", "status", "blocks", "blockedBy"} <= t.keys()
        assert t["status"] in ("pending", "in_progress", "completed") and t["id"] == p.stem
    todos = list((root / "todos").glob("*-agent-*.json"))
    assert todos
    for p in todos:
        sid = p.stem.split("-agent-")[0]
        assert p.stem == f"{sid}-agent-{sid}"
        items = json.loads(p.read_text())
        assert isinstance(items, list)
        assert all(set(i) == {"content", "status", "activeForm"} for i in items)
    assert any(json.loads(p.read_text()) for p in todos)


def test_project_dirs_are_encoded_cwds(parsed: dict[Path, list[dict | bytes]]) -> None:
    for f, rows in parsed.items():
        cwds = {r["cwd"] for r in rows if isinstance(r, dict) and "cwd" in r}
        d = next(p for p in f.parents if p.parent.name == "projects")
        for cwd in cwds:
            assert re.sub(r"[^A-Za-z0-9]", "-", cwd) == d.name


def test_now_parameter(tmp_path: Path) -> None:
    now = datetime(2025, 3, 1, tzinfo=UTC)
    generate(tmp_path / "n", 100 * 1024, seed=0, now=now)
    hist = [json.loads(line) for line in (tmp_path / "n" / "history.jsonl").read_text().splitlines()]
    assert max(h["timestamp"] for h in hist) <= now.timestamp() * 1000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("50MB", 50 * 1024**2),
        ("1GB", 1024**3),
        ("200kb", 200 * 1024),
        ("1.5GB", int(1.5 * 1024**3)),
        ("1024", 1024),
        (" 10 mb ", 10 * 1024**2),
        ("3MiB", 3 * 1024**2),
        ("7B", 7),
        ("2k", 2048),
    ],
)
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "MB", "10XB", "1.2.3GB", "-5MB", "5 M B", "i", "5i"])
def test_parse_size_rejects_junk(text: str) -> None:
    with pytest.raises(ValueError):
        parse_size(text)
