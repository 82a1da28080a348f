"""StackUnderflow's project statistics (``/api/stats``, ``/api/dashboard-data``, ``/api/messages``, …) as pure
Polars functions over the Catalog's tables. No I/O beyond the Catalog's cached Parquet.

Definitions (one each, shared with docs/definitions.md):

- message: a typed user message (prompt, slash command, ``!`` bash) or an assistant response (streamed
  lines merged by message id + request id), main transcript only — the Catalog's ``message_count``.
- command: a typed user message; its *interaction* is everything up to the next command of the same
  session: the assistant responses (subagents' included, by time), tool calls, errors and cost.
- step: an assistant response inside an interaction.
- error: a tool call whose ``tool_result`` has ``is_error`` (attributed to the tool whose ``tool_use_id`` it
  answers), or an assistant line that is an API error.
- interruption: a "[Request interrupted by user]" line; the interaction it falls in was interrupted.
- time zone: ``tz_offset`` minutes as ``Date.getTimezoneOffset()`` gives them (positive west of UTC):
  local time = UTC - offset.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import TYPE_CHECKING, Any

import polars as pl

from ..stats import iso, local_time
from ..tables import HUMAN_USER_KINDS, cost_sum, cost_total
from .su_frames import (  # noqa: F401 - ProjectFrames and project_frames are part of this module's API
    SEARCH_TOOLS,
    TOK,
    ProjectFrames,
    memoized,
    msg_key,
    parse_ts,
    project_frames,
    scan,
    top_model,
)

if TYPE_CHECKING:
    from ..catalog import Catalog

EDIT_TOOLS = ("Edit", "MultiEdit", "Write", "NotebookEdit")
READ_TOOLS = ("Read", "NotebookRead")
BASH_TOOLS = ("Bash", "BashOutput", "KillShell")
PREVIEW = 100
#: entries kept in each detail list (docs/api-limits.md): ``error_details``, ``assistant_details`` and
#: ``command_details`` keep the most recent, ``command_costs`` the most expensive. Every count, total and rate
#: beside them covers every row. The lists are most of a dashboard answer: 1000 entries made it 1 MB.
MAX_DETAILS = 100
ERROR_CATEGORIES = (
    ("User Interruption", r"interrupted by user|user (?:rejected|denied|doesn't want)"),
    ("Permission Error", r"permission denied|not permitted|EACCES|requires approval"),
    ("Content Not Found", r"no such file|not found|does not exist|ENOENT|no matches|cannot find"),
    ("Syntax Error", r"syntax ?error|unexpected token|parse error|invalid syntax"),
    ("Timeout", r"timed? ?out|timeout"),
    ("File Modified", r"modified since|has been modified|was modified"),
    ("String Not Found", r"string to replace not found|old_string"),
    ("Code Runtime Error", r"error|exception|traceback|exit code|failed"),
)


def _tok(row: dict, prefix: str = "") -> dict:
    return {k: int(row.get(prefix + v) or 0) for k, v in TOK.items()}


def _zero_tok() -> dict:
    return dict.fromkeys(TOK, 0)


def _ts_epoch(t: dt.datetime | None) -> float:
    return round(t.timestamp(), 3) if t is not None else 0.0


def _preview(text: str | None, n: int = PREVIEW) -> str:
    return re.sub(r"\s+", " ", text or "").strip()[:n]


def _pct(a: float, b: float, nd: int = 1) -> float:
    return round(100.0 * a / b, nd) if b else 0.0


def latest(df: pl.DataFrame, n: int | None = None, col: str = "timestamp") -> pl.DataFrame:
    """The ``n`` (default :data:`MAX_DETAILS`) rows of ``df`` with the latest ``col`` (rows without one count as
    the oldest; on a tie, the later row wins), in ``df``'s order: ``df`` itself when it has no more rows."""
    n = MAX_DETAILS if n is None else n
    if df.height <= n:
        return df
    keep = (df.select(pl.col(col)).with_row_index("_i").sort(col, nulls_last=False, maintain_order=True)
            .tail(n).get_column("_i").sort())
    return df[keep]


# ---------------------------------------------------------------- the statistics object


