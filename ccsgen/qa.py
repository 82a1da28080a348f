"""Q&A pairs: (question, answer) pairs extracted from sessions, with a resolution status.

Pure functions over the raw tables; the search index stores the result (``search/indexer.py``) and the
Catalog serves it. The rules are documented in ``docs/qa-and-tags.md``; in short:

- A pair starts at a **prompt** a person typed in the main thread (``user_kind == "prompt"``, not a
  sidechain). Tool results, meta lines, command output, interrupts, compaction summaries, slash commands and
  ``!`` shell input are never questions.
- It runs over the assistant responses and tool work that follow, up to the next prompt that is not a
  push-back. A **push-back** ("still failing", "that's wrong", "try again" …) after an answer continues the
  pair as a new **attempt** (``loop_count`` + 1); the answer is the last attempt's text.
- It is kept when the prompt asks something (a ``?``, or it starts with a question word) or the answer
  holds code.
- Status: ``looped`` with two or more loops; else ``open`` when the exchange ended badly (interrupted, the
  last tool call failed with no text after it, an API error, no answer at all); else ``resolved`` when the
  answer is concrete (code, or at least 80 characters), or short but the user acknowledged it or moved on;
  else ``open``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field

import polars as pl

from .rawvalues import CONTEXT_PREFIX_RE
from .stats import iso

QUESTION_CAP = 2000
ANSWER_CAP = 4000
SNIPPET_CAP = 2000
MAX_SNIPPETS = 5
CONCRETE_CHARS = 80
STATUSES = ("resolved", "looped", "open")

_QWORDS = re.compile(
    r"^\s*(?:how|what|what's|whats|why|where|when|which|who|whose|whom|can|could|would|should|shall|is|are|"
    r"am|was|were|does|do|did|will|won't|isn't|aren't|doesn't|don't|didn't|explain|any idea|is there|are there|"
    r"tell me|help me|help)\b",
    re.IGNORECASE,
)
_QMARK = re.compile(r"\?(?:\s|$|[\"')\]])")
PUSHBACK = re.compile(
    r"""\bstill\s+(?:fail\w*|broken|not|n't|doesn'?t|does\s+not|isn'?t|is\s+not|get(?:ting)?|see(?:ing)?|the\s+same|same|
        happen\w*|error\w*|crash\w*|wrong|no\b|nothing|shows?|showing)
      | \b(?:does|did|is|was)\s*(?:n'?t|not)\s+work
      | \b(?:doesn'?t|didn'?t|don'?t)\s+(?:work|help|fix|change|solve|resolve)
      | \bnot\s+(?:working|fixed|solved|resolved)\b
      | \b(?:same|another)\s+(?:error|issue|problem|bug|exception|failure|result|output|thing)\b
      | \bthat'?s\s+(?:wrong|not\s+(?:it|right|correct|what|working))
      | \b(?:that|this|it)\s+is\s+(?:wrong|not\s+(?:it|right|correct|what|working))
      | \btry\s+again\b | \bfails?\s+again\b | \bagain\s+(?:fail\w*|error\w*|broken)
      | \b(?:wrong|incorrect)\b
      | \bno\s+(?:luck|change|difference)\b | \bnothing\s+(?:changed|happen\w*)\b
      | \b(?:broke|breaks)\b
      | ^\s*(?:no|nope|nah)\b(?:[\s,.!]|$)""",
    re.IGNORECASE | re.VERBOSE,
)
ACK = re.compile(
    r"^\s*(?:thanks?|thank\s+you|thx|ty|great|perfect|awesome|nice|cool|excellent|brilliant|works|it\s+works|"
    r"that\s+works|that\s+worked|worked|looks\s+good|lgtm|good\s+job|well\s+done|ok(?:ay)?|got\s+it|yes|yep)\b",
    re.IGNORECASE,
)
_FENCE = re.compile(r"```[^\n`]*\n(.*?)```", re.DOTALL)
PUSHBACK_WINDOW = 300
ACK_MAX = 80


def qa_id(session_id: str, timestamp: str | None, question: str) -> str:
    """The seed's id: first 16 hex of sha256 of ``session_id:timestamp:question[:200]``."""
    raw = f"{session_id}:{timestamp or ''}:{question[:200]}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]


def is_question(text: str) -> bool:
    head = text[:2000]
    return bool(_QWORDS.match(head) or _QMARK.search(head))


def is_pushback(text: str) -> bool:
    return bool(PUSHBACK.search(text[:PUSHBACK_WINDOW]))


def is_ack(text: str) -> bool:
    s = text.strip()
    return len(s) <= ACK_MAX and bool(ACK.match(s)) and not is_pushback(s)


def code_snippets(texts: list[str]) -> list[str]:
    out: list[str] = []
    for t in texts:
        if "```" not in t:
            continue
        for m in _FENCE.finditer(t):
            code = m.group(1).strip("\n")
            if code.strip():
                out.append(code[:SNIPPET_CAP])
                if len(out) >= MAX_SNIPPETS:
                    return out
    return out


# ---------------------------------------------------------------- exchanges (Polars) and the walk (Python)

#: human input lines: each starts an exchange
_INPUT_KINDS = ("prompt", "command", "bash")


def exchanges(entries: pl.DataFrame, blocks: pl.DataFrame) -> pl.DataFrame:
    """One row per exchange: a human input line of the main thread and everything up to the next one.

    ``entries`` needs file_id, line_no, uuid, session_id, project, is_sidechain, kind, user_kind, text,
    timestamp (datetime), model, is_api_error; ``blocks`` needs file_id, line_no, btype, tool_name, is_error.
    Columns: session_id, project, head (prompt|command|bash), question, ts, uuid, texts (assistant texts),
    tools, model, answered, last (the exchange's last event), interrupted, tool_errors.
    """
    line = ["file_id", "line_no"]
    per_line = (
        blocks.filter(pl.col("btype").is_in(["tool_use", "server_tool_use", "tool_result"]))
        .group_by(line)
        .agg(
            pl.col("tool_name").filter(pl.col("btype") != "tool_result").drop_nulls().alias("tools"),
            (pl.col("btype") == "tool_result").sum().cast(pl.Int64).alias("n_results"),
            ((pl.col("btype") == "tool_result") & pl.col("is_error").fill_null(False)).sum().cast(pl.Int64)
            .alias("n_errors"),
        )
    )
    e = (
        entries.filter(~pl.col("is_sidechain").fill_null(False) & pl.col("kind").is_in(["user", "assistant"]))
        .join(per_line, on=line, how="left")
        .sort(["session_id", "file_id", "line_no"])
    )
    is_user, is_asst = pl.col("kind") == "user", pl.col("kind") == "assistant"
    has_text = pl.col("text").fill_null("").str.strip_chars() != ""
    has_tools = pl.col("tools").list.len().fill_null(0) > 0
    api_err = pl.col("is_api_error").fill_null(False)
    event = (
        pl.when(is_user & (pl.col("user_kind") == "interrupt")).then(pl.lit("interrupt"))
        .when(is_user & (pl.col("n_errors").fill_null(0) > 0)).then(pl.lit("tool_error"))
        .when(is_user & (pl.col("n_results").fill_null(0) > 0)).then(pl.lit("tool_ok"))
        .when(is_asst & api_err).then(pl.lit("api_error"))
        .when(is_asst & has_tools).then(pl.lit("tool_use"))
        .when(is_asst & has_text).then(pl.lit("text"))
        .otherwise(None)
    )
    is_input = is_user & pl.col("user_kind").is_in(_INPUT_KINDS)
    e = e.with_columns(
        is_input.cum_sum().over("session_id").alias("_x"), event.alias("_ev"),
        (is_asst & ~api_err & has_text).alias("_answer"),
    ).filter(pl.col("_x") > 0)
    return (
        e.group_by("session_id", "_x", maintain_order=True).agg(
            pl.col("project").first(), pl.col("user_kind").first().alias("head"),
            pl.col("text").first().str.replace(CONTEXT_PREFIX_RE, "").alias("question"),
            pl.col("timestamp").first().alias("ts"),
            pl.col("uuid").first(),
            pl.col("text").filter(pl.col("_answer")).alias("texts"),
            pl.col("tools").filter(is_asst).list.explode(keep_nulls=False, empty_as_null=False).drop_nulls()
            .unique(maintain_order=True).alias("tools"),
            pl.col("model").filter(is_asst & ~api_err).drop_nulls().first().alias("model"),
            (is_asst & ~api_err & (has_text | has_tools)).any().alias("answered"),
            pl.col("_ev").drop_nulls().last().alias("last"),
            (is_user & (pl.col("user_kind") == "interrupt")).any().alias("interrupted"),
            pl.col("n_errors").fill_null(0).sum().alias("tool_errors"),
        )
        .filter(pl.col("head").is_in(_INPUT_KINDS))
    )


@dataclass
class _Open:
    session_id: str
    project: str | None
    question: str
    ts: dt.datetime | None
    uuid: str
    texts: list[str] = field(default_factory=list)  # the current attempt's answer texts
    all_texts: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    model: str | None = None
    loops: int = 0
    answered: bool = False
    last: str = "prompt"  # prompt | text | tool_use | tool_ok | tool_error | interrupt | api_error
    interrupted: bool = False
    tool_errors: int = 0
    ack: bool = False
    moved_on: bool = False

    def take(self, texts, tools, model, answered, last, interrupted, tool_errors) -> None:
        """Add one exchange's work (the first, or a push-back's) as the current attempt."""
        self.texts = list(texts or [])
        self.all_texts += self.texts
        for t in tools or []:
            if t not in self.tools:
                self.tools.append(t)
        self.model = self.model or model
        self.answered = self.answered or bool(answered)
        self.last = last or "prompt"
        self.interrupted = self.interrupted or bool(interrupted)
        self.tool_errors += int(tool_errors or 0)


def _answer(texts: list[str]) -> str:
    """The last attempt's final text when it is substantive (code, or CONCRETE_CHARS), else all its texts."""
    texts = [t for t in texts if t.strip()]
    if not texts:
        return ""
    last = texts[-1]
    if "```" in last or len(last.strip()) >= CONCRETE_CHARS:
        return last
    return "\n\n".join(texts)


def _close(p: _Open) -> dict | None:
    code = code_snippets(p.all_texts)
    if not (is_question(p.question) or code):
        return None
    answer = _answer(p.texts) or (p.all_texts[-1] if p.all_texts else "")
    concrete = bool(code) or len(answer.strip()) >= CONCRETE_CHARS
    ended_badly = not p.answered or p.last in ("interrupt", "tool_error", "api_error", "prompt", "tool_use")
    if p.loops >= 2:
        status = "looped"
    elif ended_badly:
        status = "open"
    elif concrete or (answer.strip() and (p.ack or p.moved_on)):
        status = "resolved"
    else:
        status = "open"
    ts = iso(p.ts)
    return {
        "id": qa_id(p.session_id, ts, p.question),
        "session_id": p.session_id,
        "project": p.project,
        "question_text": p.question[:QUESTION_CAP],
        "answer_text": answer[:ANSWER_CAP],
        "code_snippets": code,
        "tools_used": p.tools,
        "timestamp": ts,
        "model": p.model,
        "num_attempts": p.loops + 1,
        "resolution_status": status,
        "loop_count": p.loops,
        "question_uuid": p.uuid,
        "tool_errors": p.tool_errors,
        "interrupted": p.interrupted,
    }


def extract(ex: pl.DataFrame) -> list[dict]:
    """Q&A pairs from ``exchanges`` (in session and file order)."""
    out: list[dict] = []
    cur: _Open | None = None
    cur_session = None

    def close() -> None:
        nonlocal cur
        if cur is not None:
            pair = _close(cur)
            if pair is not None:
                out.append(pair)
        cur = None

    cols = ("session_id", "project", "head", "question", "ts", "uuid", "texts", "tools", "model", "answered",
            "last", "interrupted", "tool_errors")
    for (sid, project, head, question, ts, uuid, texts, tools, model, answered, last, interrupted,
         errors) in ex.select(cols).iter_rows():
        if sid != cur_session:
            close()
            cur_session = sid
        work = (texts, tools, model, answered, last, interrupted, errors)
        question = question or ""
        if head != "prompt":  # a slash command or ! shell input: the user moved on; never a question
            if cur is not None:
                cur.moved_on = True
                close()
            continue
        if cur is not None and cur.answered and is_pushback(question):
            cur.loops += 1
            cur.take(*work)
            continue
        if cur is not None and cur.answered and is_ack(question):
            cur.ack = True
            close()
            continue
        if cur is not None:
            cur.moved_on = True
            close()
        cur = _Open(sid, project, question, ts, uuid)
        cur.take(*work)
    close()
    return out


QA_SCHEMA = {
    "id": pl.String, "session_id": pl.String, "project": pl.String, "question_text": pl.String,
    "answer_text": pl.String, "code_snippets": pl.List(pl.String), "tools_used": pl.List(pl.String),
    "timestamp": pl.String, "model": pl.String, "num_attempts": pl.Int64, "resolution_status": pl.String,
    "loop_count": pl.Int64, "question_uuid": pl.String, "tool_errors": pl.Int64, "interrupted": pl.Boolean,
}
#: the seed's fields, in the seed's order (the rest are ccsgen's additions)
SEED_FIELDS = ("id", "session_id", "project", "question_text", "answer_text", "code_snippets", "tools_used",
               "timestamp", "model", "num_attempts", "resolution_status", "loop_count")


def pairs_frame(pairs: list[dict]) -> pl.DataFrame:
    df = pl.DataFrame(pairs, schema=QA_SCHEMA)
    # a session file copied into another (resume) repeats pairs with the same id: keep the first
    return df.unique(subset=["id"], keep="first", maintain_order=True)


def extract_frame(entries: pl.DataFrame, blocks: pl.DataFrame) -> pl.DataFrame:
    return pairs_frame(extract(exchanges(entries, blocks)))


# ---------------------------------------------------------------- reading the pairs (list, get, stats)


def _day_bounds(date_from, date_to) -> tuple[str | None, str | None]:
    from .search.query import day_range_iso

    return day_range_iso(date_from, date_to)


def filter_pairs(df: pl.DataFrame, *, project: str | list[str] | None = None, date_from=None, date_to=None,
                 resolution_status: str | None = None, session_id: str | None = None) -> pl.DataFrame:
    if project:
        ids = [project] if isinstance(project, str) else list(project)
        df = df.filter(pl.col("project").is_in(ids))
    if session_id:
        df = df.filter(pl.col("session_id") == session_id)
    if resolution_status:
        df = df.filter(pl.col("resolution_status") == resolution_status)
    lo, hi = _day_bounds(date_from, date_to)
    if lo:
        df = df.filter(pl.col("timestamp") >= lo)
    if hi:
        df = df.filter(pl.col("timestamp") < hi)
    return df


def as_dict(row: dict) -> dict:
    """A pair as the API returns it: the seed's fields first, then ccsgen's."""
    out = {k: row.get(k) for k in SEED_FIELDS}
    out.update({k: v for k, v in row.items() if k not in out})
    out["code_snippets"] = list(out.get("code_snippets") or [])
    out["tools_used"] = list(out.get("tools_used") or [])
    return out


def stats(df: pl.DataFrame, indexed_at: dict[str, str] | None = None) -> dict:
    """``/api/qa/stats``: totals by project, by day and by status."""
    by_project = (df.group_by("project").agg(pl.len().alias("count")).sort(["count", "project"],
                                                                         descending=[True, False]))
    by_date = (df.with_columns(pl.col("timestamp").str.slice(0, 10).alias("date")).group_by("date")
               .agg(pl.len().alias("count")).sort("date"))
    by_status = {s: int((df.get_column("resolution_status") == s).sum()) for s in STATUSES}
    indexed_at = indexed_at or {}
    return {
        "total_pairs": df.height,
        "by_project": by_project.to_dicts(),
        "by_date": by_date.drop_nulls("date").to_dicts(),
        "indexed_projects": [
            {"project": r["project"], "indexed_at": indexed_at.get(r["project"]), "qa_count": r["count"]}
            for r in by_project.to_dicts()
        ],
        "with_code_snippets": int((df.get_column("code_snippets").list.len() > 0).sum()) if df.height else 0,
        "by_status": by_status,
        "looped": by_status["looped"],
        "resolved": by_status["resolved"],
        "open": by_status["open"],
    }
