"""Several server processes on one port (``ccsgen serve --workers N``): what one process changes, every
process answers with; the cache has one writer at a time; workers never outlive the server."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import factories as F
import pytest
import server_corpus as C
from live_http import call, wait_for

from ccsgen.catalog import Catalog
from ccsgen.config import Config
from ccsgen.lock import cache_lock
from ccsgen.server.workers import SharedState, default_workers

LINUX = sys.platform.startswith("linux")


def children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def workers_of(pid: int) -> list[int]:
    return [c for c in children(pid) if "multiprocessing.spawn" in cmdline(c) and "resource_tracker" not in
            cmdline(c)]


def sockets_of(pid: int) -> int:
    n = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            n += os.readlink(fd).startswith("socket:")
        except OSError:
            continue
    return n


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture
def served(tmp_path):
    """``ccsgen serve --workers 2`` over the server corpus, in its own process: (proc, port, claude dir)."""
    claude, _ = C.write(tmp_path)
    cmd = [sys.executable, "-m", "ccsgen.cli_serve", "--claude-dir", str(claude), "--cache-dir",
           str(tmp_path / "cache"), "--data-dir", str(tmp_path / "data"), "--port", "0", "--no-watch", "--quiet",
           "--out", str(tmp_path / "site"), "--workers", "2", "--threads", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("serving on "):
        proc.kill()
        raise AssertionError(f"server did not start: {line!r} {proc.stderr.read()}")
    port = int(line.rsplit(":", 1)[1])
    if LINUX:
        assert wait_for(lambda: len(workers_of(proc.pid)) == 1, timeout=30), "the second worker did not start"
    yield proc, port, claude
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.mark.skipif(not LINUX, reason="reads /proc to tell the processes apart")
def test_both_processes_accept_and_answer_alike(served):
    proc, port, _ = served
    worker = workers_of(proc.pid)[0]
    base = {p: sockets_of(p) for p in (proc.pid, worker)}
    conns = []
    try:
        # keep-alive connections stay with the process that accepted them: hold many until both took some
        def both_hold_some() -> bool:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
            assert call(port, "GET", "/health", conn=c) == (200, {"status": "healthy"})
            conns.append(c)
            return all(sockets_of(p) > base[p] for p in base)

        assert wait_for(both_hold_some, timeout=60, every=0.01), "one process accepted every connection"
        answers = {json.dumps(call(port, "GET", "/stats", conn=c)[1], sort_keys=True) for c in conns}
        assert len(answers) == 1
    finally:
        for c in conns:
            c.close()


def test_what_one_process_changes_every_process_answers(served):
    proc, port, claude = served
    ok, body = call(port, "POST", "/api/project-by-dir", {"dir_name": C.PROJECT})
    assert ok == 200, body
    status, bm = call(port, "POST", "/api/bookmarks", {"session_id": C.S1, "title": "across processes"})
    assert status == 201
    before = call(port, "GET", f"/sessions/{C.S2}")[1]["message_count"]
    F.append_jsonl(claude / F.session_path(C.S2), [
        F.make_user("after the refresh ZZWORKERZZ", sessionId=C.S2, timestamp=F.at(90)),
        F.make_assistant("seen by all", sessionId=C.S2, timestamp=F.at(91))])
    for _ in range(10):  # cached in both processes before the write
        assert "zz-across" not in json.dumps(call(port, "GET", f"/api/tags/session/{C.S1}")[1])
    status, _ = call(port, "POST", f"/api/tags/session/{C.S1}", {"tag": "zz-across"})
    assert status in (200, 201)
    status, rep = call(port, "POST", "/api/refresh", {})
    assert status == 200 and rep["files_changed"] is True
    for _ in range(30):  # a new connection each time: either process may answer
        assert call(port, "GET", "/api/project")[1]["log_dir_name"] == C.PROJECT
        assert bm["id"] in {b["id"] for b in call(port, "GET", "/api/bookmarks")[1]["bookmarks"]}
        assert call(port, "GET", f"/sessions/{C.S2}")[1]["message_count"] == before + 2
        tags = call(port, "GET", f"/api/tags/session/{C.S1}")[1]
        assert "zz-across" in json.dumps(tags), tags
        found = call(port, "GET", "/api/search?q=ZZWORKERZZ")[1]
        assert found["total"] == 1, found


@pytest.mark.skipif(not LINUX, reason="reads /proc to find the worker")
def test_workers_end_with_the_server_even_after_kill_9(served):
    proc, port, _ = served
    worker = workers_of(proc.pid)[0]
    assert alive(worker)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert wait_for(lambda: not alive(worker), timeout=10), "a worker outlived the server"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "kill"])
def test_stopping_the_server_stops_its_workers(served, sig):
    proc, port, _ = served
    worker = workers_of(proc.pid)[0] if LINUX else None
    proc.send_signal(sig)
    assert proc.wait(timeout=20) == 0
    if worker is not None:
        assert wait_for(lambda: not alive(worker), timeout=10)
    err = proc.stderr.read()
    assert "Traceback" not in err and "leaked" not in err, err


# ---------------------------------------------------------------- the pieces


def test_shared_state_is_one_state_for_every_process():
    import multiprocessing as mp

    st = SharedState()
    assert st.current_project is None and st.epoch == 0 and not st.refreshing
    st.set_project("-home-user-é")
    assert st.current_project == "-home-user-é" and st.epoch == 1
    st.begin_refresh()
    assert st.refreshing
    ctx = mp.get_context("spawn")
    p = ctx.Process(target=_set_in_child, args=(st,))
    p.start()
    p.join(timeout=60)
    assert p.exitcode == 0
    assert st.current_project == "x" and st.epoch == 3 and not st.refreshing
    with pytest.raises(ValueError):
        st.set_project("p" * 5000)
    st.set_project(None)
    assert st.current_project is None


def _set_in_child(st: SharedState) -> None:
    assert st.current_project == "-home-user-é"
    st.set_project("x")
    st.bump()
    st.end_refresh()


def test_default_workers_is_one_or_two():
    assert default_workers() in (1, 2)


def test_cache_lock_one_writer_across_processes(tmp_path):
    code = ("import sys, time\nfrom ccsgen.lock import cache_lock\n"
            "with cache_lock(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(30)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with cache_lock(tmp_path, blocking=False) as got:
            assert not got
        holder.kill()  # the kernel lets go of a dead process's lock
        holder.wait(timeout=10)
        with cache_lock(tmp_path, blocking=False) as got:
            assert got
            with cache_lock(tmp_path, blocking=False) as again:  # the holder's thread may take it again
                assert again
            seen = []
            t = threading.Thread(target=lambda: seen.append(_try(tmp_path)))
            t.start()
            t.join()
            assert seen == [False]  # another thread may not
    finally:
        holder.kill()
        holder.wait(timeout=10)


def _try(d: Path) -> bool:
    with cache_lock(d, blocking=False) as got:
        return got


def test_a_catalog_follows_tables_another_process_wrote(tmp_path):
    corpus = C.build(tmp_path)
    other = Catalog.open(Config(claude_dirs=(corpus.claude,), cache_dir=corpus.cache, data_dir=corpus.data,
                                prices_file=None), refresh=False)
    assert other.sync() is False  # nothing loaded yet: nothing to follow
    corpus.cat.reindex()
    assert other.search_messages("ZZELSEWHEREZZ")["total"] == 0  # the index is open here too
    n = other.sessions.height
    before = int(other.sessions.filter(other.sessions["session_id"] == C.S2)["message_count"][0])
    assert other.sync() is False  # one stat, nothing changed
    F.append_jsonl(corpus.claude / F.session_path(C.S2), [
        F.make_user("written elsewhere ZZELSEWHEREZZ", sessionId=C.S2, timestamp=F.at(95))])
    assert corpus.cat.refresh().changed
    seen: list = []
    with cache_lock(corpus.cache):  # a writer holds the cache: the follower keeps its tables, tries later
        t = threading.Thread(target=lambda: seen.append(other.sync()))
        t.start()
        t.join()
        assert seen == [False]
    assert other.sync() is True
    assert other.sessions.height == n
    assert int(other.sessions.filter(other.sessions["session_id"] == C.S2)["message_count"][0]) == before + 1
    # and its search index: the other catalog committed to it; this one opens it again before answering, and
    # does not index the same sessions a second time from the state it held before (nothing is rewritten)
    state = next(corpus.cfg.index_dir.glob("gen-*/state.json"))
    written = state.stat().st_mtime_ns, state.stat().st_ino
    assert other.search_messages("ZZELSEWHEREZZ")["total"] == 1
    assert (state.stat().st_mtime_ns, state.stat().st_ino) == written


def test_without_shared_memory_the_server_runs_as_one_process(tmp_path, monkeypatch):
    from ccsgen.server import Settings
    from ccsgen.server import workers as W
    from ccsgen.server.serve import Server

    def no_semaphores(*_a, **_k):
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(W, "SharedState", no_semaphores)
    corpus = C.build(tmp_path)
    srv = Server(corpus.cat, Settings(host="127.0.0.1", port=0), workers=2)
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    try:
        assert srv.workers == 1
        assert call(srv.port, "GET", "/health") == (200, {"status": "healthy"})
        assert srv.procs == []
    finally:
        srv.close()
        t.join(timeout=5)