def statistics(f: ProjectFrames, tz_offset: int = 0, with_costs: bool = True) -> dict:
    """``/api/stats`` (``with_costs``) or the ``statistics`` of ``/api/dashboard-data``."""
    out = {
        "overview": overview(f),
        "tools": tools(f),
        "sessions": sessions_section(f),
        "daily_stats": daily_stats(f, tz_offset),
        "hourly_pattern": hourly_pattern(f, tz_offset),
        "errors": errors_section(f),
        "models": models_section(f),
        "user_interactions": user_interactions(f),
        "cache": cache_section(f),
    }
    if with_costs:
        out.update(cost_sections(f, tz_offset))
    return out


def overview(f: ProjectFrames) -> dict:
    s, r = f.sessions, f.responses
    m = f.messages
    return {
        "project_name": f.name,
        "log_dir_name": f.pid,
        "project_path": f.path,
        "total_messages": m.height,
        "date_range": {"start": iso(s.get_column("first_ts").min()) if s.height else None,
                       "end": iso(s.get_column("last_ts").max()) if s.height else None},
        "sessions": s.height,
        "message_types": {"user": int((m.get_column("role") == "user").sum()),
                          "assistant": int((m.get_column("role") == "assistant").sum())},
        "total_tokens": {k: int(r.get_column(v).sum()) for k, v in TOK.items()},
        "total_cost": cost_total(r.get_column("cost_usd")),
    }


def tools(f: ProjectFrames) -> dict:
    t = f.tool_calls.group_by("name").agg(pl.len().alias("calls"), pl.col("is_error").sum().alias("errors")) \
        .with_columns(pl.col("name").fill_null("(unknown)")).sort(["calls", "name"], descending=[True, False])
    rows = t.iter_rows(named=True)
    rows = list(rows)
    return {
        "usage_counts": {x["name"]: x["calls"] for x in rows},
        "error_counts": {x["name"]: x["errors"] for x in rows if x["errors"]},
        "error_rates": {x["name"]: round(x["errors"] / x["calls"], 4) if x["calls"] else 0.0 for x in rows},
    }


def sessions_section(f: ProjectFrames) -> dict:
    s = f.sessions
    with_err = s.filter((pl.col("tool_errors") > 0) | (pl.col("api_errors") > 0)).height if s.height else 0
    return {
        "count": s.height,
        "average_duration_seconds": float(s.get_column("duration_s").mean()) if s.height else 0.0,
        "average_messages": float(s.get_column("message_count").mean()) if s.height else 0.0,
        "sessions_with_errors": with_err,
    }


def _day(col: str, tz_offset: int) -> pl.Expr:
    return local_time(col, tz_offset).dt.strftime("%Y-%m-%d").alias("date")


def daily_stats(f: ProjectFrames, tz_offset: int = 0) -> dict:
    m = f.messages.filter(pl.col("timestamp").is_not_null()).with_columns(_day("timestamp", tz_offset))
    r = f.responses.filter(pl.col("timestamp").is_not_null()).with_columns(_day("timestamp", tz_offset))
    c = f.commands.with_columns(_day("timestamp", tz_offset))
    e = f.errors.filter(pl.col("timestamp").is_not_null()).with_columns(_day("timestamp", tz_offset))
    out: dict[str, dict] = {}
    md = m.group_by("date").agg(pl.len().alias("messages"), pl.col("session_id").n_unique().alias("sessions"),
                                (pl.col("role") == "assistant").sum().alias("assistant_messages"))
    for x in md.sort("date").iter_rows(named=True):
        out[x["date"]] = {"messages": x["messages"], "sessions": x["sessions"], "tokens": _zero_tok(),
                          "cost": {"total": 0.0, "by_model": {}}, "user_commands": 0, "interrupted_commands": 0,
                          "interruption_rate": 0.0, "errors": 0, "assistant_messages": x["assistant_messages"],
                          "error_rate": 0.0}

    def day(d: str) -> dict:
        if d not in out:
            out[d] = {"messages": 0, "sessions": 0, "tokens": _zero_tok(), "cost": {"total": 0.0, "by_model": {}},
                      "user_commands": 0, "interrupted_commands": 0, "interruption_rate": 0.0, "errors": 0,
                      "assistant_messages": 0, "error_rate": 0.0}
        return out[d]

    comp = ("input_cost", "output_cost", "cache_creation_cost", "cache_read_cost")
    rd = r.with_columns(pl.col("model").fill_null("(none)")).group_by("date", "model").agg(
        *[pl.col(v).sum() for v in TOK.values()], *[pl.col(x).sum() for x in comp], cost_sum())
    for x in rd.sort("date", "model").iter_rows(named=True):
        d = day(x["date"])
        for k, v in TOK.items():
            d["tokens"][k] += int(x[v])
        d["cost"]["total"] += float(x["cost_usd"])
        d["cost"]["by_model"][x["model"]] = {**{k: float(x[k]) for k in comp}, "total_cost": float(x["cost_usd"])}
    for x in c.group_by("date").agg(pl.len().alias("n"), (pl.col("interrupts") > 0).sum().alias("i")).iter_rows(
            named=True):
        d = day(x["date"])
        d["user_commands"] = x["n"]
        d["interrupted_commands"] = int(x["i"])
        d["interruption_rate"] = _pct(x["i"], x["n"])
    for x in e.group_by("date").agg(pl.len().alias("n")).iter_rows(named=True):
        day(x["date"])["errors"] = x["n"]
    for d in out.values():
        d["error_rate"] = _pct(d["errors"], d["assistant_messages"])
    return dict(sorted(out.items()))


