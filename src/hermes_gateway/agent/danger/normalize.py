"""Turn a shell command into what the danger rules look at.

The rules never see raw text. `analyse` cleans the command (`clean`: escapes, controls and
Unicode look-alikes folded away, lowercased), splits it into pipelines of simple commands
(`shell`), peels wrappers off each one (`unwrap`), and analyses the code the shell would run as
well — `sh -c '…'` payloads, `$(…)`, backticks, `<(…)`, `eval`, here-documents fed to a shell,
`echo … | sh` — the same way, recursively, up to `MAX_DEPTH`. The result is one `Analysis`;
`normalize` gives its texts. `clean` is re-exported for callers that only need the text step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hermes_gateway.agent.danger.clean import clean
from hermes_gateway.agent.danger.shell import Pipeline, Simple, parse
from hermes_gateway.agent.danger.unwrap import expand, reads_program_from_stdin

MAX_DEPTH = 6  # nesting of payloads inside payloads; deeper input is treated as suspicious


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


__all__ = ["MAX_DEPTH", "Analysis", "analyse", "clean", "normalize"]
