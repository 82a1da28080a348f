"""Session events of the demo generator: everything in a session that is not a plain prompt and reply.

``_EventsMixin`` writes local slash commands (``/model``, ``/cost``, ``/compact``) and ``!`` shell commands,
warmup subagents, compaction boundaries and summaries, API errors, user interrupts, session-start and
in-session attachments, and the ``tasks/<session>/`` files. It is mixed into ``demo._Gen``.
"""

from __future__ import annotations

from typing import Any

import orjson

from .demo_model import HAIKU45, _Api, _models_for, _Sess, _Transcript
from .demo_text import _CAVEAT, _COMPACT_INTRO, _GIT_CMDS, _PREAMBLES, _REJECT, _TODOS


class _EventsMixin:
    """Commands, warmups, compaction, errors, interrupts, attachments and task files."""

    # ---- local and shell commands --------------------------------------------------------------------
    def _local_command(self, s: _Sess, kind: str) -> None:
        rng = self.rng
        tr = s.main
        s.t += rng.randint(20_000, 300_000)
        name = "model" if kind == "slash_model" else "cost"
        if name == "model":
            models, _ = _models_for(s.vt)
            s.model = rng.choice(models)
            arg = s.model.split("-")[1]
            out = f"Set model to \x1b[1m{arg} ({s.model})\x1b[22m"
        else:
            arg = ""
            out = (
                f"Total cost:            ${rng.randint(0, 40)}.{rng.randint(0, 99):02d}\nTotal duration (API):  "
                f"{rng.randint(1, 59)}m {rng.randint(0, 59)}s\nTotal code changes:    {rng.randint(0, 900)} lines added"
            )
        if s.vt >= (2, 1, 81):
            s.prompt_id = self.uuid()
        base: dict[str, Any] = {"promptId": s.prompt_id} if s.vt >= (2, 1, 81) else {}
        caveat = _CAVEAT if s.vt < (2, 0, 0) else f"<local-command-caveat>{_CAVEAT}</local-command-caveat>"
        tr.env("user", {**base, "message": {"role": "user", "content": caveat}, "isMeta": True}, s.t)
        cmd = (f"<command-name>/{name}</command-name>\n            <command-message>{name}</command-message>\n"
               f"            <command-args>{arg}</command-args>")  # fmt: skip
        tr.env("user", {**base, "message": {"role": "user", "content": cmd}}, s.t)
        stdout = f"<local-command-stdout>{out}</local-command-stdout>"
        if s.vt >= (2, 1, 0):
            tr.env(
                "system",
                {"subtype": "local_command", "content": stdout, "level": "info", "isMeta": False},
                s.t + 5,
            )
        else:
            tr.env("user", {**base, "message": {"role": "user", "content": stdout}}, s.t + 5)
        self.history.append(
            (
                s.t,
                orjson.dumps(
                    {
                        "display": f"/{name} {arg}".strip(),
                        "pastedContents": {},
                        "timestamp": s.t,
                        "project": s.proj.cwd,
                        "sessionId": s.sid,
                    }
                )
                + b"\n",
            )
        )

    def _shell(self, s: _Sess) -> None:
        rng = self.rng
        tr = s.main
        s.t += rng.randint(10_000, 200_000)
        cmd, out = rng.choice(_GIT_CMDS)
        out = self._say(s, out)
        if s.vt < (2, 0, 0):
            tr.env("user", {"message": {"role": "user", "content": _CAVEAT}, "isMeta": True}, s.t)
        tr.env("user", {"message": {"role": "user", "content": f"<bash-input>{cmd}</bash-input>"}}, s.t)
        tr.env("user", {"message": {"role": "user", "content": f"<bash-stdout>{out}</bash-stdout><bash-stderr>"
                                                               f"</bash-stderr>"}}, s.t + rng.randint(30, 900))  # fmt: skip
        self.history.append((s.t, orjson.dumps({"display": f"!{cmd}", "pastedContents": {}, "timestamp": s.t,
                                                "project": s.proj.cwd, "sessionId": s.sid}) + b"\n"))  # fmt: skip

    # ---- warmup subagents ----------------------------------------------------------------------------
    def _warmup(self, s: _Sess) -> None:
        rng = self.rng
        agent_id = self.hexid(8)
        sub = _Transcript(self, s, agent_id=agent_id)
        api = _Api(rng, rng.randint(3_000, 12_000), 0.0)
        t = s.t - rng.randint(500, 5_000)
        sub.env("user", {"message": {"role": "user", "content": "Warmup"}}, t, parent=None)
        saved = s.t
        s.t = t
        text = ("I'm ready to help you search and analyze this codebase. What would you like me to look for? I can find "
                "files, search for patterns, and explain how things fit together.")  # fmt: skip
        self._respond(s, sub, api, [{"type": "text", "text": text}], 0, "end_turn",
                      HAIKU45 if s.vt >= (2, 0, 17) else s.model)  # fmt: skip
        s.t = saved
        self.write(
            self.out / "projects" / s.proj.dirname / f"agent-{agent_id}.jsonl", sub.data(), transcript=True
        )

    # ---- special turns -------------------------------------------------------------------------------
    def _compact(self, s: _Sess, trigger: str) -> None:
        rng = self.rng
        tr = s.main
        pre = s.api.ctx
        if trigger == "manual":
            self._local_compact_cmd(s)
        s.t += rng.randint(20_000, 90_000)
        b = tr.env("system", {"subtype": "compact_boundary", "content": "Conversation compacted", "isMeta": False,
                              "level": "info", "logicalParentUuid": tr.last,
                              "compactMetadata": {"trigger": trigger, "preTokens": pre}}, s.t, parent=None)  # fmt: skip
        if rng.random() < 0.5 and s.slug:
            s.slug = self.slug()
            tr.refresh()
        recent = "\n".join(f"   - {p[:160]}" for p in s.prompts[-4:])
        summary = (f"{_COMPACT_INTRO}Analysis:\nThe conversation is about the {s.proj.name} project.\n\nSummary:\n"
                   f"1. Primary Request and Intent:\n{recent}\n\n2. Key Technical Concepts:\n   - {s.proj.lang} codebase"
                   f", tests, caching\n\n3. Files and Code Sections:\n" + "\n".join(f"   - {p}" for p in s.edited[-5:])
                   + "\n\n4. Pending Tasks:\n   - Finish the remaining items\n\nPlease continue the conversation from "
                   "where we left it off without asking the user any further questions.")  # fmt: skip
        tr.env("user", {"message": {"role": "user", "content": summary}, "isVisibleInTranscriptOnly": True,
                        "isCompactSummary": True}, s.t + 5, parent=b)  # fmt: skip
        s.api.ctx = rng.randint(18_000, 40_000)
        s.api.cached = 0

    def _local_compact_cmd(self, s: _Sess) -> None:
        tr = s.main
        s.t += self.rng.randint(20_000, 200_000)
        tr.env("user", {"message": {"role": "user", "content": f"<local-command-caveat>{_CAVEAT}</local-command-caveat>"},
                        "isMeta": True}, s.t)  # fmt: skip
        tr.env("user", {"message": {"role": "user", "content": "<command-name>/compact</command-name>\n            "
                        "<command-message>compact</command-message>\n            <command-args></command-args>"}},
               s.t)  # fmt: skip
        self.history.append((s.t, orjson.dumps({"display": "/compact", "pastedContents": {}, "timestamp": s.t,
                                                "project": s.proj.cwd, "sessionId": s.sid}) + b"\n"))  # fmt: skip

    def _api_error(self, s: _Sess) -> None:
        s.t += self.rng.randint(2_000, 60_000)
        msg = {"id": self.uuid(), "model": "<synthetic>", "role": "assistant", "stop_reason": "stop_sequence",
               "stop_sequence": "", "type": "message",
               "usage": {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0,
                         "cache_read_input_tokens": 0, "server_tool_use": {"web_search_requests": 0},
                         "service_tier": None}, "content": [{"type": "text", "text":
               'API Error: 529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'}]}  # fmt: skip
        s.main.env("assistant", {"message": msg, "isApiErrorMessage": True}, s.t)

    def _interrupt(self, s: _Sess) -> None:
        rng = self.rng
        tr = s.main
        if rng.random() < 0.5:
            self._respond(
                s, tr, s.api, [{"type": "text", "text": self._say(s, rng.choice(_PREAMBLES))}], 0, "end_turn"
            )
            s.t += rng.randint(1_000, 10_000)
            tr.env("user", {"message": {"role": "user", "content": "[Request interrupted by user]"}}, s.t)
        else:
            inp, _ = self._tool(s, "Bash")
            blk = self._tool_block(s, "Bash", inp)
            a = self._respond(
                s, tr, s.api, [{"type": "text", "text": "Let me run the full suite."}, blk], 0, "tool_use"
            )[-1]
            s.t += rng.randint(1_000, 10_000)
            payload: dict[str, Any] = {"message": {"role": "user", "content": [
                {"type": "tool_result", "content": _REJECT, "is_error": True, "tool_use_id": blk["id"]}]},
                "toolUseResult": "Error: The user doesn't want to proceed with this tool use."}  # fmt: skip
            if s.vt >= (2, 1, 17):
                payload["sourceToolAssistantUUID"] = a
            tr.env("user", payload, s.t)
            tr.env("user", {"message": {"role": "user", "content": [
                {"type": "text", "text": "[Request interrupted by user for tool use]"}]}}, s.t + 3)  # fmt: skip

    # ---- attachments and task files ------------------------------------------------------------------
    def _start_attachments(self, s: _Sess) -> None:
        tr = s.main
        rng = self.rng
        if s.hooks:
            tr.env("attachment", {"attachment": {"type": "hook_success", "hookName": "SessionStart:startup",
                   "toolUseID": self.uuid(), "hookEvent": "SessionStart", "content": "", "stdout": "ok\n", "stderr": "",
                   "exitCode": 0, "command": "~/.claude/hooks/session-start.sh", "durationMs": rng.randint(20, 1500)}},
                   s.t, parent=None)  # fmt: skip
        tr.env("attachment", {"attachment": {"type": "skill_listing", "content": "- simplify: Review changed code for "
               "reuse, quality, and efficiency.\n- loop: Run a prompt on a recurring interval.",
               "skillCount": 2, "isInitial": True}}, s.t)  # fmt: skip
        names = ["AskUserQuestion", "EnterPlanMode", "ExitPlanMode", "NotebookEdit", "TaskCreate", "TaskGet",
                 "TaskList", "TaskUpdate", "WebFetch", "WebSearch", "mcp__github__get_issue"]  # fmt: skip
        tr.env("attachment", {"attachment": {"type": "deferred_tools_delta", "addedNames": names, "addedLines": names,
                                             "removedNames": []}}, s.t)  # fmt: skip

    def _attachment(self, s: _Sess) -> None:
        rng = self.rng
        if s.edited and rng.random() < 0.5:
            a: dict[str, Any] = {"type": "edited_text_file", "filename": s.edited[-1],
                                 "snippet": "\n".join(rng.choice(s.proj.files)[2].lines[:6])}  # fmt: skip
        else:
            tasks = [{"id": str(i + 1), "subject": self._say(s, c), "description": self._say(s, c), "activeForm":
                      self._say(s, f), "status": rng.choice(("pending", "in_progress", "completed")), "blocks": [],
                      "blockedBy": []} for i, (c, f) in enumerate(rng.sample(_TODOS, 3))]  # fmt: skip
            a = {"type": "task_reminder", "content": tasks, "itemCount": len(tasks)}
        s.main.env("attachment", {"attachment": a}, s.t + 2)

    def _tasks(self, s: _Sess) -> None:
        rng = self.rng
        d = self.out / "tasks" / s.sid
        n = rng.randint(2, 6)
        for i, (c, f) in enumerate(rng.sample(_TODOS, n), 1):
            t: dict[str, Any] = {"id": str(i), "subject": self._say(s, c),
                                 "description": self._say(s, c + " in @rel, then run `@cmd`."), "activeForm": self._say(s, f),
                                 "status": rng.choice(("pending", "in_progress", "completed", "completed")),
                                 "blocks": [str(i + 1)] if i < n and rng.random() < 0.3 else [],
                                 "blockedBy": [str(i - 1)] if i > 1 and rng.random() < 0.3 else []}  # fmt: skip
            if rng.random() < 0.3:
                t["owner"] = rng.choice(("alice", "bob", "carol"))
            if rng.random() < 0.2:
                t["metadata"] = {"source": "plan"}
            self.write(d / f"{i}.json", orjson.dumps(t, option=orjson.OPT_INDENT_2))
