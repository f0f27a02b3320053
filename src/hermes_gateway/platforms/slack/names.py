"""Names for ids: events carry only U…/C… ids, the TUI and the agent want "alice" and
"#general". Looked up once (users.info / conversations.info), kept in a bounded cache; a failed
lookup is not worth holding a message up, so it gives "" and is tried again later."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger("hermes.slack")

CACHE_SIZE = 1000
LOOKUP_TIMEOUT = 5.0


class Names:
    def __init__(self, web: AsyncWebClient, size: int = CACHE_SIZE) -> None:
        self._web = web
        self._size = size
        self._users: OrderedDict[str, str] = OrderedDict()
        self._channels: OrderedDict[str, str] = OrderedDict()

    async def user(self, user_id: str) -> str:
        if user_id in self._users:
            self._users.move_to_end(user_id)
            return self._users[user_id]
        data = await self._lookup("users.info", self._web.users_info(user=user_id))
        user = (data or {}).get("user") or {}
        profile = user.get("profile") or {}
        name = profile.get("display_name") or user.get("name") or user.get("real_name") or ""
        if data is not None:
            self._remember(self._users, user_id, str(name))
        return str(name)

    async def channel(self, channel_id: str) -> str:
        if channel_id in self._channels:
            self._channels.move_to_end(channel_id)
            return self._channels[channel_id]
        call = self._web.conversations_info(channel=channel_id)
        data = await self._lookup("conversations.info", call)
        name = ((data or {}).get("channel") or {}).get("name") or ""
        shown = f"#{name}" if name else ""
        if data is not None:
            self._remember(self._channels, channel_id, shown)
        return shown

    async def _lookup(self, method: str, call) -> dict | None:
        try:
            response = await asyncio.wait_for(call, LOOKUP_TIMEOUT)
        except SlackApiError as exc:
            log.info("slack: %s failed: %s", method, exc.response.get("error"))
            return None
        except Exception as exc:
            log.info("slack: %s failed: %s", method, type(exc).__name__)
            return None
        return response.data if isinstance(response.data, dict) else None

    def _remember(self, cache: OrderedDict[str, str], key: str, value: str) -> None:
        cache[key] = value
        if len(cache) > self._size:
            cache.popitem(last=False)
