"""Who may talk to the agent: allowlists and approved pairings. Fails closed.

The order is fixed (DESIGN §5): platform allow-all → approved by pairing →
`<PLATFORM>_ALLOWED_USERS` → `GATEWAY_ALLOWED_USERS` → `GATEWAY_ALLOW_ALL_USERS=true` → deny.
The local console (the operator's own terminal) is always allowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Iterable, Literal, Mapping

from hermes_gateway.core.types import Platform
from hermes_gateway.storage.base import Store

Via = Literal[
    "local-console",
    "platform-allow-all",
    "pairing",
    "platform-allowlist",
    "gateway-allowlist",
    "gateway-allow-all",
    "denied",
]

_EMAIL_LIKE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TRUE = {"1", "true", "yes", "on"}


def platform_name(platform: str | Platform) -> str:
    """`Platform.TELEGRAM`, "telegram" and " Telegram " all name "telegram"."""
    if isinstance(platform, Platform):
        return platform.value
    return str(platform).strip().lower()


def normalize_user_id(user_id: str) -> str:
    """Ids compare as exact strings after strip; e-mail-like ids compare case-insensitively."""
    uid = (user_id or "").strip()
    return uid.lower() if _EMAIL_LIKE.match(uid) else uid


def parse_user_list(value: str | None) -> frozenset[str]:
    """`"123, 456,,alice@example.com"` → the normalized ids; empty entries are dropped."""
    if not value:
        return frozenset()
    return frozenset(u for u in (normalize_user_id(p) for p in value.split(",")) if u)


def _ids(values: Iterable[str]) -> frozenset[str]:
    if isinstance(values, str):  # a bare string is one id, not its characters
        values = [values]
    return frozenset(u for u in (normalize_user_id(v) for v in values) if u)


@dataclass(frozen=True)
class AccessPolicy:
    """The allowlist settings, keyed by platform name ("telegram", "wecom_callback", ...)."""

    platform_allow_all: Mapping[str, bool] = field(default_factory=dict)
    platform_allowed: Mapping[str, frozenset[str]] = field(default_factory=dict)
    gateway_allowed: frozenset[str] = frozenset()
    gateway_allow_all: bool = False

    def __post_init__(self) -> None:
        # Normalize once so lookups are plain dict/set hits; read-only views keep it frozen.
        # Only a real True enables an allow-all (a stray "false" string must not).
        allow_all = {platform_name(k): v is True for k, v in self.platform_allow_all.items()}
        allowed = {platform_name(k): _ids(v) for k, v in self.platform_allowed.items()}
        object.__setattr__(self, "platform_allow_all", MappingProxyType(allow_all))
        object.__setattr__(self, "platform_allowed", MappingProxyType(allowed))
        object.__setattr__(self, "gateway_allowed", _ids(self.gateway_allowed))
        object.__setattr__(self, "gateway_allow_all", self.gateway_allow_all is True)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AccessPolicy:
        """Read `<PLATFORM>_ALLOW_ALL_USERS`, `<PLATFORM>_ALLOWED_USERS` (comma-separated),
        `GATEWAY_ALLOWED_USERS` and `GATEWAY_ALLOW_ALL_USERS`. Only 1/true/yes/on mean true."""
        allow_all: dict[str, bool] = {}
        allowed: dict[str, frozenset[str]] = {}
        for p in Platform:
            if env.get(f"{p.env_prefix}_ALLOW_ALL_USERS", "").strip().lower() in _TRUE:
                allow_all[p.value] = True
            ids = parse_user_list(env.get(f"{p.env_prefix}_ALLOWED_USERS"))
            if ids:
                allowed[p.value] = ids
        return cls(
            platform_allow_all=allow_all,
            platform_allowed=allowed,
            gateway_allowed=parse_user_list(env.get("GATEWAY_ALLOWED_USERS")),
            gateway_allow_all=env.get("GATEWAY_ALLOW_ALL_USERS", "").strip().lower() in _TRUE,
        )

    def is_empty(self) -> bool:
        """Nothing configured at all: without approved pairings, nobody is authorized."""
        return not (
            self.gateway_allow_all
            or self.gateway_allowed
            or any(self.platform_allow_all.values())
            or any(self.platform_allowed.values())
        )


@dataclass(frozen=True)
class Decision:
    allowed: bool
    via: Via


_DENIED = Decision(False, "denied")


class Authorizer:
    """Answers "may this user talk to the agent?". Pairings are read from the store on every
    check, so an approval or a revoke from the CLI takes effect on the next message."""

    def __init__(self, policy: AccessPolicy, store: Store) -> None:
        self.policy = policy
        self._store = store

    def check(self, platform: str | Platform, user_id: str) -> Decision:
        name = platform_name(platform)
        if name == Platform.CONSOLE.value:
            return Decision(True, "local-console")
        uid = normalize_user_id(user_id)
        if not uid or not name:
            return _DENIED
        policy = self.policy
        if policy.platform_allow_all.get(name, False):
            return Decision(True, "platform-allow-all")
        record = self._store.pairing_get(name, uid)
        if record is not None and record.state == "approved":
            return Decision(True, "pairing")
        if uid in policy.platform_allowed.get(name, frozenset()):
            return Decision(True, "platform-allowlist")
        if uid in policy.gateway_allowed:
            return Decision(True, "gateway-allowlist")
        if policy.gateway_allow_all:
            return Decision(True, "gateway-allow-all")
        return _DENIED

    def startup_warning(self) -> str | None:
        """A sentence for the startup log when nobody can be authorized; None otherwise.

        No warning when the policy is empty but some pairing is already approved: those users
        can talk, everyone else is denied, which is the intended fail-closed state."""
        if not self.policy.is_empty():
            return None
        if any(r.state == "approved" for r in self._store.pairing_list()):
            return None
        return (
            "No allowlist is configured, so nobody can talk to the agent until you set "
            "TELEGRAM_ALLOWED_USERS (or another <PLATFORM>_ALLOWED_USERS) / "
            "GATEWAY_ALLOWED_USERS or approve a pairing: unknown users who message the bot get "
            "a code; approve it with: hermes pairing approve <platform> <CODE>"
        )
