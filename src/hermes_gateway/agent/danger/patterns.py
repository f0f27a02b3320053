"""The danger rules: HARDLINE (never runs) and APPROVAL (runs only when a person says so).

Rules look at what `normalize.analyse` found, never at raw text: most test one simple command
(already lowercased, unquoted and unwrapped), a few a whole pipeline (`curl … | sh`) or the
whole analysis (SQL, fork bombs). Each rule is an id (stable: it is what `/approve session`
remembers and what `command_allowlist` may name), a reason a person can read, and a test.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from hermes_gateway.agent.danger.normalize import (
    SHELLS,
    Analysis,
    Simple,
    options_end,
    reads_program_from_stdin,
)

# -- places -----------------------------------------------------------------------------------

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


# -- small readers of a simple command ----------------------------------------------------------


def option_words(args: Iterable[str]) -> list[str]:
    """The options (GNU tools accept them after operands too), up to `--`."""
    out = []
    for a in args:
        if a == "--":
            break
        if a.startswith("-") and len(a) > 1:
            out.append(a)
    return out


def operands(args: tuple[str, ...]) -> list[str]:
    out, ended = [], False
    for a in args:
        if ended or not a.startswith("-") or a == "-":
            out.append(a)
        elif a == "--":
            ended = True
    return out


def recursive(args: tuple[str, ...]) -> bool:
    return any(
        o == "--recursive" or (not o.startswith("--") and "r" in o) for o in option_words(args)
    )


def verb(cmd: Simple, short_args: str = "") -> str:
    """The first operand: systemctl's action, init's runlevel."""
    words = list(cmd.words)
    i = options_end(words, 1, short_args)
    return words[i] if i < len(words) else ""


_WRITE_REDIRECTS = (">", ">>", ">|", "&>", "&>>", "<>")
_WRITES_ALL = frozenset({"tee", "mv", "rm", "unlink", "shred", "truncate"})
_WRITES_LAST = frozenset({"cp", "install", "ln", "rsync", "scp"})


@lru_cache(maxsize=512)
def write_targets(cmd: Simple) -> tuple[str, ...]:
    """The paths a command writes, replaces or deletes (not those it only reads)."""
    out = [target for op, target in cmd.redirects if op in _WRITE_REDIRECTS]
    name, args = cmd.name, cmd.args
    ops = operands(args)
    if name in _WRITES_ALL:
        out += ops
    elif name in _WRITES_LAST:
        named = [a.split("=", 1)[1] for a in args if a.startswith("--target-directory=")]
        named += [args[i + 1] for i, a in enumerate(args[:-1]) if a == "-t"]
        if named:
            out += named
        elif len(ops) > 1:
            out.append(ops[-1])  # the destination; the sources are only read
    elif name == "dd":
        out += [a[3:] for a in args if a.startswith("of=")]
    elif name in ("sed", "perl") and any(
        o.startswith("--in-place") or (not o.startswith("--") and "i" in o)
        for o in option_words(args)
    ):
        out += ops
    elif name in ("curl", "wget"):
        out += [args[i + 1] for i, a in enumerate(args[:-1]) if a in ("-o", "--output")]
        out += [a.split("=", 1)[1] for a in args if a.startswith(("--output=", "--output-doc"))]
    return tuple(out)


def _writes(cmd: Simple, where: Places, test: Callable[[str], bool]) -> bool:
    return any(test(where.resolve(t)) for t in write_targets(cmd))


# -- HARDLINE tests -----------------------------------------------------------------------------

_DISK = re.compile(r"/dev/(?:sd[a-z]|hd[a-z]|vd[a-z]|xvd[a-z]|nvme\d|mmcblk\d|r?disk\d|dm-|md\d)")
_MKFS = re.compile(r"mkfs(?:\.\w+)?|mke2fs|newfs(?:_\w+)?")
_FUNCTION = re.compile(
    # Starts only at a word start, possessive name, short body: linear on any input.
    r"(?<![^\s;&|(){}])(?:function\s+)?([^\s(){}|;&<>'\"]++)\s*\(\s*\)\s*\{([^}]{0,200})\}"
    r"|function\s+([^\s(){}|;&<>'\"]++)\s*\{([^}]{0,200})\}",
    re.S,
)
_FORK_LOOP = re.compile(r"\bfork\s+while\s+fork\b|while\s*(?:true|1)\s*:\s*os\.fork\(\)")
_POWER_VERBS = frozenset({"poweroff", "reboot", "halt", "kexec", "soft-reboot"})


def _deletes_critical(cmd: Simple, where: Places) -> bool:
    return recursive(cmd.args) and any(where.is_critical(t) for t in operands(cmd.args))


def _deletes_critical_after_cd(analysis: Analysis, where: Places) -> bool:
    """`cd / && rm -rf *`: relative operands of rm, seen from the folder cd went to."""
    cwd: str | None = None
    for cmd in analysis.commands:
        if cmd.name in ("cd", "pushd"):
            target = where.resolve((operands(cmd.args) or ["~"])[0])
            cwd = target if target.startswith("/") else cwd and posixpath.join(cwd, target)
        elif cmd.name == "rm" and cwd and recursive(cmd.args):
            relative = [o for o in operands(cmd.args) if not o.startswith(("/", "~", "$"))]
            if any(where.is_critical(posixpath.join(cwd, o)) for o in relative):
                return True
    return False


def _overwrites_disk(cmd: Simple, where: Places) -> bool:
    if cmd.name in ("wipefs", "blkdiscard", "sgdisk"):
        return any(_DISK.match(t) for t in operands(cmd.args))
    return _writes(cmd, where, lambda path: bool(_DISK.match(path)))


def _fork_bomb(analysis: Analysis, where: Places) -> bool:
    for text in analysis.texts:
        if _FORK_LOOP.search(text):
            return True
        for m in _FUNCTION.finditer(text):
            name, body = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
            calls = re.findall(rf"(?<![\w-]){re.escape(name)}(?![\w-])", body)
            if len(calls) >= 2 and re.search(r"(?<![&|])[&|](?![&|])", body):
                return True
    return False


def _powers_off(cmd: Simple, where: Places) -> bool:
    if cmd.name in ("init", "telinit"):
        return verb(cmd) in ("0", "6")
    if cmd.name in ("systemctl", "loginctl"):
        return verb(cmd, "hmtpnos") in _POWER_VERBS
    return True  # shutdown, reboot, halt, poweroff


def _chmods_system(cmd: Simple, where: Places) -> bool:
    targets = operands(cmd.args)[1:]  # after the mode or owner
    return recursive(cmd.args) and any(
        where.resolve(t).startswith("/") and where.is_critical(t) for t in targets
    )


def _moves_critical(cmd: Simple, where: Places) -> bool:
    ops = operands(cmd.args)
    sources = (
        ops if "-t" in cmd.args or any(a.startswith("--target") for a in cmd.args) else ops[:-1]
    )
    return any(where.is_critical(s) for s in sources)


# -- APPROVAL tests -----------------------------------------------------------------------------

_SYMBOLIC_MODE = re.compile(r"([ugoa]*)([-+=])([rwxxst]*)")


def _world_writable(mode: str) -> bool:
    if re.fullmatch(r"[0-7]{3,4}", mode):
        return int(mode[-1]) & 2 == 2
    for clause in mode.split(","):
        m = _SYMBOLIC_MODE.fullmatch(clause)
        if m and m.group(2) in "+=" and "w" in m.group(3) and re.search("[oa]", m.group(1)):
            return True
    return False


def _chmod_world(cmd: Simple, where: Places) -> bool:
    ops = operands(cmd.args)
    return bool(ops) and _world_writable(ops[0])


_DOWNLOADERS = frozenset({"curl", "wget", "fetch", "http", "https", "xh"})
_DOWNLOAD_SUBST = re.compile(r"(?:<\(|\$\(|`)\s*(?:curl|wget|fetch)\b")


def _pipe_to_shell(pipeline: tuple[Simple, ...], where: Places) -> bool:
    for i, cmd in enumerate(pipeline):
        if cmd.name in _DOWNLOADERS:
            return any(reads_program_from_stdin(later) for later in pipeline[i + 1 :])
    return False


def _decode_to_shell(pipeline: tuple[Simple, ...], where: Places) -> bool:
    for i, cmd in enumerate(pipeline):
        decodes = (cmd.name == "base64" and {"-d", "--decode"} & set(cmd.args)) or (
            cmd.name == "xxd" and "-r" in cmd.args
        )
        if decodes:
            return any(reads_program_from_stdin(later) for later in pipeline[i + 1 :])
    return False


def _shell_of_download(cmd: Simple, where: Places) -> bool:
    return bool(_DOWNLOAD_SUBST.search(cmd.text))


# fmt: off
_SQL_RUNNERS = frozenset([
    "psql", "mysql", "mariadb", "sqlite3", "sqlite", "duckdb", "sqlcmd", "clickhouse",
    "clickhouse-client", "pgcli", "mycli", "litecli", "usql", "cockroach", "snowsql", "bq",
    "cqlsh", "node", "ruby", "perl", "php",
])
# fmt: on
_DROP = re.compile(r"\bdrop\s+(?:table|database|schema)\b")
_TRUNCATE = re.compile(r"\btruncate\s+(?:table\s+)?(?:only\s+)?[\w\"`\[]")
_DELETE = re.compile(r"\bdelete\s+from\b")
_STATEMENT = re.compile(r"[^;\"']*")


def _sql_runs(analysis: Analysis) -> bool:
    """SQL is only dangerous when something runs it: a database client or a script runner
    (`psql -c`, `docker exec db mysql`, `python -c`), or the statement typed as a command."""
    for cmd in analysis.commands:
        if cmd.name in ("drop", "truncate", "delete"):
            return True
        for w in cmd.words:
            base = w.rsplit("/", 1)[-1]
            if base in _SQL_RUNNERS or base.startswith("python"):
                return True
    return False


def _sql(pattern: re.Pattern[str]) -> Callable[[Analysis, Places], bool]:
    def test(analysis: Analysis, where: Places) -> bool:
        return any(pattern.search(t) for t in analysis.texts) and _sql_runs(analysis)

    return test


def _delete_all(analysis: Analysis, where: Places) -> bool:
    for text in analysis.texts:
        for m in _DELETE.finditer(text):
            statement = _STATEMENT.match(text, m.end()).group()
            if not re.search(r"\bwhere\b", statement) and _sql_runs(analysis):
                return True
    return False


@lru_cache(maxsize=16)
def _hermes_files_cached(home: str, hermes_home: str, names: tuple[str, ...]) -> frozenset[str]:
    roots = {hermes_home, f"{home}/.hermes"}
    return frozenset(f"{root}/{name}" for root in roots for name in names)


def _hermes_files(where: Places, *names: str) -> frozenset[str]:
    return _hermes_files_cached(where.home, where.hermes_home, names)


def _writes_etc(cmd: Simple, where: Places) -> bool:
    return _writes(cmd, where, lambda p: p == "/etc" or p.startswith(("/etc/", "/private/etc/")))


def _writes_ssh(cmd: Simple, where: Places) -> bool:
    return _writes(cmd, where, lambda p: where.in_home(p, ".ssh"))


def _writes_shell_rc(cmd: Simple, where: Places) -> bool:
    return _writes(cmd, where, lambda p: any(where.in_home(p, rc) for rc in RC_FILES))


def _writes_secrets(cmd: Simple, where: Places) -> bool:
    return _writes(cmd, where, lambda p: p in _hermes_files(where, ".env"))


def _writes_config(cmd: Simple, where: Places) -> bool:
    # config.yaml holds approvals.mode and command_allowlist: editing it could switch approvals off.
    return _writes(cmd, where, lambda p: p in _hermes_files(where, "config.yaml", "gateway.json"))


def _stops_service(cmd: Simple, where: Places) -> bool:
    if cmd.name == "systemctl":
        return verb(cmd, "hmtpnos") in ("stop", "disable", "mask", "kill")
    if cmd.name == "service":
        return len(cmd.args) >= 2 and cmd.args[1] == "stop"
    return verb(cmd) in ("unload", "bootout", "disable", "remove")  # launchctl


def _kills_everything(cmd: Simple, where: Places) -> bool:
    if cmd.name == "killall5":
        return True
    args, i = cmd.args, 0
    if args and args[0] in ("-s", "-n", "--signal"):
        i = 2
    elif args and args[0].startswith("-") and args[0] != "--":
        i = 1
    return "-1" in args[i:]


_KILL_SIGNALS = frozenset({"9", "kill", "sigkill"})


def _force_kills(cmd: Simple, where: Places) -> bool:
    args = cmd.args
    for i, a in enumerate(args):
        if a.lstrip("-") in _KILL_SIGNALS and a.startswith("-"):
            return True
        if a in ("-s", "--signal") and i + 1 < len(args) and args[i + 1] in _KILL_SIGNALS:
            return True
        if a.startswith("--signal=") and a.split("=", 1)[1] in _KILL_SIGNALS:
            return True
    return False


def _stops_gateway(cmd: Simple, where: Places) -> bool:
    ops = operands(cmd.args)
    return ops[:1] == ["gateway"] and ops[1:2] in (["stop"], ["uninstall"])


# -- the tables ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    id: str
    reason: str
    test: Callable[[Any, Places], bool]
    scope: str = "command"  # command: each simple command · pipeline · analysis: once
    names: frozenset[str] | None = None  # command rules: only for these command names


def _rule(id: str, reason: str, test, names: str | None = None, scope: str = "command") -> Rule:
    return Rule(id, reason, test, scope, frozenset(names.split()) if names else None)


class RuleSet:
    """Rules indexed by command name, so a command is only tested against rules about it."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = tuple(rules)
        self._by_name: dict[str, list[Rule]] = {}
        self._any = [r for r in self.rules if r.scope == "command" and r.names is None]
        for r in self.rules:
            for name in r.names or ():
                self._by_name.setdefault(name, []).append(r)

    def matches(self, analysis: Analysis, where: Places) -> list[Rule]:
        hit: set[str] = set()
        for cmd in analysis.commands:
            for r in (*self._by_name.get(cmd.name, ()), *self._any):
                if r.id not in hit and r.test(cmd, where):
                    hit.add(r.id)
        for r in self.rules:
            if r.id in hit:
                continue
            if (r.scope == "pipeline" and any(r.test(p, where) for p in analysis.pipelines)) or (
                r.scope == "analysis" and r.test(analysis, where)
            ):
                hit.add(r.id)
        seen: dict[str, Rule] = {}
        for r in self.rules:  # table order, one rule per id
            if r.id in hit:
                seen.setdefault(r.id, r)
        return list(seen.values())