def hourly_pattern(f: ProjectFrames, tz_offset: int = 0) -> dict:
    msgs = {str(h): 0 for h in range(24)}
    toks = {str(h): _zero_tok() for h in range(24)}
    m = f.messages.filter(pl.col("timestamp").is_not_null())
    for h, n in m.group_by(local_time("timestamp", tz_offset).dt.hour().alias("h")).agg(pl.len()).iter_rows():
        msgs[str(h)] = n
    r = f.responses.filter(pl.col("timestamp").is_not_null())
    for x in r.group_by(local_time("timestamp", tz_offset).dt.hour().alias("h")).agg(
            *[pl.col(v).sum() for v in TOK.values()]).iter_rows(named=True):
        toks[str(x["h"])] = _tok(x)
    return {"messages": msgs, "tokens": toks}


def _categorize(text: str | None, kind: str) -> str:
    if kind == "assistant":
        return "API Error"
    t = text or ""
    for name, pat in ERROR_CATEGORIES:
        if re.search(pat, t, re.IGNORECASE):
            return name
    return "Other"


def errors_section(f: ProjectFrames) -> dict:
    e = f.errors
    total = e.height
    by_type = {k: n for k, n in e.group_by("kind").agg(pl.len()).sort("kind").iter_rows() if n}
    cats: dict[str, int] = {}
    for text, kind in e.select("text", "kind").iter_rows():
        cat = _categorize(text, kind)
        cats[cat] = cats.get(cat, 0) + 1
    details = [{"timestamp": iso(x["timestamp"]), "session_id": x["session_id"], "model": x["model"] or "N/A",
                "type": x["kind"], "tool": x["tool"], "category": _categorize(x["text"], x["kind"]),
                "error_message": _preview(x["text"], 300)} for x in latest(e).iter_rows(named=True)]
    asst = f.messages.filter(pl.col("role") == "assistant").select("timestamp", "is_api_error")
    return {
        "total": total,
        "rate": total / f.messages.height if f.messages.height else 0.0,
        "by_type": by_type,
        "by_category": dict(sorted(cats.items(), key=lambda kv: -kv[1])),
        "error_details": details,
        "assistant_details": [{"timestamp": iso(t), "is_error": bool(err)} for t, err in latest(asst).iter_rows()],
    }


def models_section(f: ProjectFrames) -> dict:
    r = f.responses.filter(pl.col("model").is_not_null())
    g = r.group_by("model").agg(pl.len().alias("count"), *[pl.col(v).sum() for v in TOK.values()]).sort(
        ["count", "model"], descending=[True, False], maintain_order=True)
    return {x["model"]: {"count": x["count"], **{v: int(x[v]) for v in TOK.values()}} for x in g.iter_rows(named=True)}


