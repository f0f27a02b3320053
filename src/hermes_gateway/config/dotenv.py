"""Reading and editing `.env` files without disturbing the lines we do not own.

Syntax (a subset of what shells and python-dotenv accept):
    KEY=value                 # unquoted; a ` #` starts a comment, whitespace is trimmed
    export KEY=value          # `export ` is accepted and kept when the key is rewritten
    KEY='literal $value'      # single quotes: no escapes
    KEY="line\\nnext \\"q\\""   # double quotes: \\n \\t \\r \\" \\\\ escapes; may span lines
Variables are not expanded (`${HOME}` stays as written). A later duplicate key wins.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .atomic import locked, only_deletions, read_text, real_path, write_atomic
from .errors import ConfigError

_ASSIGN = re.compile(r"\s*(?P<export>export\s+)?(?P<key>[A-Za-z_][A-Za-z0-9_.]*)\s*=")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INLINE_COMMENT = re.compile(r"\s#")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
# Values made only of these characters are written without quotes.
_BARE_VALUE = re.compile(r"[A-Za-z0-9_./:@+,=%^~-]*")


@dataclass(frozen=True)
class _Entry:
    key: str
    value: str
    first: int  # index of the entry's first line
    stop: int  # index after its last line (a quoted value may span lines)
    export: bool


def parse_dotenv(text: str, source: str = "<.env>") -> dict[str, str]:
    """KEY -> value for every assignment in `text`; ConfigError (with line) on a bad line."""
    return {entry.key: entry.value for entry in _scan(text, source)}


def read_dotenv(path: Path) -> dict[str, str] | None:
    """The parsed file, or None when it does not exist."""
    text = read_text(path)
    return None if text is None else parse_dotenv(text, str(path))


def update_dotenv(path: Path, changes: Mapping[str, str | None]) -> None:
    """Set (str) or remove (None) keys; every other line stays byte-for-byte.

    A rewritten key keeps its position (later duplicates are dropped so the file has
    one answer), new keys go at the end, and the file ends up with mode 0600.
    """
    for key, value in changes.items():
        if not _NAME.fullmatch(key):
            raise ValueError(f"not a valid environment variable name: {key!r}")
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{key}: value must be a str or None, not {type(value).__name__}")
    path = real_path(path)
    with locked(path):
        _update(path, changes)


def _update(path: Path, changes: Mapping[str, str | None]) -> None:
    text = read_text(path)
    if text is None and only_deletions(changes):
        return
    text = text or ""
    entries = _scan(text, str(path))  # an invalid file raises here, before any write
    lines = text.split("\n")
    newline_end = "\r" if any(line.endswith("\r") for line in lines) else ""  # CRLF files stay CRLF
    plan: dict[int, tuple[int, str | None]] = {}
    appended: list[str] = []
    for key, value in changes.items():
        found = [entry for entry in entries if entry.key == key]
        for index, entry in enumerate(found):
            replacement = None
            if value is not None and index == 0:
                replacement = _format(key, value, entry.export) + _line_end(lines[entry.stop - 1])
            plan[entry.first] = (entry.stop, replacement)
        if value is not None and not found:
            appended.append(_format(key, value, False) + newline_end)
    write_atomic(path, _rebuild(lines, plan, appended), 0o600)


def _line_end(line: str) -> str:
    return "\r" if line.endswith("\r") else ""


def _rebuild(lines: list[str], plan: dict[int, tuple[int, str | None]], appended: list[str]) -> str:
    out: list[str] = []
    index = 0
    while index < len(lines):
        if index in plan:
            stop, replacement = plan[index]
            if replacement is not None:
                out.append(replacement)
            index = stop
        else:
            out.append(lines[index])
            index += 1
    text = "\n".join(out)
    if appended:
        if text.strip() and not text.endswith("\n"):
            text += "\n"
        text += "\n".join(appended) + "\n"
    return text


def _format(key: str, value: str, export: bool) -> str:
    """One KEY=value line that parse_dotenv (and python-dotenv) read back as `value`."""
    prefix = "export " if export else ""
    if _BARE_VALUE.fullmatch(value):
        return f"{prefix}{key}={value}"
    if not any(ch in value for ch in "'\\\n\r"):
        return f"{prefix}{key}='{value}'"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\n", "\\n").replace("\r", "\\r")
    return f'{prefix}{key}="{escaped}"'


def _scan(text: str, source: str) -> list[_Entry]:
    lines = text.split("\n")
    entries: list[_Entry] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        body = line.strip()
        if not body or body.startswith("#"):
            index += 1
            continue
        match = _ASSIGN.match(line)
        if not match:
            # The line itself is not shown: it may hold a secret.
            raise ConfigError(source, "", "KEY=VALUE", problem="not an assignment", line=index + 1)
        last, value = _value(lines, index, line[match.end() :], source)
        entries.append(_Entry(match["key"], value, index, last + 1, bool(match["export"])))
        index = last + 1
    return entries


def _value(lines: list[str], index: int, rest: str, source: str) -> tuple[int, str]:
    """(index of the value's last line, the value) for the text after `KEY=`."""
    stripped = rest.lstrip()
    quote = stripped[:1]
    if quote not in ("'", '"'):
        return index, _INLINE_COMMENT.split(rest, 1)[0].strip()
    chunk = stripped[1:]
    close = _closing(chunk, quote)
    if close < 0:  # a quoted value may continue on the following lines
        chunk = "\n".join([chunk, *lines[index + 1 :]])
        close = _closing(chunk, quote)
    if close < 0:
        problem = "unterminated quoted value"
        raise ConfigError(source, "", f"a closing {quote}", problem=problem, line=index + 1)
    last = index + chunk.count("\n", 0, close)
    after = chunk[close + 1 :].split("\n", 1)[0].strip()
    if after and not after.startswith("#"):
        problem = "text after the closing quote"
        raise ConfigError(source, "", "a comment or nothing", problem=problem, line=last + 1)
    inner = chunk[:close]
    if quote == '"':
        inner = re.sub(r"\\(.)", lambda m: _ESCAPES.get(m[1], m[0]), inner, flags=re.DOTALL)
    return last, inner


def _closing(chunk: str, quote: str) -> int:
    """Index of the closing quote; inside double quotes a backslash escapes the next char."""
    if quote == "'":
        return chunk.find("'")
    skip = False
    for position, char in enumerate(chunk):
        if skip:
            skip = False
        elif char == "\\":
            skip = True
        elif char == '"':
            return position
    return -1
