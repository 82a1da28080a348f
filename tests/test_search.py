"""Search engine (ccsgen/search): planted words, query syntax, filters, pagination, snippets, unicode,
incremental reindex. One small corpus (three sessions, two projects, a history file) built once per module;
tests that change files build their own."""

from __future__ import annotations

import datetime as dt
import shutil
import time

import polars as pl
import pytest
from factories import (
    append_jsonl,
    image_block,
    make_assistant,
    make_history,
    make_streamed,
    make_tool_result,
    make_tool_use,
    make_user,
    text_block,
    thinking_block,
    tool_use_block,
    usage,
    write_jsonl,
)

from ccsgen import search
from ccsgen.catalog import Catalog, NotFound
from ccsgen.config import Config
from ccsgen.search import query as Q

S1 = "a1a1a1a1-0000-4000-8000-000000000001"
S2 = "b2b2b2b2-0000-4000-8000-000000000002"
S3 = "c3c3c3c3-0000-4000-8000-000000000003"
ALPHA, BETA = "-home-user-alpha", "-home-user-beta"
OPUS, SONNET = "claude-opus-4-5-20251101", "claude-sonnet-4-5-20250929"
XSS = "<script>alert('zqxxss')</script>"
B64 = "zqxbase64payload" + "QUJD" * 120


def _t(day: int, minute: int) -> str:
    t = dt.datetime(2026, 1, day, 10, 0, tzinfo=dt.UTC) + dt.timedelta(minutes=minute)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _ms(day: int, minute: int) -> int:
    t = dt.datetime(2026, 1, day, 10, 0, tzinfo=dt.UTC) + dt.timedelta(minutes=minute)
    return int(t.timestamp() * 1000)


def session_one() -> list[dict]:
    kw = {"sessionId": S1, "cwd": "/home/user/alpha"}
    tu = make_tool_use("Bash", {"command": "grep -r zqxtoolin src/"}, timestamp=_t(10, 3), **kw)
    return [
        make_user("How do I configure the zqxalpha widget?", timestamp=_t(10, 0), **kw),
        *make_streamed(3, blocks=[thinking_block("pondering zqxthink deeply"), text_block("Use the zqxstream config."),
                                  text_block("Then restart the service.")], model=OPUS, timestamp=_t(10, 1), **kw),
        tu,
        make_tool_result(tu, "src/a.py: zqxresult found", timestamp=_t(10, 4), **kw),
        make_assistant(f"Found it: the café naïve résumé setting, 東京タワー. {XSS}", model=OPUS, timestamp=_t(10, 5),
                       **kw),
        make_user([text_block("here is a screenshot"), image_block(B64)], timestamp=_t(10, 6), **kw),
        make_assistant("I see the screenshot.", model=OPUS, timestamp=_t(10, 7), **kw),
    ]


def session_two() -> list[dict]:
    kw = {"sessionId": S2, "cwd": "/home/user/alpha"}
    return [
        make_user("Please refactor the parser module", timestamp=_t(12, 0), **kw),
        make_assistant("Refactored the parser; added the zqxshared token.", model=OPUS, timestamp=_t(12, 1),
                       usage=usage(input=11, output=222), **kw),
    ]


def session_three() -> list[dict]:
    kw = {"sessionId": S3, "cwd": "/home/user/beta"}
    lines = [
        make_user("Explain the deployment pipeline with zqxshared", timestamp=_t(15, 0), **kw),
        make_assistant("The pipeline deploys nightly. 日本語のテキストを検索する。", model=SONNET,
                       timestamp=_t(15, 1), **kw),
    ]
    for i in range(25):
        lines.append(make_user(f"pagination item zqxpage {i}", timestamp=_t(15, 10 + 2 * i), **kw))
        lines.append(make_assistant(f"noted item {i}", model=SONNET, timestamp=_t(15, 11 + 2 * i), **kw))
    return lines


def build_corpus(root) -> Config:
    claude = root / "claude"
    write_jsonl(claude / "projects" / ALPHA / f"{S1}.jsonl", session_one())
    write_jsonl(claude / "projects" / ALPHA / f"{S2}.jsonl", session_two())
    write_jsonl(claude / "projects" / BETA / f"{S3}.jsonl", session_three())
    write_jsonl(claude / "history.jsonl", [
        make_history("How do I configure the zqxalpha widget?", _ms(10, 0), project="/home/user/alpha", session=S1),
        make_history("zqxhistoryonly prompt", _ms(15, 0), project="/home/user/beta", session=S3),
    ])
    return Config.from_options([claude], root / "cache", root / "data")


