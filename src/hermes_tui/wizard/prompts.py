"""The wizard's questions and lines of output, on questionary (prompt_toolkit).

Every question uses `unsafe_ask()`, so Ctrl-C raises KeyboardInterrupt and the flow's one
handler can promise that nothing was written. Output goes through prompt_toolkit too, to
whatever terminal (or test pipe) the current app session has.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from typing import Any

import questionary
from prompt_toolkit import print_formatted_text
from prompt_toolkit.formatted_text import FormattedText

from hermes_gateway.config.secrets import mask

STYLE = questionary.Style(
    [
        ("qmark", "fg:#5f87ff bold"),
        ("question", "bold"),
        ("answer", "fg:#5fd7af bold"),
        ("pointer", "fg:#5f87ff bold"),
        ("highlighted", "fg:#5f87ff bold"),
        ("selected", "fg:#5fd7af"),
        ("instruction", "fg:#8a8a8a italic"),
        ("separator", "fg:#8a8a8a"),
        ("disabled", "fg:#8a8a8a italic"),
        ("title", "bold fg:#ffffff"),
        ("heading", "bold fg:#5f87ff"),
        ("dim", "fg:#8a8a8a"),
        ("ok", "fg:#5fd75f"),
        ("fail", "fg:#ff5f5f"),
        ("warn", "fg:#ffaf00"),
        ("code", "fg:#d7afff"),
    ]
)
QMARK = "?"


def say(*parts: tuple[str, str] | str) -> None:
    """One line; each part a plain string or (style class, text)."""
    pieces = [(f"class:{p[0]}", p[1]) if isinstance(p, tuple) else ("", p) for p in parts]
    print_formatted_text(FormattedText(pieces), style=STYLE)


def blank() -> None:
    say("")


def heading(text: str) -> None:
    blank()
    say(("heading", f"── {text} " + "─" * max(3, 60 - len(text))))


def dim(text: str) -> None:
    say(("dim", f"  {text}"))


def paragraph(text: str, width: int = 88) -> None:
    """Dim help text, wrapped to a width that reads well in any terminal."""
    for line in textwrap.wrap(text, width):
        dim(line)


def ok(text: str) -> None:
    say(("ok", "  ✓ "), text)


def fail(text: str) -> None:
    say(("fail", "  ✗ "), text)


def warn(text: str) -> None:
    say(("warn", "  ! "), text)


Check = Callable[[str], str | None]  # None: fine; else the message to show


def _validator(check: Check) -> Callable[[str], bool | str]:
    def validate(text: str) -> bool | str:
        message = check(text)
        return True if message is None else message

    return validate


def text(message: str, default: str = "", check: Check | None = None) -> str:
    """A line of text, pre-filled with `default` (Enter keeps it)."""
    question = questionary.text(
        message,
        default=default,
        validate=_validator(check) if check else None,
        qmark=QMARK,
        style=STYLE,
    )
    return str(question.unsafe_ask()).strip()


def secret(message: str, current: str = "", check: Check | None = None) -> str:
    """A masked answer. With a `current` value Enter keeps it (shown masked, never in full)."""
    if current:
        message = f"{message} (Enter keeps {mask(current)})"

    def accept(answer: str) -> str | None:
        if not answer.strip() and current:
            return None
        return check(answer.strip()) if check else None

    question = questionary.password(message, validate=_validator(accept), qmark=QMARK, style=STYLE)
    answer = str(question.unsafe_ask()).strip()
    return answer or current


def choose(message: str, choices: Sequence[tuple[str, Any]], default: Any = None) -> Any:
    """One of `choices` ((title, value) pairs) with the arrow keys."""
    items = [questionary.Choice(title, value=value) for title, value in choices]
    start = next((item for item in items if item.value == default), None)
    question = questionary.select(
        message,
        choices=items,
        default=start,
        qmark=QMARK,
        style=STYLE,
        instruction="(↑/↓, Enter)",
    )
    return question.unsafe_ask()


def pick_many(message: str, choices: Sequence[tuple[Any, Any]]) -> list[Any]:
    """Several of `choices` ((title, value); a title may be styled tokens): space toggles,
    Enter confirms."""
    items = [questionary.Choice(title, value=value) for title, value in choices]
    question = questionary.checkbox(
        message,
        choices=items,
        qmark=QMARK,
        style=STYLE,
        instruction="(↑/↓ move, space selects, Enter confirms)",
    )
    return list(question.unsafe_ask())


def confirm(message: str, default: bool = True) -> bool:
    question = questionary.confirm(message, default=default, qmark=QMARK, style=STYLE)
    return bool(question.unsafe_ask())
