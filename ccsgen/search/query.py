"""Query: the query language, compiled to tantivy queries, run, and turned into the wire shapes, with
HTML-safe snippets.

Query language (one definition for the library, the API, the CLI and — as far as it can — the static site):

- plain words: all must match; each matches as a prefix (``refac`` finds ``refactored``), except words of
  one character; exact matches rank higher
- ``"a phrase"``: those words, adjacent, exactly
- ``a OR b``: either (``OR`` in capitals; it binds tighter than the implicit AND)
- ``-word`` / ``-"a phrase"``: must not match
- ``word*``: explicit prefix
- ``project:<id, path or name>``, ``role:user|assistant``, ``model:<name or part>``, ``tool:<name>``,
  ``session:<id prefix>``, ``kind:prompt|response|tool_result``; ``-field:value`` excludes
- a word with CJK characters or emoji is a substring search on those characters

Anything else is read as plain words; no query raises. Tool results are searched only with
``kind:tool_result`` or ``include_tool_results=True``.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import tantivy

from . import schema as S

MAX_PER_PAGE = 100
CONTENT_CHARS = 500
SNIPPET_CHARS = 240
SNIPPET_SCAN = 50_000
MIN_PREFIX = 2
EXACT_BOOST = 3.0
FIELD_NAMES = ("project", "role", "model", "tool", "session", "kind")
KIND_ALIASES = {
    "prompt": S.K_PROMPT, "prompts": S.K_PROMPT, "user": S.K_PROMPT, "response": S.K_RESPONSE,
    "responses": S.K_RESPONSE, "assistant": S.K_RESPONSE, "text": S.K_RESPONSE, "tool_result": S.K_TOOL_RESULT,
    "tool_results": S.K_TOOL_RESULT, "tool-result": S.K_TOOL_RESULT, "toolresult": S.K_TOOL_RESULT,
    "result": S.K_TOOL_RESULT, "results": S.K_TOOL_RESULT, "output": S.K_TOOL_RESULT, "tool": S.K_TOOL_RESULT,
}

# ---------------------------------------------------------------- dates


def _day(value) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).date() if value.tzinfo else value.date()
    if isinstance(value, dt.date):
        return value
    s = str(value).strip()
    try:
        return dt.date.fromisoformat(s[:10])
    except ValueError:
        raise ValueError(f"invalid date {s!r}: expected YYYY-MM-DD") from None


def day_range_ms(date_from=None, date_to=None) -> tuple[int | None, int | None]:
    """[from 00:00 UTC, day after ``date_to`` 00:00 UTC) in epoch ms; both days inclusive."""
    lo, hi = _day(date_from), _day(date_to)
    lo_ms = int(dt.datetime(lo.year, lo.month, lo.day, tzinfo=dt.UTC).timestamp() * 1000) if lo else None
    if hi:
        nxt = hi + dt.timedelta(days=1)
        hi_ms = int(dt.datetime(nxt.year, nxt.month, nxt.day, tzinfo=dt.UTC).timestamp() * 1000)
    else:
        hi_ms = None
    return lo_ms, hi_ms


def day_range_iso(date_from=None, date_to=None) -> tuple[str | None, str | None]:
    lo, hi = day_range_ms(date_from, date_to)
    return (iso_ms(lo) if lo is not None else None, iso_ms(hi) if hi is not None else None)


_EPOCH = dt.datetime(1970, 1, 1)


def iso_ms(ms: int | None) -> str | None:
    """Epoch milliseconds as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (UTC); None for 0 (unknown). Integer arithmetic: the
    same text as ``datetime.fromtimestamp(ms / 1000, UTC)`` gives, in half the time (20 per search answer)."""
    if not ms:  # unknown (stored as 0)
        return None
    return (_EPOCH + dt.timedelta(milliseconds=ms)).isoformat(timespec="milliseconds") + "Z"


# ---------------------------------------------------------------- parsing


@dataclass
class Clause:
    text: str
    phrase: bool = False
    negate: bool = False
    prefix: bool = False  # explicit ``*``
    field: str | None = None


@dataclass
class Parsed:
    groups: list[list[Clause]] = field(default_factory=list)  # AND of OR-groups
    raw: str = ""

    @property
    def clauses(self) -> list[Clause]:
        return [c for g in self.groups for c in g]

    @property
    def has_words(self) -> bool:
        """Whether anything is searched for by text (else results are listed newest first)."""
        return any(not c.field and not c.negate for c in self.clauses)

    def has(self, name: str, value: str | None = None) -> bool:
        return any(c.field == name and not c.negate and (value is None or c.text == value) for c in self.clauses)


_TOKEN = re.compile(r'\s*(-)?(?:([A-Za-z_]+):)?(?:"([^"]*)"?|([^\s"]+))')


def parse(q: str) -> Parsed:
    """The query as OR-groups of clauses. Never raises; junk becomes plain words."""
    out = Parsed(raw=q or "")
    pending_or = False
    pos = 0
    q = (q or "").strip()
    while pos < len(q):
        m = _TOKEN.match(q, pos)
        if not m or m.end() == pos:
            pos += 1
            continue
        pos = m.end()
        neg, fname, quoted, bare = m.group(1), m.group(2), m.group(3), m.group(4)
        if quoted is None and bare is not None and not fname and not neg and bare in ("OR", "|", "||"):
            pending_or = bool(out.groups)
            continue
        if quoted is None and bare in ("AND", "&&") and not fname and not neg:
            continue
        clause = None
        if fname and fname.lower() in FIELD_NAMES:
            val = quoted if quoted is not None else (bare or "")
            if val.strip():
                clause = Clause(val.strip(), negate=bool(neg), field=fname.lower())
        elif quoted is not None:
            text = (f"{fname}:" if fname else "") + quoted
            clause = Clause(text, phrase=True, negate=bool(neg))
        else:
            text = (f"{fname}:" if fname else "") + (bare or "")
            text = text.strip("()")
            if neg and not text:
                text = "-"
                neg = None
            prefix = text.endswith("*")
            text = text.rstrip("*")
            if text:
                clause = Clause(text, negate=bool(neg), prefix=prefix)
        if clause is None:
            continue
        if pending_or and out.groups and not clause.negate:
            out.groups[-1].append(clause)
        else:
            out.groups.append([clause])
        pending_or = False
    return out


# ---------------------------------------------------------------- compiling


@dataclass
class Context:
    """What compiling needs besides the index: how to resolve field values."""

    index: tantivy.Index
    projects: Callable[[str], list[str]] = lambda v: [v]
    models: Callable[[str], list[str]] = lambda v: [v]
    tools: Callable[[str], list[str]] = lambda v: [v.lower()]

    @property
    def schema(self) -> tantivy.Schema:
        return self.index.schema


@dataclass
class Terms:
    """Folded tokens to highlight in snippets."""

    exact: set[str] = field(default_factory=set)
    prefixes: set[str] = field(default_factory=set)

    def matches(self, tok: str) -> bool:
        return tok in self.exact or any(tok.startswith(p) for p in self.prefixes)


def _esc_regex(s: str) -> str:
    return re.sub(r"([\\.^$|?*+()\[\]{}\-#&~<>\"@])", r"\\\1", s)


def _term(sc, f: str, v: str) -> tantivy.Query:
    return tantivy.Query.term_query(sc, f, v)


#: compiled prefix queries, by (schema version, field, pattern): compiling the automaton costs ~0.3 ms, and a
#: query holds field numbers only, fixed by the schema version (an index of another version is never opened)
_REGEX_CACHE: dict[tuple[int, str, str], tantivy.Query] = {}
_REGEX_CACHE_MAX = 1024


def _regex(sc, f: str, pattern: str) -> tantivy.Query:
    key = (S.SCHEMA_VERSION, f, pattern)
    got = _REGEX_CACHE.get(key)
    if got is None:
        got = tantivy.Query.regex_query(sc, f, pattern)
        if len(_REGEX_CACHE) >= _REGEX_CACHE_MAX:
            _REGEX_CACHE.clear()
        _REGEX_CACHE[key] = got
    return got


def _terms(sc, f: str, values: Sequence[str]) -> tantivy.Query:
    values = [v for v in values if v]
    if not values:
        return tantivy.Query.empty_query()
    if len(values) == 1:
        return _term(sc, f, values[0])
    return tantivy.Query.term_set_query(sc, f, list(values))


def _any(queries: list[tantivy.Query]) -> tantivy.Query:
    if len(queries) == 1:
        return queries[0]
    return tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in queries])


def _all(must: list[tantivy.Query], must_not: list[tantivy.Query] = ()) -> tantivy.Query:
    subs = [(tantivy.Occur.Must, q) for q in must] + [(tantivy.Occur.MustNot, q) for q in must_not]
    if not must:
        subs.insert(0, (tantivy.Occur.Must, tantivy.Query.all_query()))
    if len(subs) == 1:
        return subs[0][1]
    return tantivy.Query.boolean_query(subs)


def _word_query(ctx: Context, c: Clause, fields: Sequence[str], terms: Terms, prefix_ok: bool) -> tantivy.Query | None:
    sc = ctx.schema
    if S.has_uni(c.text):
        toks = S.analyze_uni(c.text)
        if not toks:
            return None
        terms.exact.update(toks)
        if len(toks) == 1:
            return _term(sc, S.UNI, toks[0])
        return tantivy.Query.phrase_query(sc, S.UNI, toks)
    toks = S.analyze(c.text)
    if not toks:
        return None
    want_prefix = (c.prefix or (prefix_ok and not c.phrase)) and len(toks[-1]) >= (1 if c.prefix else MIN_PREFIX)
    if len(toks) == 1:
        t = toks[0]
        subs = []
        for f in fields:
            subs.append(tantivy.Query.boost_query(_term(sc, f, t), EXACT_BOOST))
            if want_prefix:  # longer words only: the exact one is the clause above (scanning it twice cost ~20 %)
                subs.append(_regex(sc, f, _esc_regex(t) + ".+"))
        (terms.prefixes if want_prefix else terms.exact).add(t)
        return _any(subs)
    terms.exact.update(toks[:-1])
    (terms.prefixes if want_prefix else terms.exact).add(toks[-1])
    subs = []
    for f in fields:
        if f in S.NO_POSITIONS:  # no positions: all the words, anywhere
            words = [_term(sc, f, t) for t in toks[:-1]]
            last = _term(sc, f, toks[-1])
            if want_prefix:
                last = _any([last, _regex(sc, f, _esc_regex(toks[-1]) + ".+")])
            subs.append(_all([*words, last]))
            continue
        subs.append(tantivy.Query.boost_query(tantivy.Query.phrase_query(sc, f, toks), EXACT_BOOST))
        if want_prefix:
            subs.append(tantivy.Query.phrase_prefix_query(sc, f, toks))
    return _any(subs)


def _field_query(ctx: Context, c: Clause) -> tantivy.Query:
    sc = ctx.schema
    v = c.text
    if c.field == "project":
        return _terms(sc, S.PROJECT, ctx.projects(v))
    if c.field == "role":
        v = v.lower()
        if v in ("tool", "tool_result"):
            return _term(sc, S.KIND, S.K_TOOL_RESULT)
        return _term(sc, S.ROLE, "assistant" if v.startswith("a") else "user" if v.startswith("u") else v)
    if c.field == "model":
        return _terms(sc, S.MODEL, ctx.models(v))
    if c.field == "tool":
        return _terms(sc, S.TOOL, ctx.tools(v))
    if c.field == "session":
        return tantivy.Query.regex_query(sc, S.SESSION, _esc_regex(v.rstrip("*")) + ".*")
    if c.field == "kind":
        return _term(sc, S.KIND, KIND_ALIASES.get(v.lower(), v.lower()))
    return tantivy.Query.empty_query()


def compile_query(ctx: Context, parsed: Parsed, fields: Sequence[str], *, prefix: bool = True,
                  ) -> tuple[tantivy.Query | None, Terms]:
    """The text part of a query (None = match everything), and the terms to highlight."""
    terms = Terms()
    must: list[tantivy.Query] = []
    must_not: list[tantivy.Query] = []
    for group in parsed.groups:
        subs = []
        for c in group:
            if c.field:
                q = _field_query(ctx, c)
            else:
                q = _word_query(ctx, c, fields, Terms() if c.negate else terms, prefix)
            if q is None:
                continue
            if c.negate:
                must_not.append(q)
            else:
                subs.append(q)
        if subs:
            must.append(_any(subs))
    if not must and not must_not:
        return None, terms
    return _all(must, must_not), terms


def fallback(ctx: Context, raw: str, fields: Sequence[str]) -> tuple[tantivy.Query | None, Terms]:
    """Plain words, all required, as prefixes: what an unreadable query becomes."""
    words = [w for w in re.split(r"\s+", raw or "") if w]
    parsed = Parsed(groups=[[Clause(w)] for w in words], raw=raw)
    try:
        return compile_query(ctx, parsed, fields)
    except (ValueError, RuntimeError):
        return tantivy.Query.empty_query(), Terms()


def build(ctx: Context, q: str, fields: Sequence[str], filters: list[tantivy.Query],
          exclude: Sequence[tantivy.Query] = (), *, unless_words: Sequence[tantivy.Query] = (),
          ) -> tuple[tantivy.Query, Terms, Parsed]:
    """The whole query: the text of ``q`` searched in ``fields``, every filter, no doc of ``exclude``.

    ``unless_words``: exclusions of docs that have no text in ``fields`` (tool results, whose text is in
    ``output``): left out when the query requires plain words in ``fields``, which such docs can never match
    (each clause left out saves a pass over its postings)."""
    parsed = parse(q)
    try:
        text_q, terms = compile_query(ctx, parsed, fields)
        needs_words = requires_words(parsed)
    except (ValueError, RuntimeError):
        (text_q, terms), needs_words = fallback(ctx, q, fields), False
    must = ([text_q] if text_q is not None else []) + list(filters)
    return _all(must, [*exclude, *([] if needs_words else unless_words)]), terms, parsed


def requires_words(parsed: Parsed) -> bool:
    """Whether every match must hold some plain word of ``parsed`` in the searched text fields: some AND-group
    is made only of positive, non-field words that the ``ccs`` analyzer keeps (words of the ``uni`` scripts
    are searched in ``uni``, which every doc type has)."""
    return any(g and all(not c.field and not c.negate and not S.has_uni(c.text) and S.analyze(c.text) for c in g)
               for g in parsed.groups)


def other_types(ctx: Context, doc_type: str) -> list[tantivy.Query]:
    """Exclusions of every doc type but ``doc_type``: for messages, the bulk of the index, cheaper than
    requiring ``doc_type:message`` (which intersects the text's matches with a posting of every message)."""
    return [_term(ctx.schema, S.DOC_TYPE, t) for t in S.DOC_TYPES if t != doc_type]


def filters(ctx: Context, *, doc_type: str | None, project: Sequence[str] | None = None, role: str | None = None,
            model: Sequence[str] | None = None, date_from=None, date_to=None, status: str | None = None,
            ) -> list[tantivy.Query]:
    sc = ctx.schema
    out = [_term(sc, S.DOC_TYPE, doc_type)] if doc_type else []
    if project is not None:
        out.append(_terms(sc, S.PROJECT, project))
    if role:
        out.append(_term(sc, S.ROLE, role.lower()))
    if model is not None:
        out.append(_terms(sc, S.MODEL, model))
    if status:
        out.append(_term(sc, S.KIND, status))
    lo, hi = day_range_ms(date_from, date_to)
    if lo is not None or hi is not None:
        out.append(tantivy.Query.range_query(sc, S.TS, tantivy.FieldType.Integer, lo, hi, True, hi is None))
    return out


# ---------------------------------------------------------------- running


#: deepest result a query can page to (offset + limit)
MAX_WINDOW = 100_000


@dataclass
class Hit:
    score: float
    doc: dict


def run(index: tantivy.Index, query: tantivy.Query, *, limit: int, offset: int = 0, recency: bool = False,
        ) -> tuple[list[Hit], int]:
    searcher = index.searcher()
    kw = {"order_by_field": S.TS, "order": tantivy.Order.Desc} if recency else {}
    if offset + limit > MAX_WINDOW:
        # tantivy allocates offset + limit slots up front (a huge page would abort the process): past the
        # window there are no hits to show anyway, only the count
        res = searcher.search(query, limit=1, count=True)
        return [], res.count or 0
    res = searcher.search(query, limit=max(1, limit), count=True, offset=max(0, offset), **kw)
    hits = [Hit(0.0 if recency else float(key), _plain(searcher.doc(addr).to_dict())) for key, addr in res.hits]
    return hits[:limit] if limit > 0 else [], res.count or 0


def _value(x):
    return x.decode("utf-8") if isinstance(x, bytes) else x


def _plain(fields: dict) -> dict:
    """A stored document's ``{field: [values]}`` as ``{field: value}`` (a list when a field has several), bytes
    decoded."""
    return {k: _value(v[0]) if len(v) == 1 else [_value(x) for x in v] for k, v in fields.items()}


def page_args(page, per_page, max_per_page: int = MAX_PER_PAGE) -> tuple[int, int]:
    try:
        page = max(1, int(page or 1))
    except (TypeError, ValueError):
        page = 1
    try:
        per_page = 20 if per_page is None or per_page == "" else int(per_page)
    except (TypeError, ValueError):
        per_page = 20
    return page, min(max(1, per_page), max_per_page)


def total_pages(total: int, per_page: int) -> int:
    return math.ceil(total / per_page) if total else 0


# ---------------------------------------------------------------- snippets


_ASCII_WORD_CHARS = "A-Za-z0-9"  # ``[^\W_]`` on ASCII text (schema.word_spans)


def _ascii_matcher(terms: Terms) -> re.Pattern | None:
    """A regex finding exactly the tokens ``terms.matches`` accepts, in ASCII text (None when a term is not
    ASCII): ``word_spans`` + ``matches`` over a whole text is the slow part of a search answer."""
    words = [*terms.exact, *terms.prefixes]
    if not all(w.isascii() and w.isalnum() and w == w.lower() for w in words):
        return None
    w = _ASCII_WORD_CHARS
    alts = [re.escape(t) + f"(?![{w}])" for t in sorted(terms.exact)]
    alts += [re.escape(p) + f"[{w}]*" for p in sorted(terms.prefixes)]
    return re.compile(f"(?<![{w}])(?:{'|'.join(alts)})", re.IGNORECASE | re.ASCII)


_MATCHERS: dict[tuple[frozenset, frozenset], re.Pattern | None] = {}


def _matched_spans(scan: str, terms: Terms) -> list[tuple[int, int, str]]:
    """(start, end, folded token) of each token of ``scan`` that matches ``terms``, in order."""
    if not (terms.exact or terms.prefixes):
        return []
    if scan.isascii():
        key = (frozenset(terms.exact), frozenset(terms.prefixes))
        rx = _MATCHERS.get(key, False)
        if rx is False:
            rx = _MATCHERS[key] = _ascii_matcher(terms)
            if len(_MATCHERS) > 256:
                _MATCHERS.clear()
        if rx is not None:
            return [(m.start(), m.end(), m.group().lower()) for m in rx.finditer(scan)]
    return [(s, e, t) for s, e, t in S.word_spans(scan) if terms.matches(t)]


def snippet(text: str, terms: Terms, width: int = SNIPPET_CHARS) -> tuple[str, bool]:
    """(HTML, matched): the part of ``text`` around the best cluster of query terms, every matched token in
    ``<mark>``, everything else HTML-escaped."""
    text = text or ""
    scan = text[:SNIPPET_SCAN]
    spans = _matched_spans(scan, terms)
    if not spans:
        cut = text[:width]
        return html.escape(cut, quote=True) + ("…" if len(text) > width else ""), False
    # the window of ``width`` characters holding the most distinct terms (first such window); spans are in
    # order, so a window's spans are a run starting at its first
    best, best_i, n = -1, 0, len(spans)
    for i, (s, _e, _t) in enumerate(spans):
        seen, j = set(), i
        while j < n and spans[j][0] < s + width:
            seen.add(spans[j][2])
            j += 1
        if len(seen) > best:
            best, best_i = len(seen), i
    return render_window(text, scan, spans, spans[best_i][0], width), True


def render_window(text: str, scan: str, spans: list, first: int, width: int) -> str:
    """The HTML of the window around the match starting at ``first``: cut at spaces, matches in ``<mark>``."""
    start = max(0, first - width // 4)
    if start > 0:
        ws = scan.rfind(" ", max(0, start - 20), first)
        start = ws + 1 if ws >= 0 else start
    end = min(len(text), start + width)
    if end < len(text):
        ws = scan.find(" ", end, end + 20)
        end = ws if ws > 0 else end
    parts = ["…" if start > 0 else ""]
    pos = start
    merged: list[list[int]] = []
    for s, e, _t in spans:
        if s < start or e > end:
            continue
        if merged and s == merged[-1][1]:
            merged[-1][1] = e
        else:
            merged.append([s, e])
    for s, e in merged:
        parts.append(html.escape(text[pos:s], quote=True))
        parts.append("<mark>" + html.escape(text[s:e], quote=True) + "</mark>")
        pos = e
    parts.append(html.escape(text[pos:end], quote=True))
    if end < len(text):
        parts.append("…")
    return "".join(parts)


def best_snippet(texts: Sequence[str], terms: Terms, width: int = SNIPPET_CHARS) -> str:
    first = None
    for t in texts:
        if not t:
            continue
        snip, ok = snippet(t, terms, width)
        if ok:
            return snip
        if first is None:
            first = snip
    return first or ""


def clip(text: str, n: int = CONTENT_CHARS) -> str:
    text = text or ""
    return text if len(text) <= n else text[:n].rstrip() + "…"


# ---------------------------------------------------------------- benchmark


def bench(fn: Callable[[str], object], queries: Sequence[str], repeat: int = 3) -> dict:
    """p50/p99 latency (ms) of ``fn(q)`` over ``queries`` (each run ``repeat`` times, after one warm-up)."""
    for q in queries:
        fn(q)
    times = []
    for _ in range(repeat):
        for q in queries:
            t0 = time.perf_counter()
            fn(q)
            times.append((time.perf_counter() - t0) * 1000)
    times.sort()

    def pct(p: float) -> float:
        if not times:
            return 0.0
        k = min(len(times) - 1, max(0, math.ceil(p / 100 * len(times)) - 1))
        return round(times[k], 3)

    return {"queries": len(queries), "runs": len(times), "p50_ms": pct(50), "p90_ms": pct(90), "p99_ms": pct(99),
            "max_ms": round(times[-1], 3) if times else 0.0,
            "mean_ms": round(sum(times) / len(times), 3) if times else 0.0}