def user_interactions(f: ProjectFrames) -> dict:
    c = f.commands
    n = c.height
    tools_total = int(c.get_column("tools").sum()) if n else 0
    steps_total = int(f.responses.get_column("key").n_unique()) if f.responses.height else 0
    with_tools = int((c.get_column("tools") > 0).sum()) if n else 0
    search_total = int(c.get_column("search_tools").sum()) if n else 0
    interrupted = int((c.get_column("interrupts") > 0).sum()) if n else 0
    dist: dict[str, int] = {}
    rates: dict[str, dict] = {}
    steps_with_tools = f.tool_calls.get_column("key").n_unique() if f.tool_calls.height else 0
    for tools_n, interrupts in c.select("tools", "interrupts").iter_rows():
        k = str(tools_n)
        dist[k] = dist.get(k, 0) + 1
        rr = rates.setdefault(k, {"rate": 0.0, "total_commands": 0, "interrupted_commands": 0})
        rr["total_commands"] += 1
        rr["interrupted_commands"] += int(interrupts > 0)
    details = []
    for x in latest(c).iter_rows(named=True):
        text = x["text"] or ""
        details.append({
            "user_message": text[:2000], "user_message_truncated": _preview(text), "timestamp": iso(x["timestamp"]),
            "session_id": x["session_id"], "tools_used": x["tools"], "tool_names": list(x["tool_names"]),
            "has_tools": x["tools"] > 0, "assistant_steps": x["steps"], "model": x["model"] or "N/A",
            "is_interruption": False, "followed_by_interruption": x["interrupts"] > 0,
            "estimated_tokens": round((x["input_tokens"] + x["output_tokens"]) / max(x["steps"], 1), 2),
            "search_tools_used": x["search_tools"],
        })
    for rr in rates.values():
        rr["rate"] = _pct(rr["interrupted_commands"], rr["total_commands"])
    model_dist: dict[str, int] = {}
    for mdl in c.get_column("model").to_list() if n else []:
        if mdl:
            model_dist[mdl] = model_dist.get(mdl, 0) + 1
    io = int(c.get_column("input_tokens").sum() + c.get_column("output_tokens").sum()) if n else 0
    return {
        "real_user_messages": n,
        "user_commands_analyzed": n,
        "commands_requiring_tools": with_tools,
        "commands_without_tools": n - with_tools,
        "percentage_requiring_tools": _pct(with_tools, n),
        "total_tools_used": tools_total,
        "total_search_tools": search_total,
        "search_tool_percentage": _pct(search_total, tools_total),
        "total_assistant_steps": steps_total,
        "avg_tools_per_command": round(tools_total / n, 2) if n else 0.0,
        "avg_tools_when_used": round(tools_total / with_tools, 2) if with_tools else 0.0,
        "avg_steps_per_command": round(steps_total / n, 2) if n else 0.0,
        "avg_tokens_per_command": round(io / n, 2) if n else 0.0,
        "percentage_steps_with_tools": _pct(steps_with_tools, steps_total),
        "tool_count_distribution": dist,
        "command_details": details,
        "interruption_rate": _pct(interrupted, n),
        "non_interruption_commands": n - interrupted,
        "commands_followed_by_interruption": interrupted,
        "tool_interruption_rates": rates,
        "model_distribution": model_dist,
    }


def cache_section(f: ProjectFrames) -> dict:
    r = f.responses
    created = int(r.get_column("cache_creation_tokens").sum()) if r.height else 0
    read = int(r.get_column("cache_read_tokens").sum()) if r.height else 0
    n = r.height
    with_read = int((r.get_column("cache_read_tokens") > 0).sum()) if n else 0
    with_created = int((r.get_column("cache_creation_tokens") > 0).sum()) if n else 0
    # in units of the input price: a cache read costs 0.1x, a cache write 1.25x
    saved_units = read * 0.9 - created * 0.25
    return {
        "total_created": created,
        "total_read": read,
        "messages_with_cache_read": with_read,
        "messages_with_cache_created": with_created,
        "assistant_messages": n,
        "hit_rate": _pct(with_read, n),
        "efficiency": _pct(with_created, n),
        "tokens_saved": read - created,
        "cost_saved_base_units": round(saved_units, 2),
        "break_even_achieved": saved_units > 0,
        "cache_roi": _pct(read - created, created) if created else 0.0,
    }


# ---------------------------------------------------------------- cost sections (/api/stats only)


def _cmd_item(x: dict) -> dict:
    return {"interaction_id": x["cmd_id"], "session_id": x["session_id"], "timestamp": iso(x["timestamp"]),
            "prompt_preview": _preview(x["text"]), "tool_count": x["tools"], "step_count": x["steps"],
            "cost": float(x["cost"])}


