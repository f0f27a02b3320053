"""Places: the paths the danger rules care about, and how a path argument is compared.

Rules ask "is this `/`, a system folder or a home folder?" and "is this inside ~/.ssh?" of
words that may be written `~/x`, `$HOME/x`, `/usr/../etc` or `/{etc,usr}`. `Places` holds the
user's home and HERMES_HOME (lowercased, like the commands they are compared with) and resolves
such words; `SYSTEM_DIRS` and `RC_FILES` are the fixed lists. `places()` is cached because
`assess` builds one for every command.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from functools import lru_cache

# fmt: off
SYSTEM_DIRS = frozenset([
    "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/proc", "/root",
    "/sbin", "/sys", "/usr", "/var", "/applications", "/library", "/private", "/system", "/users",
])
RC_FILES = frozenset([
    ".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".profile", ".zshrc", ".zprofile",
    ".zshenv", ".zlogin", ".config/fish/config.fish",
])
# fmt: on
_HOMES_PARENT = ("/home", "/users")


@dataclass(frozen=True)
class Places:
    """The user's home and HERMES_HOME, lowercased like the commands they are compared with."""

    home: str
    hermes_home: str

    def resolve(self, word: str) -> str:
        """A path argument as the rules compare it: `~`, `$HOME`, `$HERMES_HOME` expanded,
        `.`/`..`/`//` folded. Relative paths stay relative (the working dir is not known)."""
        for prefix, base in (
            ("~", self.home),
            ("$home", self.home),
            ("${home}", self.home),
            ("$hermes_home", self.hermes_home),
            ("${hermes_home}", self.hermes_home),
        ):
            if word == prefix or word.startswith(prefix + "/"):
                word = base + word[len(prefix) :]
                break
        if not word:
            return ""
        path = posixpath.normpath(word)
        return "/" + path.lstrip("/") if path.startswith("/") else path

    def is_critical(self, word: str) -> bool:
        """`/`, a system folder, or a home folder — or everything inside one (`/*`), or a
        pattern at the top level (`/e*`, `/{etc,usr}`) that may match one."""
        return any(self._critical(w) for w in brace_expand(word))

    def _critical(self, word: str) -> bool:
        path = self.resolve(word)
        for glob in ("/*", "/.*"):
            if path.endswith(glob):
                path = path[: -len(glob)] or "/"
        if path.startswith("/") and any(ch in path.split("/")[1] for ch in "*?["):
            return True
        parent = posixpath.dirname(path)
        return path in SYSTEM_DIRS or path == self.home or parent in _HOMES_PARENT

    def in_home(self, path: str, sub: str) -> bool:
        """`path` is `sub` (or inside it) under this or another user's home, or relative."""
        homes = {self.home, "/root"}
        if path.startswith(_HOMES_PARENT):
            homes.add("/".join(path.split("/")[:3]))
        return any(path == f"{h}/{sub}" or path.startswith(f"{h}/{sub}/") for h in homes) or (
            path == sub or path.startswith(sub + "/")
        )


_BRACES = re.compile(r"\{([^{}]*,[^{}]*)\}")


def brace_expand(word: str, limit: int = 64) -> list[str]:
    """`/{etc,usr}` -> ["/etc", "/usr"]; stops expanding after about `limit` results."""
    out, todo = [], [word]
    while todo and len(out) + len(todo) <= limit:
        current = todo.pop()
        m = _BRACES.search(current)
        if m is None:
            out.append(current)
            continue
        head, tail = current[: m.start()], current[m.end() :]
        todo += [head + part + tail for part in m.group(1).split(",")]
    return out + todo


@lru_cache(maxsize=16)
def places(home: str, hermes_home: str) -> Places:
    return Places(_fold(home), _fold(hermes_home))


def _fold(path: str) -> str:
    return posixpath.normpath(path.lower()) if path else "/nonexistent"
