"""Wrapper unwrapping: the commands a simple command runs on its behalf.

A wrapper runs the command that follows it, so the rules must see that command too: `expand`
peels off leading `VAR=x` assignments and keywords, path prefixes (`/bin/rm` is `rm`) and
wrappers such as `sudo`, `env`, `nohup`, `nice`, `timeout`, `xargs` and `command`, keeping
every intermediate form. Wrappers that hand a string to a shell (`sh -c`, `eval`, `watch`,
`su -c`, `env -S`, a here-document fed to a shell) yield it as a payload to be analysed in its
own right, and `find -exec` yields the command it runs. `reads_program_from_stdin` tells when a
shell or interpreter at the end of a pipe will run what flows into it.
"""

from __future__ import annotations

import re

from hermes_gateway.agent.danger.shell import Simple

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
