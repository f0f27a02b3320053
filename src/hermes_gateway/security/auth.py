"""Who may talk to the agent: allowlists and approved pairings. Fails closed.

The order is fixed (DESIGN §5): platform allow-all → approved by pairing →
`<PLATFORM>_ALLOWED_USERS` → `GATEWAY_ALLOWED_USERS` → `GATEWAY_ALLOW_ALL_USERS=true` → deny.
The local console follows the same rules; its `allow_all_users` defaults to true in the
configuration (it is the operator's own terminal), and it never counts toward "is anything
configured", since it does not let anyone remote in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from hermes_gateway.core.types import Platform
from hermes_gateway.storage.base import Store

Via = Literal[
    "platform-allow-all",
    "pairing",
    "platform-allowlist",
    "platform-vouched",
    "gateway-allowlist",
    "gateway-allow-all",
    "denied",
]

_EMAIL_LIKE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


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

    def is_empty(self) -> bool:
        """Nothing lets a remote user in: without approved pairings, only the console talks."""
        remote = Platform.CONSOLE.value
        return not (
            self.gateway_allow_all
            or self.gateway_allowed
            or any(v for k, v in self.platform_allow_all.items() if k != remote)
            or any(v for k, v in self.platform_allowed.items() if k != remote)
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
        # Platforms that also admit users their own way (Discord roles): name -> "is uid in?"
        self.vouchers: dict[str, Callable[[str], bool]] = {}

    def check(self, platform: str | Platform, user_id: str) -> Decision:
        name = platform_name(platform)
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
        vouch = self.vouchers.get(name)
        if vouch is not None and vouch(uid):
            return Decision(True, "platform-vouched")
        if uid in policy.gateway_allowed:
            return Decision(True, "gateway-allowlist")
        if policy.gateway_allow_all:
            return Decision(True, "gateway-allow-all")
        return _DENIED

    def startup_warning(self) -> str | None:
        """A sentence for the startup log when nobody can be authorized; None otherwise.

        No warning when the policy is empty but some pairing is already approved: those users
        can talk, everyone else is denied, which is the intended fail-closed state."""
        if not self.policy.is_empty() or self.vouchers:
            return None
        if any(r.state == "approved" for r in self._store.pairing_list()):
            return None
        return (
            "No allowlist is configured, so nobody can talk to the agent from a chat app "
            "(only the local console) until you set TELEGRAM_ALLOWED_USERS (or another "
            "<PLATFORM>_ALLOWED_USERS) / GATEWAY_ALLOWED_USERS or approve a pairing: unknown "
            "users who message the bot get a code; approve it with: "
            "hermes pairing approve <platform> <CODE>"
        )
