"""The HARDLINE table: commands that never run, whatever the approval settings say.

These are the commands that cannot be taken back: a recursive delete, move or chmod of `/`, a
system folder or a home folder (also `cd / && rm -rf *`), formatting or overwriting a disk, a
fork bomb, and shutting down or rebooting the machine. They are kept apart from the APPROVAL
table because no allowlist or `/approve` may ever let them through.
"""

from __future__ import annotations

import posixpath
import re

from hermes_gateway.agent.danger.normalize import Analysis
from hermes_gateway.agent.danger.places import Places
from hermes_gateway.agent.danger.rules import (
    RuleSet,
    operands,
    recursive,
    rule,
    verb,
    writes,
)
from hermes_gateway.agent.danger.shell import Simple

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
    return writes(cmd, where, lambda path: bool(_DISK.match(path)))


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


HARDLINE = RuleSet(
    [
        rule("delete-system", "recursive delete of / or a system or home folder",
             _deletes_critical, "rm"),
        rule("delete-system", "recursive delete of / or a system or home folder",
             _deletes_critical_after_cd, scope="analysis"),
        rule("format-disk", "formatting a disk", lambda c, w: bool(_MKFS.fullmatch(c.name))),
        rule("overwrite-disk", "writing straight to a disk device", _overwrites_disk),
        rule("fork-bomb", "a fork bomb", _fork_bomb, scope="analysis"),
        rule("power-off", "shutting down or rebooting the machine", _powers_off,
             "shutdown reboot halt poweroff init telinit systemctl loginctl"),
        rule("chmod-system", "changing permissions or owners of the whole system",
             _chmods_system, "chmod chown chgrp"),
        rule("move-system", "moving / or a system or home folder away", _moves_critical, "mv"),
    ]
)  # fmt: skip