def cost_sections(f: ProjectFrames, tz_offset: int = 0) -> dict:
    s, c, r, tc = f.sessions, f.commands, f.responses, f.tool_calls
    cmd_by_session = c.group_by("session_id").agg(pl.len().alias("commands"))
    err_by_session = f.errors.group_by("session_id").agg(pl.len().alias("errors"))
    first_prompt = c.group_by("session_id", maintain_order=True).agg(pl.col("text").first().alias("fp"))
    ss = s.join(cmd_by_session, on="session_id", how="left").join(err_by_session, on="session_id", how="left") \
        .join(first_prompt, on="session_id", how="left").sort("cost_usd", descending=True, maintain_order=True)
    session_costs = [{
        "session_id": x["session_id"], "started_at": iso(x["first_ts"]), "ended_at": iso(x["last_ts"]),
        "duration_s": round(float(x["duration_s"] or 0.0), 3), "cost": float(x["cost_usd"]), "tokens": _tok(x),
        "messages": int(x["message_count"]), "commands": int(x["commands"] or 0), "errors": int(x["errors"] or 0),
        "first_prompt_preview": _preview(x["fp"] or x["title"]), "models_used": list(x["models"] or []),
    } for x in ss.iter_rows(named=True)]

    cs = c.sort("cost", descending=True, maintain_order=True)
    command_costs = [{
        "interaction_id": x["cmd_id"], "session_id": x["session_id"], "timestamp": iso(x["timestamp"]),
        "prompt_preview": _preview(x["text"]), "cost": float(x["cost"]), "tokens": _tok(x), "tools_used": x["tools"],
        "steps": x["steps"], "models_used": list(x["models"]), "had_error": x["errors"] > 0,
    } for x in cs.head(MAX_DETAILS).iter_rows(named=True)]

    tcost = tc.with_columns(pl.col("name").fill_null("(unknown)")).group_by("name").agg(
        pl.len().alias("calls"), *[pl.col(f"share_{v}").sum().alias(v) for v in TOK.values()],
        cost_sum("share_cost_usd").alias("cost")).sort(["calls", "name"], descending=[True, False])
    tool_costs = {x["name"]: {"calls": x["calls"], "input_tokens": round(x["input_tokens"]),
                              "output_tokens": round(x["output_tokens"]),
                              "cache_read_tokens": round(x["cache_read_tokens"]),
                              "cache_creation_tokens": round(x["cache_creation_tokens"]), "cost": float(x["cost"])}
                  for x in tcost.iter_rows(named=True)}

    rd = r.filter(pl.col("timestamp").is_not_null()).with_columns(_day("timestamp", tz_offset)).group_by("date") \
        .agg(*[pl.col(v).sum() for v in TOK.values()]).sort("date")
    per_session = {x["session_id"]: _tok(x)
                   for x in s.sort("first_ts", nulls_last=True, maintain_order=True).iter_rows(named=True)}
    token_composition = {
        "daily": {x["date"]: _tok(x) for x in rd.iter_rows(named=True)},
        "totals": {k: int(r.get_column(v).sum()) for k, v in TOK.items()},
        "per_session": per_session,
    }

    n = c.height
    mean_tools = float(c.get_column("tools").mean()) if n else 0.0
    mean_steps = float(c.get_column("steps").mean()) if n else 0.0
    high_tools = c.filter(pl.col("tools") >= max(10.0, 2 * mean_tools)).sort(
        "tools", descending=True, maintain_order=True).head(20)
    high_steps = c.filter(pl.col("steps") >= max(10.0, 2 * mean_steps)).sort(
        "steps", descending=True, maintain_order=True).head(20)
    outliers = {"high_tool_commands": [_cmd_item(x) for x in high_tools.iter_rows(named=True)],
                "high_step_commands": [_cmd_item(x) for x in high_steps.iter_rows(named=True)]}

    retry, wasted_tokens, wasted_cost = _retries(f)
    errors_by_tool = {k: v for k, v in f.errors.filter(pl.col("tool").is_not_null()).group_by("tool").agg(
        pl.len()).sort(["len", "tool"], descending=[True, False]).iter_rows()}
    top_err = c.filter(pl.col("errors") > 0).sort(["errors", "cost"], descending=True, maintain_order=True) \
        .head(10)
    error_cost = {"total_errors": f.errors.height, "estimated_retry_tokens": wasted_tokens,
                  "estimated_retry_cost": wasted_cost, "errors_by_tool": errors_by_tool,
                  "top_error_commands": [_cmd_item(x) for x in top_err.iter_rows(named=True)]}
    return {
        "session_costs": session_costs,
        "command_costs": command_costs,
        "tool_costs": tool_costs,
        "token_composition": token_composition,
        "outliers": outliers,
        "retry_signals": retry,
        "session_efficiency": session_efficiency(f),
        "error_cost": error_cost,
        "trends": week_trends(f),
    }


