"""Telegram's text rules for the loopback Bot API peer: HTML / MarkdownV2 / Markdown parsing into
plain text + entities, UTF-16 lengths, and the entities Telegram adds to what users type.

Errors raise ``EntityParseError`` whose message follows Telegram's wording after the
"Bad Request: can't parse entities: " prefix. Offsets in entities are UTF-16 code units, as in
the real API; byte offsets in error messages are UTF-8, as in the real API."""

from __future__ import annotations

import re

HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "tg-emoji": "custom_emoji",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
MDV2_NAMES = {
    "*": "Bold",
    "_": "Italic",
    "__": "Underline",
    "~": "Strikethrough",
    "||": "Spoiler",
    "`": "Code",
    "```": "Pre",
    "[": "TextUrl",
}
MDV2_TYPES = {
    "*": "bold",
    "_": "italic",
    "__": "underline",
    "~": "strikethrough",
    "||": "spoiler",
    "`": "code",
    "```": "pre",
}

_TAG = re.compile(
    r"<(/?)([A-Za-z][A-Za-z0-9-]*)((?:\s+[^\s=>/]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>\"']+))?)*)\s*(/?)>"
)
_ATTR = re.compile(r"([^\s=>/]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>\"']+)))?")
_ENTITY = re.compile(r"&(?:#(\d{1,7})|#[xX]([0-9A-Fa-f]{1,6})|([A-Za-z]{1,8}));")
_SPECIAL = re.compile(r"[&<>]")
_COMMAND = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")
_MENTION = re.compile(r"(?<![\w@/])@[A-Za-z0-9_]{5,32}")


class EntityParseError(ValueError):
    """The text does not parse; str() is Telegram's reason."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


class _Builder:
    """Plain text with a running UTF-16 position, so entity offsets cost O(1) each."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0
        self.entities: list[dict] = []

    def add(self, text: str) -> None:
        if text:
            self.parts.append(text)
            self.pos += utf16_len(text)

    def entity(self, kind: str, start: int, **extra: object) -> None:
        if self.pos > start:
            self.entities.append(
                {"type": kind, "offset": start, "length": self.pos - start, **extra}
            )

    def result(self) -> tuple[str, list[dict]]:
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), self.entities


def _decode_entity(match: re.Match) -> str | None:
    dec, hexa, name = match.groups()
    if name is not None:
        return NAMED_ENTITIES.get(name)
    code = int(dec) if dec is not None else int(hexa, 16)
    return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else None


def _unescape_attr(value: str) -> str:
    return _ENTITY.sub(lambda m: _decode_entity(m) or m.group(0), value)


