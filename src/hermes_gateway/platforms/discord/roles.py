"""DISCORD_ALLOWED_ROLES: a member holding one of these roles (in any server the bot shares with
them) may talk to the agent, as if listed in DISCORD_ALLOWED_USERS.

The engine asks synchronously (Adapter.vouches_for), so the adapter learns roles before it hands
a message over: from the member data that comes with every server message and button press, and
for a DM by asking Discord for the user's membership in the bot's servers (one GET per server,
remembered for a while). Memory is bounded."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable

log = logging.getLogger("hermes.discord")

MAX_USERS = 4096
LOOKUP_TTL = 300.0  # seconds a DM sender's looked-up roles are trusted
MAX_GUILDS = 20  # servers asked per lookup

# (guild_id, user_id) -> the member's role ids, or None when they are not a member.
FetchRoles = Callable[[int, int], Awaitable[list[int] | None]]


class RoleGate:
    def __init__(self, allowed_roles: frozenset[str], clock: Callable[[], float] = time.monotonic):
        self.allowed = frozenset(int(r) for r in allowed_roles)
        self._clock = clock
        self._known: OrderedDict[str, tuple[bool, float]] = OrderedDict()

    @property
    def active(self) -> bool:
        return bool(self.allowed)

    def allows(self, user_id: str) -> bool:
        known = self._known.get(user_id)
        return known is not None and known[0]

    def note(self, user_id: str, role_ids: Iterable[int]) -> None:
        """What a server message or button press just told us about the user's roles."""
        if self.active:
            self._remember(user_id, any(int(r) in self.allowed for r in role_ids))

    async def look_up(self, user_id: str, guild_ids: Iterable[int], fetch: FetchRoles) -> None:
        """For a DM: find the user's roles in the bot's servers unless known recently."""
        if not self.active or not user_id.isdigit():
            return
        known = self._known.get(user_id)
        if known is not None and self._clock() - known[1] < LOOKUP_TTL:
            return
        allowed = False
        for guild_id in list(guild_ids)[:MAX_GUILDS]:
            try:
                roles = await fetch(guild_id, int(user_id))
            except Exception as exc:  # one unreachable server does not decide for the others
                log.info("discord: looking up roles in server %s failed: %s", guild_id, exc)
                continue
            if roles and any(int(r) in self.allowed for r in roles):
                allowed = True
                break
        self._remember(user_id, allowed)

    def _remember(self, user_id: str, allowed: bool) -> None:
        self._known[user_id] = (allowed, self._clock())
        self._known.move_to_end(user_id)
        while len(self._known) > MAX_USERS:
            self._known.popitem(last=False)
