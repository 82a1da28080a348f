"""Assistant responses of the demo generator: streamed replies and the tool loop.

``_AssistantMixin`` writes one API response as several lines sharing a message id and request id, with
version-dependent ``usage`` blocks and token accounting through ``_Api``; builds thinking and tool_use
blocks; and runs ``_work``, the assistant/tool loop that ends every turn (and every subagent) with a final
text answer. Tool inputs and results come from :mod:`ccsgen.demo_tools`. It is mixed into ``demo._Gen``.
"""

from __future__ import annotations

from typing import Any

from .demo_model import _EXPERIMENTAL, _PARTIALS, OPUS46, _Api, _Sess, _Transcript
from .demo_text import _PREAMBLES, _UNICODE_ANSWERS


class _AssistantMixin:
    """Assistant lines: streamed responses, usage, and the assistant/tool loop."""

    # ---- assistant responses -------------------------------------------------------------------------
    def _usage(
        self, s: _Sess, api: _Api, inp: int, cc: int, cr: int, out: int, model: str, fetches: int
    ) -> dict:
        vt = s.vt
        u: dict[str, Any] = {
            "input_tokens": inp,
            "cache_creation_input_tokens": cc,
            "cache_read_input_tokens": cr,
        }
        if vt >= (1, 0, 98):
            h = int(cc * api.share1h)
            u["cache_creation"] = {"ephemeral_5m_input_tokens": cc - h, "ephemeral_1h_input_tokens": h}
        u["output_tokens"] = out
        if vt >= (2, 1, 39):
            u["server_tool_use"] = {"web_search_requests": 0, "web_fetch_requests": fetches}
        u["service_tier"] = "standard"
        if vt >= (2, 1, 38):
            u["inference_geo"] = "not_available"
        if vt >= (2, 1, 100):
            it = {k: u[k] for k in ("input_tokens", "output_tokens", "cache_read_input_tokens",
                                    "cache_creation_input_tokens")}  # fmt: skip
            if "cache_creation" in u:
                it["cache_creation"] = u["cache_creation"]
            it["type"] = "message"
            u["iterations"] = [it]
        if vt >= (2, 1, 81):
            u["speed"] = "fast" if (s.fast and model == OPUS46) else "standard"
        return u

    def _respond(self, s: _Sess, tr: _Transcript, api: _Api, blocks: list[dict], added: int, stop: str,
                 model: str | None = None) -> list[str]:  # fmt: skip
        """Write one streamed API response: one line per content block, shared message.id + requestId.

        Returns the uuid of each block's line."""
        rng = self.rng
        vt = s.vt
        model = model or (s.model if rng.random() > 0.002 else _EXPERIMENTAL)
        chars = 0
        fetches = 0
        for b in blocks:
            bt = b["type"]
            if bt == "text":
                chars += len(b["text"])
            elif bt == "thinking":
                chars += len(b["thinking"]) or rng.randint(200, 3000)
            else:
                chars += 40 + sum(len(v) if isinstance(v, str) else 60 for v in b["input"].values())
                fetches += b["name"] == "WebFetch"
        out = max(chars * 10 // 36 + rng.randint(0, 60), 2)
        inp, cc, cr = api.call(rng, added, out)
        final = self._usage(s, api, inp, cc, cr, out, model, fetches)
        if len(blocks) > 1:
            partial = dict(final)
            partial["output_tokens"] = min(out - 1, rng.choice(_PARTIALS))
            if "iterations" in partial:
                partial["iterations"] = [dict(final["iterations"][0], output_tokens=partial["output_tokens"])]
        mid = f"msg_01{self.b62(22)}"
        req = f"req_011C{self.b62(16)}"
        s.t += rng.randint(1_500, 25_000)
        last = len(blocks) - 1
        uuids = []
        for i, b in enumerate(blocks):
            msg: dict[str, Any] = {"model": model, "id": mid, "type": "message", "role": "assistant", "content": [b],
                                   "stop_reason": stop if i == last else None, "stop_sequence": None}  # fmt: skip
            if vt >= (2, 1, 100):
                msg["stop_details"] = None
            msg["usage"] = final if i == last else partial
            u = tr.env("assistant", {"message": msg, "requestId": req}, s.t)
            uuids.append(u)
            if tr.mirror is not None and len(tr.mirror) < 8:
                tr.mirror.append((s.t, {"type": "assistant", "timestamp": self.iso(s.t), "message": msg,
                                        "requestId": req, "uuid": u}))  # fmt: skip
            s.t += rng.randint(40, 1_500)
        return uuids

    def _think_block(self, s: _Sess) -> dict:
        rng = self.rng
        empty = rng.random() < (0.7 if s.vt >= (2, 1, 17) else 0.25)
        return {"type": "thinking", "thinking": "" if empty else rng.choice(self.pools.thinking),
                "signature": rng.choice(self.pools.signatures)}  # fmt: skip

    # ---- the assistant/tool loop ---------------------------------------------------------------------
    def _tool_block(self, s: _Sess, name: str, inp: dict) -> dict:
        b = {"type": "tool_use", "id": f"toolu_01{self.b62(22)}", "name": name, "input": inp}
        if s.vt >= (2, 1, 90):
            b["caller"] = {"type": "direct"}
        return b

    def _work(self, s: _Sess, tr: _Transcript, api: _Api, steps: int, force_tool: str | None, model: str | None,
              final_kind: str = "normal", sub: bool = False) -> str:  # fmt: skip
        """Assistant/tool loop followed by a final text answer; returns the final text."""
        rng = self.rng
        added = 0
        for step in range(steps):
            blocks: list[dict] = []
            if s.thinking and rng.random() < s.thinking:
                blocks.append(self._think_block(s))
            if rng.random() < 0.7:
                blocks.append({"type": "text", "text": self._say(s, rng.choice(_PREAMBLES))})
            n_tools = 1 if rng.random() < 0.8 else rng.randint(2, 3)
            calls = []
            for j in range(n_tools):
                name = force_tool if (force_tool and step == 0 and j == 0) else self._pick_tool(s, sub, step)
                if name == "Task" and sub:
                    name = "Read"
                if name == "Task":
                    name = s.task_tool
                inp, res = self._tool(s, name)
                blk = self._tool_block(s, name, inp)
                blocks.append(blk)
                calls.append((blk, res))
            line_uuids = self._respond(s, tr, api, blocks, added, "tool_use", model)
            first_tool = len(blocks) - len(calls)
            added = 0
            for j, (blk, res) in enumerate(calls):
                added += self._tool_result(s, tr, blk, res, line_uuids[first_tool + j], sub)
            if (
                force_tool == "Bash"
                and step == 0
                and final_kind in ("pushback", "test")
                and rng.random() < 0.5
            ):
                force_tool = "Edit"
        # final answer
        blocks = []
        if s.thinking and rng.random() < s.thinking * 0.5:
            blocks.append(self._think_block(s))
        if final_kind == "unicode":
            text = self._say(s, _UNICODE_ANSWERS[self.uni_i % len(_UNICODE_ANSWERS)])
        elif sub:
            text = self._say(s, "Here is what I found:\n\n" + rng.choice(self.pools.answers))
        else:
            text = rng.choice(self.pools.answers)
            if rng.random() < 0.5:
                text = self._say(s, "I've updated `@rel`.") + ("\n\n" if text[0] == "#" else " ") + text
        blocks.append({"type": "text", "text": text})
        self._respond(s, tr, api, blocks, added, "end_turn", model)
        return text

    def _pick_tool(self, s: _Sess, sub: bool, step: int) -> str:
        r = self.rng.random()
        if sub:
            return ("Read", "Read", "Grep", "Glob", "Bash")[int(r * 5)]
        if r < 0.30:
            return "Bash"
        if r < 0.52:
            return "Read"
        if r < 0.70:
            return "Edit"
        if r < 0.75:
            return "Write"
        if r < 0.82:
            return "Grep"
        if r < 0.88:
            return "Glob"
        if r < 0.91:
            return "TodoWrite"
        if r < 0.94:
            return "WebFetch"
        if r < 0.96:
            return "MultiEdit"
        if r < 0.97:
            return "mcp__github__get_issue"
        return "Task"
