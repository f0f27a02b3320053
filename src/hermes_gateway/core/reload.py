"""Applies a re-read configuration to a running engine (SIGHUP): platform credentials and
allowlists. Sessions, lanes, turns in progress and the outbox are untouched; only platforms
whose connection settings changed are reconnected. Other settings need a restart."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from dataclasses import dataclass

from hermes_gateway.config import PlatformSettings
from hermes_gateway.core.types import Platform
from hermes_gateway.security.access import access_policy

log = logging.getLogger("hermes.engine")


@dataclass(frozen=True)
class ReloadResult:
    reconnected: tuple[str, ...] = ()
    stopped: tuple[str, ...] = ()
    allowlists_changed: bool = False

    def summary(self) -> str:
        parts = []
        if self.reconnected:
            parts.append("reconnected " + ",".join(self.reconnected))
        if self.stopped:
            parts.append("stopped " + ",".join(self.stopped))
        parts.append("allowlists updated" if self.allowlists_changed else "allowlists unchanged")
        return "; ".join(parts)


def connection_settings(platform: PlatformSettings) -> PlatformSettings:
    """The part of a platform's settings its connection depends on (not who may talk)."""
    return dataclasses.replace(
        platform, allowed_users=(), allow_all_users=False, tool_progress=None, home_channel=""
    )


async def reload_engine(engine, fresh) -> ReloadResult:
    """Swap in `fresh` settings' platforms and allowlists, reconnect what changed."""
    old = engine.settings
    engine.settings = dataclasses.replace(
        old,
        platforms=fresh.platforms,
        allowed_users=fresh.allowed_users,
        allow_all_users=fresh.allow_all_users,
    )
    policy = access_policy(engine.settings)
    allowlists_changed = policy != engine.authorizer.policy
    engine.authorizer.policy = policy  # read on every check: the next message sees it

    reconnect, stop = [], []
    for platform in Platform:
        name = platform.value
        before, after = old.platforms[name], fresh.platforms[name]
        if platform is Platform.CONSOLE or connection_settings(before) == connection_settings(
            after
        ):
            continue  # the console has no credentials; its pump holds the adapter
        if after.enabled:
            reconnect.append(name)
        elif before.enabled:
            stop.append(name)
    await asyncio.gather(
        *(engine.reconnect_platform(name) for name in reconnect),
        *(engine.disable_platform(name) for name in stop),
    )
    result = ReloadResult(tuple(reconnect), tuple(stop), allowlists_changed)
    log.info("configuration reloaded: %s", result.summary())
    return result
