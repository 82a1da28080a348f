"""Redaction for anything published (``ccsgen report``, ``ccsgen build --publish``).

    r = Redactor()                       # $HOME from the environment, no aliases
    r.redact("key sk-ant-api03-…")       # -> "key [REDACTED:anthropic-key]"
    r.findings                           # [Finding(rule, preview, context), ...]
    r.preview(texts)                     # the findings of texts, nothing kept

What is masked, and how (one rule each; ``RULES_DOC`` lists them for the docs):

- secrets -> ``[REDACTED:<rule>]``: provider keys and tokens (Anthropic, OpenAI, AWS, GitHub, GitLab,
  Slack, Stripe, Google, npm, Hugging Face, and detect-secrets' SendGrid, Twilio, Mailchimp, Square,
  Discord, Telegram, PyPI, Azure storage detectors), private key blocks, JWTs, credentials in URLs,
  ``Authorization`` headers, secret-named assignments (``password = "…"``, ``API_TOKEN=…``), high-entropy
  strings (detect-secrets' base64 entropy plugin on quoted strings; unquoted tokens when long and random,
  or near a word like key/token/secret/password);
- home directories -> ``~``: ``$HOME``, ``/home/<user>``, ``/Users/<user>``, ``/root``,
  ``C:\\Users\\<user>``, and Claude's encoded project dirs (``-home-<user>-…``);
- user names given explicitly -> ``[user]``; e-mail addresses -> ``[email]``;
- host names (in URLs, ``ssh user@host``, and dotted names ending in a common TLD) -> ``[host]``;
  IPv4 and IPv6 addresses -> ``[ip]`` (loopback and unspecified addresses are kept);
- project names, optionally -> ``project-1``, ``project-2`` … (``alias_projects=True``).

Ordinary code stays as it is: ``os.path.join``, ``self.config.get``, ``setup.py``, ``index.html``,
version numbers, UUIDs and Claude's message/tool ids.

Every text is scanned once: each rule collects spans on the original text (a cheap substring test
first), overlaps resolve by rule priority (a partial overlap widens the stronger mask, so no fragment of
a secret survives), and the output is built in one pass. Fail closed: an invalid pattern, or any
exception inside a rule, raises :class:`RedactionError`; nothing half-redacted is returned.
"""

from __future__ import annotations

import bisect
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .redact_rules import (
    KEEP_HOSTS,
    USER_IN_PATH,
    RedactionError,
    Rule,
    build_rules,
    compile_pattern,
    preview_of,
    shannon_entropy,
)

_ESCAPES = re.compile(r"\\[\\ntr\"]")  # JSON/C escapes; an escaped backslash is skipped whole
#: how an escape reads in the view: a line break stays a line break, a quote a quote (same length)
_VIEW = {"\\n": " \n", "\\r": " \r", "\\t": "  ", '\\"': '""'}

