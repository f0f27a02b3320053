"""The shell scanner: one line of shell text into pipelines of simple commands.

It splits on `;` `&&` `||` `&` `|` `|&`, newlines and parentheses, removes quotes (`'…'`, `"…"`,
`$'…'` with its escapes decoded), separates redirections from words, reads here-document and
here-string bodies, and collects the code of `$(…)`, backticks and `<(…)`/`>(…)` so the caller
can analyse it too. It is hand-written rather than `shlex.split` because it must keep operators
apart from quoted text and must never fail: unbalanced quotes simply run to the end of input.
It expects text already passed through `clean.clean`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from hermes_gateway.agent.danger.clean import fold

_ANSI_C_ESCAPE = re.compile(r"\\(x[0-9a-f]{1,2}|u[0-9a-f]{1,4}|[0-7]{1,3}|.)", re.S)
_ANSI_C_NAMED = {"n": "\n", "t": " ", "e": "", "a": "", "b": "", "f": "", "r": "\n", "v": ""}
_SAFE_WORD = re.compile(r"[\w@%+=:,./~*{}$^!?\[\]-]+")


@dataclass(frozen=True)
class Simple:
    """One simple command: its words (quotes removed) and its redirections."""

    words: tuple[str, ...]
    redirects: tuple[tuple[str, str], ...] = ()  # (operator, target), e.g. (">>", "~/.bashrc")
    body: str = ""  # here-document / here-string text fed to its stdin
    via: tuple[str, ...] = ()  # wrappers it was found inside, outermost first

    @property
    def name(self) -> str:
        return self.words[0] if self.words else ""

    @property
    def args(self) -> tuple[str, ...]:
        return self.words[1:]

    @cached_property
    def text(self) -> str:
        parts = [_quote(w) for w in self.words]
        parts += [f"{op} {_quote(target)}" for op, target in self.redirects]
        return " ".join(parts)


Pipeline = tuple[Simple, ...]


def _quote(word: str) -> str:
    if _SAFE_WORD.fullmatch(word):
        return word
    return "'" + word.replace("'", "'\"'\"'") + "'"


def parse(text: str) -> tuple[list[list[Simple]], list[str]]:
    """Pipelines of simple commands, and the bodies of `$(…)`, backticks and `<(…)`/`>(…)`."""
    scanner = _Scanner(text)
    scanner.run()
    return scanner.pipelines(), scanner.substitutions


class _Command:
    def __init__(self) -> None:
        self.words: list[str] = []
        self.redirects: list[tuple[str, str]] = []
        self.bodies: list[str] = []

    def freeze(self) -> Simple:
        return Simple(tuple(self.words), tuple(self.redirects), "\n".join(self.bodies))


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.word: list[str] | None = None  # None: between words
        self.redirect: str | None = None  # operator waiting for its target word
        self.command = _Command()
        self.pipeline: list[_Command] = [self.command]
        self.all: list[list[_Command]] = [self.pipeline]
        self.heredocs: list[tuple[str, _Command]] = []  # (delimiter, command) awaiting bodies
        self.substitutions: list[str] = []

    def pipelines(self) -> list[list[Simple]]:
        out = []
        for pipeline in self.all:
            simples = [c.freeze() for c in pipeline if c.words or c.redirects]
            if simples:
                out.append(simples)
        return out

    def run(self) -> None:
        text, n = self.text, len(self.text)
        while self.i < n:
            c = text[self.i]
            nxt = text[self.i + 1] if self.i + 1 < n else ""
            if c == "\\":
                if nxt and nxt != "\n":
                    self._add(nxt)
                self.i += 2
            elif c == "'":
                end = text.find("'", self.i + 1)
                end = n if end < 0 else end
                self._add(text[self.i + 1 : end])
                self.i = end + 1
            elif c == '"':
                self._double_quoted()
            elif c == "$" and nxt == "'":
                self._ansi_c_quoted()
            elif c == "`" or (c == "$" and nxt == "(") or (c in "<>" and nxt == "("):
                self._substitution()
            elif c in " \t":
                self._end_word()
                self.i += 1
            elif c == "#" and self.word is None:
                end = text.find("\n", self.i)
                self.i = n if end < 0 else end
            elif c in "\n;()":
                self._end_pipeline()
                if c == "\n":
                    self._read_heredocs()
                self.i += 1
            elif c == "&" and nxt == ">":
                self._end_word()
                self._operator("&>>" if text.startswith("&>>", self.i) else "&>")
            elif c == "|" and nxt != "|":  # a pipe; `|&` pipes stderr too
                self._end_word()
                self._new_command()
                self.i += 2 if nxt == "&" else 1
            elif c in "&|":  # `&&`, `||`, or `&` sending the command to the background
                self._end_pipeline()
                self.i += 2 if nxt == c else 1
            elif c in "<>":
                self._redirect()
            else:
                self._add(c)
                self.i += 1
        self._end_word()

    # words -------------------------------------------------------------------------------
    def _add(self, s: str) -> None:
        if self.word is None:
            self.word = []
        self.word.append(s)

    def _end_word(self) -> None:
        if self.word is None:
            return
        word, self.word = "".join(self.word), None
        op, self.redirect = self.redirect, None
        if op is None:
            self.command.words.append(word)
        elif op in ("<<", "<<-"):
            self.heredocs.append((word, self.command))
        elif op == "<<<":
            self.command.bodies.append(word)
        else:
            self.command.redirects.append((op, word))

    def _double_quoted(self) -> None:
        text, n = self.text, len(self.text)
        self._add("")  # "" is still a word
        self.i += 1
        while self.i < n and text[self.i] != '"':
            c = text[self.i]
            nxt = text[self.i + 1] if self.i + 1 < n else ""
            if c == "\\" and nxt and nxt in '$`"\\\n':
                if nxt != "\n":
                    self._add(nxt)
                self.i += 2
            elif c == "`" or (c == "$" and nxt == "("):
                self._substitution()
            else:
                self._add(c)
                self.i += 1
        self.i += 1

    def _ansi_c_quoted(self) -> None:
        """$'…' strings: `$'\\x72m' -rf /` is rm -rf /."""
        text, i = self.text, self.i + 2
        while i < len(text) and text[i] != "'":
            i += 2 if text[i] == "\\" else 1
        decoded = _ANSI_C_ESCAPE.sub(_ansi_c_char, text[self.i + 2 : i])
        self._add(fold(decoded))
        self.i = i + 1

    def _substitution(self) -> None:
        text, start = self.text, self.i
        if text[start] == "`":
            end = text.find("`", start + 1)
            end = len(text) if end < 0 else end
            self.substitutions.append(text[start + 1 : end])
        else:
            end = _closing_paren(text, start + 2)
            self.substitutions.append(text[start + 2 : end])
        self._add(text[start : end + 1])
        self.i = end + 1

    # operators ---------------------------------------------------------------------------
    def _redirect(self) -> None:
        # Digits right before the operator are a file descriptor, not a word (2>/dev/null).
        if self.word is not None and "".join(self.word).isdigit():
            self.word = None
        self._end_word()
        for op in ("<<<", "<<-", "<<", "<>", "<&", ">>", ">&", ">|", "<", ">"):
            if self.text.startswith(op, self.i):
                self._operator(op)
                return

    def _operator(self, op: str) -> None:
        self.i += len(op)
        self.redirect = op

    def _new_command(self) -> None:
        self.command = _Command()
        self.pipeline.append(self.command)

    def _end_pipeline(self) -> None:
        self._end_word()
        self.redirect = None
        self.command = _Command()
        self.pipeline = [self.command]
        self.all.append(self.pipeline)

    def _read_heredocs(self) -> None:
        """After a newline: the bodies of the here-documents opened on the line just ended."""
        text = self.text
        for delimiter, command in self.heredocs:
            lines = []
            while self.i < len(text):
                end = text.find("\n", self.i + 1)
                end = len(text) if end < 0 else end
                line = text[self.i + 1 : end]
                self.i = end
                if line.strip() == delimiter:
                    break
                lines.append(line)
            command.bodies.append("\n".join(lines))
        self.heredocs = []


def _ansi_c_char(m: re.Match[str]) -> str:
    code = m.group(1)
    if code[0] in "xu" and len(code) > 1:
        return chr(int(code[1:], 16))
    if code[0] in "01234567":
        return chr(int(code, 8) & 0xFF)
    return _ANSI_C_NAMED.get(code, code)


def _closing_paren(text: str, i: int) -> int:
    """Index of the `)` closing a `(` opened just before i (len(text) when unbalanced)."""
    depth, n = 1, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 1
        elif c in "'\"":
            end = text.find(c, i + 1)
            i = n if end < 0 else end
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return n