@pytest.fixture(scope="module")
def cat(tmp_path_factory):
    c = Catalog.open(build_corpus(tmp_path_factory.mktemp("search")))
    search.attach(c)
    return c


@pytest.fixture(scope="module")
def svc(cat):
    return search.service(cat)


def sessions_of(res: dict) -> set[str]:
    return {r["session_id"] for r in res["results"]}


# ---------------------------------------------------------------- planted words


@pytest.mark.parametrize("word,session", [
    ("zqxalpha", S1),  # a prompt
    ("zqxstream", S1),  # a streamed response's text
    ("zqxthink", S1),  # its thinking
    ("zqxtoolin", S1),  # a tool input
    ("zqxhistoryonly", None),  # only in history.jsonl: no message
])
def test_planted_word_found_in_exactly_its_session(svc, word, session):
    res = svc.search_messages(word)
    assert sessions_of(res) == ({session} if session else set())
    if session:
        assert res["total"] == 1


def test_word_in_two_sessions(svc):
    assert sessions_of(svc.search_messages("zqxshared")) == {S2, S3}


def test_streamed_response_is_one_message(svc):
    res = svc.search_messages("zqxstream restart")
    assert res["total"] == 1
    r = res["results"][0]
    assert r["role"] == "assistant" and r["model"] == OPUS and r["kind"] == "response"
    assert "zqxstream" in r["content"] and "restart" in r["content"]
    assert r["timestamp"] == _t(10, 1)


def test_result_shape(svc):
    res = svc.search_messages("refactor", per_page=5)
    assert set(res) >= {"results", "total", "page", "per_page", "total_pages", "query"}
    assert res["query"] == "refactor"
    r = next(x for x in res["results"] if x["role"] == "assistant")
    for k in ("id", "session_id", "project", "role", "content", "timestamp", "model", "tokens_input",
              "tokens_output", "snippet", "message_uuid", "message_type", "project_path"):
        assert k in r
    assert isinstance(r["id"], int) and 0 < r["id"] < 2**53
    assert r["project"] == ALPHA and r["project_path"] == "/home/user/alpha"
    assert (r["tokens_input"], r["tokens_output"]) == (11, 222)
    assert r["timestamp"].endswith("Z") and len(r["timestamp"]) == 24
    assert r["message_type"] == "assistant"


def test_tool_results_only_on_request(svc):
    assert svc.search_messages("zqxresult")["total"] == 0
    res = svc.search_messages("zqxresult kind:tool_result")
    assert sessions_of(res) == {S1} and res["results"][0]["kind"] == "tool_result"
    assert svc.search_messages("zqxresult", include_tool_results=True)["total"] == 1
    assert svc.search_messages("tool:bash zqxresult", include_tool_results=True)["total"] == 1


def test_images_are_never_indexed(svc):
    assert svc.search_messages("zqxbase64payload", include_tool_results=True)["total"] == 0
    assert svc.search_messages("QUJDQUJD*", include_tool_results=True)["total"] == 0
    assert svc.search_messages("screenshot")["total"] == 2


# ---------------------------------------------------------------- syntax


def test_words_are_prefixes_and_all_required(svc):
    assert sessions_of(svc.search_messages("refac")) == {S2}  # prefix of refactor/refactored
    assert svc.search_messages("zqxalpha zqxshared")["total"] == 0  # AND
    assert svc.search_messages("zqxalp")["total"] == 1


def test_phrase(svc):
    assert svc.search_messages('"restart the service"')["total"] == 1
    assert svc.search_messages('"the restart service"')["total"] == 0
    assert svc.search_messages('"zqxalp"')["total"] == 0  # phrases are exact, not prefixes


def test_or_and_exclusion(svc):
    assert sessions_of(svc.search_messages("zqxalpha OR zqxshared")) == {S1, S2, S3}
    assert sessions_of(svc.search_messages("zqxshared -deployment")) == {S2}
    assert sessions_of(svc.search_messages('zqxshared -"the parser"')) == {S3}
    assert svc.search_messages("zqxpage -zqxpage")["total"] == 0


def test_explicit_prefix(svc):
    assert svc.search_messages("zqxpa*")["total"] == 25


@pytest.mark.parametrize("q,expected", [
    ("project:alpha zqxshared", {S2}),
    (f"project:{BETA} zqxshared", {S3}),
    ("project:/home/user/beta zqxshared", {S3}),
    ("role:user zqxshared", {S3}),
    ("role:assistant zqxshared", {S2}),
    ("model:opus zqxshared", {S2}),
    (f"model:{SONNET} pipeline", {S3}),
    (f"model:{SONNET} zqxshared", set()),  # S3's zqxshared is in a prompt: prompts have no model
    ("session:b2b2 zqxshared", {S2}),
    ("-session:b2b2 zqxshared", {S3}),
    ("tool:bash zqxtoolin", {S1}),
    ("tool:Read zqxtoolin", set()),
    ("kind:prompt zqxshared", {S3}),
])
def test_field_syntax(svc, q, expected):
    assert sessions_of(svc.search_messages(q)) == expected


