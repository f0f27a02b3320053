"""Is a platform configured, not configured, or configured but failing its offline check?

Only what can be told without the network: required settings present and well-formed.
The online check (setup.checks) is the wizard's separate, opt-in step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from ..core.types import Platform
from ..platforms.registry import ADAPTERS
from .snapshot import Snapshot
from .specs import SPECS, PlatformSpec, Role


class State(StrEnum):
    CONFIGURED = "configured"
    NOT_CONFIGURED = "not configured"
    FAILING = "failing"


@dataclass(frozen=True)
class PlatformState:
    spec: PlatformSpec
    state: State
    reason: str = ""  # why it fails, or a note ("turned off in config.yaml")

    @property
    def marker(self) -> str:
        return {State.CONFIGURED: "✓", State.FAILING: "✗", State.NOT_CONFIGURED: "·"}[self.state]

    @property
    def text(self) -> str:
        """`configured`, `failing: TELEGRAM_BOT_TOKEN is required`, `not configured`."""
        return f"{self.state.value}: {self.reason}" if self.reason else self.state.value


def problems(spec: PlatformSpec, values: Mapping[str, str]) -> list[str]:
    """Every offline problem of a platform's settings: missing or malformed values.

    Optional settings are checked only when set; for alternative logins (Matrix) one
    complete login is enough, and the first incomplete one is reported otherwise."""
    found = []
    for field in spec.fields:
        message = field.check(values.get(field.env, ""))
        if message:
            found.append(message)
    if spec.logins:
        complete = [login for login in spec.logins if all(values.get(f.env) for f in login.fields)]
        candidates = complete or [_closest(spec, values)]
        for field in candidates[0].fields:
            message = field.check(values.get(field.env, ""))
            if message:
                found.append(message)
    return found


def _closest(spec: PlatformSpec, values: Mapping[str, str]):  # noqa: ANN202 - a Login
    """The login the user has started to fill in (else the first): its gaps are the news."""
    return max(spec.logins, key=lambda login: sum(bool(values.get(f.env)) for f in login.fields))


def current_values(snapshot: Snapshot, spec: PlatformSpec) -> dict[str, str]:
    return {field.env: snapshot.value(field.env) for field in spec.all_fields()}


def platform_state(snapshot: Snapshot, spec: PlatformSpec) -> PlatformState:
    values = current_values(snapshot, spec)
    entry = snapshot.settings.platforms[spec.name]
    has_login = any(values.get(f.env) for f in spec.all_fields() if f.role is Role.LOGIN)
    if not entry.enabled:
        note = f"turned off (platforms.{spec.name}.enabled)" if has_login else ""
        return PlatformState(spec, State.NOT_CONFIGURED, note)
    if not has_login and not any(values.values()):
        return PlatformState(spec, State.NOT_CONFIGURED)
    found = problems(spec, values)
    if found:
        return PlatformState(spec, State.FAILING, found[0])
    return PlatformState(spec, State.CONFIGURED)


def all_states(snapshot: Snapshot) -> list[PlatformState]:
    """The state of every platform the wizard can configure, in SPECS order."""
    return [platform_state(snapshot, spec) for spec in SPECS if spec.platform in ADAPTERS]


def unavailable() -> list[Platform]:
    """Platforms this version names but cannot connect to yet (no adapter in the registry)."""
    return [p for p in Platform if p not in ADAPTERS and p is not Platform.CONSOLE]
