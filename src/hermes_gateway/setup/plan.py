"""The plan: every file change the wizard's answers call for, decided before anything is written.

Where an answer goes:
  - a platform setting goes to `.env` under its variable (TELEGRAM_BOT_TOKEN=…), unless
    config.yaml already holds it and it is not a secret: then config.yaml keeps it there;
  - a secret found in config.yaml moves to `.env` (mode 0600) and leaves config.yaml;
  - another `.env` variable for the same setting (TELEGRAM_TOKEN beside TELEGRAM_BOT_TOKEN)
    is removed, so that the file has one answer;
  - the model (provider, name, URL) goes to config.yaml `model.*`, or to HERMES_PROVIDER /
    HERMES_MODEL when `.env` is where the user keeps it; its API key to the provider's
    variable in `.env` (OPENROUTER_API_KEY, …).
An answer equal to what a file already says changes nothing, so running the wizard again
and pressing Enter throughout writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..agent.providers import PROVIDERS
from ..config.secrets import is_secret_key, mask
from .snapshot import Snapshot, dotted_key
from .specs import BY_NAME, Field
from .validators import split_list


class Target(StrEnum):
    DOTENV = ".env"
    YAML = "config.yaml"


@dataclass(frozen=True)
class Change:
    target: Target
    key: str  # a variable name in .env, a dotted key in config.yaml
    value: Any  # None removes the key
    before: Any = None  # the file's previous value (for the summary only)

    @property
    def secret(self) -> bool:
        return is_secret_key(self.key)

    def describe(self) -> str:
        """One summary line; secrets masked (`+ TELEGRAM_BOT_TOKEN = 123…abcd`)."""
        if self.value is None:
            return f"- {self.key}  (removed)"
        sign = "~" if self.before not in (None, "") else "+"
        return f"{sign} {self.key} = {self._show(self.value)}"

    def _show(self, value: Any) -> str:
        if isinstance(value, list):
            value = ", ".join(str(item) for item in value)
        if isinstance(value, bool):
            return "true" if value else "false"
        return mask(value) if self.secret else str(value)


@dataclass(frozen=True)
class ModelChoice:
    provider: str  # a name in agent.providers.PROVIDERS
    model: str = ""  # "" leaves the provider's default
    base_url: str = ""  # for `custom` only
    api_key: str | None = None  # None keeps the current key


@dataclass(frozen=True)
class Plan:
    snapshot: Snapshot
    changes: tuple[Change, ...]
    warnings: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.changes

    def for_target(self, target: Target) -> dict[str, Any]:
        return {c.key: c.value for c in self.changes if c.target is target}

    def summary(self) -> dict[Target, list[str]]:
        """Summary lines per file, in the order they will be applied."""
        out: dict[Target, list[str]] = {}
        for change in self.changes:
            out.setdefault(change.target, []).append(change.describe())
        return out


@dataclass
class _Builder:
    snapshot: Snapshot
    changes: dict[tuple[Target, str], Change] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def add(self, target: Target, key: str, value: Any) -> None:
        if target is Target.DOTENV:
            before = self.snapshot.dotenv.get(key)
        else:
            before = self.snapshot.yaml_value(key)
        if value is None and before is None:
            return
        if value is not None and _same(before, value):
            return
        self.changes[(target, key)] = Change(target, key, value, before)

    def setting(self, variable: str, value: str | None, is_list: bool = False) -> None:
        """Place one environment-style answer (None removes it everywhere we write)."""
        if is_list and value is not None:
            value = ",".join(split_list(value)) or None  # "1, 2" is written as 1,2
        dotted = dotted_key(variable)
        if dotted is None:  # a provider key: .env only
            self.add(Target.DOTENV, variable, value)
            self._warn_if_shadowed(variable, value)
            return
        secret = is_secret_key(variable) or is_secret_key(dotted)
        in_yaml = self.snapshot.yaml_value(dotted) is not None
        if value is not None and in_yaml and not secret:
            shaped: Any = split_list(value) if is_list else value
            if is_list and not isinstance(self.snapshot.yaml_value(dotted), list):
                shaped = value  # the user wrote a comma string there: keep that form
            self.add(Target.YAML, dotted, shaped)
            for other in self.snapshot.dotenv_variables_for(dotted):
                self.add(Target.DOTENV, other, None)  # .env would win over config.yaml
        else:
            if in_yaml:
                self.add(Target.YAML, dotted, None)  # a secret moves to .env; or removed
            for other in self.snapshot.dotenv_variables_for(dotted):
                if other != variable:
                    self.add(Target.DOTENV, other, None)
            self.add(Target.DOTENV, variable, value)
        self._warn_if_shadowed(variable, value)

    def _warn_if_shadowed(self, variable: str, value: str | None) -> None:
        shell = self.snapshot.environ.get(variable, "").strip()
        if shell and shell != (value or ""):
            self.warnings.append(
                f"{variable} is also set in your shell environment, which wins over .env: "
                "unset it there for the new value to apply."
            )

    def build(self) -> Plan:
        return Plan(self.snapshot, tuple(self.changes.values()), tuple(self.warnings))


def _same(before: Any, value: Any) -> bool:
    if isinstance(before, list) or isinstance(value, list):
        as_list = [str(x) for x in (before if isinstance(before, list) else split_list(before))]
        return as_list == [
            str(x) for x in (value if isinstance(value, list) else split_list(value))
        ]
    if isinstance(before, bool) or isinstance(value, bool):
        return before is value
    return before is not None and str(before) == str(value)


def plan_changes(
    snapshot: Snapshot,
    answers: Mapping[str, str | None],
    model: ModelChoice | None = None,
    platforms: Iterable[str] = (),
) -> Plan:
    """The changes for `answers` (variable -> value, None removes; "" counts as None) of the
    platforms named in `platforms`, and for the model choice."""
    builder = _Builder(snapshot)
    for name in platforms:
        spec = BY_NAME[name]
        for variable, value in answers.items():
            try:
                item: Field | None = spec.field(variable)
            except KeyError:
                continue
            builder.setting(variable, value or None, is_list=bool(item and item.is_list))
        if snapshot.yaml_value(f"platforms.{name}.enabled") is False:
            builder.add(Target.YAML, f"platforms.{name}.enabled", True)  # chosen, so on
    if model is not None:
        _plan_model(builder, model)
    return builder.build()


def _plan_model(builder: _Builder, choice: ModelChoice) -> None:
    snapshot = builder.snapshot
    spec = PROVIDERS[choice.provider]
    _model_key(builder, "model.provider", "HERMES_PROVIDER", choice.provider)
    keep_model = choice.model and choice.provider != "offline"
    _model_key(builder, "model.default", "HERMES_MODEL", choice.model if keep_model else None)
    base_url = choice.base_url if choice.provider == "custom" else None
    builder.add(Target.YAML, "model.base_url", base_url or None)  # belongs to custom only
    previous = snapshot.settings.model.provider
    if choice.api_key is not None and spec.env_key:
        builder.setting(spec.env_key, choice.api_key or None)
        builder.add(Target.YAML, "model.api_key", None)  # it would win over the new key
    elif previous != choice.provider:
        builder.add(Target.YAML, "model.api_key", None)  # the old provider's key


def _model_key(builder: _Builder, dotted: str, variable: str, value: str | None) -> None:
    """model.provider / model.default: in .env when the user keeps them there, else YAML."""
    if variable in builder.snapshot.dotenv:
        builder.add(Target.DOTENV, variable, value)
        if value is not None:
            return
    builder.add(Target.YAML, dotted, value)