def test_filters(svc):
    assert sessions_of(svc.search_messages("zqxshared", project=ALPHA)) == {S2}
    assert sessions_of(svc.search_messages("zqxshared", project="beta")) == {S3}
    assert svc.search_messages("zqxshared", project="nope")["total"] == 0
    assert sessions_of(svc.search_messages("zqxshared", role="user")) == {S3}
    assert sessions_of(svc.search_messages("zqxshared", model=OPUS)) == {S2}
    assert sessions_of(svc.search_messages("pipeline", model="sonnet")) == {S3}
    assert sessions_of(svc.search_messages("zqxshared", session_id="c3c3")) == {S3}
    with pytest.raises(NotFound):
        svc.search_messages("x", session_id="ffff")


def test_date_filters_are_inclusive_days(svc):
    assert sessions_of(svc.search_messages("zqxshared", date_from="2026-01-12", date_to="2026-01-12")) == {S2}
    assert sessions_of(svc.search_messages("zqxshared", date_from="2026-01-13")) == {S3}
    assert sessions_of(svc.search_messages("zqxshared", date_to="2026-01-14")) == {S2}
    assert svc.search_messages("zqxshared", date_from="2026-01-16")["total"] == 0
    assert sessions_of(svc.search_messages("zqxshared", date_from=dt.date(2026, 1, 15))) == {S3}
    with pytest.raises(ValueError):
        svc.search_messages("x", date_from="last tuesday")


def test_pagination(svc):
    first = svc.search_messages("zqxpage", per_page=10)
    assert (first["total"], first["total_pages"], first["page"], len(first["results"])) == (25, 3, 1, 10)
    last = svc.search_messages("zqxpage", per_page=10, page=3)
    assert len(last["results"]) == 5
    beyond = svc.search_messages("zqxpage", per_page=10, page=9)
    assert beyond["results"] == [] and beyond["total"] == 25
    ids = set()
    for p in (1, 2, 3):
        ids |= {r["id"] for r in svc.search_messages("zqxpage", per_page=10, page=p)["results"]}
    assert len(ids) == 25
    assert svc.search_messages("zqxpage", per_page=1000)["per_page"] == 100
    assert svc.search_messages("zqxpage", per_page=0)["per_page"] == 1
    assert len(svc.search_messages("zqxpage", limit=300)["results"]) == 25  # ccsinfo's limit


def test_recency_order(svc):
    res = svc.search_messages("zqxpage", order="recency", per_page=25)
    ts = [r["timestamp"] for r in res["results"]]
    assert ts == sorted(ts, reverse=True)
    assert res["results"][0]["content"].endswith("24")


def test_exact_match_ranks_above_prefix(svc):
    res = svc.search_messages("parser")
    assert res["results"][0]["session_id"] == S2


@pytest.mark.parametrize("q", [
    '"unbalanced', "OR", "AND", "-", "--", "project:", "((", ")", "*", "**", "foo:bar:baz", "AND OR -",
    "role:", ':"', "\\", "[x", "{}", "a" * 500, "zqx" + "(" * 20, "title:\"x", "NOT", "~1", "+a", "\x00", "🙂",
])
def test_invalid_syntax_never_raises(svc, q):
    res = svc.search_messages(q)
    assert isinstance(res["total"], int)


def test_unknown_field_is_a_word(svc):
    # "colon:word" is not a field: both words searched
    assert svc.search_messages("screenshot:zqxnothing")["total"] == 0
    assert svc.search_messages("the:screenshot")["total"] >= 1


def test_empty_query_lists_messages_newest_first(svc):
    res = svc.search_messages("", project=ALPHA, order="recency", per_page=3)
    assert res["total"] > 3
    assert res["results"][0]["timestamp"] == _t(12, 1)


# ---------------------------------------------------------------- snippets and unicode


def test_snippet_escapes_html_and_marks_matches(svc):
    res = svc.search_messages("zqxxss")
    assert res["total"] == 1
    snip = res["results"][0]["snippet"]
    assert "<script>" not in snip and "&lt;script&gt;" in snip
    assert "<mark>zqxxss</mark>" in snip
    assert snip.replace("<mark>", "").replace("</mark>", "").count("<") == 0


