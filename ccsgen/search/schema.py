"""The search index's schema, declared once: field names, analyzers, and the Python-side twins of the
analyzers (for snippets and the static site index).

One tantivy index holds four document types (``doc_type``): ``message`` (a user prompt, an assistant
response — its streamed lines merged — or a capped tool result), ``session`` (id, slug, title, cwd, branch,
project path), ``prompt`` (a line of history.jsonl) and ``qa`` (a question/answer pair).

Text analysis:

- ``ccs`` (fields ``content``, ``extra``, ``output``): split on anything that is not a letter or digit, lowercase, fold
  accents to ASCII (``café`` -> ``cafe``, ``ß`` -> ``ss``), drop tokens longer than 40 characters.
- ``ccs_uni`` (field ``uni``): filled only for texts with CJK, Thai-like scripts or emoji, where words are
  not separated by spaces: each such character is one token (so a phrase query of consecutive characters
  is a substring search); other words as above.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import tantivy

#: bump when the schema or the analysis changes: an index of another version is rebuilt
SCHEMA_VERSION = 5

# ---------------------------------------------------------------- field names

DOC_TYPE = "doc_type"  # message | session | prompt | qa
OWNER = "owner"  # the session whose rows produced the doc ("history" for prompts): the unit of incremental reindex
KEY = "key"  # unique per doc: message uuid, session id, "p:<file>:<line>", qa id
SESSION = "session_id"
PROJECT = "project"  # project id (the dir under projects/)
PATH = "path"  # project path (cwd) — prompts carry only this
ROLE = "role"  # user | assistant
KIND = "kind"  # prompt | response | tool_result (messages); qa: resolution status
MODEL = "model"
TOOL = "tool"  # lowercased tool names (multi-valued)
TS = "ts"  # epoch milliseconds, UTC
CONTENT = "content"  # the visible text
EXTRA = "extra"  # thinking and tool inputs of a response; the answer of a qa pair
OUTPUT = "output"  # a tool result (capped), indexed without positions: phrases there match as all-words
UNI = "uni"  # CJK/emoji twin of content + extra (not stored)
TOKENS_IN = "tokens_in"
TOKENS_OUT = "tokens_out"
UUID = "uuid"

T_MESSAGE, T_SESSION, T_PROMPT, T_QA = "message", "session", "prompt", "qa"
DOC_TYPES = (T_MESSAGE, T_SESSION, T_PROMPT, T_QA)
K_PROMPT, K_RESPONSE, K_TOOL_RESULT = "prompt", "response", "tool_result"
HISTORY_OWNER = "history"

RAW_FIELDS = (DOC_TYPE, OWNER, SESSION, PROJECT, PATH, ROLE, KIND, MODEL, TOOL)
STORED_RAW = frozenset({SESSION, PROJECT, PATH, ROLE, KIND, MODEL})
#: stored, never searched (as bytes: an indexed unique string per doc would cost more than all the text)
STORED_ONLY = (KEY, UUID)
TEXT_FIELDS = (CONTENT, EXTRA)
#: text fields without positions (phrase queries become all-words queries there)
NO_POSITIONS = frozenset({OUTPUT})

ANALYZER = "ccs"
UNI_ANALYZER = "ccs_uni"
MAX_TOKEN = 40

#: characters of scripts written without spaces, and emoji: indexed one character per token
UNI_CLASS = (r"\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Tibetan}"
             r"\p{Extended_Pictographic}")
UNI_PATTERN = rf"[{UNI_CLASS}]|[[\p{{L}}\p{{N}}]--[{UNI_CLASS}]]+"
#: a text needs the ``uni`` field when it has one of these characters (Polars/Rust regex syntax)
UNI_DETECT = rf"[{UNI_CLASS}]"


def build_schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    for f in RAW_FIELDS:
        sb.add_text_field(f, stored=f in STORED_RAW, tokenizer_name="raw", index_option="basic")
    for f in TEXT_FIELDS:
        sb.add_text_field(f, stored=True, tokenizer_name=ANALYZER, index_option="position")
    sb.add_text_field(OUTPUT, stored=True, tokenizer_name=ANALYZER, index_option="freq")
    sb.add_text_field(UNI, stored=False, tokenizer_name=UNI_ANALYZER, index_option="position")
    for f in STORED_ONLY:
        sb.add_bytes_field(f, stored=True, indexed=False)
    sb.add_integer_field(TS, stored=True, indexed=True, fast=True)
    sb.add_integer_field(TOKENS_IN, stored=True)
    sb.add_integer_field(TOKENS_OUT, stored=True)
    return sb.build()


def _analyzer() -> tantivy.TextAnalyzer:
    return (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
            .filter(tantivy.Filter.lowercase()).filter(tantivy.Filter.ascii_fold())
            .filter(tantivy.Filter.remove_long(MAX_TOKEN)).build())


def _uni_analyzer() -> tantivy.TextAnalyzer:
    return (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.regex(UNI_PATTERN))
            .filter(tantivy.Filter.lowercase()).filter(tantivy.Filter.ascii_fold())
            .filter(tantivy.Filter.remove_long(MAX_TOKEN)).build())


@lru_cache(maxsize=1)
def analyzers() -> tuple[tantivy.TextAnalyzer, tantivy.TextAnalyzer]:
    """(ccs, ccs_uni) analyzers, for tokenizing queries exactly as the index did."""
    return _analyzer(), _uni_analyzer()


def register(index: tantivy.Index) -> tantivy.Index:
    """Tokenizers are not stored in the index: register them on every open."""
    index.register_tokenizer(ANALYZER, _analyzer())
    index.register_tokenizer(UNI_ANALYZER, _uni_analyzer())
    return index


def analyze(text: str) -> list[str]:
    return analyzers()[0].analyze(text)


def analyze_uni(text: str) -> list[str]:
    return analyzers()[1].analyze(text)


_UNI_CHARS = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u0f00-\u0fff\u2e80-\u2fdf\u3040-\u30ff\u3100-\u312f\u3190-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\u1100-\u11ff\u3130-\u318f\uf900-\ufaff\uff66-\uff9f"
    "\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff\U00020000-\U0003134f]"
)


def has_uni(text: str) -> bool:
    """Python twin of UNI_DETECT (close enough: it only decides which analyzer a query word goes to)."""
    return bool(_UNI_CHARS.search(text))


# ---------------------------------------------------------------- Python twins (snippets, static index)

_FOLD_SPECIAL = str.maketrans({
    "ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i", "ŀ": "l",
    "ħ": "h", "ŧ": "t", "ĸ": "q", "ŉ": "n", "ſ": "s", "ﬁ": "fi", "ﬂ": "fl",
})
_MARKS = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def fold(token: str) -> str:
    """Lowercase and fold to ASCII where tantivy's ``ascii_fold`` would (for comparing tokens in Python)."""
    t = token.lower()
    if t.isascii():
        return t
    t = t.translate(_FOLD_SPECIAL)
    return _MARKS.sub("", unicodedata.normalize("NFKD", t))


# A "word" in Python: runs of letters/digits (\w without "_"), with uni characters split off one by one.
_WORD = re.compile(r"[^\W_]+")


def word_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, folded token) of every token of ``text`` the way the index analyzes it."""
    out: list[tuple[int, int, str]] = []
    for m in _WORD.finditer(text):
        w = m.group()
        s = m.start()
        if not w.isascii() and _UNI_CHARS.search(w):
            pos = 0
            for um in _UNI_CHARS.finditer(w):
                if um.start() > pos:
                    out.append((s + pos, s + um.start(), fold(w[pos:um.start()])))
                out.append((s + um.start(), s + um.end(), um.group().lower()))
                pos = um.end()
            if pos < len(w):
                out.append((s + pos, s + len(w), fold(w[pos:])))
        else:
            out.append((s, m.end(), fold(w)))
    return out