def _retries(f: ProjectFrames) -> tuple[list[dict], int, float]:
    """Per (command, tool) with a failed call that the assistant called again: the longest run of consecutive
    failures and what the failed calls cost (their share of the issuing responses' output tokens and cost)."""
    tc = f.tool_calls.filter(pl.col("cmd_id").is_not_null()).sort("timestamp", nulls_last=True,
                                                                    maintain_order=True)
    if tc.height == 0:
        return [], 0, 0.0
    g = tc.group_by("cmd_id", "name", maintain_order=True).agg(
        pl.col("session_id").first(), pl.col("is_error"), pl.col("share_output_tokens"), pl.col("share_cost_usd"))
    cmd_ts = dict(f.commands.select("cmd_id", "timestamp").iter_rows())
    out, total_tok, total_cost = [], 0, 0.0
    for x in g.iter_rows(named=True):
        errs = x["is_error"]
        if not any(errs):
            continue
        run = best = 0
        for e in errs:
            run = run + 1 if e else 0
            best = max(best, run)
        tok = round(sum(t for t, e in zip(x["share_output_tokens"], errs, strict=True) if e))
        cost = float(sum(c for c, e in zip(x["share_cost_usd"], errs, strict=True) if e))
        total_tok += tok
        total_cost += cost
        if len(errs) >= 2:
            out.append({"interaction_id": x["cmd_id"], "session_id": x["session_id"], "timestamp": iso(cmd_ts.get(
                x["cmd_id"])), "tool": x["name"], "consecutive_failures": best, "total_invocations": len(errs),
                "estimated_wasted_tokens": tok, "estimated_wasted_cost": cost})
    return out, total_tok, total_cost


def session_efficiency(f: ProjectFrames) -> list[dict]:
    tc = f.tool_calls
    g = tc.group_by("session_id").agg(
        pl.len().alias("n"), pl.col("name").is_in(SEARCH_TOOLS).sum().alias("search"),
        pl.col("name").is_in(EDIT_TOOLS).sum().alias("edit"), pl.col("name").is_in(READ_TOOLS).sum().alias("read"),
        pl.col("name").is_in(BASH_TOOLS).sum().alias("bash"))
    s = f.sessions.select("session_id", "duration_s", "first_ts").join(g, on="session_id", how="left") \
        .join(f.idle, on="session_id", how="left").sort("first_ts", nulls_last=True, maintain_order=True)
    out = []
    for x in s.iter_rows(named=True):
        n = x["n"] or 0
        ratios = {k: (x[k] or 0) / n if n else 0.0 for k in ("search", "edit", "read", "bash")}
        idle_total = float(x["idle_gap_total_s"] or 0.0)
        dur = float(x["duration_s"] or 0.0)
        top = max(ratios, key=lambda k: ratios[k])
        if n and ratios[top] >= 0.4:
            cls = f"{top}-heavy"
        elif dur and idle_total / dur > 0.5:
            cls = "idle-heavy"
        else:
            cls = "balanced"
        out.append({"session_id": x["session_id"], **{f"{k}_ratio": v for k, v in ratios.items()},
                    "idle_gap_total_s": round(idle_total, 3), "idle_gap_max_s": round(float(x["idle_gap_max_s"] or 0),
                                                                                   3),
                    "classification": cls})
    return out


