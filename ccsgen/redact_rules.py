"""The rules of :mod:`ccsgen.redact`: what is a secret or a personal datum, and how each is found.

Each rule is a pattern with a cheap pre-check (a substring that must occur, or anchor words where the pattern
may start) and a function that decides, per match, on the mask or on keeping the text (``None``). The few
kinds a regex alone finds badly (host names, IPv6, Windows homes) are finders: plain functions that yield
``(start, end, mask)``. ``build_rules`` assembles them for one Redactor.
"""

from __future__ import annotations

import ipaddress
import math
import re
import string
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass


class RedactionError(RuntimeError):
    """A rule could not run (invalid pattern, internal error): publishing must stop."""


Replacer = Callable[[re.Match], "str | None"]
Finder = Callable[[str], Iterable[tuple[int, int, str]]]


@dataclass(frozen=True, slots=True)
class Rule:
    """A pattern and its mask. ``replace`` returns the mask, or None to keep the match (not a hit).

    ``triggers`` / ``itriggers``: the rule runs only when one of these substrings is in the text
    (``itriggers``: in the lower-cased text); neither: always. ``anchors``: lower-case words the pattern
    starts with: it is matched only where one occurs (``str.find`` on the lower-cased text instead of a
    regex scan). ``gate``: a cheap test the text must pass. ``group``: the span of this group is replaced
    (0: the whole match). Lower ``priority`` wins overlaps.
    """

    name: str
    regex: re.Pattern | None
    replace: Replacer | None
    priority: int
    group: int | str = 0
    triggers: tuple[str, ...] = ()
    itriggers: tuple[str, ...] = ()
    anchors: tuple[str, ...] = ()
    gate: Callable[[str], bool] | None = None
    find: Finder | None = None  # instead of regex + replace: yields (start, end, mask)


# ---------------------------------------------------------------- vocabulary

#: dotted names ending in these are host names; country codes that are also file extensions or code words
#: (py, rs, sh, md, pl, pt, am, so, in, is, it, to, at, be, my, id, me …) and generic words (info, app, dev,
#: name, email …) are deliberately absent. Hosts in URLs are masked whatever their TLD.
HOST_TLDS = frozenset("""
com net org edu gov mil int io ai co uk de fr nl eu jp cn ru br au ch se fi dk nz kr tw hk sg us ca es
ie il za mx ar gr hu ro cz sk ua tr vn th ph local internal lan corp intranet localdomain localhost arpa onion
""".split())
#: first labels that make a dotted name code, not a host (``self.local``, ``threading.local`` …)
CODE_ROOTS = frozenset("""
self this cls super os sys window document console module exports process math json np pd torch java javax
android std threading typing re django flask app config settings env props state ctx req res request
response event e err args kwargs obj item data result
""".split())
#: public hosts that identify no one; kept as they are (exact names, also with ``www.``)
KEEP_HOSTS = frozenset("""
localhost github.com docs.github.com gitlab.com bitbucket.org pypi.org npmjs.com www.npmjs.com
registry.npmjs.org python.org docs.python.org anthropic.com docs.anthropic.com claude.ai claude.com
docs.claude.com stackoverflow.com developer.mozilla.org wikipedia.org en.wikipedia.org socket.io
doc.rust-lang.org crates.io docs.rs go.dev pkg.go.dev nodejs.org react.dev
""".split())
KEEP_IPS = frozenset({"127.0.0.1", "0.0.0.0", "::1", "::"})
#: Claude Code's own ids look random but are not secrets
ID_PREFIXES = ("msg_", "toolu_", "srvtoolu_", "req_", "file_", "chatcmpl-")
#: words that name a secret; a bare "key" only counts after api/access/secret/private (see _secret_name_ok)
SECRET_WORDS = r"(?:key|secret|token|passw(?:or)?d|passphrase|pwd|credentials?)"
#: a secret word and the rest of its name: ``PASSWORD``, ``Token``, ``secret_key`` (not ``tokenizer``)
SECRET_NAME = r"(?i:" + SECRET_WORDS + r")(?:[_-]?[A-Z0-9][A-Za-z0-9]*|[_-][A-Za-z0-9]+)*"
_KEY_QUALIFIERS = ("api", "access", "secret", "private", "signing", "encryption", "master", "license", "auth")

_B64 = "A-Za-z0-9+/=_-"
_TOK = "A-Za-z0-9+/_-"  # a token's body: base64 (url-safe too) without the padding


