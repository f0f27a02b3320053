"""ConfigError: one line that names the file, the key and what was expected."""

from __future__ import annotations

from typing import Any

from .secrets import is_secret_key, mask

# Sentinel: "no offending value to show" (None is a legitimate YAML value).
_UNSET: Any = object()

ENVIRONMENT = "environment"


def _show(key: str, got: Any) -> str:
    """The offending value, safe to print: masked for secret keys, short, one line."""
    if is_secret_key(key):
        return mask(got) if isinstance(got, str) else f"a {type(got).__name__}"
    if isinstance(got, (dict, list, tuple)):
        return f"a {'mapping' if isinstance(got, dict) else 'list'}"
    text = repr(got)  # repr escapes newlines, so the message stays on one line
    return text if len(text) <= 60 else text[:57] + "..."


class ConfigError(ValueError):
    """A configuration problem, reported as one line.

    `source` is the file path (or "environment"), `key` the dotted key or environment
    variable ("" for a whole-file problem), `expected` what would have been valid.
    """

    def __init__(
        self,
        source: str,
        key: str,
        expected: str,
        got: Any = _UNSET,
        *,
        problem: str = "",
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.source = str(source)
        self.key = key
        self.expected = expected
        self.problem = problem
        self.line = line
        self.column = column
        self.shown_value = None if got is _UNSET else _show(key, got)
        super().__init__(self._render())

    def _render(self) -> str:
        parts = [self.source]
        if self.line is not None:
            where = f"line {self.line}"
            parts.append(where if self.column is None else f"{where}, column {self.column}")
        if self.key:
            parts.append(self.key)
        if self.problem and self.expected:
            body = f"{self.problem}; expected {self.expected}"
        else:
            body = self.problem or f"expected {self.expected}"
        if self.shown_value is not None:
            body += f" (got {self.shown_value})"
        parts.append(body)
        # Messages from parsers may carry newlines; the contract is one line.
        return ": ".join(" ".join(p.split()) for p in parts)


def syntax_error(
    source: str, kind: str, reason: str, line: int | None, column: int | None
) -> ConfigError:
    """An unparsable file: `<file>: line L, column C: invalid YAML (reason)`."""
    problem = f"invalid {kind} ({reason})"
    return ConfigError(source, "", "", problem=problem, line=line, column=column)