def week_trends(f: ProjectFrames) -> dict:
    """The 7 days ending at the project's last activity vs the 7 days before."""
    c = f.commands
    last = f.sessions.get_column("last_ts").max() if f.sessions.height else None

    def window(lo, hi) -> dict:
        if last is None:
            w = c.head(0)
        else:
            w = c.filter((pl.col("timestamp") > lo) & (pl.col("timestamp") <= hi))
        n = w.height
        cost = cost_total(w.get_column("cost")) if n else 0.0
        toks = int(sum(w.get_column(v).sum() for v in TOK.values())) if n else 0
        return {"cost_per_command": cost / n if n else 0.0,
                "errors_per_command": float(w.get_column("errors").sum()) / n if n else 0.0,
                "tools_per_command": float(w.get_column("tools").sum()) / n if n else 0.0,
                "tokens_per_command": toks / n if n else 0.0, "commands": n, "cost": cost}

    week = dt.timedelta(days=7)
    cur = window(last - week, last) if last is not None else window(None, None)
    prior = window(last - 2 * week, last - week) if last is not None else window(None, None)
    delta = {k: round((cur[k] - prior[k]) / prior[k] * 100.0, 1) if prior[k] else 0.0 for k in cur}
    return {"current_week": cur, "prior_week": prior, "delta_pct": delta}


# ---------------------------------------------------------------- messages


def _tools_of(f: ProjectFrames, keys: list[str], inputs: dict[str, Any] | None) -> dict[str, list]:
    tc = f.tool_calls.filter(pl.col("key").is_in(keys)).select("key", "name", "tool_id")
    out: dict[str, list] = {}
    for k, name, tid in tc.iter_rows():
        out.setdefault(k, []).append({"name": name, "id": tid, "input": (inputs or {}).get(tid, {})})
    return out


def _tool_inputs(cat: Catalog, f: ProjectFrames, keys: list[str]) -> dict[str, Any]:
    tc = f.tool_calls.filter(pl.col("key").is_in(keys))
    ids = tc.get_column("tool_id").to_list()
    if not ids:
        return {}
    # only the sessions of these calls: the blocks' row groups of other sessions are skipped unread
    sids = tc.get_column("session_id").unique().to_list()
    b = (scan(cat, "blocks").filter(pl.col("session_id").is_in(sids) & (pl.col("btype") == "tool_use")
                                     & pl.col("tool_id").is_in(ids)).select("tool_id", "input_json").collect())
    out = {}
    for tid, raw in b.iter_rows():
        try:
            out[tid] = json.loads(raw or "{}")
        except ValueError:
            out[tid] = {"_truncated": raw}
    return out


def messages(cat: Catalog, f: ProjectFrames, limit: int | None = None, offset: int = 0) -> list[dict]:
    """StackUnderflow's message objects (``/api/messages``), oldest first."""
    by_time = memoized(f, "messages_by_time",
                       lambda: f.messages.sort("timestamp", "file_id", "line_no", nulls_last=True))
    m = by_time.slice(offset, limit)
    keys = m.filter(pl.col("role") == "assistant").get_column("key").to_list()
    tools_by_key = _tools_of(f, keys, _tool_inputs(cat, f, keys))
    rk = f.responses.filter(pl.col("key").is_in(keys)).group_by("key").agg(*[pl.col(v).sum() for v in TOK.values()])
    tok_by_key = {x["key"]: _tok(x) for x in rk.iter_rows(named=True)}
    err_keys = set(f.tool_calls.filter(pl.col("is_error") & pl.col("key").is_in(keys)).get_column("key").to_list())
    users = m.filter(pl.col("role") == "user").get_column("uuid")
    page_cmds = f.commands.filter(pl.col("uuid").is_in(users.drop_nulls().to_list())
                                  | (pl.col("uuid").is_null() & pl.lit(users.has_nulls())))
    cmd = {x["uuid"]: x for x in page_cmds.select("uuid", "tools", "model", "steps").iter_rows(named=True)}
    out = []
    for x in m.iter_rows(named=True):
        user = x["role"] == "user"
        tools = [] if user else tools_by_key.get(x["key"], [])
        text = x["text"] or ""
        if not user and not text and tools:
            text = "\n".join(f"[Tool: {t['name']}]" for t in tools)
        tok = _zero_tok() if user else tok_by_key.get(x["key"], _zero_tok())
        d = {
            "session_id": x["session_id"], "type": x["role"], "role": x["role"], "timestamp": iso(x["timestamp"]),
            "model": "N/A" if user else (x["model"] or "N/A"), "content": text, "tools": tools, "tokens": tok,
            "input_tokens": tok["input"], "output_tokens": tok["output"], "cwd": x["cwd"], "uuid": x["uuid"],
            "parent_uuid": x["parent_uuid"], "is_sidechain": False, "has_tool_result": False,
            "error": bool(x["is_api_error"]) or x["key"] in err_keys, "is_interruption": False,
            "message_id": x["msg_id"] or "",
        }
        if user and x["uuid"] in cmd:
            c = cmd[x["uuid"]]
            d.update({"interaction_tool_count": c["tools"], "interaction_model": c["model"] or "N/A",
                      "interaction_assistant_steps": c["steps"]})
        out.append(d)
    return out


