"""Turn the Markdown a model writes into what a platform shows: Telegram HTML, plain text, or the
Markdown itself. One parser serves every target, so the plain fallback always says the same thing
as the formatted text.

Tags are only ever emitted in open/close pairs around content whose closing delimiter was found,
so any input — including a half-streamed prefix — renders to balanced HTML; a delimiter without a
partner (a lone `*` or `**`) stays literal text."""

from __future__ import annotations

import re
from collections.abc import Callable

_ESCAPE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_ATTR_ESCAPE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})
_BACKSLASHED = frozenset("\\`*_{}[]()#+-.!~>|")
_SAFE_SCHEMES = ("http://", "https://", "mailto:", "tg://")
MAX_NESTING = 16

# A fence line's info string holds no backtick ("```ls```" is inline code, not a fence).
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})([^`]*)$")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$")
_RULE = re.compile(r"^\s{0,3}([-*_])(?:\s*\1){2,}\s*$")
_BULLET = re.compile(r"^(\s*)[-*+]\s+(.*)$")
_QUOTE = re.compile(r"^\s{0,3}>\s?(.*)$")
_LANGUAGE = re.compile(r"^[\w+#.-]{1,32}$")
# [text](url) with at most one level of parentheses in the url (Wikipedia links).
_LINK = re.compile(r"\[([^\]\n]+)\]\(\s*([^()\s]+(?:\([^()\s]*\)[^()\s]*)*)\s*\)")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, as Telegram counts its limits."""
    return len(text.encode("utf-16-le")) // 2


def length_function(unit: str) -> Callable[[str], int]:
    """The length a platform's limit is measured in: "chars" (code points) or "utf16"."""
    if unit == "utf16":
        return utf16_len
    if unit == "chars":
        return len
    raise ValueError(f'unknown length unit {unit!r}: use "chars" or "utf16"')


def render(markdown: str, markup: str) -> tuple[str, str]:
    """(text, parse_mode) for a platform whose capabilities say `markup`."""
    if markup == "telegram_html":
        return _blocks(markdown, _HTML), "HTML"
    if markup == "slack_mrkdwn":
        return _blocks(markdown, _MRKDWN), "mrkdwn"
    if markup == "plain":
        return plain_text(markdown), ""
    # "markdown" platforms show the model's Markdown as is; an unknown markup is not guessed at.
    return markdown, ""


def plain_text(markdown: str) -> str:
    """The text without Markdown markers: the fallback when a platform rejects formatting."""
    return _blocks(markdown, _PLAIN)


def escape_html(text: str) -> str:
    return text.translate(_ESCAPE)


class _Target:
    """How each construct is written out; the parser is shared by both targets."""

    def __init__(self, html: bool) -> None:
        self.html = html

    def text(self, s: str) -> str:
        return s.translate(_ESCAPE) if self.html else s

    def tag(self, name: str, inner: str) -> str:
        return f"<{name}>{inner}</{name}>" if self.html else inner

    def code(self, s: str) -> str:
        return f"<code>{s.translate(_ESCAPE)}</code>" if self.html else s

    def link(self, inner: str, url: str) -> str:
        if self.html:
            return f'<a href="{url.translate(_ATTR_ESCAPE)}">{inner}</a>'
        return inner if inner == url else f"{inner} ({url})"

    def pre(self, code: str, language: str) -> str:
        if not self.html:
            return code
        body = code.translate(_ESCAPE)
        if _LANGUAGE.match(language):
            return f'<pre><code class="language-{language}">{body}</code></pre>'
        return f"<pre>{body}</pre>"

    def quote(self, lines: list[str]) -> str:
        if self.html:
            return "<blockquote>" + "\n".join(lines) + "</blockquote>"
        return "\n".join("> " + line for line in lines)


class _SlackTarget(_Target):
    """Slack's mrkdwn: *bold*, _italic_, ~strike~, <url|text>; only & < > are escaped."""

    def __init__(self) -> None:
        super().__init__(html=True)  # escapes text like HTML does

    def tag(self, name: str, inner: str) -> str:
        mark = {"b": "*", "i": "_", "s": "~"}[name]
        return f"{mark}{inner}{mark}"

    def code(self, s: str) -> str:
        return f"`{s.translate(_ESCAPE)}`"

    def link(self, inner: str, url: str) -> str:
        # "|" ends the address in Slack's link syntax, so it is percent-encoded there.
        return f"<{url.translate(_ESCAPE).replace('|', '%7C')}|{inner}>"

    def pre(self, code: str, language: str) -> str:
        return f"```\n{code.translate(_ESCAPE)}\n```"

    def quote(self, lines: list[str]) -> str:
        return "\n".join("> " + line for line in lines)


_HTML = _Target(html=True)
_PLAIN = _Target(html=False)
_MRKDWN = _SlackTarget()


def _blocks(markdown: str, target: _Target) -> str:
    lines = markdown.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if fence:
            marker, info = fence.group(1), fence.group(2).split()
            language = info[0] if info else ""
            body: list[str] = []
            i += 1
            # An unclosed fence (a streamed prefix) runs to the end: still one balanced <pre>.
            while i < len(lines) and not _closes(lines[i], marker):
                body.append(lines[i])
                i += 1
            i += 1  # the closing fence
            out.append(target.pre("\n".join(body), language))
            continue
        if _QUOTE.match(lines[i]):
            quoted: list[str] = []
            while i < len(lines) and (m := _QUOTE.match(lines[i])):
                quoted.append(_line(m.group(1), target))
                i += 1
            out.append(target.quote(quoted))
            continue
        out.append(_line(lines[i], target))
        i += 1
    return "\n".join(out)


def _closes(line: str, marker: str) -> bool:
    stripped = line.strip()
    return stripped.startswith(marker) and stripped == stripped[0] * len(stripped)


def _line(line: str, target: _Target) -> str:
    if heading := _HEADING.match(line):
        # The whole heading is bold already; nested <b> inside it adds nothing.
        return target.tag("b", _inline(heading.group(1), target, bold=False))
    if _RULE.match(line):
        return "———"
    if bullet := _BULLET.match(line):
        return bullet.group(1) + "• " + _inline(bullet.group(2), target)
    return _inline(line, target)


def _inline(s: str, target: _Target, bold: bool = True, depth: int = 0) -> str:
    if depth > MAX_NESTING:  # pathological nesting: the rest is text, never a deep recursion
        return target.text(s)
    out: list[str] = []
    literal: list[str] = []

    def flush() -> None:
        if literal:
            out.append(target.text("".join(literal)))
            literal.clear()

    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c == "\\" and i + 1 < n and s[i + 1] in _BACKSLASHED:
            literal.append(s[i + 1])
            i += 2
            continue
        if c == "`":
            run = _run_length(s, i, "`")
            end = _find_run(s, "`", run, i + run)
            if end > i + run:
                flush()
                content = s[i + run : end]
                if content.startswith(" ") and content.endswith(" ") and content.strip():
                    content = content[1:-1]
                out.append(target.code(content))
                i = end + run
            else:
                literal.append(s[i : i + run])
                i += run
            continue
        if c == "[":
            link = _LINK.match(s, i)
            if link and link.group(2).lower().startswith(_SAFE_SCHEMES):
                flush()
                inner = _inline(link.group(1), target, bold, depth + 1)
                out.append(target.link(inner, link.group(2)))
                i = link.end()
                continue
        if c in "*_~":
            span = _emphasis(s, i, target, bold, depth)
            if span is not None:
                flush()
                out.append(span[0])
                i = span[1]
                continue
            run = _run_length(s, i, c)  # a delimiter run without a partner stays literal
            literal.append(s[i : i + run])
            i += run
            continue
        literal.append(c)
        i += 1
    flush()
    return "".join(out)


def _run_length(s: str, i: int, c: str) -> int:
    j = i
    while j < len(s) and s[j] == c:
        j += 1
    return j - i


def _find_run(s: str, c: str, run: int, start: int) -> int:
    """The next run of exactly `run` copies of `c` at or after `start`, or -1."""
    j = s.find(c * run, start)
    while j != -1:
        length = _run_length(s, j, c)
        if length == run:
            return j
        j = s.find(c * run, j + length)
    return -1


def _emphasis(s: str, i: int, target: _Target, bold: bool, depth: int) -> tuple[str, int] | None:
    """(rendered span, index after it) for emphasis opening at i, or None if it does not close."""
    c = s[i]
    run = _run_length(s, i, c)
    if c == "~":
        if run != 2:
            return None
        tags = ("s",)
    elif run == 1:
        tags = ("i",)
    elif run == 2:
        tags = ("b",)
    elif run == 3:
        tags = ("b", "i")
    else:
        return None
    start = i + run
    if start >= len(s) or s[start].isspace():
        return None
    # snake_case_names and 2*3*4 are not emphasis
    if (c == "_" or run == 1) and i > 0 and s[i - 1].isalnum():
        return None
    end = _closing(s, c, run, start)
    if end < 0:
        return None
    inner = _inline(s[start:end], target, bold, depth + 1)
    for name in reversed(tags):
        if name != "b" or bold:
            inner = target.tag(name, inner)
    return inner, end + run


def _closing(s: str, c: str, run: int, start: int) -> int:
    j = _find_run(s, c, run, start)
    while j != -1:
        after = j + run
        closes = j > start and not s[j - 1].isspace()
        if c == "_" and after < len(s) and s[after].isalnum():
            closes = False
        if closes:
            return j
        j = _find_run(s, c, run, after)
    return -1
