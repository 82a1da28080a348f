"""The static site's search index: a compact, sharded, prebuilt index that ``templates/static/search.js``
loads from ``file://`` (no server, no fetch: every file is a script that calls ``window.CCS_SEARCH.load``).

    write_static_index(cat, Path("site"))   # -> {"bytes", "shards", "docs", "terms", "dir"}

Files under ``<site>/assets/search/``::

    manifest.js     {version, build, docs, shards, chunk, sessions: [[href, title, project name, session id,
                    project id]], common: [the most common words]}
    t-<n>.js        terms -> doc ids, for the terms whose first two characters hash to shard n
    c-<i>.js        the doc ids of common word i (kept out of the shards so most queries load little)
    d-<n>.js        docs n*chunk … : [session index, kind, epoch seconds, uuid, preview]
    meta.js         per doc: session index and kind (only loaded for project:/role:/session: filters)

What it holds: session titles, the prompts a person typed and the assistant's visible text (not thinking,
tool inputs or tool output). Terms are folded like the server's index (lowercase, accents folded to
ASCII); CJK/emoji are indexed as single characters and pairs of adjacent characters. Words are matched as
prefixes; ranking is by how rare the matched words are, then newest first; phrases match as all their
words. Doc ids are assigned newest first, so "newest first" is ascending id.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from .. import cache
from ..rawvalues import CONTEXT_PREFIX_RE
from ..tables import HUMAN_USER_KINDS, parse_ts
from . import schema as S

if TYPE_CHECKING:
    from ..catalog import Catalog

log = logging.getLogger(__name__)

VERSION = 1
SUBDIR = "assets/search"
CHUNK = 1000  # docs per d-<n>.js
TEXT_CAP = 20_000  # characters of one message tokenized
PREVIEW = 140
MAX_TERM = 40
COMMON_SHARE = 0.2  # a term in more than this share of the docs (and at least COMMON_MIN) gets its own file
COMMON_MIN = 2000
TARGET_SHARD_BYTES = 96_000
KIND_PROMPT, KIND_RESPONSE, KIND_SESSION = 0, 1, 2
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"

#: folding the browser reproduces (search.js FOLD): NFKD, drop marks, NFC, lowercase, these letters
FOLD_MAP = {"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i",
            "ħ": "h", "ŧ": "t", "ſ": "s"}
#: a word: letters/digits that are not "uni" characters; uni characters stand alone (schema.UNI_CLASS)
WORD_RE = rf"[[\p{{L}}\p{{N}}]--[{S.UNI_CLASS}]]+"
UNI_RE = rf"[{S.UNI_CLASS}]+"


def _b36(n: int) -> str:
    if n == 0:
        return "0"
    out = []
    while n:
        n, r = divmod(n, 36)
        out.append(_B36[r])
    return "".join(reversed(out))


def encode_postings(ids: list[int]) -> str:
    """Ascending doc ids -> deltas in base 36, comma-separated."""
    out, prev = [], 0
    for i in ids:
        out.append(_b36(i - prev))
        prev = i
    return ",".join(out)


def b36_expr(v: pl.Expr, max_value: int) -> pl.Expr:
    """Non-negative integers -> base 36 strings (``_b36``, vectorised), for values up to ``max_value``."""
    powers = [1]
    while powers[-1] * 36 <= max(max_value, 0):
        powers.append(powers[-1] * 36)
    digit = [((v // p) % 36).cast(pl.UInt8).replace_strict(list(range(36)), list(_B36), return_dtype=pl.String)
             for p in powers]
    parts = [pl.when(v >= p).then(d).otherwise(pl.lit("")) for p, d in zip(powers[1:], digit[1:], strict=True)]
    return pl.concat_str([*reversed(parts), digit[0]])


def encode_postings_column(ids: pl.Series) -> pl.Series:
    """``encode_postings`` of every list of a ``list[int]`` column at once (what a big index needs: millions
    of ids)."""
    frame = pl.DataFrame({"ids": ids}).with_row_index("_g")
    deltas = frame.select(
        "_g", pl.concat_list(pl.col("ids").list.first(), pl.col("ids").list.diff().list.slice(1)).alias("d"),
    ).explode("d")
    top = deltas.get_column("d").max()
    enc = (deltas.drop_nulls("d").select("_g", b36_expr(pl.col("d"), int(top or 0)).alias("s"))
           .group_by("_g", maintain_order=True).agg(pl.col("s").str.join(","))
           .join(frame.select("_g"), on="_g", how="right").sort("_g"))
    return enc.get_column("s").fill_null("").alias("postings")


def decode_postings(s: str) -> list[int]:
    ids, prev = [], 0
    for x in s.split(",") if s else ():
        prev += int(x, 36)
        ids.append(prev)
    return ids


def shard_of(term: str, n: int) -> int:
    """FNV-1a over the code points of the term's first two characters (search.js shardOf)."""
    h = 0x811C9DC5
    for ch in term[:2]:
        h ^= ord(ch)
        h = (h * 16777619) & 0xFFFFFFFF
    return h % n