def messages_summary(f: ProjectFrames) -> dict:
    m = f.messages
    users = int((m.get_column("role") == "user").sum())
    by_model = {"N/A": users} if users else {}
    for mdl, n in m.filter(pl.col("role") == "assistant").group_by(pl.col("model").fill_null("N/A")).agg(
            pl.len()).sort(["len", "model"], descending=[True, False]).iter_rows():
        by_model[mdl] = by_model.get(mdl, 0) + n
    r = f.responses
    return {
        "total": m.height,
        "by_type": {"user": users, "assistant": m.height - users},
        "by_model": by_model,
        "total_tokens": int(r.get_column("input_tokens").sum() + r.get_column("output_tokens").sum()) if r.height else 0,
    }


# ---------------------------------------------------------------- projects and files


def project_stats(projects: pl.DataFrame, sessions: pl.DataFrame, responses: pl.DataFrame) -> dict[str, dict]:
    """``stats`` of each ``/api/projects`` row (``include_stats=true``), from the derived tables only."""
    s = sessions.group_by("project").agg(
        pl.col("user_messages").sum().alias("commands"), pl.col("responses").sum().alias("responses"),
        pl.col("compactions").sum().alias("compactions"),
    )
    j = projects.join(s, left_on="id", right_on="project", how="left")
    out = {}
    for x in j.iter_rows(named=True):
        cmds = int(x["commands"] or 0)
        out[x["id"]] = {
            "total_input_tokens": int(x["input_tokens"]), "total_output_tokens": int(x["output_tokens"]),
            "total_cache_read": int(x["cache_read_tokens"]), "total_cache_write": int(x["cache_creation_tokens"]),
            "total_commands": cmds,
            "avg_tokens_per_command": round((x["input_tokens"] + x["output_tokens"]) / cmds, 2) if cmds else 0.0,
            "avg_steps_per_command": round((x["responses"] or 0) / cmds, 2) if cmds else 0.0,
            "compact_summary_count": int(x["compactions"] or 0),
            "first_message_date": iso(x["first_activity"]), "last_message_date": iso(x["last_activity"]),
            "total_cost": float(x["cost_usd"]),
        }
    return out


def file_stats(cat: Catalog, f: ProjectFrames) -> pl.DataFrame:
    """Per log file of the project: messages, tokens, cost, model, tool calls."""
    sids = f.sessions.get_column("session_id").to_list()
    ent = (scan(cat, "entries").filter(pl.col("session_id").is_in(sids))
           .select("file_id", "kind", "user_kind", "msg_id", "request_id", "uuid", "timestamp").collect())
    ent = ent.with_columns(parse_ts(), msg_key())
    m = ent.group_by("file_id").agg(
        ((pl.col("kind") == "user") & pl.col("user_kind").is_in(HUMAN_USER_KINDS)).sum().alias("user_messages"),
        pl.col("key").filter(pl.col("kind") == "assistant").n_unique().alias("assistant_messages"),
        pl.col("timestamp").min().alias("first_ts"), pl.col("timestamp").max().alias("last_ts"),
    )
    r = f.responses.group_by("file_id").agg(*[pl.col(v).sum() for v in TOK.values()], cost_sum()) \
        .join(top_model(f.responses, "file_id"), on="file_id", how="left")
    t = f.tool_calls.group_by("file_id").agg(pl.len().alias("tool_calls"))
    return m.join(r, on="file_id", how="full", coalesce=True).join(t, on="file_id", how="left")
