"""The Socket Mode link: slack-sdk's aiohttp SocketModeClient, kept connected by our own
supervisor (bounded backoff with jitter, a status report on every change), with every envelope
handled one at a time in arrival order and acknowledged only once its handler has returned.

Slack redelivers an envelope that was not acknowledged, so an envelope whose message could not
be stored is simply not acknowledged. The SDK's own reconnect is off: it retries forever at a
fixed interval and cannot tell a rejected app token from an outage."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.web.async_client import AsyncWebClient

from hermes_gateway.config.secrets import redact

from . import AUTH_ERRORS, SlackOptions, rejected, sdk_logger

log = logging.getLogger("hermes.slack")

BACKOFF_START = 1.0
BACKOFF_CAP = 30.0
# The SDK retries a failed handshake with the same one-use address: give up on it soon.
CONNECT_TIMEOUT = 10.0
QUEUE_LIMIT = 1000  # envelopes waiting to be handled; beyond that Slack keeps them for us
ENVELOPE_TYPES = ("events_api", "interactive", "slash_commands")

Handler = Callable[[dict], Awaitable[None]]


class SlackAuthError(RuntimeError):
    """A token was rejected; the message names the setting and never contains the token."""


class Backoff:
    """1, 2, 4 … 30 s, each drawn between half and all of it, so that many gateways coming
    back after one outage do not knock at the same moment."""

    def __init__(self, start: float = BACKOFF_START, cap: float = BACKOFF_CAP) -> None:
        self.start, self.cap, self.current = start, cap, start

    def next(self) -> float:
        delay, self.current = self.current, min(self.current * 2, self.cap)
        return random.uniform(delay / 2, delay)

    def reset(self) -> None:
        self.current = self.start


class SocketLink:
    def __init__(
        self,
        options: SlackOptions,
        web: AsyncWebClient,
        handle: Handler,
        status: Callable[[str, str], None],
        setup: Callable[[], Awaitable[None]],
    ) -> None:
        self._options = options
        self._web = web
        self._handle = handle
        self._setup = setup  # auth.test, before each connect until it has answered once
        self._status = status
        self._last_status: tuple[str, str] | None = None
        self._queue: asyncio.Queue[dict] = asyncio.Queue(QUEUE_LIMIT)
        self._lost = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self.client: SocketModeClient | None = None

    async def open_url(self) -> str:
        """apps.connections.open: a fresh websocket address. SlackAuthError for a bad app token."""
        try:
            response = await self._web.apps_connections_open(app_token=self._options.app_token)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "unknown_error")
            if error in AUTH_ERRORS:
                raise SlackAuthError(rejected("SLACK_APP_TOKEN", error)) from None
            raise ConnectionError(f"apps.connections.open answered {error}") from None
        url = response.get("url")
        if not isinstance(url, str) or not url.startswith(("ws://", "wss://")):
            raise ConnectionError("apps.connections.open gave no websocket address")
        return url

    async def start(self) -> None:
        """Connect (SlackAuthError for a rejected token), then start the supervisor and the
        envelope worker. Slack out of reach is no error: the supervisor keeps trying."""
        self.client = SocketModeClient(
            self._options.app_token,
            logger=sdk_logger(),
            web_client=self._web,
            auto_reconnect_enabled=False,
            ping_interval=self._options.ping_interval,
        )
        self.client.message_listeners.append(self._on_message)
        self.client.on_close_listeners.append(self._on_lost)
        self.client.on_error_listeners.append(self._on_lost)
        try:
            await self._connect()
            self._report("connected", "")
        except SlackAuthError:
            raise
        except Exception as exc:
            self._report("connecting", f"cannot reach Slack: {self._reason(exc)}")
        self._tasks = [
            asyncio.create_task(self._supervise(), name="slack-socket"),
            asyncio.create_task(self._work(), name="slack-envelopes"),
        ]

    async def stop(self) -> None:
        self._stopping.set()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2.0)
        if self.client is not None:
            try:
                await self.client.close()
            except Exception as exc:  # closing a dead connection may itself fail
                log.debug("slack: closing the socket failed: %s", type(exc).__name__)

    # -- connection --------------------------------------------------------------------------
    async def _connect(self) -> None:
        client = self.client
        assert client is not None
        async with client.connect_operation_lock:  # the SDK takes it for a "disconnect" refresh
            if await client.is_connected():
                return
            self._lost.clear()
            await self._setup()
            client.wss_uri = await self.open_url()
            await asyncio.wait_for(client.connect(), CONNECT_TIMEOUT)

    async def _supervise(self) -> None:
        backoff = Backoff()
        assert self.client is not None
        while not self._stopping.is_set():
            if not await self.client.is_connected():
                self._report("connecting", "the Socket Mode connection was lost; reconnecting")
                try:
                    await self._connect()
                except SlackAuthError as exc:  # a revoked token never fixes itself
                    self._report("failed", str(exc))
                    return
                except Exception as exc:
                    self._report("connecting", f"cannot reach Slack: {self._reason(exc)}")
                    await self._sleep(backoff.next())
                    continue
                backoff.reset()
                self._report("connected", "")
            try:  # a close wakes us at once; a silent death shows in the ping check
                await asyncio.wait_for(self._lost.wait(), self._options.ping_interval)
            except TimeoutError:
                pass

    def _reason(self, exc: BaseException) -> str:
        if isinstance(exc, TimeoutError):
            return "no answer within the timeout"
        text = str(exc) or type(exc).__name__
        return redact(text, self._options.app_token, self._options.bot_token)

    async def _on_lost(self, message) -> None:
        self._lost.set()

    def _report(self, state: str, detail: str) -> None:
        if (state, detail) != self._last_status:
            self._last_status = (state, detail)
            self._status(state, detail)

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            pass

    # -- envelopes ---------------------------------------------------------------------------
    async def _on_message(self, client, message: dict, raw: str | None = None) -> None:
        # No await before the put: the SDK runs each message in its own task, started in
        # arrival order, so the queue keeps that order.
        kind = message.get("type")
        if kind == "hello":
            log.info("slack: Socket Mode connected")
        elif kind in ENVELOPE_TYPES:
            try:
                self._queue.put_nowait(message)
            except asyncio.QueueFull:  # not acknowledged: Slack delivers it again later
                log.warning("slack: too many envelopes waiting; one left for redelivery")
        elif kind != "disconnect":
            log.debug("slack: ignored a Socket Mode message of type %r", kind)

    async def _work(self) -> None:
        while True:
            message = await self._queue.get()
            envelope_id = message.get("envelope_id")
            try:
                await self._handle(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # not stored: no ack, so Slack delivers it again
                log.warning(
                    "slack: envelope %s was not stored (%s); Slack will deliver it again",
                    envelope_id,
                    type(exc).__name__,
                )
                continue
            if isinstance(envelope_id, str) and envelope_id:
                await self._ack(envelope_id)

    async def _ack(self, envelope_id: str) -> None:
        assert self.client is not None
        try:
            await self.client.send_socket_mode_response({"envelope_id": envelope_id})
        except Exception as exc:  # the link dropped: Slack redelivers, the inbox dedupes
            log.info("slack: could not acknowledge %s: %s", envelope_id, type(exc).__name__)