def fold_expr(col: pl.Expr) -> pl.Expr:
    return (col.str.normalize("NFKD").str.replace_all(r"\p{M}", "").str.normalize("NFC").str.to_lowercase()
            .str.replace_many(list(FOLD_MAP), list(FOLD_MAP.values())))


def _uni_terms(runs: list[str]) -> list[str]:
    out = []
    for r in runs:
        chars = list(r)
        out.extend(chars)
        out.extend(a + b for a, b in zip(chars, chars[1:], strict=False))
    return out


def static_docs(cat: Catalog) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(docs, sessions): docs = (doc, session, kind, ts, uuid, text) newest first; sessions = (session, idx)."""
    m = cache.load_manifest(cat.cfg.cache_dir)
    e = cache.scan_raw(cat.cfg.cache_dir / "segments", m, "entries").select(
        "session_id", "uuid", "kind", "user_kind", "timestamp", "text", "msg_id", "request_id", "file_id", "line_no",
    ).filter(
        ((pl.col("kind") == "user") & pl.col("user_kind").is_in(HUMAN_USER_KINDS))
        | ((pl.col("kind") == "assistant") & (pl.col("text").fill_null("") != ""))
    ).with_columns(
        parse_ts("timestamp"),
        # a prompt's IDE context (open file, selection) is not what the person typed
        pl.when(pl.col("kind") == "user").then(pl.col("text").str.replace(CONTEXT_PREFIX_RE, ""))
        .otherwise(pl.col("text")).alias("text"),
    ).collect().sort(["file_id", "line_no"])
    rk = pl.coalesce(pl.col("msg_id") + ":" + pl.col("request_id"), pl.col("uuid"))
    msgs = (
        e.with_columns(rk.alias("_rk"))
        .group_by("session_id", "_rk", maintain_order=True)
        .agg(pl.col("uuid").first(), pl.col("kind").first(), pl.col("timestamp").min(),
             pl.col("text").str.join("\n").str.slice(0, TEXT_CAP))
        .select("session_id", pl.when(pl.col("kind") == "user").then(KIND_PROMPT).otherwise(KIND_RESPONSE)
                .alias("kind"), "timestamp", "uuid", "text")
    )
    sess = cat.snapshot.sessions.select(
        "session_id", pl.lit(KIND_SESSION).alias("kind"), pl.col("last_ts").alias("timestamp"),
        pl.lit(None, pl.String).alias("uuid"),
        pl.concat_str([pl.col("title").fill_null(""), pl.col("slug").fill_null("")], separator="\n").alias("text"))
    docs = pl.concat([sess, msgs], how="vertical_relaxed").filter(
        pl.col("session_id").is_in(cat.snapshot.sessions.get_column("session_id").implode()))
    docs = docs.sort(["timestamp", "kind"], descending=[True, True], nulls_last=True).with_row_index("doc")
    return docs.with_columns(pl.col("doc").cast(pl.Int64)), cat.snapshot.sessions


def postings(docs: pl.DataFrame) -> pl.DataFrame:
    """(term, ids): every folded term and the ascending ids of the docs that hold it."""
    text = docs.select("doc", pl.col("text").fill_null(""))
    ascii_only = pl.col("text").str.contains(r"[^\x00-\x7f]").not_()
    # folding ASCII is lowercasing (the costly Unicode steps run only on the texts that need them)
    folded = pl.concat([
        text.filter(ascii_only).select("doc", pl.col("text").str.to_lowercase().alias("t")),
        text.filter(~ascii_only).select("doc", fold_expr(pl.col("text")).alias("t")),
    ])
    # a doc's distinct words: (doc, term) pairs are unique without a global pass
    words = folded.select("doc", pl.col("t").str.extract_all(WORD_RE).list.unique().alias("term")).explode("term")
    uni_docs = folded.filter(pl.col("t").str.contains(S.UNI_DETECT))
    uni_rows = [(d, t) for d, text in uni_docs.select("doc", pl.col("t").str.extract_all(UNI_RE)).iter_rows()
                for t in _uni_terms(text or [])]
    uni = pl.DataFrame(uni_rows, schema={"doc": pl.Int64, "term": pl.String}, orient="row").unique()
    terms = pl.concat([words.drop_nulls("term"), uni])
    terms = terms.filter((pl.col("term").str.len_chars() <= MAX_TERM)
                         & ~pl.col("term").str.contains(r"^[0-9]{7,}$"))
    return terms.group_by("term").agg(pl.col("doc").sort().alias("ids")).sort("term")


def _js(kind: str, n: int, data) -> str:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f'window.CCS_SEARCH&&CCS_SEARCH.load("{kind}",{n},{body});\n'


def _session_href(session_id: str) -> str:
    from ..site.urls import paths

    return paths.session(session_id)


def write_static_index(cat: Catalog, out_dir: Path, *, href: Callable[[str], str] | None = None,
                       preview: int = PREVIEW) -> dict:
    """Write the static search index under ``out_dir/assets/search/``; {"bytes", "shards", "docs", "terms"}.

    ``href(session_id)`` gives a session page's path relative to the site root (default
    ``session/<id>/index.html``); message results link to ``<href>#m-<uuid>``.
    """
    t0 = time.perf_counter()
    href = href or _session_href
    target = Path(out_dir) / SUBDIR
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    docs, sessions = static_docs(cat)
    n_docs = docs.height
    post = postings(docs)
    df = post.with_columns(pl.col("ids").list.len().alias("df"))
    limit = max(COMMON_MIN, int(n_docs * COMMON_SHARE))
    common_df = df.filter(pl.col("df") > limit).sort("df", descending=True)
    common = common_df.get_column("term").to_list()
    df = df.filter(pl.col("df") <= limit)
    # sessions table: index in the manifest
    proj_names = dict(cat.snapshot.projects.select("id", "name").iter_rows())
    srows = sessions.select("session_id", "title", "project", "last_ts").sort("last_ts", descending=True,
                                                                          nulls_last=True)
    sidx = {sid: i for i, sid in enumerate(srows.get_column("session_id").to_list())}
    stable = [[href(sid), title or sid, proj_names.get(project) or project or "", sid, project or ""]
              for sid, title, project, _ts in srows.iter_rows()]
    # term shards
    est = int(df.select((pl.col("term").str.len_bytes() + pl.col("df") * 3 + 4).sum()).item() or 0)
    n_shards = 1
    while n_shards < 4096 and est / n_shards > TARGET_SHARD_BYTES:
        n_shards *= 2
    shards: list[dict[str, str]] = [{} for _ in range(n_shards)]
    for term, enc in zip(df.get_column("term").to_list(), encode_postings_column(df.get_column("ids")).to_list(),
                         strict=True):
        shards[shard_of(term, n_shards)][term] = enc
    total = 0
    for i, sh in enumerate(shards):
        total += _write(tmp / f"t-{i}.js", _js("t", i, sh))
    # the most common words: one file each, loaded only by a query that has them
    for i, enc in enumerate(encode_postings_column(common_df.get_column("ids")).to_list()):
        total += _write(tmp / f"c-{i}.js", _js("c", i, enc))
    # doc chunks
    frame = docs.select(
        pl.col("session_id").replace_strict(sidx, default=-1, return_dtype=pl.Int64), "kind",
        (pl.col("timestamp").dt.epoch("s")).fill_null(0), pl.col("uuid").fill_null(""),
        pl.col("text").fill_null("").str.slice(0, preview * 2).str.replace_all(r"\s+", " ").str.strip_chars()
        .str.slice(0, preview),
    )
    rows = frame.rows()
    n_chunks = 0
    for c in range(0, len(rows), CHUNK):
        total += _write(tmp / f"d-{c // CHUNK}.js", _js("d", c // CHUNK, [list(r) for r in rows[c:c + CHUNK]]))
        n_chunks += 1
    s_idx = pl.col("session_id")
    meta = frame.select(
        pl.when(s_idx >= 0).then(b36_expr(s_idx, len(sidx))).otherwise(pl.lit("")).str.join(",").alias("s"),
        pl.col("kind").cast(pl.String).str.join("").alias("k"),
    ).row(0, named=True) if rows else {"s": "", "k": ""}
    total += _write(tmp / "meta.js", _js("x", 0, meta))
    build = str(int(time.time()))
    manifest = {"version": VERSION, "build": build, "docs": n_docs, "shards": n_shards, "chunk": CHUNK,
                "chunks": n_chunks, "sessions": stable, "common": common, "terms": df.height}
    total += _write(tmp / "manifest.js", _js("m", 0, manifest))
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)
    out = {"bytes": total, "shards": n_shards, "docs": n_docs, "terms": df.height, "common": len(common),
           "dir": str(target), "seconds": round(time.perf_counter() - t0, 3)}
    log.info("static search index: %s", out)
    return out


def _write(path: Path, text: str) -> int:
    data = text.encode("utf-8")
    path.write_bytes(data)
    return len(data)