def test_snippet_marks_prefix_matches_whole_word(svc):
    snip = svc.search_messages("refac")["results"][0]["snippet"]
    assert "<mark>" in snip and ("<mark>refactor" in snip.lower())


def test_snippet_function():
    terms = Q.Terms(exact={"b"}, prefixes={"pre"})
    html, ok = Q.snippet("a <b> & prefixed", terms)
    assert ok and html == "a &lt;<mark>b</mark>&gt; &amp; <mark>prefixed</mark>"
    html, ok = Q.snippet("x" * 1000 + " b " + "y" * 1000, terms, width=50)
    assert ok and html.startswith("…") and html.endswith("…") and "<mark>b</mark>" in html and len(html) < 120
    html, ok = Q.snippet("<i>no match</i>", terms)
    assert not ok and html == "&lt;i&gt;no match&lt;/i&gt;"


@pytest.mark.parametrize("q", ["café", "cafe", "CAFÉ", "naive", "naïve", "résumé", "resume"])
def test_accents_fold(svc, q):
    assert sessions_of(svc.search_messages(q)) == {S1}


@pytest.mark.parametrize("q,session", [
    ("東京タワー", S1), ("東京", S1), ("タワ", S1), ("京", S1), ("日本語", S3), ("テキスト", S3), ("検索", S3),
    ('"日本語のテキスト"', S3),
])
def test_cjk_substrings(svc, q, session):
    assert sessions_of(svc.search_messages(q)) == {session}


def test_cjk_no_false_match(svc):
    assert svc.search_messages("東語")["total"] == 0  # both characters exist, not adjacent


def test_cjk_snippet(svc):
    snip = svc.search_messages("日本語")["results"][0]["snippet"]
    assert "<mark>日本語</mark>" in snip


# ---------------------------------------------------------------- sessions, prompts, stats


def test_search_sessions(svc):
    assert svc.search_sessions("a1a1a1a1") == [S1]
    assert set(svc.search_sessions("alpha")) == {S1, S2}
    assert svc.search_sessions("/home/user/beta") == [S3]
    assert svc.search_sessions("user/be") == [S3]  # a plain substring of the path
    assert svc.search_sessions("zzznothing") == []
    assert set(svc.search_sessions("", limit=10)) == {S1, S2, S3}
    assert svc.search_sessions("alpha", order="recency") == [S2, S1]
    assert svc.search_sessions("user", project="beta") == [S3]


def test_search_prompts(svc):
    res = svc.search_prompts("zqxhistoryonly")
    assert res == [{"project_path": "/home/user/beta", "prompt": "zqxhistoryonly prompt", "session_id": S3,
                    "timestamp": Q.iso_ms(_ms(15, 0)), "snippet": "<mark>zqxhistoryonly</mark> prompt"}]
    assert [r["session_id"] for r in svc.search_prompts("configure")] == [S1]
    assert svc.search_prompts("configure", project="beta") == []
    assert len(svc.search_prompts("", limit=5)) == 2


def test_index_stats(svc):
    st = svc.index_stats()
    assert st["total_messages"] == 6 + 2 + 52  # S1: 2 prompts + 4 responses (one streamed over 3 lines)
    assert st["total_projects"] == 2
    assert set(st["models"]) == {OPUS, SONNET}
    projects = {p["project"]: p for p in st["indexed_projects"]}
    assert projects[BETA]["message_count"] == 52 and projects[BETA]["indexed_at"].endswith("Z")


def test_reindex_report(cat, tmp_path):
    c = Catalog.open(build_corpus(tmp_path))
    rep = search.service(c).reindex()
    assert rep["total_messages_indexed"] == search.service(cat).index_stats()["total_messages"]
    assert rep["projects_indexed"] == 2 and rep["elapsed_ms"] > 0 and rep["total_qa_indexed"] >= 1
    assert rep["total_sessions_tagged"] == 3


def test_bench_queries(cat):
    out = search.bench_queries(cat, ["zqxshared", "refactor", "東京"], repeat=2)
    assert out["runs"] == 6 and 0 < out["p50_ms"] <= out["p99_ms"]


# ---------------------------------------------------------------- incremental


