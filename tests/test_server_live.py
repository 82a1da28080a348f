"""The server for real: waitress on a loopback port, the watch loop, user data under concurrency, and the
durability promise (every bookmark that got a 2xx survives ``kill -9``)."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import factories as F
import pytest
import server_corpus as C
from live_http import call, wait_for

from ccsgen.server import Settings
from ccsgen.server.serve import Server
from ccsgen.userdata import UserData, UserDataError, open_userdata


@pytest.fixture
def live(tmp_path):
    corpus = C.build(tmp_path)
    srv = Server(corpus.cat, Settings(host="127.0.0.1", port=0))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    yield corpus, srv
    srv.close()
    t.join(timeout=5)


# ---------------------------------------------------------------- waitress


def test_live_server_answers_and_guards_the_host(live):
    corpus, srv = live
    assert srv.port > 0
    assert call(srv.port, "GET", "/health") == (200, {"status": "healthy"})
    assert call(srv.port, "GET", "/api/health", host="attacker.example")[0] == 403
    assert call(srv.port, "GET", "/api/health", host="localhost:1")[0] == 403
    status, body = call(srv.port, "POST", "/api/bookmarks", {"session_id": C.S1})
    assert status == 201 and body["id"].startswith("bm_")


def test_keep_alive_and_threads(live):
    corpus, srv = live
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    for _ in range(20):
        assert call(srv.port, "GET", "/sessions?limit=2", conn=conn)[0] == 200
    conn.close()
    results = []

    def worker():
        for _ in range(10):
            results.append(call(srv.port, "GET", "/stats")[0])

    ts = [threading.Thread(target=worker) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert results == [200] * 80


# ---------------------------------------------------------------- live refresh


@pytest.mark.parametrize("polling", [False, True], ids=["watchfiles", "polling"])
def test_watch_refreshes_when_logs_grow(live, polling):
    corpus, srv = live
    srv.start_watching(force_polling=polling)
    time.sleep(0.5)
    before = call(srv.port, "GET", f"/sessions/{C.S2}")[1]["message_count"]
    F.append_jsonl(corpus.claude / F.session_path(C.S2), [
        F.make_user("watch me ZZWATCHZZ", sessionId=C.S2, timestamp=F.at(90)),
        F.make_assistant("seen", sessionId=C.S2, timestamp=F.at(91))])
    got = wait_for(lambda: call(srv.port, "GET", f"/sessions/{C.S2}")[1]["message_count"] == before + 2)
    assert got, "the watch loop did not refresh"
    assert srv.watcher.refreshes >= 1


def test_refresh_does_not_block_readers(live):
    corpus, srv = live
    stop = threading.Event()
    codes = []

    def reader():
        while not stop.is_set():
            codes.append(call(srv.port, "GET", "/sessions?limit=50")[0])

    t = threading.Thread(target=reader)
    t.start()
    for i in range(3):
        F.append_jsonl(corpus.claude / F.session_path(C.S3, C.OTHER), [
            F.make_user(f"more {i}", sessionId=C.S3, cwd=C.OTHER_CWD, timestamp=F.at(200 + i))])
        assert call(srv.port, "POST", "/api/refresh", {})[0] == 200
    stop.set()
    t.join()
    assert codes and set(codes) == {200}


# ---------------------------------------------------------------- user data


def test_concurrent_writers_lose_nothing(tmp_path):
    ud = UserData(tmp_path / "data")
    other = UserData(tmp_path / "data")  # a second process's view of the same file
    ids, errors = [], []

    def writer(store, n):
        try:
            for i in range(n):
                ids.append(store.create_bookmark(f"s{i % 5}", i, f"t{i}")["id"])
                store.toggle_bookmark("toggled", i)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    ts = [threading.Thread(target=writer, args=(ud if k % 2 else other, 40)) for k in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors
    listed = {b["id"] for b in ud.list_bookmarks()}
    assert set(ids) <= listed and len(ids) == 320
    assert len([b for b in listed if b not in ids]) == len(ud.list_bookmarks(session_id="toggled"))
    assert ud._conn().execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_manual_tags(tmp_path):
    ud = UserData(tmp_path)
    assert ud.add_tag(C.S1, "mine") and not ud.add_tag(C.S1, "mine")
    assert ud.session_tags(C.S1) == ["mine"] and ud.sessions_with_tag("mine") == [C.S1]
    assert ud.all_tags() == {"mine": 1}
    assert ud.remove_tag(C.S1, "mine") and ud.session_tags(C.S1) == []


def test_user_data_never_in_cache_or_claude_dir(tmp_path):
    from ccsgen.config import Config

    claude = tmp_path / "claude"
    claude.mkdir()
    for bad in (tmp_path / "cache" / "data", claude / "data", tmp_path / "cache"):
        with pytest.raises(UserDataError):
            open_userdata(Config(claude_dirs=(claude,), cache_dir=tmp_path / "cache", data_dir=bad))
    ok = open_userdata(Config(claude_dirs=(claude,), cache_dir=tmp_path / "cache", data_dir=tmp_path / "d"))
    assert ok.path == tmp_path / "d" / "userdata.sqlite3"


def _start_server(claude: Path, cache: Path, data: Path, out: Path) -> tuple[subprocess.Popen, int]:
    cmd = [sys.executable, "-m", "ccsgen.cli_serve", "--claude-dir", str(claude), "--cache-dir", str(cache),
           "--data-dir", str(data), "--port", "0", "--no-watch", "--quiet", "--out", str(out)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if not line.startswith("serving on "):
        p.kill()
        raise AssertionError(f"server did not start: {line!r} {p.stderr.read()}")
    return p, int(line.rsplit(":", 1)[1])


def test_bookmarks_survive_kill_9_mid_burst(tmp_path):
    claude, _ = C.write(tmp_path)
    cache, data, out = tmp_path / "cache", tmp_path / "data", tmp_path / "site"
    proc, port = _start_server(claude, cache, data, out)
    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def burst(k: int):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        i = 0
        while not stop.is_set():
            i += 1
            try:
                status, body = call(port, "POST", "/api/bookmarks",
                                    {"session_id": C.S1, "message_index": i, "title": f"w{k}-{i}"}, conn=conn)
            except (OSError, http.client.HTTPException, ValueError):
                return  # the server died under us: that request was not acknowledged
            if status == 201:
                with lock:
                    acked.append(body["id"])

    threads = [threading.Thread(target=burst, args=(k,)) for k in range(16)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: len(acked) >= 150, timeout=30, every=0.01)
        os.kill(proc.pid, signal.SIGKILL)  # mid-burst: writers are still sending
    finally:
        proc.wait(timeout=10)
        stop.set()
        for t in threads:
            t.join(timeout=10)
    assert len(acked) >= 150
    proc2, port2 = _start_server(claude, cache, data, out)
    try:
        status, body = call(port2, "GET", "/api/bookmarks")
        assert status == 200
        present = {b["id"] for b in body["bookmarks"]}
        missing = set(acked) - present
        assert not missing, f"{len(missing)} acknowledged bookmarks lost"
    finally:
        proc2.terminate()
        proc2.wait(timeout=10)


def test_serve_command_registers_in_a_typer_app():
    import typer
    from typer.testing import CliRunner

    from ccsgen import cli_serve
    from ccsgen.server.serve import is_loopback

    app = typer.Typer()
    app.command("serve")(cli_serve.serve)
    app.command("noop")(lambda: None)  # a multi-command app, as in cli.py
    r = CliRunner().invoke(app, ["serve", "--help"])
    assert r.exit_code == 0
    for opt in ("--claude-dir", "--cache-dir", "--data-dir", "--host", "--port", "--watch", "--no-watch", "--token",
                "--out", "--quiet"):
        assert opt in r.output
    assert is_loopback("127.0.0.1") and is_loopback("::1") and not is_loopback("0.0.0.0")
