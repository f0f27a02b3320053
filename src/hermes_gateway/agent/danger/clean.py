"""Text cleaning: the command as one canonical text before anything parses it.

Obfuscation must not hide a dangerous command, so terminal escape sequences, control and
zero-width characters and bidi overrides are stripped, Unicode is folded (NFKC, then dash,
quote and slash look-alikes to their ASCII forms), everything is lowercased, `${IFS}` becomes a
space and runs of blanks collapse to one. `fold` is the Unicode step alone, which the shell
scanner reuses for the text it decodes from `$'…'` strings.
"""

from __future__ import annotations

import re
import unicodedata

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?")
# C0/C1 controls (keeping \n and \t), zero-width characters and bidi overrides.
_CONTROL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]"
)
_CONFUSABLES = str.maketrans(
    {
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2043\u2212\ufe58", "-"),
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033", '"'),
        **dict.fromkeys("\u2044\u2215", "/"),
    }
)
_BLANKS = re.compile(r"[^\S\n]+")
_IFS = re.compile(r"\$\{?ifs\}?")


def fold(text: str) -> str:
    """NFKC, ASCII for dash/quote/slash look-alikes, lowercase: `ｒｍ －ｒｆ` is `rm -rf`."""
    return unicodedata.normalize("NFKC", text).translate(_CONFUSABLES).lower()


def clean(command: str) -> str:
    """The command as one canonical text: no escapes or controls, NFKC, lowercase, one space."""
    text = _ANSI.sub("", command).replace("\r\n", "\n").replace("\r", "\n")
    text = fold(_CONTROL.sub("", text))
    text = _IFS.sub(" ", text)  # rm${IFS}-rf${IFS}/ is rm -rf /
    lines = (_BLANKS.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)
