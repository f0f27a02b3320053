"""discord.py's Client, pointed at our endpoints and hardened against malformed events.

discord.py builds every REST URL from the class attribute `Route.BASE` and opens the gateway at
`DiscordWebSocket.DEFAULT_GATEWAY`; both are process-wide. Instead of changing them, our
HTTPClient rewrites the two prefixes per client, so a self-hosted server (or a test peer) is one
setting away and nothing else in the process is affected."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import discord
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import HTTPClient, Route

log = logging.getLogger("hermes.discord")

# Voice is never used: discord.py's warnings about its missing voice libraries are noise.
discord.VoiceClient.warn_nacl = False
discord.VoiceClient.warn_dave = False

# A REST call that discord.py would wait for longer than this on a 429 raises RateLimited
# instead, so that the delivery layer schedules the retry.
MAX_RATELIMIT_WAIT = 30.0


class RoutedHTTPClient(HTTPClient):
    """discord.py's HTTP client with our REST base and gateway URL."""

    def __init__(self, loop: Any, api_base: str, gateway_url: str) -> None:
        super().__init__(loop, max_ratelimit_timeout=MAX_RATELIMIT_WAIT)
        self.api_base = api_base.rstrip("/")
        self.gateway_url = gateway_url

    async def request(self, route: Route, **kwargs: Any) -> Any:
        if route.url.startswith(Route.BASE):
            route.url = self.api_base + route.url[len(Route.BASE) :]
        return await super().request(route, **kwargs)

    async def ws_connect(self, url: str, *, compress: int = 0) -> Any:
        return await super().ws_connect(self.gateway_for(url), compress=compress)

    def gateway_for(self, url: str) -> str:
        """The default gateway becomes ours (keeping discord.py's query: version, encoding);
        a resume URL the server handed out is used as given."""
        target, default = yarl.URL(url), DiscordWebSocket.DEFAULT_GATEWAY
        if not self.gateway_url or target.host != default.host:
            return url
        return str(yarl.URL(self.gateway_url).with_query(target.query))


class HermesClient(discord.Client):
    """A Client that forwards what we need to the adapter and never dies of one bad event."""

    def __init__(
        self,
        *,
        api_base: str,
        gateway_url: str,
        intents: discord.Intents,
        on_event: Callable[[str, Any], Awaitable[None] | None],
    ) -> None:
        self._routes = (api_base, gateway_url)
        self._on_event = on_event
        super().__init__(
            intents=intents,
            chunk_guilds_at_startup=False,  # no member lists: roles are looked up one by one
            max_messages=None,  # we keep no message cache
            guild_ready_timeout=0.5,
        )
        parsers = self._connection.parsers
        for name, parser in list(parsers.items()):
            parsers[name] = _guarded(name, parser)

    def _get_state(self, **options: Any) -> Any:
        # Client.__init__ has just built its HTTPClient; ours replaces it before anything uses it.
        self.http = RoutedHTTPClient(self.loop, *self._routes)
        return super()._get_state(**options)

    def set_gateway(self, url: str) -> None:
        self.http.gateway_url = url

    # discord.py calls on_<event> coroutines as tasks, in the order the events arrived.
    async def on_connect(self) -> None:
        await self._forward("connect", None)

    async def on_resumed(self) -> None:
        await self._forward("resumed", None)

    async def on_disconnect(self) -> None:
        await self._forward("disconnect", None)

    async def on_message(self, message: discord.Message) -> None:
        await self._forward("message", message)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await self._forward("interaction", interaction)

    async def _forward(self, name: str, value: Any) -> None:
        result = self._on_event(name, value)
        if result is not None:
            await result


def _guarded(name: str, parser: Callable[[Any], None]) -> Callable[[Any], None]:
    """A parser that logs and skips a payload it cannot read: discord.py would otherwise let the
    exception end the whole connection loop."""

    def parse(data: Any) -> None:
        try:
            parser(data)
        except Exception as exc:
            ident = data.get("id") if isinstance(data, dict) else None
            log.warning(
                "discord: skipped a malformed %s event (id %s): %s: %s",
                name,
                ident,
                type(exc).__name__,
                exc,
            )

    return parse


class _OneLineReconnects(logging.Filter):
    """discord.py logs each reconnect attempt as an ERROR with a traceback; the platform's
    status already says what happened, so one warning line is enough."""

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("Attempting a reconnect"):
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


_RECONNECTS = _OneLineReconnects()
if _RECONNECTS not in logging.getLogger("discord.client").filters:
    logging.getLogger("discord.client").addFilter(_RECONNECTS)