__all__ = ["Finding", "RedactionError", "Redactor", "RULES_DOC", "check_patterns", "shannon_entropy"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One masking: the rule, a masked preview of what was there, and a snippet of the redacted text."""

    rule: str
    preview: str
    context: str

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "preview": self.preview, "context": self.context}


# ---------------------------------------------------------------- Redactor


@dataclass
class Redactor:
    """Masks secrets and personal data in text; one instance per publish (it keeps the findings).

    ``home``: the home directory to replace by ``~`` (default: ``$HOME``); ``/home/<u>``, ``/Users/<u>`` and
    ``C:\\Users\\<u>`` are replaced whatever the user. ``usernames``: names also masked as whole words
    (``[user]``). ``alias_projects``: replace the names given to :meth:`add_projects` (or ``projects``) by
    ``project-1`` … in first-seen order. ``extra_patterns``: more regexes to mask (``[REDACTED:custom]``), or
    ``(name, regex)`` pairs. ``keep_hosts``: public host names left as they are. ``max_findings``: how many
    findings to keep (counts per rule are always exact).
    """

    home: str | Path | None = None
    usernames: Iterable[str] = ()
    alias_projects: bool = False
    extra_patterns: Iterable[str | tuple[str, str]] = ()
    projects: Iterable[str] = ()
    keep_hosts: Iterable[str] = KEEP_HOSTS
    max_findings: int = 10_000
    findings: list[Finding] = field(default_factory=list, init=False)
    counts: Counter = field(default_factory=Counter, init=False)

    def __post_init__(self) -> None:
        home = str(self.home) if self.home is not None else os.environ.get("HOME") or str(Path.home())
        home = home.rstrip("/\\")
        # a home of "/" or "/x" would mask every path: only a real, deep enough home counts
        self._home = home if home.count("/") + home.count("\\") >= 2 and len(home) >= 5 else ""
        self._usernames = tuple(sorted({u for u in self.usernames if u and len(u) >= 2}, key=len, reverse=True))
        self._keep_hosts = frozenset(h.lower() for h in self.keep_hosts)
        self._aliases: dict[str, str] = {}
        self._id_aliases: dict[str, str] = {}
        self._alias_re: re.Pattern | None = None
        self._id_alias_re: re.Pattern | None = None
        self._rules: list[Rule] = self._build_rules()
        if self.projects:
            self.add_projects(self.projects)

    # ------------------------------------------------------------ construction

    @classmethod
    def for_catalog(cls, cat: Any, **kw: Any) -> Redactor:
        """A Redactor that also knows the users and project names of ``cat``'s logs.

        User names found in the projects' paths (``/home/<u>/…``, ``/Users/<u>/…``) are masked in paths and
        in Claude's encoded project dirs (not as bare words); project names are aliased when
        ``alias_projects=True`` (most expensive first, so ``project-1`` is the biggest).
        """
        projects = cat.projects.sort("cost_usd", descending=True)
        users = set()
        for p in projects.get_column("path").to_list():
            m = USER_IN_PATH.match(p or "")
            if m:
                users.add(m.group("user") or m.group("wuser"))
        r = cls(**kw)
        r._path_users = tuple(sorted(users, key=len, reverse=True))
        r._rules = r._build_rules()
        if r.alias_projects:
            r.add_projects(projects.get_column("name").to_list(), ids=projects.get_column("id").to_list())
        return r

    _path_users = ()  # user names seen in the logs' paths (set by for_catalog)

    def add_projects(self, names: Iterable[str | None], ids: Iterable[str] | None = None) -> None:
        """Register project names to alias (when ``alias_projects``), in order: the first is project-1.
        ``ids``: the projects' ids (log dir names, ``-home-me-app``), aliased whole like their names."""
        if not self.alias_projects:
            return
        names = list(names)
        for n in names:
            if n and len(n) >= 3 and n not in self._aliases:
                self._aliases[n] = f"project-{len(self._aliases) + 1}"
        for n, i in zip(names, ids or (), strict=False):
            if i and n in self._aliases:
                self._id_aliases[i] = self._aliases[n]
        if self._aliases:
            alts = "|".join(re.escape(n) for n in sorted(self._aliases, key=len, reverse=True))
            self._alias_re = compile_pattern(rf"(?<![\w.-])(?:{alts})(?![\w-])", 0, "project-alias")
        if self._id_aliases:
            alts = "|".join(re.escape(n) for n in sorted(self._id_aliases, key=len, reverse=True))
            self._id_alias_re = compile_pattern(rf"(?<![\w-])(?:{alts})(?![\w-])", 0, "project-alias")
        self._rules = self._build_rules()

    def __getstate__(self) -> dict:
        """Picklable (for the site's worker processes): the rules hold closures, so they are rebuilt."""
        state = dict(self.__dict__)
        state.pop("_rules", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._rules = self._build_rules()

    def alias(self, name: str) -> str:
        """The alias of a project name (the name itself when aliasing is off or the name is unknown)."""
        return self._aliases.get(name, name)

    def _build_rules(self) -> list[Rule]:
        return build_rules(home=self._home, usernames=self._usernames, path_users=self._path_users,
                           keep_hosts=self._keep_hosts, aliases=self._aliases, alias_re=self._alias_re,
                           id_aliases=self._id_aliases, id_alias_re=self._id_alias_re,
                           extra_patterns=self.extra_patterns)

    # ------------------------------------------------------------ use

    def redact(self, text: str) -> str:
        """``text`` with every match masked. Records findings. Raises RedactionError when a rule fails."""
        if not text:
            return text
        if not isinstance(text, str):
            raise RedactionError(f"can only redact text, not {type(text).__name__}")
        spans = self._spans(text)
        if not spans:
            return text
        return self._apply(text, spans, record=True)

    __call__ = redact

    def preview(self, texts: Iterable[str]) -> list[Finding]:
        """The findings of ``texts`` (every one, uncapped), without keeping them on the redactor."""
        saved = self.findings, self.counts, self.max_findings
        self.findings, self.counts, self.max_findings = [], Counter(), 10**12
        try:
            for t in texts:
                self.redact(t)
            return self.findings
        finally:
            self.findings, self.counts, self.max_findings = saved

    def redact_value(self, value: Any, skip_keys: frozenset[str] = frozenset()) -> Any:
        """Redact every string in a JSON-like value (dict keys too), except under ``skip_keys``."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {(self.redact(k) if isinstance(k, str) else k): (v if k in skip_keys else
                                                                      self.redact_value(v, skip_keys))
                    for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.redact_value(v, skip_keys) for v in value]
        return value

    # ------------------------------------------------------------ internals

    def _spans(self, text: str) -> list[tuple[int, int, int, str, str]]:
        """Every rule's spans on ``text``; on JSON-encoded text (tool inputs) also on a view of it with the
        escapes ``\\n``, ``\\t``, ``\\r``, ``\\"`` read as what they encode (same length, so the spans fit
        both): a secret right after an escape starts a word (``\\nsk-ant-…``), a line, or a quoted string, as
        in the decoded text."""
        out = self._scan(text)
        if "\\" not in text:
            return out
        view = _ESCAPES.sub(lambda m: _VIEW.get(m.group(0), m.group(0)), text)
        if view == text:
            return out
        # a span of the raw text that starts on an escape's letter (``\\n`` + token) starts one later: the
        # letter belongs to the escape, and masking it would break the encoding
        out = [(s + 1 if s > 0 and text[s - 1] == "\\" and text[s] in "ntr" else s, e, *rest)
               for s, e, *rest in out]
        return out + self._scan(view)

    def _scan(self, text: str) -> list[tuple[int, int, int, str, str]]:
        lower: str | None = None
        out: list[tuple[int, int, int, str, str]] = []
        for rule in self._rules:
            if rule.triggers or rule.itriggers:
                hit = any(t in text for t in rule.triggers)
                if not hit and rule.itriggers:
                    if lower is None:
                        lower = text.lower()
                    hit = any(t in lower for t in rule.itriggers)
                if not hit:
                    continue
            if rule.gate is not None and not rule.gate(text):
                continue
            try:
                if rule.find is not None:
                    out.extend((s, e, rule.priority, rule.name, mask) for s, e, mask in rule.find(text))
                    continue
                if rule.anchors:
                    if lower is None:
                        lower = text.lower()
                    matches = self._anchored(rule, text, lower)
                else:
                    matches = rule.regex.finditer(text)
                for m in matches:
                    mask = rule.replace(m)
                    if mask is None:
                        continue
                    s, e = m.span(rule.group)
                    if e > s:
                        out.append((s, e, rule.priority, rule.name, mask))
            except RedactionError:
                raise
            except Exception as e:  # noqa: BLE001 - fail closed on anything
                raise RedactionError(f"redaction rule {rule.name!r} failed: {e!r}") from e
        return out

    @staticmethod
    def _anchored(rule: Rule, text: str, lower: str):
        """The rule's matches that start where one of its anchor words occurs."""
        if len(lower) != len(text):  # lower-casing changed offsets (rare Unicode): scan the whole text
            yield from rule.regex.finditer(text)
            return
        pos: set[int] = set()
        for a in rule.anchors:
            i = lower.find(a)
            while i != -1:
                pos.add(i)
                i = lower.find(a, i + 1)
        for p in sorted(pos):
            m = rule.regex.match(text, p)
            if m is not None:
                yield m

    def _apply(self, text: str, spans: list, record: bool) -> str:
        # strongest first, longest first; keep a span unless a stronger one covers it; a partial overlap
        # widens the stronger span (its mask then covers both, so no fragment of either survives)
        spans.sort(key=lambda x: (x[2], x[0] - x[1], x[0]))
        starts: list[int] = []
        kept: list[list] = []  # [start, end, rule, mask, original]
        for s, e, _prio, rule, mask in spans:
            i = bisect.bisect_right(starts, s)
            lo = i - 1 if i > 0 and kept[i - 1][1] > s else i
            hi = i
            while hi < len(kept) and kept[hi][0] < e:
                hi += 1
            if lo == hi:
                starts.insert(i, s)
                kept.insert(i, [s, e, rule, mask])
                continue
            first = kept[lo]
            if hi - lo == 1 and first[0] <= s and first[1] >= e:
                continue  # covered
            ns, ne = min(s, kept[lo][0]), max(e, kept[hi - 1][1])
            merged = [ns, ne, first[2], first[3]]
            del kept[lo:hi]
            del starts[lo:hi]
            starts.insert(lo, ns)
            kept.insert(lo, merged)
        parts: list[str] = []
        pos = 0
        out_len = 0
        marks: list[tuple[int, int, str, str]] = []
        for s, e, rule, mask in kept:
            parts.append(text[pos:s])
            out_len += s - pos
            marks.append((out_len, out_len + len(mask), rule, text[s:e]))
            parts.append(mask)
            out_len += len(mask)
            pos = e
        parts.append(text[pos:])
        out = "".join(parts)
        if record:
            for a, b, rule, original in marks:
                self.counts[rule] += 1
                if len(self.findings) < self.max_findings:
                    ctx = out[max(0, a - 40):b + 40].replace("\n", " ")
                    self.findings.append(Finding(rule, preview_of(original), ctx))
        return out


def check_patterns(patterns: Iterable[str]) -> None:
    """Raise RedactionError when a user-supplied pattern does not compile (before anything is written)."""
    for p in patterns:
        compile_pattern(p, 0, p)


RULES_DOC: list[tuple[str, str]] = [
    ("[REDACTED:<kind>]", "API keys and tokens (Anthropic, OpenAI, AWS, GitHub, GitLab, Slack, Stripe, Google, "
     "npm, Hugging Face, SendGrid, Twilio, Mailchimp, Square, Discord, Telegram, PyPI, Azure), private keys, "
     "JWTs, credentials in URLs and Authorization headers, values of secret-named variables, high-entropy "
     "strings"),
    ("~", "home directories: $HOME, /home/<user>, /Users/<user>, /root, C:\\Users\\<user>, and Claude's "
     "encoded project dirs (-home-<user>-…)"),
    ("[email]", "e-mail addresses"),
    ("[host]", "host names in URLs and ssh targets, and dotted names ending in a common top-level domain"),
    ("[ip]", "IPv4 and IPv6 addresses (loopback kept)"),
    ("project-N", "project names, with --alias-projects"),
]