def shannon_entropy(s: str) -> float:
    """Bits per character of ``s`` (Shannon entropy of its own character distribution)."""
    if not s:
        return 0.0
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values())


try:  # detect-secrets' entropy plugin (quoted base64 strings, limit 4.5), when installed
    from detect_secrets.plugins.high_entropy_strings import Base64HighEntropyString as _DSBase64

    _DS_B64 = _DSBase64()
    _DS_LIMIT = _DS_B64.entropy_limit
    _ds_entropy = _DS_B64.calculate_shannon_entropy
    _QUOTED_B64 = _DS_B64.regex
except Exception:  # noqa: BLE001 - any import problem: use our own, same definition
    _DS_B64 = None
    _DS_LIMIT = 4.5
    _ds_entropy = shannon_entropy
    _QUOTED_B64 = re.compile(r"""(['"])([""" + re.escape(string.ascii_letters + string.digits + "+/-_=") + r"""]+)(\1)""")


_WORD = re.compile(r"[A-Z]?[a-z]{3,}|[A-Z]{3,}(?![a-z])")


def _identifier_like(tok: str) -> bool:
    """Made of words (``get_secret_from_vault``, ``buildAuthHeader2``, ``MAX_RETRY_COUNT``), not random."""
    covered = sum(len(w) for w in _WORD.findall(tok))
    return covered >= 0.6 * len(tok)


def _looks_random(tok: str, min_len: int, limit: float) -> bool:
    """Long, mixes letters and digits, not one of Claude's ids, not words, above ``limit`` bits per char."""
    if len(tok) < min_len or tok.startswith(ID_PREFIXES):
        return False
    if not (any(c.isdigit() for c in tok) and any(c.isalpha() for c in tok)):
        return False
    return shannon_entropy(tok) > limit and not _identifier_like(tok)


def preview_of(s: str) -> str:
    """What the finding list shows of a masked value: a few leading characters and its length."""
    s = s.replace("\n", " ")
    keep = 4 if len(s) >= 16 else 1
    return f"{s[:keep]}…({len(s)} chars)"


# ---------------------------------------------------------------- the rules


def _const(mask: str) -> Replacer:
    return lambda m: mask


def _secret(name: str) -> Replacer:
    return _const(f"[REDACTED:{name}]")


def _at_edge(m: re.Match) -> bool:
    """The match does not start inside a word (a left boundary, checked here so the pattern can start with a
    literal or a character class: the regex engine then skips ahead fast)."""
    s = m.start()
    return s == 0 or not (m.string[s - 1].isalnum() or m.string[s - 1] == "_")


def _path_start(mask: str) -> Replacer:
    """The match starts a path (not ``x/home/…`` or ``~/home``): checked here so the pattern starts with ``/``."""

    def rep(m: re.Match) -> str | None:
        s = m.start()
        return mask if s == 0 or not (m.string[s - 1].isalnum() or m.string[s - 1] in "_.~-") else None

    return rep


_WIN_HOME = re.compile(r"(?i)[A-Z]:(?:\\{1,2}|/)users(?:\\{1,2}|/)[^\\/\s\"'<>:|?*]+")


def _find_windows_home(text: str):
    """``C:\\Users\\<name>`` (also with doubled backslashes or slashes) -> ``~``; found from "users" backwards."""
    low = text.lower()
    i = low.find("users")
    while i != -1:
        for start in (i - 3, i - 4):  # "C:\\Users", "C:\\\\Users"
            if start >= 0 and (start == 0 or not text[start - 1].isalnum()):
                m = _WIN_HOME.match(text, start)
                if m:
                    yield m.start(), m.end(), "~"
                    break
        i = low.find("users", i + 5)


def _token(name: str) -> Replacer:
    mask = f"[REDACTED:{name}]"
    return lambda m: mask if _at_edge(m) else None


