"""The rule machinery shared by the HARDLINE and APPROVAL tables.

A `Rule` is an id (stable: it is what `/approve session` remembers and what `command_allowlist`
may name), a reason a person can read, and a test. Most tests look at one simple command
(already lowercased, unquoted and unwrapped), a few at a whole pipeline (`curl … | sh`) or the
whole `Analysis` (SQL, fork bombs). A `RuleSet` indexes its rules by command name so each
command is only tested against the rules about it. The small readers here (`operands`,
`recursive`, `verb`, `write_targets`, `writes`) are the vocabulary both tables' tests share.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from hermes_gateway.agent.danger.normalize import Analysis
from hermes_gateway.agent.danger.places import Places
from hermes_gateway.agent.danger.shell import Simple
from hermes_gateway.agent.danger.unwrap import options_end

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


def writes(cmd: Simple, where: Places, test: Callable[[str], bool]) -> bool:
    """Whether any path the command writes passes `test` (after `Places.resolve`)."""
    return any(test(where.resolve(t)) for t in write_targets(cmd))


# -- rules ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    id: str
    reason: str
    test: Callable[[Any, Places], bool]
    scope: str = "command"  # command: each simple command · pipeline · analysis: once
    names: frozenset[str] | None = None  # command rules: only for these command names


def rule(id: str, reason: str, test, names: str | None = None, scope: str = "command") -> Rule:
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
