"""Is this shell command dangerous? `classify` answers ok, approval (a person must say yes)
or hardline (never runs, whatever the settings).

    classify("sudo rm -rf /")       -> Verdict("hardline", "recursive delete of / …", "delete-system")
    classify("rm -r build")         -> Verdict("approval", "recursive delete", "recursive-delete")
    classify("echo 'rm -rf /'")     -> Verdict("ok", "", "")

The command is normalised first (see normalize.py): obfuscations such as fullwidth letters,
escape sequences, `sudo`/`env`/`nohup` wrappers and `bash -c` payloads do not hide it.

Modules: clean (text cleaning) -> shell (scanner) -> unwrap (wrappers) -> normalize (the
Analysis the rules read); rules (Rule, RuleSet, shared readers) and places (paths) -> hardline
and approval (the two tables).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from hermes_gateway.agent.danger.approval import APPROVAL
from hermes_gateway.agent.danger.hardline import HARDLINE
from hermes_gateway.agent.danger.normalize import analyse, normalize
from hermes_gateway.agent.danger.places import places

Level = Literal["ok", "approval", "hardline"]


@dataclass(frozen=True)
class Verdict:
    level: Level
    reason: str  # for people: "recursive delete"
    rule: str  # stable id: "recursive-delete" (what session approvals and allowlists name)


OK = Verdict("ok", "", "")


def assess(
    command: str, home: Path | None = None, hermes_home: Path | None = None
) -> tuple[Verdict, ...]:
    """Every rule the command breaks, hardline ones first; () when it is harmless."""
    from hermes_gateway.home import resolve_home

    analysis = analyse(command)
    where = places(
        str(home if home is not None else Path.home()),
        str(hermes_home if hermes_home is not None else resolve_home()),
    )
    found = [Verdict("hardline", r.reason, r.id) for r in HARDLINE.matches(analysis, where)]
    found += [Verdict("approval", r.reason, r.id) for r in APPROVAL.matches(analysis, where)]
    return tuple(found)


def classify(command: str, home: Path | None = None, hermes_home: Path | None = None) -> Verdict:
    """The most serious rule the command breaks, or OK."""
    found = assess(command, home, hermes_home)
    return found[0] if found else OK


__all__ = ["OK", "Level", "Verdict", "assess", "classify", "normalize"]
