"""A small Claude dir for the server tests (tests/test_server*.py), with facts the tests assert on.

Two projects, three sessions plus a subagent transcript, tool calls with one error (Bash), an interruption,
two tasks, history lines, and a symlink in the project dir that points outside the Claude dir (it must never
be served). Build it with ``build(tmp)``; it returns a ``Corpus`` with the paths and a Catalog.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import factories as F

from ccsgen.catalog import Catalog
from ccsgen.config import Config

PROJECT = F.PROJECT  # -home-user-proj, cwd /home/user/proj
OTHER = "-home-user-other"
OTHER_CWD = "/home/user/other"
S1 = F.SESSION
S2 = F.SESSION2
S3 = "5e551000-0000-4000-8000-000000000003"
SECRET = "ZZSECRETOUTSIDEZZ"


@dataclass
class Corpus:
    root: Path  # the tmp dir holding everything
    claude: Path
    cache: Path
    data: Path
    outside: Path  # a file outside every configured dir
    cfg: Config
    cat: Catalog


def lines_s1() -> list:
    u1 = F.make_user("fix the failing test ZZPROMPTONEZZ", timestamp=F.at(0))
    streamed = F.make_streamed(3, parentUuid=u1["uuid"], timestamp=F.at(0.1))
    bad = F.make_tool_use("Bash", {"command": "pytest -x"}, timestamp=F.at(0.2))
    bad_res = F.make_tool_result(bad, "Error: exit code 1, AssertionError", is_error=True, timestamp=F.at(0.3))
    good = F.make_tool_use("Bash", {"command": "pytest -x -k fixed"}, timestamp=F.at(0.4))
    good_res = F.make_tool_result(good, "1 passed", timestamp=F.at(0.5))
    read = F.make_tool_use("Read", {"file_path": "/home/user/proj/a.py"}, timestamp=F.at(0.6))
    read_res = F.make_tool_result(read, "print('hi')", timestamp=F.at(0.7))
    done = F.make_assistant("Fixed: the test passes now.", timestamp=F.at(0.8))
    u2 = F.make_user("now refactor it", timestamp=F.at(5))
    grep = F.make_tool_use("Grep", {"pattern": "def "}, timestamp=F.at(5.1))
    grep_res = F.make_tool_result(grep, "a.py:1", timestamp=F.at(5.2))
    intr = F.make_user([{"type": "text", "text": "[Request interrupted by user]"}], timestamp=F.at(5.3))
    title = F.make_ai_title("Fix the failing test")
    return [u1, *streamed, bad, bad_res, good, good_res, read, read_res, done, u2, grep, grep_res, intr, title]


def lines_sub() -> list:
    a = F.make_user("subagent task", isSidechain=True, agentId="abc1234", timestamp=F.at(0.15))
    b = F.make_assistant("subagent done", isSidechain=True, agentId="abc1234", timestamp=F.at(0.16),
                         usage=F.usage(input=7, output=70))
    return [a, b]


def lines_s2() -> list:
    base = F.BASE.replace(day=11)
    u = F.make_user("explain the build ZZPROMPTTWOZZ", sessionId=S2, timestamp=F.at(0, base))
    a = F.make_assistant("It uses make.", sessionId=S2, timestamp=F.at(1, base))
    return [u, a]


def lines_s3() -> list:
    base = F.BASE.replace(day=12)
    u = F.make_user("hello other project", sessionId=S3, cwd=OTHER_CWD, timestamp=F.at(0, base))
    a = F.make_assistant("Hi.", sessionId=S3, cwd=OTHER_CWD, timestamp=F.at(1, base), model="claude-opus-4-5-20251101")
    return [u, a]


def write(root: Path) -> tuple[Path, Path]:
    """Write the Claude dir under ``root / "claude"`` and a secret file outside it."""
    F.reset()
    outside = root / "outside" / "secret.jsonl"
    outside.parent.mkdir(parents=True, exist_ok=True)
    outside.write_text('{"type":"user","text":"' + SECRET + '"}\n')
    layout = {
        F.session_path(S1): lines_s1(),
        f"projects/{PROJECT}/{S1}/subagents/agent-abc1234.jsonl": lines_sub(),
        F.session_path(S2): lines_s2(),
        F.session_path(S3, OTHER): lines_s3(),
        f"tasks/{S1}/1.json": F.make_task("1", "Write tests", "pending"),
        f"tasks/{S1}/2.json": F.make_task("2", "Fix bug", "completed"),
        "history.jsonl": [F.make_history("fix the failing test ZZPROMPTONEZZ", 1768039200000),
                          F.make_history("hello other project", 1768212000000, project=OTHER_CWD, session=S3)],
    }
    claude = F.make_claude_dir(root, layout)
    (claude / "projects" / PROJECT / "evil.jsonl").symlink_to(outside)
    age(claude)
    age(outside.parent)
    return claude, outside


def age(claude: Path, seconds: float = 3600.0) -> None:
    """Date every file back, so no session counts as active (written in the last 5 minutes)."""
    t = time.time() - seconds
    for p in claude.rglob("*"):
        if p.is_file() and not p.is_symlink():
            os.utime(p, (t, t))


def build(root: Path) -> Corpus:
    claude, outside = write(root)
    cfg = Config(claude_dirs=(claude,), cache_dir=root / "cache", data_dir=root / "data", prices_file=None)
    cat = Catalog.open(cfg)
    return Corpus(root, claude, cfg.cache_dir, cfg.data_dir, outside, cfg, cat)


def install_fake_services(cat: Catalog) -> None:
    """Stand-ins for the search/Q&A/tags methods ccsgen/search adds to the Catalog (only where missing), with
    the wire shapes the routes document — so generated tests exercise the 200 paths of those routes."""
    page = {"results": [], "total": 0, "page": 1, "per_page": 20, "total_pages": 0}
    fakes = {
        "search_messages": lambda q, page=1, per_page=20, **kw: {"results": [], "total": 0, "page": page,
                                                                  "per_page": per_page, "total_pages": 0, "query": q},
        "search_sessions": lambda q, limit=50: [S1],
        "search_messages_ccsinfo": lambda q, limit=50: [],
        "search_prompts": lambda q, limit=50: [],
        "reindex": lambda: {"projects_indexed": 2, "total_messages_indexed": 12, "elapsed_ms": 1.0},
        "index_stats": lambda: {"total_messages": 12, "total_projects": 2, "models": [], "indexed_projects": []},
        "qa_list": lambda **kw: dict(page),
        "qa_get": lambda qa_id: None,
        "qa_stats": lambda: {"total_pairs": 0, "by_project": []},
        "reindex_qa": lambda: {"projects_indexed": 2, "total_qa_indexed": 0, "elapsed_ms": 1.0},
        "tags_cloud": lambda: {"tags": [], "total_sessions": 0},
        "sessions_by_tag": lambda tag: {"tag": tag, "sessions": [], "count": 0},
        "session_tags": lambda sid: {"session_id": sid, "auto": [], "manual": [], "all": [], "metadata": {}},
        "add_tag": lambda sid, tag: None,
        "remove_tag": lambda sid, tag: None,
        "reindex_tags": lambda: {"projects_indexed": 2, "total_sessions_tagged": 0, "elapsed_ms": 1.0},
    }
    for name, fn in fakes.items():
        if not callable(getattr(cat, name, None)):
            setattr(cat, name, fn)