def _provider_rules() -> list[tuple[str, str, tuple[str, ...]]]:
    """(rule name, pattern, triggers) of token formats with a recognisable prefix."""
    edge_r = r"(?![A-Za-z0-9_])"
    rules = [
        ("anthropic-key", r"sk-ant-[A-Za-z0-9_-]{16,}", ("sk-ant-",)),
        ("openai-key", r"sk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{20,}", ("sk-",)),
        ("aws-key", r"(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA|A3T[A-Z0-9])[A-Z0-9]{16}",
         ("AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "APKA", "A3T")),
        ("github-token", r"(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,}",
         ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")),
        ("gitlab-token", r"(?:glpat|gldt|glft|glsoat|glrt|glcbt|glimt|glptt|glagent|gloas)-[A-Za-z0-9_-]{20,}",
         ("gl",)),
        ("slack-token", r"xox[abposr]-[A-Za-z0-9-]{10,}", ("xox",)),
        ("slack-webhook", r"https://hooks\.slack\.com/services/[A-Za-z0-9_/]+", ("hooks.slack.com",)),
        ("stripe-key", r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}", ("_live_", "_test_")),
        ("google-api-key", r"AIza[0-9A-Za-z_-]{35}", ("AIza",)),
        ("npm-token", r"npm_[A-Za-z0-9]{36}", ("npm_",)),
        ("huggingface-token", r"hf_[A-Za-z0-9]{30,}", ("hf_",)),
        ("pypi-token", r"pypi-AgE[A-Za-z0-9_-]{50,}", ("pypi-",)),
        # detect-secrets' detectors (same patterns, our boundaries)
        ("sendgrid-key", r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}", ("SG.",)),
        ("twilio-key", r"(?:AC|SK)[a-z0-9]{32}", ("AC", "SK")),
        ("mailchimp-key", r"[0-9a-z]{32}-us[0-9]{1,2}", ("-us",)),
        ("square-token", r"sq0(?:csp|atp)-[0-9A-Za-z_-]{22,}", ("sq0",)),
        ("discord-token", r"[MNO][A-Za-z0-9_-]{23,25}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,}", (".",)),
        ("telegram-token", r"[0-9]{8,10}:[0-9A-Za-z_-]{35}", (":",)),
        ("azure-storage-key", r"(?<=AccountKey=)[A-Za-z0-9+/=]{40,}", ("AccountKey=",)),
    ]
    return [(n, p + edge_r, t) for n, p, t in rules]


def _secret_name_ok(m: re.Match) -> bool:
    """A bare "key" is a secret only as api_key, accessKey, SECRET_KEY … (not cache_key, sort_key)."""
    s = m.string
    start = m.start()
    if s[start:start + 3].lower() != "key":
        return True
    before = s[max(0, start - 12):start].lower().rstrip("_- ")
    return before.endswith(_KEY_QUALIFIERS)


_YAML_PREFIX = re.compile(r"[ \t]*(?:-[ \t]+)?[\"']?[A-Za-z0-9_.-]*")
_LINE_REST = re.compile(r"[ \t]*(?:#.*)?(?:\n|$)")


def _yaml_line(m: re.Match) -> bool:
    """``key: value`` alone on its line (YAML, .env-like), not a type annotation (``f(token: Token)``)."""
    s = m.string
    line_start = s.rfind("\n", 0, m.start()) + 1
    return bool(_YAML_PREFIX.fullmatch(s, line_start, m.start())) and bool(_LINE_REST.match(s, m.end()))


def _secret_assignment(m: re.Match) -> str | None:
    """A literal assigned to a secret-named variable, unless it is plainly not a secret."""
    if not _secret_name_ok(m):
        return None
    if m.groupdict().get("sep", "=").startswith(":") and not _yaml_line(m):
        return None
    v = m.group("val")
    if len(v) < 6 or any(c.isspace() for c in v) or v.lower() in _PLACEHOLDERS:
        return None
    if v.startswith(("$", "<", "{", "%", "*", "/", ".", "~", "process.env", "os.environ", "env.", "self.", "this.")):
        return None
    if "://" in v or "(" in v or "[" in v or set(v) <= {"x", "X", "*", ".", "-", "_"}:
        return None
    symbols = any(not c.isalnum() and c not in "-_./:" for c in v)
    if not (any(c.isdigit() for c in v) or symbols or (len(v) >= 12 and shannon_entropy(v) >= 3.5)):
        return None
    kw = m.group("kw").lower()
    return "[REDACTED:password]" if ("pass" in kw or "pwd" in kw) else "[REDACTED:secret]"


_PLACEHOLDERS = frozenset({"changeme", "password", "secret", "your_password", "your-password", "yourpassword",
                           "your_api_key", "your-api-key", "placeholder", "example", "redacted", "none", "null",
                           "undefined", "true", "false", "required", "optional", "string", "hidden"})


def _quoted_entropy(m: re.Match) -> str | None:
    tok = m.group(2)
    if "\\" in tok:  # detect-secrets' charset has a backslash: an escaped quote (\\"), seen right in the view
        return None
    if len(tok) < 20 or tok.startswith(ID_PREFIXES) or _ds_entropy(tok) <= _DS_LIMIT or _identifier_like(tok):
        return None
    return "[REDACTED:high-entropy]"


def _bare_entropy(m: re.Match) -> str | None:
    tok = m.group(0)
    if not (any(c.isupper() for c in tok) and any(c.islower() for c in tok)):
        return None
    return "[REDACTED:high-entropy]" if _looks_random(tok, 32, _DS_LIMIT) else None


def _context_entropy(m: re.Match) -> str | None:
    tok = m.group("tok")
    if not _secret_name_ok(m):
        return None
    hexy = all(c in "0123456789abcdefABCDEF" for c in tok)
    if hexy:
        return "[REDACTED:high-entropy]" if len(tok) >= 32 and shannon_entropy(tok) > 3.0 and \
            any(c.isalpha() for c in tok) and any(c.isdigit() for c in tok) else None
    return "[REDACTED:high-entropy]" if _looks_random(tok, 16, 3.5) else None


_TLD_RE = re.compile(r"\.(?:" + "|".join(sorted(HOST_TLDS, key=len, reverse=True)) +
                     r")(?![A-Za-z0-9_-]|\.[A-Za-z0-9]|\()")
_WWW_RE = re.compile(r"www\.[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_HOST_RE = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,24}")
_LABEL_CHARS = frozenset(string.ascii_letters + string.digits + "-.")


def _find_hosts(keep: frozenset[str]) -> Finder:
    """Dotted names ending in a host TLD (``db.corp.example.net``), and ``www.`` names, as host names.

    Found from the TLD backwards (a literal ``.`` starts the pattern, so the scan is fast). Kept: names
    inside identifiers (``x_foo.com``) or e-mail addresses (the e-mail rule has them), code roots
    (``self.local``), public hosts in ``keep``.
    """

    def ok(text: str, s: int, e: int) -> bool:
        if s > 0 and text[s - 1] in "_@":
            return False
        name = text[s:e]
        if not _HOST_RE.fullmatch(name):
            return False
        low = name.lower()
        if low in keep or low.removeprefix("www.") in keep:
            return False
        first = name.split(".", 1)[0]
        return first == "www" or first not in CODE_ROOTS

    def find(text: str):
        for m in _TLD_RE.finditer(text):
            s = m.start()
            while s > 0 and text[s - 1] in _LABEL_CHARS:
                s -= 1
            while s < m.start() and text[s] in ".-":
                s += 1
            if s < m.start() and ok(text, s, m.end()):
                yield s, m.end(), "[host]"
        if "www." in text:
            for m in _WWW_RE.finditer(text):
                if _at_edge(m) and ok(text, m.start(), m.end()):
                    yield m.start(), m.end(), "[host]"

    return find


_HEX_COLON = frozenset("0123456789abcdefABCDEF:")
_V6_FULL = re.compile(r"[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){7}")


def _find_ipv6(text: str):
    """IPv6 addresses: around each ``::``, and the full eight-group form; validated by :mod:`ipaddress`."""
    cands: set[tuple[int, int]] = set()
    i = text.find("::")
    while i != -1:
        s, e = i, i + 2
        while s > 0 and text[s - 1] in _HEX_COLON:
            s -= 1
        while e < len(text) and text[e] in _HEX_COLON:
            e += 1
        if e < len(text) and text[e] == "%":  # zone id
            while e + 1 < len(text) and (text[e + 1].isalnum()):
                e += 1
            e += 1
        cands.add((s, e))
        i = text.find("::", e)
    if text.count(":") >= 7:
        cands.update(m.span() for m in _V6_FULL.finditer(text))
    for s, e in sorted(cands):
        if (s > 0 and (text[s - 1].isalnum() or text[s - 1] in "_:.")) or (e < len(text) and (
                text[e].isalnum() or text[e] in "_:")):
            continue
        addr = text[s:e]
        if addr in KEEP_IPS or not any(c.isdigit() for c in addr):
            continue
        try:
            ipaddress.IPv6Address(addr.split("%")[0])
        except ValueError:
            continue
        yield s, e, "[ip]"


def _url_host(keep: frozenset[str]) -> Replacer:
    def rep(m: re.Match) -> str | None:
        host = m.group("host").strip("[]").lower().rstrip(".")
        if host in keep or host.removeprefix("www.") in keep or host in KEEP_IPS or not host:
            return None
        return "[ip]" if _is_ip(host) else "[host]"

    return rep


def _is_ip(s: str) -> bool:
    try:
        ipaddress.ip_address(s)
    except ValueError:
        return False
    return True


def _ipv4(m: re.Match) -> str | None:
    s = m.group(0)
    if s in KEEP_IPS or any(int(o) > 255 or (len(o) > 1 and o[0] == "0") for o in s.split(".")):
        return None
    return "[ip]"


def compile_pattern(pattern: str, flags: int = 0, name: str = "") -> re.Pattern:
    try:
        return re.compile(pattern, flags)
    except (re.error, TypeError, ValueError) as e:
        raise RedactionError(f"invalid pattern for rule {name or pattern!r}: {e}") from e


USER_IN_PATH = re.compile(r"^(?:/home|/Users|/export/home)/(?P<user>[^/]+)|^[A-Za-z]:[\\/]Users[\\/](?P<wuser>[^\\/]+)")


def build_rules(*, home: str, usernames: tuple[str, ...], path_users: tuple[str, ...], keep_hosts: frozenset[str],
                aliases: dict[str, str], alias_re: re.Pattern | None, id_aliases: dict[str, str],
                id_alias_re: re.Pattern | None, extra_patterns: Iterable) -> list[Rule]:
    """Every rule, strongest first. Priorities: 0 key blocks, 1 JWTs and auth headers, 2 provider tokens and
    custom patterns, 3 secrets by context and project aliases, 4 e-mail, 5 homes and user names, 7 hosts, 8 IPs."""
    R: list[Rule] = []

    def add(name, pattern, replace, priority, group=0, triggers=(), itriggers=(), flags=0, anchors=(),
            gate=None):
        R.append(Rule(name, compile_pattern(pattern, flags, name), replace, priority, group, tuple(triggers),
                      tuple(itriggers), tuple(anchors), gate))

    # 0: blocks that contain everything else
    add("private-key", r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(?:.*?-----END[A-Z0-9 ]*PRIVATE KEY"
        r"(?: BLOCK)?-----|.*\Z)", _secret("private-key"), 0, triggers=("PRIVATE KEY",), flags=re.S)
    add("private-key", r"PuTTY-User-Key-File-\d:.*?(?:Private-MAC: [0-9a-f]+|\Z)", _secret("private-key"), 0,
        triggers=("PuTTY-User-Key-File",), flags=re.S)
    # 1: JWTs and Authorization headers
    add("jwt", r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*", _secret("jwt"),
        1, triggers=("eyJ",))
    add("auth-header", r"(?i:authorization|x-api-key|api-key|x-auth-token)[\"']?\s*[:=]\s*[\"']?"
        r"(?:(?i:bearer|basic|token)\s+)?(?P<tok>[A-Za-z0-9._~+/=-]{12,})", _secret("auth-header"), 1,
        group="tok", anchors=("authorization", "x-api-key", "api-key", "x-auth-token"))
    add("bearer-token", r"(?i:bearer)\s+(?P<tok>[A-Za-z0-9._~+/=-]{16,})", _secret("auth-header"), 1,
        group="tok", anchors=("bearer",))
    # 2: provider tokens
    for name, pattern, triggers in _provider_rules():
        add(name, pattern, _token(name), 2, triggers=triggers)
    # 3: credentials by context
    add("url-credentials", r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{1,20}://(?P<cred>[^\s/:@'\"<>]+:[^\s/@'\"<>]+)@",
        _secret("url-credentials"), 3, group="cred", triggers=("://",))
    add("aws-secret", r"(?i:aws).{0,30}?(?i:secret|key).{0,20}?(?<![A-Za-z0-9/+])(?P<tok>[A-Za-z0-9/+]{40})"
        r"(?![A-Za-z0-9/+])", _secret("aws-secret"), 3, group="tok", anchors=("aws",))
    secret_tr = ("key", "secret", "token", "passw", "passphrase", "pwd", "credential")
    add("secret-assignment", r"(?P<kw>" + SECRET_NAME + r")\\?[\"']?\s*(?::=|=|:)\s*\\?"
        r"(?P<q>[\"'`])(?P<val>[^\"'`\n\\]{1,200})\\?(?P=q)", _secret_assignment, 3, group="val",
        anchors=secret_tr)
    add("secret-assignment", r"(?P<kw>" + SECRET_NAME + r")(?P<sep>=|:[ \t]+)(?P<val>[^\s\"'`$#]"
        r"[^\s\"'`]{5,})(?=\s|$)", _secret_assignment, 3, group="val", anchors=secret_tr)
    add("high-entropy", _QUOTED_B64.pattern, _quoted_entropy, 3, group=2, triggers=('"', "'"))
    add("high-entropy", rf"(?i:{SECRET_WORDS})[^\n]{{0,30}}?(?<![{_B64}])(?P<tok>[{_TOK}]{{16,}}={{0,2}})(?![{_B64}])",
        _context_entropy, 3, group="tok", anchors=secret_tr)
    add("high-entropy", rf"(?<![{_B64}])[{_TOK}]{{32,}}={{0,2}}(?![{_B64}])", _bare_entropy, 3)
    # 3: project ids and names, when aliased (before the home, e-mail and host rules would cut them)
    if id_alias_re is not None:
        R.append(Rule("project-alias", id_alias_re, lambda m: id_aliases[m.group(0)], 3,
                      triggers=tuple(id_aliases)))
    if alias_re is not None:
        R.append(Rule("project-alias", alias_re, lambda m: aliases[m.group(0)], 3,
                      triggers=tuple(aliases)))
    # 4: e-mail addresses
    add("email", r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}"
        r"(?![A-Za-z0-9-])", _const("[email]"), 4, triggers=("@",))
    # 5: home directories and user names
    if home:
        add("home", re.escape(home) + r"(?=[/\\]|\b|$)", _const("~"), 5, triggers=(home,))
        enc = re.sub(r"[^A-Za-z0-9]", "-", home)
        add("home", r"(?<![A-Za-z0-9])" + re.escape(enc) + r"(?=-|\b|$)", _const("~"), 5, triggers=(enc,))
    add("home", r"/(?:(?:home|Users|export/home)/(?!Shared(?:/|$))[A-Za-z0-9._@-]+(?=/|\b|$)|"
        r"root(?=/|$|\s|[\"'`:;,)\]]))", _path_start("~"), 5, triggers=("/home/", "/Users/", "/root"))
    R.append(Rule("home", None, None, 5, itriggers=("users",), find=_find_windows_home))
    for u in path_users:
        enc = re.sub(r"[^A-Za-z0-9]", "-", u)
        add("home", r"(?<![A-Za-z0-9])(?:[A-Za-z]-)?-(?:home|Users)-" + re.escape(enc) + r"(?=-|\b|$)",
            _const("~"), 5, triggers=(enc,))
    add("home", r"(?<![A-Za-z0-9_-])(?:[A-Za-z]-)?-(?:home|Users)-[A-Za-z0-9_]+(?=-|\b|$)", _const("~"), 5,
        triggers=("-home-", "-Users-"))
    if usernames:
        alts = "|".join(re.escape(u) for u in usernames)
        add("username", rf"(?<![\w.-])(?:{alts})(?![\w-])", _const("[user]"), 5, triggers=usernames)
    # 7: hosts
    add("host", r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{1,20}://(?:[^\s/@'\"<>]*@)?(?P<host>\[[0-9A-Fa-f:.]+\]|"
        r"[^\s/:?#\"'<>\\\[\]()`,;]+)", _url_host(keep_hosts), 7, group="host", triggers=("://",))
    add("host", r"\b(?:ssh|scp|sftp|rsync|mosh)\b[^\n]{0,80}?\s[A-Za-z0-9._-]+@(?P<host>[A-Za-z0-9][A-Za-z0-9.-]*)",
        lambda m: None if m.group("host").lower() in keep_hosts else "[host]", 7, group="host",
        triggers=("ssh", "scp", "sftp", "rsync", "mosh"))
    R.append(Rule("host", None, None, 7, triggers=(".",), find=_find_hosts(keep_hosts)))
    # 8: IP addresses
    add("ip", r"\d(?<![\w.]\d)\d{0,2}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\w]|\.\d)", _ipv4, 8,
        triggers=(".",))
    R.append(Rule("ip", None, None, 8, triggers=(":",), find=_find_ipv6))
    # custom
    for p in extra_patterns:
        name, pattern = p if isinstance(p, tuple) else ("custom", p)
        add(name, pattern, _secret(name), 2)
    return R
