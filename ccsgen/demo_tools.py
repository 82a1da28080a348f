"""Tool calls and subagents of the demo generator.

``_ToolsMixin`` makes each tool's input and result (Bash, Read, Edit/MultiEdit, Write, Grep, Glob, TodoWrite,
WebFetch, an MCP tool, Task/Agent) in the shapes Claude Code logs them, writes the user line that answers a
tool_use (with hook and bash progress lines), and runs a subagent in its own transcript, in either the legacy
``agent-<id>.jsonl`` layout or ``<session>/subagents/``. It is mixed into ``demo._Gen``.
"""

from __future__ import annotations

from typing import Any

import orjson

from .demo_model import HAIKU45, _Api, _Sess, _Transcript
from .demo_text import (
    _AGENT_TASKS,
    _CMDS,
    _EXT_GLOB,
    _GIT_CMDS,
    _LINT_OK,
    _NOUNS,
    _QUESTIONS,
    _TEST_FAIL,
    _TEST_OK,
    _TODOS,
    _URLS,
    _VERBS,
)


class _ToolsMixin:
    """Tool inputs and results, tool_result lines, and subagent transcripts."""

    # ---- tools ---------------------------------------------------------------------------------------
    def _tool(self, s: _Sess, name: str) -> tuple[dict, tuple]:
        """Return (tool input, (content, toolUseResult, is_error))."""
        rng = self.rng
        proj = s.proj
        lang = proj.lang
        path, rel, cf = rng.choice(proj.files)
        err = rng.random() < 0.05
        if "err_next" in s.flags and name in ("Bash", "Read", "Edit", "MultiEdit"):
            s.flags.discard("err_next")  # forced sessions guarantee at least one failing tool call
            err = True
        if name == "Bash":
            r = rng.random()
            if r < 0.55:
                cmd, kind = rng.choice(_CMDS[lang])
                fail = err or (kind == "test" and rng.random() < 0.04)
                if kind == "test":
                    out = _TEST_FAIL[lang] if fail else _TEST_OK[lang]
                else:
                    out = _TEST_FAIL[lang] if fail else _LINT_OK[lang]
                cmd = self._say(s, cmd)
                out = self._say(s, out)
                err = fail
            else:
                cmd, out = rng.choice(_GIT_CMDS)
                out = self._say(s, out)
            inp = {"command": cmd, "description": rng.choice(("Run tests", "Check status", "Run linter",
                                                               "Show recent commits", "Build the project"))}  # fmt: skip
            if err:
                text = f"Error: Exit code 1\n{out}"
                return inp, (text, text, True)
            tur = {"stdout": out, "stderr": "", "interrupted": False, "isImage": False}
            if s.vt >= (2, 1, 0):
                tur["noOutputExpected"] = False
            return inp, (out, tur, False)
        if name == "Read":
            inp = {"file_path": path}
            if err:
                msg = "<tool_use_error>File does not exist.</tool_use_error>"
                return inp, (msg, "Error: File does not exist.", True)
            content = cf.numbered()
            n = len(cf.lines)
            tur = {"type": "text", "file": {"filePath": path, "content": cf.text, "numLines": n, "startLine": 1,
                                            "totalLines": n}}  # fmt: skip
            return inp, (content, tur, False)
        if name in ("Edit", "MultiEdit"):
            lines = cf.lines
            a = rng.randrange(max(len(lines) - 6, 1))
            old = "\n".join(lines[a : a + rng.randint(1, 5)])
            new = (
                old.replace("return", "return  # validated", 1)
                if "return" in old
                else old + "\n# TODO: handle errors"
            )
            if name == "Edit":
                inp = {"file_path": path, "old_string": old, "new_string": new}
                if rng.random() < 0.1:
                    inp["replace_all"] = False
            else:
                inp = {"file_path": path, "edits": [{"old_string": old, "new_string": new},
                                                    {"old_string": "import logging", "new_string": "import logging\nimport os"}]}  # fmt: skip
            if err:
                msg = rng.choice(("File has not been read yet. Read it first before writing to it.",
                                  f"String to replace not found in file.\nString: {old[:80]}"))  # fmt: skip
                return inp, (f"<tool_use_error>{msg}</tool_use_error>", f"Error: {msg}", True)
            s.edited.append(path)
            patch = [{"oldStart": a + 1, "oldLines": old.count("\n") + 1, "newStart": a + 1,
                      "newLines": new.count("\n") + 1, "lines": [f"-{x}" for x in old.split("\n")]
                      + [f"+{x}" for x in new.split("\n")]}]  # fmt: skip
            if s.vt >= (2, 0, 0):
                content = f"The file {path} has been updated successfully."
            else:
                snippet = "\n".join(f"{i:>6}→{ln}" for i, ln in enumerate(lines[a : a + 8], a + 1))
                content = (f"The file {path} has been updated. Here's the result of running `cat -n` on a snippet of "
                           f"the edited file:\n{snippet}")  # fmt: skip
            if name == "Edit":
                tur = {"filePath": path, "oldString": old, "newString": new, "originalFile": cf.text,
                       "replaceAll": False, "structuredPatch": patch, "userModified": False}  # fmt: skip
            else:
                tur = {"filePath": path, "edits": inp["edits"], "originalFileContents": cf.text,
                       "structuredPatch": patch, "userModified": False}  # fmt: skip
            return inp, (content, tur, False)
        if name == "Write":
            src = rng.choice(self.pools.files[lang])
            new_path = (
                path.rsplit("/", 1)[0]
                + f"/{rng.choice(_NOUNS)}_{rng.choice(_VERBS)}."
                + path.rsplit(".", 1)[-1]
            )
            inp = {"file_path": new_path, "content": src.text}
            s.edited.append(new_path)
            tur = {"type": "create", "filePath": new_path, "content": src.text, "structuredPatch": []}
            return inp, (f"File created successfully at: {new_path}", tur, False)
        if name == "Grep":
            pat = rng.choice(
                (f"def {rng.choice(_VERBS)}_", rng.choice(_NOUNS).capitalize(), "TODO|FIXME", "cache")
            )
            files = [f[0] for f in rng.sample(proj.files, rng.randint(0, 5))]
            if rng.random() < 0.7:
                inp = {"pattern": pat, "output_mode": "files_with_matches"}
                content = f"Found {len(files)} file{'s' if len(files) != 1 else ''}\n" + "\n".join(files)
                if not files:
                    content = "No files found"
                tur = {"mode": "files_with_matches", "filenames": files, "numFiles": len(files)}
            else:
                inp = {"pattern": pat, "path": proj.cwd, "output_mode": "content", "-n": True}
                body = "\n".join(f"{f}:{rng.randint(1, 300)}:    {pat.split('|')[0]}" for f in files)
                content = body or "No matches found"
                tur = {
                    "mode": "content",
                    "numFiles": 0,
                    "filenames": [],
                    "content": body,
                    "numLines": len(files),
                }
            return inp, (content, tur, False)
        if name == "Glob":
            files = [f[0] for f in rng.sample(proj.files, rng.randint(1, 8))]
            inp = {"pattern": _EXT_GLOB[lang]}
            tur = {
                "filenames": files,
                "durationMs": rng.randint(5, 400),
                "numFiles": len(files),
                "truncated": False,
            }
            return inp, ("\n".join(files), tur, False)
        if name == "TodoWrite":
            picks = rng.sample(_TODOS, rng.randint(3, 6))
            k = rng.randrange(len(picks))
            noun = rng.choice(_NOUNS)
            new = [{"content": c.replace("@noun", noun), "status": "completed" if i < k else ("in_progress" if i == k
                    else "pending"), "activeForm": a.replace("@noun", noun)} for i, (c, a) in enumerate(picks)]  # fmt: skip
            old = s.todos
            s.todos = new
            s.used_todo = True
            msg = ("Todos have been modified successfully. Ensure that you continue to use the todo list to track your "
                   "progress. Please proceed with the current tasks if applicable")  # fmt: skip
            return {"todos": new}, (msg, {"oldTodos": old, "newTodos": new}, False)
        if name == "WebFetch":
            url = rng.choice(_URLS)
            inp = {"url": url, "prompt": "Summarise the relevant API and its edge cases"}
            text = rng.choice(self.pools.answers)
            tur = {"bytes": rng.randint(8_000, 120_000), "code": 200, "codeText": "OK", "result": text,
                   "durationMs": rng.randint(300, 6_000), "url": url}  # fmt: skip
            return inp, (text, tur, False)
        if name == "mcp__github__get_issue":
            num = rng.randint(10, 400)
            inp = {"owner": "demo-org", "repo": proj.name, "issue_number": num}
            issue = orjson.dumps({"number": num, "title": self._say(s, rng.choice(_QUESTIONS)), "state": "open",
                                  "user": {"login": "octocat"}, "labels": [{"name": "bug"}],
                                  "body": self._say(s, "Steps to reproduce:\n1. call @func with an empty list\n"
                                                       "2. observe @error")}).decode()  # fmt: skip
            return inp, ([{"type": "text", "text": issue}], [{"type": "text", "text": issue}], False)
        # Task / Agent
        desc, atype, prompt = rng.choice(_AGENT_TASKS)
        inp = {"description": self._say(s, desc), "prompt": self._say(s, prompt), "subagent_type": atype}
        return inp, ("__agent__", atype, False)

    def _tool_result(self, s: _Sess, tr: _Transcript, blk: dict, res: tuple, a_uuid: str, sub: bool) -> int:
        """Write the user line answering a tool_use; returns the approximate tokens it adds to the context."""
        rng = self.rng
        content, tur, is_error = res
        tid = blk["id"]
        if content == "__agent__":
            content, tur = self._subagent(s, blk, tur)
        hooks = s.hooks and s.progress and not sub
        if hooks:
            tr.env("progress", {"data": {"type": "hook_progress", "hookEvent": "PreToolUse",
                                         "hookName": f"PreToolUse:{blk['name']}", "command": "~/.claude/hooks/guard.sh"},
                                "parentToolUseID": tid, "toolUseID": tid}, s.t)  # fmt: skip
        dur = rng.randint(80, 4_000) if blk["name"] != "Bash" else rng.randint(300, 40_000)
        if (
            blk["name"] == "Bash"
            and s.progress
            and not sub
            and (s.first_bash or (dur > 3_000 and rng.random() < 0.6))
        ):
            s.first_bash = False
            dur = max(dur, 3_000)
            out = content if isinstance(content, str) else ""
            n = rng.randint(1, 3)
            for k in range(n):
                part = out[: (k + 1) * max(len(out) // (n + 1), 1)]
                tr.env("progress", {"data": {"type": "bash_progress", "output": part, "fullOutput": part,
                                             "elapsedTimeSeconds": (k + 1) * dur // (n + 1) // 1000,
                                             "totalLines": part.count("\n") + 1, "timeoutMs": 120000},
                                    "toolUseID": f"bash-progress-{k}", "parentToolUseID": tid},
                       s.t + (k + 1) * dur // (n + 1))  # fmt: skip
        s.t += dur
        block: dict[str, Any] = {"tool_use_id": tid, "type": "tool_result", "content": content}
        if is_error:
            block["is_error"] = True
        elif blk["name"] == "Bash":
            block["is_error"] = False
        payload: dict[str, Any] = {}
        if s.prompt_id and not sub:
            payload["promptId"] = s.prompt_id
        payload["message"] = {"role": "user", "content": [block]}
        payload["toolUseResult"] = tur
        if s.vt >= (2, 1, 17):
            payload["sourceToolAssistantUUID"] = a_uuid
        u = tr.env("user", payload, s.t)
        if hooks:
            tr.env("progress", {"data": {"type": "hook_progress", "hookEvent": "PostToolUse",
                                         "hookName": f"PostToolUse:{blk['name']}", "command": "~/.claude/hooks/format.sh"},
                                "parentToolUseID": tid, "toolUseID": tid}, s.t + 15)  # fmt: skip
        if tr.mirror is not None and len(tr.mirror) < 8:
            tr.mirror.append((s.t, {"type": "user", "message": payload["message"], "uuid": u,
                                    "timestamp": self.iso(s.t)}))  # fmt: skip
        if "hooknotice" in s.flags and blk["name"] in ("Edit", "Write", "MultiEdit") and not sub:
            tr.env("system", {"content": f"\x1b[1mPostToolUse:{blk['name']}\x1b[22m [~/.claude/hooks/format.sh] "
                                         "completed successfully", "isMeta": False, "level": "info",
                              "toolUseID": tid}, s.t + 20)  # fmt: skip
        size = len(content) if isinstance(content, str) else sum(len(c.get("text", "")) for c in content)
        return size // 4 + 20

    # ---- subagents ----------------------------------------------------------------------------------
    def _subagent(self, s: _Sess, blk: dict, atype: str) -> tuple[list[dict], dict]:
        rng = self.rng
        legacy = s.legacy_agents
        agent_id = self.hexid(8) if legacy else "a" + self.hexid(16)
        sub = _Transcript(self, s, agent_id=agent_id, mirror=s.progress)
        api = _Api(rng, rng.randint(4_000, 14_000), s.api.share1h)
        saved_model, saved_thinking, t0 = s.model, s.thinking, s.t
        if atype == "Explore" and s.vt >= (2, 0, 17):
            s.model = HAIKU45
        s.thinking = 0.0
        prompt = blk["input"]["prompt"]
        u = sub.env("user", {"message": {"role": "user", "content": prompt}}, s.t + 50, parent=None)
        if sub.mirror is not None:
            sub.mirror.append((s.t + 50, {"type": "user", "message": {"role": "user", "content": [
                {"type": "text", "text": prompt}]}, "uuid": u, "timestamp": self.iso(s.t + 50)}))  # fmt: skip
        api.ctx += len(prompt) // 4
        steps = rng.randint(1, 2) if self.tiny else rng.randint(2, 6)
        final = self._work(s, sub, api, steps, None, None, sub=True)
        s.model, s.thinking = saved_model, saved_thinking
        pdir = self.out / "projects" / s.proj.dirname
        if legacy:
            self.write(pdir / f"agent-{agent_id}.jsonl", sub.data(), transcript=True, mtime_ms=s.t)
        else:
            adir = pdir / s.sid / "subagents"
            self.write(adir / f"agent-{agent_id}.jsonl", sub.data(), transcript=True, mtime_ms=s.t)
            self.write(adir / f"agent-{agent_id}.meta.json", orjson.dumps(
                {"agentType": atype, "description": blk["input"]["description"]}))  # fmt: skip
        if sub.mirror:
            tr = s.main
            toolu = f"agent_msg_01{self.b62(22)}"
            for ts, m in sub.mirror:
                tr.env("progress", {"data": {"message": m, "normalizedMessages": [], "type": "agent_progress",
                                             "prompt": prompt, "agentId": agent_id},
                                    "toolUseID": toolu, "parentToolUseID": blk["id"]}, ts)  # fmt: skip
        dur = s.t - t0
        total = api.ctx
        tools = steps
        usage = {"input_tokens": rng.randint(10, 200), "cache_creation_input_tokens": rng.randint(1000, 8000),
                 "cache_read_input_tokens": max(total - 8000, 0), "output_tokens": rng.randint(300, 3000),
                 "service_tier": "standard"}  # fmt: skip
        note = (f"agentId: {agent_id} (for resuming to continue this agent's work if needed)\n<usage>total_tokens: "
                f"{total}\ntool_uses: {tools}\nduration_ms: {dur}</usage>")  # fmt: skip
        content = [{"type": "text", "text": final}, {"type": "text", "text": note}]
        tur = {"status": "completed", "prompt": prompt, "agentId": agent_id, "content": [{"type": "text", "text": final}],
               "totalDurationMs": dur, "totalTokens": total, "totalToolUseCount": tools, "usage": usage}  # fmt: skip
        if s.task_tool == "Agent":
            tur["agentType"] = atype
        return content, tur