def parse_html(text: str) -> tuple[str, list[dict]]:
    out = _Builder()
    stack: list[tuple[str, int, dict[str, str]]] = []  # (tag, start, attributes)
    i, n = 0, len(text)
    while i < n:
        special = _SPECIAL.search(text, i)
        if special is None:
            out.add(text[i:])
            break
        out.add(text[i : special.start()])
        i = special.start()
        char = text[i]
        if char == "&":
            match = _ENTITY.match(text, i)
            decoded = _decode_entity(match) if match else None
            if decoded is None:
                raise EntityParseError(
                    f'unsupported or unescaped "&" at byte offset {_byte_offset(text, i)}; '
                    "escape it as &amp;"
                )
            out.add(decoded)
            i = match.end()
            continue
        if char == ">":
            raise EntityParseError(
                f'unescaped ">" at byte offset {_byte_offset(text, i)}; escape it as &gt;'
            )
        tag = _TAG.match(text, i)
        if tag is None:
            raise EntityParseError(
                f'unsupported start tag at byte offset {_byte_offset(text, i)}; escape "<" as &lt;'
            )
        closing, name, raw_attrs, _ = tag.groups()
        name = name.lower()
        if closing:
            if not stack:
                raise EntityParseError(
                    f'unexpected end tag "</{name}>" at byte offset {_byte_offset(text, i)}'
                )
            open_name, start, attrs = stack.pop()
            if open_name != name:
                raise EntityParseError(
                    f"unmatched end tag at byte offset {_byte_offset(text, i)}, "
                    f'expected "</{open_name}>", found "</{name}>"'
                )
            _close_html(out, open_name, start, attrs, inside_pre=any(s[0] == "pre" for s in stack))
        else:
            if name not in HTML_TAGS:
                raise EntityParseError(
                    f'unsupported start tag "{name}" at byte offset {_byte_offset(text, i)}'
                )
            attrs = {
                m.group(1).lower(): _unescape_attr(next((g for g in m.groups()[1:] if g), ""))
                for m in _ATTR.finditer(raw_attrs)
            }
            if name == "span" and attrs.get("class") != "tg-spoiler":
                raise EntityParseError('tag "span" must have class "tg-spoiler"')
            if name == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
                raise EntityParseError("custom emoji entity must contain a valid emoji-id")
            if name == "code" and stack and stack[-1][0] == "pre" and "class" in attrs:
                stack[-1][2]["language"] = attrs["class"].removeprefix("language-")
            stack.append((name, out.pos, attrs))
        i = tag.end()
    if stack:
        raise EntityParseError(f'can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return out.result()


def _close_html(out: _Builder, tag: str, start: int, attrs: dict, inside_pre: bool) -> None:
    kind = HTML_TAGS[tag]
    if kind == "text_link":
        if attrs.get("href"):
            out.entity(kind, start, url=attrs["href"])
    elif kind == "custom_emoji":
        out.entity(kind, start, custom_emoji_id=attrs["emoji-id"])
    elif kind == "pre":
        extra = {"language": attrs["language"]} if attrs.get("language") else {}
        out.entity(kind, start, **extra)
    elif kind == "blockquote":
        out.entity("expandable_blockquote" if "expandable" in attrs else kind, start)
    elif not (kind == "code" and inside_pre):  # <pre><code class=…> is one pre entity
        out.entity(kind, start)


def parse_markdown_v2(text: str) -> tuple[str, list[dict]]:
    out = _Builder()
    stack: list[tuple[str, int, int]] = []  # (marker, start, byte offset of the marker)
    quote_start: int | None = None
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        top = stack[-1][0] if stack else None
        if char == "\\" and i + 1 < n and 0 < ord(text[i + 1]) < 127:
            out.add(text[i + 1])
            i += 2
            continue
        if top in ("`", "```"):  # inside code only the closing marker is markup
            if text.startswith(top, i):
                marker, start, _ = stack.pop()
                out.entity(MDV2_TYPES[marker], start)
                i += len(marker)
            elif char == "`":
                raise _reserved(text, i)
            else:
                out.add(char)
                i += 1
            continue
        at_line_start = i == 0 or text[i - 1] == "\n"
        if char == ">" and at_line_start:
            if quote_start is None:
                quote_start = out.pos
            i += 1
            continue
        if char == "\n" and quote_start is not None and not text.startswith(">", i + 1):
            out.entity("blockquote", quote_start)
            quote_start = None
        marker = _marker_at(text, i)
        if marker is None:
            if char in MDV2_RESERVED:
                raise _reserved(text, i)
            out.add(char)
            i += 1
            continue
        if marker == "]":
            i = _close_link(text, i, out, stack)
            continue
        if top == marker and marker != "[":
            _, start, _ = stack.pop()
            out.entity(MDV2_TYPES[marker], start)
            i += len(marker)
            continue
        if marker == "```":
            newline = text.find("\n", i + 3)
            first_line = text[i + 3 : newline] if newline >= 0 else ""
            if first_line and not any(c in first_line for c in " `"):
                i = newline + 1
            else:
                i += 3
            stack.append((marker, out.pos, _byte_offset(text, i)))
            continue
        stack.append((marker, out.pos, _byte_offset(text, i)))
        i += len(marker)
    if stack:
        marker, _, offset = stack[-1]
        raise EntityParseError(
            f"can't find end of {MDV2_NAMES[marker]} entity at byte offset {offset}"
        )
    if quote_start is not None:
        out.entity("blockquote", quote_start)
    return out.result()


def _marker_at(text: str, i: int) -> str | None:
    for marker in ("```", "__", "||", "*", "_", "~", "`", "[", "]"):
        if text.startswith(marker, i):
            return marker
    return None


def _reserved(text: str, i: int) -> EntityParseError:
    return EntityParseError(
        f"character '{text[i]}' is reserved and must be escaped with the preceding '\\'"
    )


def _close_link(text: str, i: int, out: _Builder, stack: list) -> int:
    if not stack or stack[-1][0] != "[":
        raise _reserved(text, i)
    _, start, offset = stack.pop()
    if not text.startswith("(", i + 1):
        raise EntityParseError(f"can't find end of TextUrl entity at byte offset {offset}")
    url, j = [], i + 2
    while j < len(text) and text[j] != ")":
        if text[j] == "\\" and j + 1 < len(text):
            j += 1
        url.append(text[j])
        j += 1
    if j >= len(text):
        raise EntityParseError(f"can't find end of TextUrl entity at byte offset {offset}")
    out.entity("text_link", start, url="".join(url))
    return j + 1


def parse_markdown(text: str) -> tuple[str, list[dict]]:
    """Legacy Markdown: *bold* _italic_ `code` ```pre``` [text](url), no nesting."""
    out = _Builder()
    kinds = {"*": "bold", "_": "italic", "`": "code", "```": "pre"}
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            out.add(text[i + 1])
            i += 2
            continue
        marker = "```" if text.startswith("```", i) else char if char in kinds else None
        if marker is None and char == "[":
            close = text.find("](", i)
            end = text.find(")", close + 2) if close >= 0 else -1
            if end < 0:
                raise EntityParseError(
                    f"can't find end of the entity starting at byte offset {_byte_offset(text, i)}"
                )
            start = out.pos
            out.add(text[i + 1 : close])
            out.entity("text_link", start, url=text[close + 2 : end])
            i = end + 1
            continue
        if marker is None:
            out.add(char)
            i += 1
            continue
        end = text.find(marker, i + len(marker))
        if end < 0:
            raise EntityParseError(
                f"can't find end of the entity starting at byte offset {_byte_offset(text, i)}"
            )
        start = out.pos
        out.add(text[i + len(marker) : end])
        out.entity(kinds[marker], start)
        i = end + len(marker)
    return out.result()


def parse_text(text: str, parse_mode: str | None) -> tuple[str, list[dict]]:
    """The text Telegram stores for ``text`` sent with ``parse_mode``, and its entities."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        return parse_html(text)
    if mode == "markdownv2":
        return parse_markdown_v2(text)
    if mode == "markdown":
        return parse_markdown(text)
    if mode:
        raise EntityParseError(f'unsupported parse_mode "{parse_mode}"')
    return text, []


def auto_entities(text: str) -> list[dict]:
    """The bot_command and mention entities Telegram attaches to a user's plain text."""
    found: list[dict] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in (("bot_command", _COMMAND), ("mention", _MENTION)):
        for m in pattern.finditer(text):
            if any(a <= m.start() < b for a, b in taken):
                continue
            taken.append(m.span())
            offset = utf16_len(text[: m.start()])
            found.append({"type": kind, "offset": offset, "length": utf16_len(m.group(0))})
    return sorted(found, key=lambda e: e["offset"])
