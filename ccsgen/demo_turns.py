"""Conversation turns of the demo generator: the user's side of a session.

``_TurnsMixin`` picks what kind each turn is, fills prompt templates with project words (``_say``), writes
the user prompt (with its file-history snapshot, queue operations, history.jsonl entry and attachments) or a
prompt-type slash command, hands the assistant side to ``_work`` (see :mod:`ccsgen.demo_assistant`), and
closes the turn with its stop-hook summary and turn duration. It is mixed into ``demo._Gen``, whose state
(``rng``, ``pools``, ``history``, ``uni_i``) and id/time helpers it uses.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from .demo_model import _EXPERIMENTAL, _fill, _Project, _Sess
from .demo_text import (
    _CMDS,
    _ERRORS,
    _FIELDS,
    _NOUNS,
    _PROMPTS,
    _PUSHBACKS,
    _QUESTIONS,
    _STOP,
    _UNICODE_PROMPTS,
    _VERBS,
)


class _TurnsMixin:
    """User turns: pick a kind, write the prompt, run the assistant, end the turn."""

    # ---- turn kinds ----------------------------------------------------------------------------------
    def _pick_kind(self, s: _Sess) -> str:
        r = self.rng.random()
        if s.n_turns and r < 0.1:
            return "pushback"
        if r < 0.28:
            return "question"
        if r < 0.33:
            return "agent"
        if r < 0.36:
            return "test"
        if r < 0.38:
            return self.rng.choice(
                ("slash_commit", "slash_model", "slash_cost", "compact" if s.vt >= (2, 0, 0) else "shell")
            )
        if r < 0.40:
            return "shell"
        if r < 0.41:
            return "image"
        if r < 0.42:
            return "interrupt"
        if r < 0.425:
            return "api_error"
        if r < 0.43:
            return "unicode"
        if r < 0.45:
            return "todo"
        if r < 0.46:
            return "mcp"
        return "normal"

    # ---- text helpers --------------------------------------------------------------------------------
    def _ctx_words(self, s: _Sess) -> dict[str, str]:
        rng = self.rng
        path, rel, _ = rng.choice(s.proj.files)
        tests = [f for f in s.proj.files if "test" in f[1]]
        noun = rng.choice(_NOUNS)
        verb = rng.choice(_VERBS)
        return {
            "@file": rel, "@rel2": rng.choice(s.proj.files)[1], "@rel": rel, "@test": (rng.choice(tests) if tests else
            s.proj.files[0])[1], "@func": f"{verb}_{noun}", "@cmd": rng.choice(_CMDS[s.proj.lang])[0],
            "@error": rng.choice(_ERRORS), "@cwd": s.proj.cwd, "@branch": s.branch or "main",
        }  # fmt: skip

    def _say(self, s: _Sess, text: str) -> str:
        if "@" not in text and "#N#" not in text:
            return text
        for k, v in self._ctx_words(s).items():
            if k in text:
                text = text.replace(k, v)
        rng = self.rng
        return _fill(text, rng.choice(_NOUNS), rng.choice(_VERBS), rng.choice(_FIELDS), rng.randint(2, 9))

    def _title(self, prompt: str, proj: _Project) -> str:
        words = re.sub(r"[@`*:?]", "", prompt).split()[:7]
        while words and words[-1].lower() in _STOP:
            words.pop()
        return " ".join(w.capitalize() if i == 0 else w for i, w in enumerate(words)) or proj.name

    # ---- turns ---------------------------------------------------------------------------------------
    def _turn(self, s: _Sess, kind: str) -> None:
        rng = self.rng
        turn_start = s.t
        if kind == "compact":
            self._compact(s, "manual")
            return
        if kind == "shell":
            self._shell(s)
            return
        if kind == "slash_model" or kind == "slash_cost":
            self._local_command(s, kind)
            return
        steps = rng.choice((0, 1, 2, 3, 3, 4, 5, 6, 8))
        force_tool: str | None = None
        model: str | None = None
        if kind == "question":
            prompt: Any = self._say(s, rng.choice(_QUESTIONS))
            steps = rng.choice((0, 0, 1, 2))
        elif kind == "pushback":
            prompt = self._say(s, rng.choice(_PUSHBACKS))
            steps = max(steps, 1)
            force_tool = "Bash"
        elif kind == "unicode":
            self.uni_i += 1  # cycle, so even a tiny corpus gets accents, CJK and emoji
            prompt = self._say(s, _UNICODE_PROMPTS[self.uni_i % len(_UNICODE_PROMPTS)])
        elif kind == "slash_commit":
            prompt = self._slash_prompt(s, "commit")
            steps = 2
            force_tool = "Bash"
        elif kind == "image":
            prompt = self._say(s, "[Image #1] the @noun list overlaps the sidebar on mobile, can you fix it?")
        elif kind == "test":
            prompt = self._say(s, rng.choice(("run the tests", "Run the test suite and fix any failures",
                                              "can you check that `@cmd` passes?")))  # fmt: skip
            force_tool = "Bash"
            steps = max(steps, 2)
        elif kind == "agent":
            prompt = self._say(s, rng.choice((
                "Use a subagent to explore how @nouns are stored, then summarise", "Investigate why @test is flaky",
                "Plan the migration that adds @field to @nouns", "review my uncommitted changes")))  # fmt: skip
            force_tool = "Task"
            steps = max(steps, 1)
        elif kind == "todo":
            prompt = self._say(s, rng.choice(_PROMPTS))
            force_tool = "TodoWrite"
            steps = max(steps, 3)
        elif kind == "mcp":
            prompt = self._say(s, f"Look at issue #{rng.randint(10, 400)} on GitHub and fix it")
            force_tool = "mcp__github__get_issue"
            steps = max(steps, 2)
        else:
            prompt = self._say(s, rng.choice(_PROMPTS))
            if kind == "experimental":
                model = _EXPERIMENTAL
        steps = min(steps, s.max_steps)
        if kind != "slash_commit":
            self._user_prompt(s, prompt, image=kind == "image")
        if kind == "api_error":
            self._api_error(s)
            self._user_prompt(s, rng.choice(("try again", "continue", "retry please")))
        if kind == "interrupt":
            self._interrupt(s)
            return
        self._work(s, s.main, s.api, steps, force_tool, model, final_kind=kind)
        self._end_turn(s, turn_start)

    def _user_prompt(self, s: _Sess, text: str, image: bool = False, history: str | None = None,
                     meta: bool = False, record: bool = True) -> str:  # fmt: skip
        rng = self.rng
        vt = s.vt
        tr = s.main
        s.t += rng.randint(15_000, 600_000) if s.n_turns else rng.randint(1_000, 20_000)
        u = self.uuid()
        if vt >= (1, 0, 98) and not meta:
            backups: dict[str, Any] = {}
            for p in s.edited[-3:]:
                backups[p] = {"backupFileName": f"{self.hexid(16)}@v{rng.randint(1, 6)}", "version": rng.randint(1, 6),
                              "backupTime": self.iso(s.t - 2000)}  # fmt: skip
            tr.obj({"type": "file-history-snapshot", "messageId": u, "snapshot": {"messageId": u,
                    "trackedFileBackups": backups, "timestamp": self.iso(s.t)}, "isSnapshotUpdate": False})  # fmt: skip
        if "queue" in s.flags and not meta and (not s.prompts or rng.random() < 0.15):
            tr.obj({"type": "queue-operation", "operation": "enqueue", "timestamp": self.iso(s.t - 900),
                    "sessionId": s.sid, "content": text if isinstance(text, str) else "(image)"})  # fmt: skip
            tr.obj({"type": "queue-operation", "operation": "dequeue", "timestamp": self.iso(s.t - 899),
                    "sessionId": s.sid})  # fmt: skip
        if vt >= (2, 1, 81) and not meta:
            s.prompt_id = self.uuid()
        content: Any = text
        if image:
            img = {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                               "data": rng.choice(self.pools.pngs)}}  # fmt: skip
            content = (
                [{"type": "text", "text": text}, img]
                if vt >= (2, 0, 0)
                else [img, {"type": "text", "text": text}]
            )
        payload: dict[str, Any] = {}
        if s.prompt_id:
            payload["promptId"] = s.prompt_id
        payload["message"] = {"role": "user", "content": content}
        if meta:
            payload["isMeta"] = True
        elif record:
            if vt >= (2, 1, 17):
                payload["permissionMode"] = s.perm
            if image and vt >= (2, 0, 0):
                payload["imagePasteIds"] = [1]
            if s.thinking and rng.random() < 0.3:
                payload["thinkingMetadata"] = ({"level": "high", "disabled": False, "triggers": []} if vt >= (2, 1, 0)
                                               else {"maxThinkingTokens": 31999})  # fmt: skip
            if (2, 0, 55) <= vt <= (2, 1, 42) and s.todos and rng.random() < 0.2:
                payload["todos"] = s.todos
        tr.env("user", payload, s.t, uuid=u)
        if record and not meta:
            s.prompts.append(text)
            disp = history if history is not None else text
            self.history.append((s.t, orjson.dumps({"display": disp, "pastedContents": {}, "timestamp": s.t,
                                                    "project": s.proj.cwd, "sessionId": s.sid}) + b"\n"))  # fmt: skip
            s.api.ctx += len(text) // 4 + (1500 if image else 0)
            if s.attachments and rng.random() < 0.2:
                self._attachment(s)
            if len(s.prompts) == 1 and vt >= (2, 1, 90):
                tr.obj({"type": "ai-title", "aiTitle": self._title(text, s.proj), "sessionId": s.sid})
        return u

    def _slash_prompt(self, s: _Sess, name: str) -> str:
        """Prompt-type slash command: the command line plus its isMeta expansion."""
        tr = s.main
        s.t += self.rng.randint(20_000, 300_000)
        cmd = f"<command-message>{name} is running…</command-message>\n<command-name>/{name}</command-name>"
        if s.vt >= (2, 1, 81):
            s.prompt_id = self.uuid()
        payload: dict[str, Any] = {"promptId": s.prompt_id} if s.vt >= (2, 1, 81) else {}
        payload["message"] = {"role": "user", "content": cmd}
        tr.env("user", payload, s.t)
        self.history.append((s.t, orjson.dumps({"display": f"/{name}", "pastedContents": {}, "timestamp": s.t,
                                                "project": s.proj.cwd, "sessionId": s.sid}) + b"\n"))  # fmt: skip
        body = ("## Context\n\n- Current git status: !`git status`\n- Current git diff: !`git diff HEAD`\n\n## Your task\n\n"
                "Based on the above changes, create a single git commit with a clear message.")  # fmt: skip
        p2 = dict(payload)
        p2["message"] = {"role": "user", "content": [{"type": "text", "text": body}]}
        p2["isMeta"] = True
        tr.env("user", p2, s.t + 1)
        s.prompts.append(f"/{name}")
        return f"/{name}"

    def _end_turn(self, s: _Sess, turn_start: int) -> None:
        tr = s.main
        rng = self.rng
        if s.hooks and s.vt >= (2, 1, 17) and (s.n_turns == 0 or rng.random() < 0.5):
            tr.env("system", {"subtype": "stop_hook_summary", "hookCount": 1, "hookInfos": [
                {"command": "~/.claude/hooks/notify.sh", "durationMs": rng.randint(20, 400)}], "hookErrors": [],
                "preventedContinuation": False, "stopReason": "", "hasOutput": False, "level": "suggestion",
                "toolUseID": self.uuid()}, s.t + 30)  # fmt: skip
        if s.vt >= (2, 1, 97):
            tr.env("system", {"subtype": "turn_duration", "durationMs": s.t - turn_start,
                              "messageCount": rng.randint(2, 60), "isMeta": False}, s.t + 31)  # fmt: skip
