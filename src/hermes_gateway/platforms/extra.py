"""Typed reads of a platform's `extra` settings (env <PREFIX>_<NAME> or config.yaml
platforms.<p>.extra.<name>), with one-line errors that name the setting."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from hermes_gateway.core.types import Capabilities

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


class ExtraReader:
    def __init__(self, platform: str, extra: Mapping[str, Any] | None) -> None:
        self.platform = platform
        self.extra = extra or {}

    def name(self, key: str) -> str:
        return f"platforms.{self.platform}.extra.{key} ({self.platform.upper()}_{key.upper()})"

    def text(self, key: str, default: str = "") -> str:
        value = self.extra.get(key)
        text = "" if value is None else str(value).strip()
        return text or default

    def flag(self, key: str, default: bool) -> bool:
        value = self.extra.get(key)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        lowered = str(value).strip().lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE
        raise ValueError(f"{self.name(key)} must be true or false, not {value!r}")

    def number(self, key: str, default: float, low: float = 0.0) -> float:
        value = self.extra.get(key)
        if value is None or value == "":
            return default
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{self.name(key)} must be a number, not {value!r}") from None
        if number < low:
            raise ValueError(f"{self.name(key)} must be at least {low:g}, not {value!r}")
        return number

    def url(self, key: str, default: str = "", schemes: tuple[str, ...] = ("http", "https")) -> str:
        value = self.text(key, default).rstrip("/")
        scheme, sep, rest = value.partition("://")
        if value and (not sep or not rest or scheme.lower() not in schemes):
            wanted = " or ".join(f"{s}://" for s in schemes)
            raise ValueError(f"{self.name(key)} must start with {wanted}, not {value!r}")
        return value


def with_rates(capabilities: Capabilities, options: Any) -> Capabilities:
    """A platform's capabilities with the send rates its options read from extra
    (per_chat_rate, global_rate)."""
    return dataclasses.replace(
        capabilities, per_chat_rate=options.per_chat_rate, global_rate=options.global_rate
    )
