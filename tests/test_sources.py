"""Discovery (sources.py) and where the config dirs come from (config.py, issue §2)."""

from __future__ import annotations

import os
from pathlib import Path

import factories as F
import pytest

from ccsgen import sources
from ccsgen.config import Config, default_claude_dirs

S, S2 = F.SESSION, F.SESSION2
P = f"projects/{F.PROJECT}"
AGENT_NEW = "a0123456789abcdef"  # 17 chars, new layout
AGENT_OLD = "1234abcd"  # 8 hex, legacy flat layout


def found(roots) -> dict[str, sources.SourceFile]:
    """discover() keyed by path relative to its root."""
    out = {}
    for sf in sources.discover(roots):
        rel = sf.path.relative_to(sf.root).as_posix()
        assert rel not in out, f"{rel} found twice"
        out[rel] = sf
    return out


@pytest.fixture
def every_layout(tmp_path) -> Path:
    """One Claude dir with every layout of issue §2 (and the noise next to them)."""
    return F.make_claude_dir(
        tmp_path,
        {
            f"{P}/{S}.jsonl": [F.make_user()],
            f"{P}/{S}/subagents/agent-{AGENT_NEW}.jsonl": [F.make_user(isSidechain=True, agentId=AGENT_NEW)],
            f"{P}/{S}/subagents/agent-{AGENT_NEW}.meta.json": {"agentType": "Explore", "description": "look"},
            f"{P}/{S}/subagents/agent-acompact-946d2b.jsonl": [F.make_user(isSidechain=True)],
            f"{P}/{S}/subagents/workflows/wf1/agent-deadbeef.jsonl": [F.make_user(isSidechain=True)],
            f"{P}/{S}/tool-results/toolu_01.txt": "persisted tool output",
            f"{P}/agent-{AGENT_OLD}.jsonl": [F.make_user(isSidechain=True, agentId=AGENT_OLD)],
            f"{P}/memory/MEMORY.md": "# memory",
            f"projects/-q/{S2}/subagents/agent-b1.jsonl": [F.make_user(sessionId=S2, isSidechain=True)],
            "projects/project-alpha/session-alpha/chat.jsonl": [F.make_user(sessionId="session-alpha")],
            "projects/empty-project": None,
            "projects/stray.jsonl": [F.make_user()],
            "history.jsonl": [F.make_history("hi", 1767225600000)],
            f"tasks/{S}/1.json": F.make_task(),
            f"tasks/{S}/.lock": "",
            "tasks/stray.json": F.make_task(),
            f"todos/{S}-agent-{S}.json": F.make_todos(("write tests", "in_progress")),
            "todos/notes.txt": "not a todo",
            "settings.json": {"theme": "dark"},
            "file-history/x/0123456789abcdef@v1": "backup",
        },
    )


def test_every_layout_is_discovered_with_its_kind(every_layout):
    got = found([every_layout])
    kinds = {rel: sf.kind for rel, sf in got.items()}
    assert kinds == {
        f"{P}/{S}.jsonl": sources.MAIN,
        f"{P}/agent-{AGENT_OLD}.jsonl": sources.LEGACY_AGENT,
        f"{P}/{S}/subagents/agent-{AGENT_NEW}.jsonl": sources.SUBAGENT,
        f"{P}/{S}/subagents/agent-acompact-946d2b.jsonl": sources.SUBAGENT,
        f"{P}/{S}/subagents/workflows/wf1/agent-deadbeef.jsonl": sources.SUBAGENT,
        f"projects/-q/{S2}/subagents/agent-b1.jsonl": sources.SUBAGENT,
        "projects/project-alpha/session-alpha/chat.jsonl": sources.OTHER,
        "history.jsonl": sources.HISTORY,
        f"tasks/{S}/1.json": sources.TASK,
        f"todos/{S}-agent-{S}.json": sources.TODO,
    }


def test_what_each_layout_knows_about_session_and_agent(every_layout):
    got = found([every_layout])
    main = got[f"{P}/{S}.jsonl"]
    assert (main.project, main.session_hint, main.agent_id) == (F.PROJECT, S, "")
    new = got[f"{P}/{S}/subagents/agent-{AGENT_NEW}.jsonl"]
    assert (new.project, new.session_hint, new.agent_id) == (F.PROJECT, S, AGENT_NEW)
    assert sources.agent_meta_path(new).name == f"agent-{AGENT_NEW}.meta.json"
    assert sources.agent_meta_path(new).is_file()
    assert got[f"{P}/{S}/subagents/agent-acompact-946d2b.jsonl"].agent_id == "acompact-946d2b"
    old = got[f"{P}/agent-{AGENT_OLD}.jsonl"]
    assert (old.project, old.session_hint, old.agent_id) == (F.PROJECT, "", AGENT_OLD)  # only its lines know
    orphan = got[f"projects/-q/{S2}/subagents/agent-b1.jsonl"]
    assert (orphan.project, orphan.session_hint) == ("-q", S2)
    nested = got["projects/project-alpha/session-alpha/chat.jsonl"]
    assert (nested.project, nested.session_hint) == ("project-alpha", "session-alpha")
    assert got[f"tasks/{S}/1.json"].session_hint == S
    assert got[f"todos/{S}-agent-{S}.json"].session_hint == S
    assert all(sf.root == every_layout for sf in got.values())


def test_discovery_order_is_stable(every_layout):
    a = [sf.path for sf in sources.discover([every_layout])]
    b = [sf.path for sf in sources.discover([every_layout])]
    assert a == b


