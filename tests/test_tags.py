"""Tags (ccsgen/tags.py): auto tags on fixture sessions, manual tags in the data dir, cloud and browse."""

from __future__ import annotations

import sqlite3

import polars as pl
import pytest
from factories import make_assistant, make_tool_result, make_tool_use, make_user, write_jsonl

from ccsgen import search, tags
from ccsgen.catalog import Catalog, NotFound
from ccsgen.config import Config

PROJ = "-w"
T1, T2, T3 = (f"7{i}000000-0000-4000-8000-00000000000{i}" for i in (1, 2, 3))


def tool(name: str, inp: dict, result: str = "ok", **kw) -> list[dict]:
    tu = make_tool_use(name, inp, **kw)
    return [tu, make_tool_result(tu, result, **kw)]


def build(root):
    claude = root / "claude"
    k1 = {"sessionId": T1, "cwd": "/w/app"}
    write_jsonl(claude / "projects" / PROJ / f"{T1}.jsonl", [
        make_user("Fix the bug in the login view, it throws an error", **k1),
        make_assistant("Let me look.", **k1),
        *tool("Read", {"file_path": "/w/app/views.py"}, **k1),
        *tool("Edit", {"file_path": "/w/app/views.py", "old_string": "x",
                       "new_string": "from django.http import HttpResponse\n"}, **k1),
        *tool("Bash", {"command": "pytest -q tests/"}, "3 passed", **k1),
        make_assistant("Fixed the error; tests pass.\n```python\nimport django\n```", **k1),
    ])
    k2 = {"sessionId": T2, "cwd": "/w/web"}
    write_jsonl(claude / "projects" / PROJ / f"{T2}.jsonl", [
        make_user("Create a new React component and add a Dockerfile", **k2),
        *tool("Write", {"file_path": "/w/web/src/App.tsx",
                        "content": "import React from 'react';\nexport default function App() { return null }\n"}, **k2),
        *tool("Write", {"file_path": "/w/web/package.json", "content": "{}"}, **k2),
        *tool("Write", {"file_path": "/w/web/Dockerfile", "content": "FROM node:20"}, **k2),
        *tool("Bash", {"command": "docker build -t web . && npm install"}, **k2),
        make_assistant("Created the component. Build it with:\n```bash\ndocker build .\n```", **k2),
    ])
    k3 = {"sessionId": T3, "cwd": "/w/x"}
    write_jsonl(claude / "projects" / PROJ / f"{T3}.jsonl", [make_user("hello there", **k3),
                                                            make_assistant("Hi", **k3)])
    return Config.from_options([claude], root / "cache", root / "data")


@pytest.fixture(scope="module")
def cat(tmp_path_factory):
    return Catalog.open(build(tmp_path_factory.mktemp("tags")))


@pytest.fixture(scope="module")
def auto(cat):
    df = search.service(cat).generation().tags
    return {s: {r["tag"]: r for r in df.filter(pl.col("session_id") == s).to_dicts()} for s in (T1, T2, T3)}


def names(auto, s, category) -> set[str]:
    return {t for t, r in auto[s].items() if r["category"] == category}


def test_python_session(auto):
    assert names(auto, T1, "language") == {"python"}
    assert auto[T1]["python"]["color"] == "#3572A5"
    assert "django" in names(auto, T1, "framework")
    assert names(auto, T1, "tool") == {"Read", "Edit", "Bash"}
    assert {"debugging", "testing"} <= names(auto, T1, "topic")
    assert "authentication" not in names(auto, T1, "topic")  # one mention in one prompt is not enough
    assert names(auto, T1, "intent") == {"intent:fix"}


def test_web_session(auto):
    assert {"typescript", "json", "bash"} <= names(auto, T2, "language")
    assert {"react", "nodejs", "docker"} <= names(auto, T2, "framework")
    assert auto[T2]["react"]["color"] == "#61dafb"
    assert names(auto, T2, "tool") == {"Write", "Bash"}
    assert "devops" in names(auto, T2, "topic")
    assert {"intent:build", "intent:ops"} <= names(auto, T2, "intent")
    assert auto[T2]["Write"]["color"] == "#718096"


def test_quiet_session_has_few_tags(auto):
    assert auto[T3] == {}


def test_cloud(cat):
    c = search.service(cat).tags_cloud()
    assert c["total_sessions"] == 3
    by = {t["name"]: t for t in c["tags"]}
    assert by["Bash"] == {"name": "Bash", "count": 2, "category": "tool", "color": "#718096"}
    counts = [t["count"] for t in c["tags"]]
    assert counts == sorted(counts, reverse=True)


