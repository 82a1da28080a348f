"""ccsgen.site.markdown: the fast path for text without markup renders exactly what markdown-it renders."""

from __future__ import annotations

import random

import pytest

from ccsgen.site import markdown as md

# Mostly what the gate lets through (letters, spaces, newlines, quotes, punctuation that means nothing to
# markdown, line starts that look like lists but are not), sometimes one of what it must stop: markup
# characters, tabs, CR, NUL, Unicode spaces, list and heading markers.
CLEAN = "aaaaeeeiiooouu" "xyzQW" "      " "\n\n\n" "\"\"''" ".,:;()/?@$%^{}" "=+-" "0123456789" "é中😀\u200b"
NOISE = [*"\u00a0\u2003\u3000\t\r\x00\\`*_[]<>#!|~&", "&copy;", "&#35;", "&amp;", "\\*", "**b**", "`c`", "<http://x.y>", "~~s~~",
         "![i](http://x.y/i.png)", "[l](http://x.y)", "\na | b\n--|--\n"]
CLEAN_STARTS = ["", "", "", " ", "  ", "   ", "\"", "'", "1234567890. ", "x. ", "(1) "]
NOISE_STARTS = ["    ", "- ", "+ ", "= ", "1. ", "2) ", "12345. ", "--- ", "===", "> ", "# "]


def _text(rng: random.Random) -> str:
    lines = []
    for _ in range(rng.randint(1, 6)):
        body = "".join(rng.choice(CLEAN) for _ in range(rng.randint(0, 24)))
        lines.append(rng.choice(CLEAN_STARTS) + body + rng.choice(["", "", " ", "  ", "   "]))
    text = "\n".join(lines)
    if rng.random() < 0.3:  # one thing the gate must catch, or be right to let through
        i = rng.randint(0, len(text))
        if rng.random() < 0.5:
            text = text[:i] + rng.choice(NOISE) + text[i:]
        else:
            i = text.rfind("\n", 0, i) + 1
            text = text[:i] + rng.choice(NOISE_STARTS) + text[i:]
    return text


def _reference(text: str, breaks: bool) -> str:
    return (md._MD_BREAKS if breaks else md._MD).render(text)


@pytest.mark.parametrize("breaks", [False, True])
def test_fast_path_is_byte_identical_to_markdown_it(breaks):
    rng = random.Random(20260505)
    fast = 0
    for _ in range(6000):
        text = _text(rng)
        if md._MARKUP_CHARS.search(text) is not None:
            continue
        fast += 1
        assert str(md._plain(text, breaks)) == _reference(text, breaks), repr(text)
    assert fast > 1000  # the generator does exercise the fast path


@pytest.mark.parametrize("text", [
    "a  \nb", "a \nb", "a\nb", 'say "hi", it\'s', "  lead\n   more  \n\n\n tail ", "x\n \ny", "\n\n x \n\n",
    "   ", "1234567890. not a list", "see 3.14 and 2) later", "e-mail me: a@b.c (soon)", "中文 😀 é",
])
@pytest.mark.parametrize("breaks", [False, True])
def test_markdown_matches_markdown_it_on_plain_text(text, breaks):
    assert str(md.markdown(text, breaks=breaks)) == _reference(text, breaks)


@pytest.mark.parametrize("text", [
    "<script>alert(1)</script>", "a\tb", "a\r\nb", "a\x00b", "a\u00a0b", "- item", "1. item", "# h", "> q",
    "    code", "x\n---", "x\n===", "*e*", "_e_", "`c`", "[l](u)", "a & b", "![i](u)", "~~s~~", "a|b",
])
def test_the_gate_sends_markup_to_markdown_it(text):
    assert md._MARKUP_CHARS.search(text) is not None
    assert str(md.markdown(text)) == _reference(text, False)


def test_fast_path_escapes_like_markdown_it():
    # the gate keeps & < > out; the fast path escapes them anyway, as markdown-it does
    assert md._plain('<b onmouseover="x">&amp;</b>', False) == (
        "<p>&lt;b onmouseover=&quot;x&quot;&gt;&amp;amp;&lt;/b&gt;</p>\n")


def test_results_are_memoised_and_long_text_is_preformatted():
    text = "ZZMEMOZZ " * 3
    assert md.markdown(text) is md.markdown(text)
    long = "<b>" + "x" * md.MARKDOWN_MAX_CHARS
    out = str(md.markdown(long))
    assert out.startswith('<pre class="plain">&lt;b&gt;') and "<b>" not in out
