"""Typed access to the merged tree: every getter validates and names the culprit on failure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .errors import _UNSET, ConfigError

if TYPE_CHECKING:
    from .loader import Merged

_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")


class Reader:
    """Getters over a Merged tree. Missing keys (or YAML's empty value, None) give the default.

    Values from YAML/JSON must already have the right type (`"300"` is not an integer);
    values from `.env` or the environment are strings and are parsed.
    """

    def __init__(self, merged: Merged) -> None:
        self._merged = merged

    def get(self, key: str) -> Any:
        node: Any = self._merged.tree
        for part in key.split("."):
            if not isinstance(node, dict):
                return None
            node = node.get(part)
        return node

    def error(self, key: str, expected: str, got: Any = _UNSET, problem: str = "") -> ConfigError:
        # Environment values are reported by the variable the user actually set.
        shown_key = self._merged.env_names.get(key, key)
        return ConfigError(self._merged.source(key), shown_key, expected, got, problem=problem)

    def _from_env(self, key: str) -> bool:
        return key in self._merged.env_names

    def text(self, key: str, default: str = "") -> str:
        value = self.get(key)
        if value is None:
            return default
        # Chat and user ids are often written as bare numbers in YAML.
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            raise self.error(key, "a string", value)
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and self._from_env(key):
            lowered = value.strip().lower()
            if lowered in _TRUE or lowered in _FALSE:
                return lowered in _TRUE
            raise self.error(key, "true, false, 1, 0, yes or no", value)
        raise self.error(key, "true or false", value)

    def integer(
        self, key: str, default: int, low: int | None = None, high: int | None = None
    ) -> int:
        expected = _range_phrase("an integer", low, high)
        value = self.get(key)
        if value is None:
            return default
        if isinstance(value, str) and self._from_env(key):
            try:
                value = int(value.strip())
            except ValueError:
                raise self.error(key, expected, value) from None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, expected, value)
        if (low is not None and value < low) or (high is not None and value > high):
            raise self.error(key, expected, value)
        return value

    def number(self, key: str, default: float, above: float | None = None) -> float:
        expected = "a number" if above is None else f"a number > {above:g}"
        value = self.get(key)
        if value is None:
            return default
        if isinstance(value, str) and self._from_env(key):
            try:
                value = float(value.strip())
            except ValueError:
                raise self.error(key, expected, value) from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, expected, value)
        if above is not None and not value > above:
            raise self.error(key, expected, value)
        return float(value)

    def choice(self, key: str, default: Any, options: tuple[str, ...]) -> Any:
        value = self.get(key)
        if value is None:
            return default
        # PyYAML (YAML 1.1), which Hermes itself uses, turns `off` into false.
        if value is False and "off" in options:
            return "off"
        if isinstance(value, str) and value.strip().lower() in options:
            return value.strip().lower()
        raise self.error(key, "one of " + ", ".join(options), value)

    def strings(self, key: str, split_commas: bool = True) -> tuple[str, ...]:
        """A list of strings (numbers allowed: user ids), or a comma-separated string."""
        value = self.get(key)
        expected = "a list of strings" + (" or a comma-separated string" if split_commas else "")
        if value is None:
            return ()
        if isinstance(value, str) and split_commas:
            items: list[Any] = value.split(",")
        elif isinstance(value, list):
            items = value
        else:
            raise self.error(key, expected, value)
        for item in items:
            if isinstance(item, bool) or not isinstance(item, (str, int)):
                raise self.error(key, expected, item)
        return tuple(text for text in (str(item).strip() for item in items) if text)

    def mapping(self, key: str) -> Mapping[Any, Any]:
        value = self.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.error(key, "a mapping", value)
        return value

    def known_keys(
        self, key: str, allowed: tuple[str, ...], shown: tuple[str, ...] | None = None
    ) -> None:
        """Typos inside sections we own are errors; `shown` lists what the message offers."""
        self.known_names(key, self.mapping(key), allowed, "unknown key", shown)

    def known_names(
        self,
        key: str,
        table: Mapping[Any, Any],
        names: tuple[str, ...],
        problem: str = "unknown name",
        shown: tuple[str, ...] | None = None,
    ) -> None:
        for name in table:
            if name not in names:
                expected = "one of " + ", ".join(shown or names)
                raise self.error(f"{key}.{name}", expected, problem=problem)


def _range_phrase(noun: str, low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f"{noun} from {low} to {high}"
    if low is not None:
        return f"{noun} >= {low}"
    return noun