def test_append_reindexes_only_that_session(tmp_path):
    cfg = build_corpus(tmp_path)
    c = Catalog.open(cfg)
    svc = search.service(c)
    assert svc.search_messages("zqxappended")["total"] == 0
    before = svc.search_messages("zqxshared")["total"]
    path = cfg.claude_dirs[0] / "projects" / BETA / f"{S3}.jsonl"
    append_jsonl(path, [make_user("a late zqxappended question", sessionId=S3, cwd="/home/user/beta",
                                  timestamp=_t(16, 0))])
    t0 = time.perf_counter()
    c.refresh()
    assert time.perf_counter() - t0 < 5
    assert svc.last_report is not None and not svc.last_report.full and svc.last_report.sessions == 1
    res = svc.search_messages("zqxappended")
    assert sessions_of(res) == {S3} and res["results"][0]["timestamp"] == _t(16, 0)
    assert svc.search_messages("zqxshared")["total"] == before  # old results kept, nothing doubled
    assert svc.search_messages("zqxalpha")["total"] == 1
    assert svc.index_stats()["total_messages"] == 61


def test_new_session_and_deleted_session(tmp_path):
    cfg = build_corpus(tmp_path)
    c = Catalog.open(cfg)
    svc = search.service(c)
    svc.search_messages("x")
    s4 = "d4d4d4d4-0000-4000-8000-000000000004"
    write_jsonl(cfg.claude_dirs[0] / "projects" / BETA / f"{s4}.jsonl",
                [make_user("brand new zqxfresh session", sessionId=s4, cwd="/home/user/beta", timestamp=_t(17, 0))])
    (cfg.claude_dirs[0] / "projects" / ALPHA / f"{S2}.jsonl").unlink()
    c.refresh()
    assert sessions_of(svc.search_messages("zqxfresh")) == {s4}
    assert sessions_of(svc.search_messages("zqxshared")) == {S3}
    assert S2 not in svc.search_sessions("alpha")


def test_index_survives_reopen_and_catches_up(tmp_path):
    cfg = build_corpus(tmp_path)
    c = Catalog.open(cfg)
    search.service(c).search_messages("x")
    gen = search.indexer.current_name(cfg.index_dir)
    append_jsonl(cfg.claude_dirs[0] / "projects" / ALPHA / f"{S2}.jsonl",
                 [make_assistant("later zqxcatchup", sessionId=S2, cwd="/home/user/alpha", timestamp=_t(13, 0))])
    c2 = Catalog.open(cfg)  # another process: ingests the append, opens the same generation, updates it
    svc2 = search.service(c2)
    assert sessions_of(svc2.search_messages("zqxcatchup")) == {S2}
    assert search.indexer.current_name(cfg.index_dir) == gen
    assert not svc2.last_report.full


def test_full_reindex_swaps_generation(tmp_path):
    cfg = build_corpus(tmp_path)
    c = Catalog.open(cfg)
    svc = search.service(c)
    svc.search_messages("x")
    old = search.indexer.current_name(cfg.index_dir)
    time.sleep(0.002)
    svc.reindex(full=True)
    new = search.indexer.current_name(cfg.index_dir)
    assert new != old and not (cfg.index_dir / old).exists()
    assert svc.search_messages("zqxalpha")["total"] == 1


def test_corrupt_index_is_rebuilt(tmp_path):
    cfg = build_corpus(tmp_path)
    c = Catalog.open(cfg)
    search.service(c).search_messages("x")
    name = search.indexer.current_name(cfg.index_dir)
    shutil.rmtree(cfg.index_dir / name / "tantivy")
    c2 = Catalog.open(cfg)
    assert search.service(c2).search_messages("zqxalpha")["total"] == 1


def test_index_lives_in_cache_dir(cat):
    search.service(cat).search_messages("x")  # built on first use (this test may be the module's first)
    assert (cat.cfg.index_dir / "CURRENT").is_file()
    assert cat.cfg.index_dir.is_relative_to(cat.cfg.cache_dir)


def test_attach_registers_refresh_hook(cat):
    svc = cat.extensions["search"]
    assert svc.on_refresh in cat.extensions["on_refresh"]
    search.attach(cat)
    assert cat.extensions["on_refresh"].count(svc.on_refresh) == 1


def test_tool_use_without_text_is_searchable(tmp_path):
    s = "e5e5e5e5-0000-4000-8000-000000000005"
    claude = tmp_path / "claude"
    write_jsonl(claude / "projects" / ALPHA / f"{s}.jsonl", [
        make_user("run it", sessionId=s, timestamp=_t(18, 0)),
        make_assistant(content=[tool_use_block("Write", {"file_path": "/w/zqxfile.py", "content": "x = 1"})],
                       sessionId=s, timestamp=_t(18, 1)),
    ])
    c = Catalog.open(Config.from_options([claude], tmp_path / "cache", tmp_path / "data"))
    res = search.service(c).search_messages("zqxfile")
    assert res["total"] == 1 and res["results"][0]["content"].startswith("Write")
    assert pl.DataFrame(res["results"]).get_column("session_id").to_list() == [s]
