"""Turn a shell command into what the danger rules look at.

The rules never see raw text: escape sequences, control characters and Unicode look-alikes are
folded away, the text is lowercased, split into simple commands (on `;` `&&` `||` `|` `&`,
newlines and parentheses), and wrappers (`sudo`, `env`, `nohup`, `xargs`, …) are peeled off.
Code that the shell would run as well — `sh -c '…'` payloads, `$(…)`, backticks, `<(…)`,
`eval`, here-documents fed to a shell — is analysed the same way, recursively.

The parser is a small hand-written scanner rather than `shlex.split`, because it must
separate operators from quoted text and must never fail: unbalanced quotes simply run to the
end of the input.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property

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
_ANSI_C_ESCAPE = re.compile(r"\\(x[0-9a-f]{1,2}|u[0-9a-f]{1,4}|[0-7]{1,3}|.)", re.S)
_ANSI_C_NAMED = {"n": "\n", "t": " ", "e": "", "a": "", "b": "", "f": "", "r": "\n", "v": ""}
_SAFE_WORD = re.compile(r"[\w@%+=:,./~*{}$^!?\[\]-]+")
MAX_DEPTH = 6  # nesting of payloads inside payloads; deeper input is treated as suspicious


def clean(command: str) -> str:
    """The command as one canonical text: no escapes or controls, NFKC, lowercase, one space."""
    text = _ANSI.sub("", command).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = unicodedata.normalize("NFKC", text).translate(_CONFUSABLES).lower()
    text = _IFS.sub(" ", text)  # rm${IFS}-rf${IFS}/ is rm -rf /
    lines = (_BLANKS.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


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


@dataclass
class Analysis:
    """Everything found in one command, ready for the rules."""

    texts: list[str] = field(default_factory=list)  # the whole text, then each payload
    commands: list[Simple] = field(default_factory=list)  # every form, wrappers and unwrapped
    pipelines: list[Pipeline] = field(default_factory=list)  # innermost form of each member
    too_deep: bool = False

    def candidates(self) -> list[str]:
        seen: dict[str, None] = dict.fromkeys(self.texts)
        for pipeline in self.pipelines:
            if len(pipeline) > 1:
                seen.setdefault(" | ".join(s.text for s in pipeline))
        for command in self.commands:
            seen.setdefault(command.text)
        return [t for t in seen if t]


def normalize(command: str) -> list[str]:
    """The texts to match: the whole command first, then each pipeline and simple command
    (wrapped and unwrapped), then the same for every payload the shell would also run."""
    return analyse(command).candidates()


def analyse(command: str) -> Analysis:
    analysis = Analysis()
    _analyse_into(analysis, clean(command), 0, ())
    return analysis


def _analyse_into(analysis: Analysis, text: str, depth: int, via: tuple[str, ...]) -> None:
    if depth > MAX_DEPTH:
        analysis.too_deep = True
        return
    analysis.texts.append(text)
    pipelines, substitutions = parse(text)
    for pipeline in pipelines:
        finals = [_take(analysis, s if not via else _with_via(s, via), depth) for s in pipeline]
        finals = [f for f in finals if f.words]
        analysis.pipelines.append(tuple(finals))
        # `echo 'rm -rf /' | sh`: what echo prints is the program the shell runs.
        if any(reads_program_from_stdin(f) for f in finals[1:]):
            for f in finals:
                if f.name in ("echo", "printf"):
                    _analyse_into(analysis, " ".join(f.args), depth + 1, via)
    for sub in substitutions:
        _analyse_into(analysis, sub, depth + 1, via)


def _take(analysis: Analysis, simple: Simple, depth: int) -> Simple:
    """Add a simple command and all its unwrapped forms; returns the innermost form."""
    forms, payloads, extras = expand(simple)
    analysis.commands.extend(f for f in forms if f.words or f.redirects)
    for payload, via in payloads:
        _analyse_into(analysis, payload, depth + 1, via)
    for extra in extras:
        if depth + 1 > MAX_DEPTH:
            analysis.too_deep = True
        else:
            _take(analysis, extra, depth + 1)
    return forms[-1]


def _with_via(simple: Simple, via: tuple[str, ...]) -> Simple:
    return Simple(simple.words, simple.redirects, simple.body, via + simple.via)


def _quote(word: str) -> str:
    if _SAFE_WORD.fullmatch(word):
        return word
    return "'" + word.replace("'", "'\"'\"'") + "'"


# -- the scanner ------------------------------------------------------------------------------


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
        self._add(unicodedata.normalize("NFKC", decoded).translate(_CONFUSABLES).lower())
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


# -- unwrapping -------------------------------------------------------------------------------
# A wrapper runs the command that follows it, so the rules must see that command too.

_ASSIGNMENT = re.compile(r"[a-z_][a-z0-9_]*(?:\[[^\]]*\])?\+?=")
_KEYWORDS = frozenset({"!", "{", "}", "then", "do", "else", "elif", "if", "while", "until"})
SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "fish"})
Payloads = list[tuple[str, tuple[str, ...]]]  # (shell code, wrappers it sits in)


def expand(simple: Simple) -> tuple[list[Simple], Payloads, list[Simple]]:
    """The command's forms (as written, then each wrapper peeled off), the shell code it
    runs (`-c` strings, eval, here-documents fed to a shell), and commands `find -exec` runs."""
    forms, payloads, extras = [simple], [], []
    words, via = list(simple.words), simple.via
    for _ in range(16):
        stripped = _strip(words)
        if stripped != words:
            words = stripped
            forms.append(Simple(tuple(words), simple.redirects, simple.body, via))
        if not words:
            break
        head, inner = words[0], via + (words[0],)
        if head in SHELLS:
            _shell(words, simple.body, payloads, inner)
            break
        if head == "find":
            extras += _find_exec(words, inner)
            break
        handler = _WRAPPERS.get(head)
        rest = handler(words, payloads, inner) if handler else None
        if not rest:
            break
        words, via = rest, inner
        forms.append(Simple(tuple(words), simple.redirects, simple.body, via))
    return forms, payloads, extras


def _strip(words: list[str]) -> list[str]:
    """Without leading `VAR=x` assignments and keywords; the command name without its path."""
    i = 0
    while i < len(words) and (words[i] in _KEYWORDS or _ASSIGNMENT.match(words[i])):
        i += 1
    rest = words[i:]
    if rest and "/" in rest[0].rstrip("/"):
        rest = [rest[0].rstrip("/").rsplit("/", 1)[1], *rest[1:]]
    return rest


def options_end(words: list[str], i: int, short_args: str = "", long_args=frozenset()) -> int:
    """Index of the first operand at or after i, skipping options and their arguments."""
    while i < len(words):
        w = words[i]
        if w == "--":
            return i + 1
        if not w.startswith("-") or len(w) < 2:
            return i
        i += 1
        if w.startswith("--"):
            i += "=" not in w and w in long_args
            continue
        for k, ch in enumerate(w[1:], start=1):
            if ch in short_args:  # it takes the rest of the word, or the next word
                i += k == len(w) - 1
                break
    return i


def _simple_wrapper(short_args: str = "", long_args=frozenset(), skip: int = 0):
    def unwrap(words: list[str], payloads: Payloads, via: tuple[str, ...]) -> list[str]:
        return words[options_end(words, 1, short_args, long_args) + skip :]

    return unwrap


def _env(words: list[str], payloads: Payloads, via: tuple[str, ...]) -> list[str]:
    i = 1
    while i < len(words):
        w = words[i]
        if w.startswith("--split-string") or (w.startswith("-s") and not w.startswith("--")):
            inline = w.split("=", 1)[1] if w.startswith("--split-string=") else w[2:]
            inline = "" if w.startswith("--split-string") and "=" not in w else inline
            payloads.append((" ".join([inline, *words[i + 1 :]]).strip(), via))
            return []
        if w.startswith("-") and len(w) > 1:
            i += 1 + (w in ("-u", "-c", "--unset", "--chdir"))
        elif _ASSIGNMENT.match(w):
            i += 1
        else:
            break
    return words[i:]


def _command(words: list[str], payloads: Payloads, via: tuple[str, ...]) -> list[str]:
    i = 1
    while i < len(words) and words[i].startswith("-") and words[i] != "--":
        if "v" in words[i]:  # `command -v x` only looks x up
            return []
        i += 1
    return words[i + (i < len(words) and words[i] == "--") :]


def _xargs(words: list[str], payloads: Payloads, via: tuple[str, ...]) -> list[str]:
    long_args = {"--arg-file", "--delimiter", "--max-args", "--max-procs", "--max-chars"}
    i = 1
    while i < len(words):
        w = words[i]
        if w == "--":
            i += 1
            break
        if not w.startswith("-") or len(w) < 2:
            break
        i += 1
        if w.startswith("--"):
            i += "=" not in w and w in long_args
        elif len(w) == 2 and w[1] in "adns":
            i += 1
        # -e/-i/-l/-p (lowercased -E/-I/-L/-P) may take a value: `-I {}`, `-P 4`.
        elif len(w) == 2 and w[1] in "eilp" and i < len(words) and not words[i][:1].isalpha():
            i += not words[i].startswith((".", "/"))
    return words[i:] or ["echo"]


def _run_joined(short_args: str = "", long_args=frozenset()):
    """Wrappers that hand their arguments to a shell as one string (eval, watch)."""

    def unwrap(words: list[str], payloads: Payloads, via: tuple[str, ...]) -> list[str]:
        i = options_end(words, 1, short_args, long_args) if short_args else 1
        if i < len(words):
            payloads.append((" ".join(words[i:]), via))
        return []

    return unwrap


def _su(words: list[str], payloads: Payloads, via: tuple[str, ...]) -> list[str]:
    for i, w in enumerate(words[1:], start=1):
        if w.startswith("--command="):
            payloads.append((w.split("=", 1)[1], via))
        elif (
            w == "--command" or (w[:1] == "-" and w[1:2] != "-" and w.endswith("c"))
        ) and i + 1 < len(words):
            payloads.append((words[i + 1], via))
    return []


def _shell(words: list[str], body: str, payloads: Payloads, via: tuple[str, ...]) -> None:
    has_c = reads_stdin = False
    i = 1
    while i < len(words):
        w = words[i]
        if w == "--":
            i += 1
            break
        if len(w) < 2 or w[0] not in "-+":
            break
        if not w.startswith("--"):
            has_c = has_c or "c" in w[1:]
            reads_stdin = reads_stdin or "s" in w[1:]
        i += 1 + (w in ("-o", "+o", "--rcfile", "--init-file"))
    if has_c and i < len(words):
        payloads.append((words[i], via))
    elif body and (reads_stdin or i >= len(words)):
        payloads.append((body, via))


_INTERPRETERS = re.compile(r"python[\d.]*|perl|ruby|node|php|bun|deno")


def reads_program_from_stdin(cmd: Simple) -> bool:
    """Whether the command is a shell or interpreter reading its program from stdin."""
    shell = cmd.name in SHELLS
    if not shell and not _INTERPRETERS.fullmatch(cmd.name):
        return False
    inline = "c" if shell else "cmer"  # -c/-m (python), -e (perl, ruby, node), -r (php)
    for a in cmd.args:
        if a in ("-", "-s") or (shell and a[:1] == "-" and a[1:2] != "-" and "s" in a):
            return True
        if a.startswith("-") and len(a) > 1 and not a.startswith("--"):
            if any(ch in inline for ch in a[1:]):
                return False
        elif not a.startswith("-"):
            return False  # a script file: stdin is only its data
    return True


def _find_exec(words: list[str], via: tuple[str, ...]) -> list[Simple]:
    extras, i = [], 0
    while i < len(words):
        if words[i] in ("-exec", "-execdir", "-ok", "-okdir"):
            end = i + 1
            while end < len(words) and words[end] not in (";", "+"):
                end += 1
            if end > i + 1:
                extras.append(Simple(tuple(words[i + 1 : end]), via=via))
            i = end
        i += 1
    return extras


_PLAIN = _simple_wrapper()
_WRAPPERS = {
    "sudo": _simple_wrapper(
        "ugpcrthd",
        {"--user", "--group", "--prompt", "--role", "--type", "--host", "--chdir", "--chroot"},
    ),
    "doas": _simple_wrapper("uc"),
    "run0": _simple_wrapper("u", {"--user"}),
    "env": _env,
    "nohup": _PLAIN,
    "builtin": _PLAIN,
    "noglob": _PLAIN,
    "nocorrect": _PLAIN,
    "setsid": _PLAIN,
    "busybox": _PLAIN,
    "unbuffer": _PLAIN,
    "exec": _simple_wrapper("a"),
    "command": _command,
    "time": _simple_wrapper("fo", {"--format", "--output"}),
    "nice": _simple_wrapper("n", {"--adjustment"}),
    "ionice": _simple_wrapper("cnp", {"--class", "--classdata", "--pid"}),
    "stdbuf": _simple_wrapper("ioe", {"--input", "--output", "--error"}),
    "timeout": _simple_wrapper("sk", {"--signal", "--kill-after"}, skip=1),
    "xargs": _xargs,
    "eval": _run_joined(),
    "watch": _run_joined("nq", {"--interval"}),
    "su": _su,
}