HARDLINE = RuleSet(
    [
        _rule("delete-system", "recursive delete of / or a system or home folder",
              _deletes_critical, "rm"),
        _rule("delete-system", "recursive delete of / or a system or home folder",
              _deletes_critical_after_cd, scope="analysis"),
        _rule("format-disk", "formatting a disk", lambda c, w: bool(_MKFS.fullmatch(c.name))),
        _rule("overwrite-disk", "writing straight to a disk device", _overwrites_disk),
        _rule("fork-bomb", "a fork bomb", _fork_bomb, scope="analysis"),
        _rule("power-off", "shutting down or rebooting the machine", _powers_off,
              "shutdown reboot halt poweroff init telinit systemctl loginctl"),
        _rule("chmod-system", "changing permissions or owners of the whole system",
              _chmods_system, "chmod chown chgrp"),
        _rule("move-system", "moving / or a system or home folder away", _moves_critical, "mv"),
    ]
)  # fmt: skip

APPROVAL = RuleSet(
    [
        _rule("recursive-delete", "recursive delete", lambda c, w: recursive(c.args), "rm"),
        _rule("xargs-rm", "deleting files listed by another command (xargs rm)",
              lambda c, w: "xargs" in c.via, "rm"),
        _rule("find-delete", "deleting the files find matches",
              lambda c, w: "-delete" in c.args if c.name == "find" else "find" in c.via,
              "find rm"),
        _rule("world-writable", "making files writable by everyone", _chmod_world, "chmod"),
        _rule("recursive-chown", "recursive change of owner", lambda c, w: recursive(c.args),
              "chown chgrp"),
        _rule("disk-copy", "raw copy with dd",
              lambda c, w: any(a.startswith("if=") for a in c.args), "dd"),
        _rule("sql-drop", "dropping a database or table", _sql(_DROP), scope="analysis"),
        _rule("sql-truncate", "emptying a table (TRUNCATE)", _sql(_TRUNCATE), scope="analysis"),
        _rule("sql-delete-all", "deleting every row of a table (DELETE without WHERE)",
              _delete_all, scope="analysis"),
        _rule("write-etc", "changing system configuration in /etc", _writes_etc),
        _rule("write-ssh", "changing SSH keys or settings (~/.ssh)", _writes_ssh),
        _rule("write-shell-rc", "changing a shell startup file", _writes_shell_rc),
        _rule("write-hermes-secrets", "changing the Hermes secrets file (.env)", _writes_secrets),
        _rule("write-hermes-config", "changing the Hermes configuration", _writes_config),
        _rule("pipe-to-shell", "running a script straight from the internet", _pipe_to_shell,
              scope="pipeline"),
        _rule("pipe-to-shell", "running a script straight from the internet", _shell_of_download,
              " ".join(SHELLS) + " eval source . python python3 perl ruby node"),
        _rule("decode-to-shell", "running encoded (hidden) code", _decode_to_shell,
              scope="pipeline"),
        _rule("stop-service", "stopping or disabling a system service", _stops_service,
              "systemctl service launchctl"),
        _rule("kill-all", "killing every process", _kills_everything, "kill killall5"),
        _rule("force-kill", "force-killing processes by name (-9)", _force_kills, "pkill killall"),
        _rule("stop-gateway", "stopping the Hermes gateway", _stops_gateway, "hermes"),
        _rule("too-complex", "a command nested too deeply to check",
              lambda a, w: a.too_deep, scope="analysis"),
    ]
)  # fmt: skip
