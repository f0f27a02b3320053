"""The APPROVAL table: commands that run only when a person says yes.

Risky but sometimes wanted: recursive deletes and chowns, world-writable chmods, raw `dd`
copies, destructive SQL that something actually runs, writes to /etc, ~/.ssh, shell startup
files or Hermes's own secrets and configuration (which could switch approvals off), scripts
piped from the internet or decoded from base64 into a shell, stopping services or the gateway,
killing every process, and commands nested too deeply to check. Each rule id is what
`/approve session` and `command_allowlist` name.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from hermes_gateway.agent.danger.normalize import Analysis
from hermes_gateway.agent.danger.places import RC_FILES, Places
from hermes_gateway.agent.danger.rules import RuleSet, operands, recursive, rule, verb, writes
from hermes_gateway.agent.danger.shell import Simple
from hermes_gateway.agent.danger.unwrap import SHELLS, reads_program_from_stdin

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
    return writes(cmd, where, lambda p: p == "/etc" or p.startswith(("/etc/", "/private/etc/")))


def _writes_ssh(cmd: Simple, where: Places) -> bool:
    return writes(cmd, where, lambda p: where.in_home(p, ".ssh"))


def _writes_shell_rc(cmd: Simple, where: Places) -> bool:
    return writes(cmd, where, lambda p: any(where.in_home(p, rc) for rc in RC_FILES))


def _writes_secrets(cmd: Simple, where: Places) -> bool:
    return writes(cmd, where, lambda p: p in _hermes_files(where, ".env"))


def _writes_config(cmd: Simple, where: Places) -> bool:
    # config.yaml holds approvals.mode and command_allowlist: editing it could switch approvals off.
    return writes(cmd, where, lambda p: p in _hermes_files(where, "config.yaml", "gateway.json"))


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


APPROVAL = RuleSet(
    [
        rule("recursive-delete", "recursive delete", lambda c, w: recursive(c.args), "rm"),
        rule("xargs-rm", "deleting files listed by another command (xargs rm)",
             lambda c, w: "xargs" in c.via, "rm"),
        rule("find-delete", "deleting the files find matches",
             lambda c, w: "-delete" in c.args if c.name == "find" else "find" in c.via,
             "find rm"),
        rule("world-writable", "making files writable by everyone", _chmod_world, "chmod"),
        rule("recursive-chown", "recursive change of owner", lambda c, w: recursive(c.args),
             "chown chgrp"),
        rule("disk-copy", "raw copy with dd",
             lambda c, w: any(a.startswith("if=") for a in c.args), "dd"),
        rule("sql-drop", "dropping a database or table", _sql(_DROP), scope="analysis"),
        rule("sql-truncate", "emptying a table (TRUNCATE)", _sql(_TRUNCATE), scope="analysis"),
        rule("sql-delete-all", "deleting every row of a table (DELETE without WHERE)",
             _delete_all, scope="analysis"),
        rule("write-etc", "changing system configuration in /etc", _writes_etc),
        rule("write-ssh", "changing SSH keys or settings (~/.ssh)", _writes_ssh),
        rule("write-shell-rc", "changing a shell startup file", _writes_shell_rc),
        rule("write-hermes-secrets", "changing the Hermes secrets file (.env)", _writes_secrets),
        rule("write-hermes-config", "changing the Hermes configuration", _writes_config),
        rule("pipe-to-shell", "running a script straight from the internet", _pipe_to_shell,
             scope="pipeline"),
        rule("pipe-to-shell", "running a script straight from the internet", _shell_of_download,
             " ".join(SHELLS) + " eval source . python python3 perl ruby node"),
        rule("decode-to-shell", "running encoded (hidden) code", _decode_to_shell,
             scope="pipeline"),
        rule("stop-service", "stopping or disabling a system service", _stops_service,
             "systemctl service launchctl"),
        rule("kill-all", "killing every process", _kills_everything, "kill killall5"),
        rule("force-kill", "force-killing processes by name (-9)", _force_kills, "pkill killall"),
        rule("stop-gateway", "stopping the Hermes gateway", _stops_gateway, "hermes"),
        rule("too-complex", "a command nested too deeply to check",
             lambda a, w: a.too_deep, scope="analysis"),
    ]
)  # fmt: skip