def test_browse_exact_name_then_any_case(cat):
    svc = search.service(cat)
    assert {s["session_id"] for s in svc.sessions_by_tag("Bash")["sessions"]} == {T1, T2}  # the tool
    assert {s["session_id"] for s in svc.sessions_by_tag("bash")["sessions"]} == {T2}  # the language
    both = svc.sessions_by_tag("BASH")
    assert {s["session_id"] for s in both["sessions"]} == {T1, T2} and both["count"] == 2
    one = svc.sessions_by_tag("PYTHON")
    assert one["tag"] == "python" and one["sessions"][0]["source"] == ["auto"]
    assert one["sessions"][0]["project"] == PROJ
    assert svc.sessions_by_tag("nope") == {"tag": "nope", "sessions": [], "count": 0}


def test_session_tags_shape(cat):
    st = search.service(cat).session_tags(T1[:8])
    assert st["session_id"] == T1 and st["manual"] == []
    assert st["all"] == sorted(st["auto"])
    assert st["metadata"]["python"] == {"color": "#3572A5", "category": "language"}
    assert st["metadata"]["intent:fix"] == {"color": "#ef4444", "category": "intent"}


def test_manual_tags(tmp_path):
    cfg = build(tmp_path)
    c = Catalog.open(cfg)
    svc = search.service(c)
    assert svc.add_tag(T3, "  Keep-Me ") == {"status": "added", "tag": "Keep-Me", "session_id": T3}
    assert svc.add_tag(T3[:8], "keep-me")["status"] == "exists"
    assert svc.add_tag(T1, "python")["status"] == "added"  # also an auto tag of T1
    st = svc.session_tags(T3)
    assert st["manual"] == ["Keep-Me"] and st["metadata"]["Keep-Me"] == {"color": "#667eea", "category": "custom"}
    st1 = svc.session_tags(T1)
    assert "python" in st1["auto"] and "python" in st1["manual"] and st1["all"].count("python") == 1
    assert svc.sessions_by_tag("python")["sessions"][0]["source"] == ["auto", "manual"]
    cloud = {t["name"]: t for t in svc.tags_cloud()["tags"]}
    assert cloud["Keep-Me"] == {"name": "Keep-Me", "count": 1, "category": "custom", "color": "#667eea"}
    assert cloud["python"]["count"] == 1  # one session, not two rows
    assert [s["session_id"] for s in svc.sessions_by_tag("KEEP-ME")["sessions"]] == [T3]
    # user data: in the data dir, WAL, never in the cache; survives a full reindex and a new Catalog
    db = cfg.data_dir / "userdata.sqlite3"
    assert db.is_file() and not list(cfg.cache_dir.rglob("*.sqlite3"))
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    svc.reindex(full=True)
    assert svc.session_tags(T3)["manual"] == ["Keep-Me"]
    c2 = Catalog.open(cfg)
    assert search.service(c2).session_tags(T3)["manual"] == ["Keep-Me"]
    # remove (any case), unknown tags, unknown sessions, empty names
    assert svc.remove_tag(T3, "keep-me") == {"status": "removed", "tag": "Keep-Me", "session_id": T3}
    assert svc.remove_tag(T3, "keep-me")["status"] == "not_found"
    assert svc.session_tags(T3)["manual"] == []
    with pytest.raises(NotFound):
        svc.add_tag("ffffffff", "x")
    with pytest.raises(ValueError):
        svc.add_tag(T3, "   ")
    with pytest.raises(ValueError):
        svc.add_tag(T3, "x" * 65)


def test_manual_tags_of_vanished_sessions_are_kept_but_hidden(tmp_path):
    cfg = build(tmp_path)
    c = Catalog.open(cfg)
    svc = search.service(c)
    svc.add_tag(T3, "gone-soon")
    (cfg.claude_dirs[0] / "projects" / PROJ / f"{T3}.jsonl").unlink()
    c.refresh()
    assert "gone-soon" not in {t["name"] for t in svc.tags_cloud()["tags"]}
    assert tags.ManualTags(cfg.data_dir).frame().height == 1  # precious: never deleted behind the user's back


def test_auto_tags_pure_function():
    texts = pl.DataFrame({"session_id": ["s", "s"], "role": ["user", "assistant"],
                          "text": ["Why is the query slow? optimize it", "Added an index; the query is faster."]})
    uses = pl.DataFrame({"session_id": ["s"], "tool_name": ["Bash"], "input_json": ['{"command":"psql -c \\"x\\""}']})
    out = tags.auto_tags(texts, uses)
    got = {(r["tag"], r["category"]) for r in out.to_dicts()}
    assert {("Bash", "tool"), ("performance", "topic"), ("database", "topic"), ("intent:explore", "intent")} <= got
    assert set(out.columns) == set(tags.TAG_SCHEMA)