def test_subagents_folder_whose_main_file_is_gone_is_still_a_session(tmp_path):
    root = F.make_claude_dir(
        tmp_path,
        {
            f"projects/-q/{S2}/subagents/agent-{AGENT_NEW}.jsonl": [
                F.make_user("ZZORPHANZZ", sessionId=S2, isSidechain=True, agentId=AGENT_NEW),
                F.make_assistant(sessionId=S2, isSidechain=True, agentId=AGENT_NEW, usage=F.usage(1, 2)),
            ],
        },
    )
    cat = F.build_catalog(root, tmp_path / "cache")
    assert cat.sessions.get_column("session_id").to_list() == [S2]
    s = cat.session(S2)
    assert s["project"] == "-q" and s["responses"] == 1 and s["has_main_file"] is False
    assert s["subagents"] == 1


def test_empty_and_missing_dirs(tmp_path):
    assert sources.discover([]) == []
    assert sources.discover([tmp_path / "missing"]) == []
    (tmp_path / "empty").mkdir()
    assert sources.discover([tmp_path / "empty"]) == []
    (tmp_path / "file").write_text("not a dir")
    assert sources.discover([tmp_path / "file"]) == []
    root = F.make_claude_dir(tmp_path, {F.session_path(): [F.make_user()]})
    assert [sf.kind for sf in sources.discover([tmp_path / "missing", root])] == [sources.MAIN]


def test_zero_byte_session_file_is_discovered_and_harmless(tmp_path):
    root = F.make_claude_dir(
        tmp_path, {F.session_path(): b"", F.session_path(S2): [F.make_user(sessionId=S2)]}
    )
    assert len(sources.discover([root])) == 2
    cat = F.build_catalog(root, tmp_path / "cache")
    assert cat.report.bad_lines == 0
    assert S2 in cat.sessions.get_column("session_id").to_list()


def test_several_roots_and_the_same_root_twice(tmp_path):
    a = F.make_claude_dir(tmp_path, {F.session_path(S): [F.make_user()]}, name="a")
    b = F.make_claude_dir(tmp_path, {F.session_path(S2): [F.make_user(sessionId=S2)]}, name="b")
    got = sources.discover([a, b, a])
    assert sorted(sf.path.name for sf in got) == sorted([f"{S}.jsonl", f"{S2}.jsonl"])
    os.symlink(a, tmp_path / "link-to-a")
    assert len(sources.discover([a, tmp_path / "link-to-a"])) == 1


# ---------------------------------------------------------------- which dirs (config)


def test_claude_config_dir_is_comma_separated(monkeypatch, tmp_path):
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", f"{tmp_path}/one, {tmp_path}/two,,~/three")
    assert default_claude_dirs() == (tmp_path / "one", tmp_path / "two", Path.home() / "three")
    assert Config().claude_dirs == default_claude_dirs()


def test_default_dirs_are_those_of_config_claude_and_dot_claude_that_exist(monkeypatch):
    home = Path.home()
    assert default_claude_dirs() == ()
    (home / ".claude").mkdir()
    assert default_claude_dirs() == (home / ".claude",)
    (home / ".config" / "claude").mkdir(parents=True)
    assert default_claude_dirs() == (home / ".config" / "claude", home / ".claude")


def test_claude_dir_option_overrides_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "env"))
    cfg = Config.from_options([tmp_path / "x", tmp_path / "y"])
    assert cfg.claude_dirs == (tmp_path / "x", tmp_path / "y")
    assert Config.from_options(None).claude_dirs == (tmp_path / "env",)


def test_cache_and_data_dirs_follow_xdg_and_env(monkeypatch, tmp_path):
    cfg = Config()
    assert cfg.cache_dir == Path(os.environ["XDG_CACHE_HOME"]) / "ccsgen"
    assert cfg.data_dir == Path(os.environ["XDG_DATA_HOME"]) / "ccsgen"
    monkeypatch.setenv("CCSGEN_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.setenv("CCSGEN_DATA_DIR", str(tmp_path / "d"))
    cfg = Config()
    assert (cfg.cache_dir, cfg.data_dir) == (tmp_path / "c", tmp_path / "d")
    assert Config.from_options(cache_dir=tmp_path / "flag").cache_dir == tmp_path / "flag"


def test_build_reads_every_dir_of_claude_config_dir(monkeypatch, tmp_path):
    a = F.make_claude_dir(tmp_path, {F.session_path(S): [F.make_user()]}, name="a")
    b = F.make_claude_dir(tmp_path, {F.session_path(S2, "-other"): [F.make_user(sessionId=S2)]}, name="b")
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", f"{a},{tmp_path / 'missing'},{b}")
    from ccsgen.catalog import Catalog

    cat = Catalog.open(Config.from_options(cache_dir=tmp_path / "cache"))
    assert sorted(cat.sessions.get_column("session_id").to_list()) == sorted([S, S2])
    assert sorted(cat.projects.get_column("id").to_list()) == sorted([F.PROJECT, "-other"])


def test_the_real_home_is_never_used():
    """conftest points HOME and the XDG dirs at tmp dirs for every test."""
    home = Path.home()
    assert "pytest" in str(home) or "tmp" in str(home)
    assert "CLAUDE_CONFIG_DIR" not in os.environ
    assert not [k for k in os.environ if k.startswith("CCSGEN_")]
    assert str(Config().cache_dir).startswith(str(home))
