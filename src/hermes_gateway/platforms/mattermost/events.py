"""The websocket (/api/v4/websocket): authenticate, wait for "hello", hand every "posted" event
to the adapter, and reconnect with a jittered backoff when the connection drops. After every
(re)connection the adapter catches up on posts it missed, so an outage loses nothing.

aiohttp's heartbeat pings the server; a connection that stops answering is dropped."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable

import aiohttp

from hermes_gateway.config.secrets import redact
from hermes_gateway.platforms.connection import Backoff, StatusLatch, sleep_unless

from . import auth_failed
from .client import MattermostClient, MattermostError

log = logging.getLogger("hermes.mattermost")

HELLO_TIMEOUT = 10.0
HEARTBEAT = 30.0


class AuthRejected(Exception):
    """The token was refused (401): retrying cannot help."""


class EventStream:
    def __init__(
        self,
        client: MattermostClient,
        status: StatusLatch,
        setup: Callable[[], Awaitable[None]],
        on_posted: Callable[[dict], Awaitable[None]],
        on_connected: Callable[[], Awaitable[None]],
    ) -> None:
        self._client = client
        self._status = status
        self._setup = setup  # who the bot is, until that has succeeded once
        self._on_posted = on_posted
        self._on_connected = on_connected
        self._stopping = asyncio.Event()
        self.ready = asyncio.Event()  # set on the first "hello", or when the token is refused
        self.fatal = ""  # why the stream gave up for good
        self._catch_up: asyncio.Task | None = None

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        backoff = Backoff()
        url = self._client.options.url
        while not self._stopping.is_set():
            try:
                await self._setup()
                await self._session(backoff)
            except AuthRejected:
                self._give_up(auth_failed(401, url))
                return
            except aiohttp.WSServerHandshakeError as exc:
                if exc.status == 401:  # the token was revoked while we were away
                    self._give_up(auth_failed(401, url))
                    return
                self._status("connecting", f"Mattermost refused the websocket ({exc.status})")
            except MattermostError as exc:
                if exc.status in (401, 403):
                    self._give_up(auth_failed(exc.status, url))
                    return
                self._status("connecting", f"cannot reach Mattermost at {url}: {exc}")
            except (aiohttp.ClientError, TimeoutError, ConnectionError, ValueError) as exc:
                reason = redact(str(exc) or type(exc).__name__, self._client.options.token)
                self._status("connecting", f"Mattermost websocket lost: {reason}")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug must show as a failed platform, not silence
                log.exception("mattermost: the websocket loop crashed")
                self._give_up(f"the Mattermost websocket loop stopped: {exc}")
                return
            if self._catch_up is not None:
                self._catch_up.cancel()
            if not self._stopping.is_set():
                await sleep_unless(self._stopping, backoff.next())

    def _give_up(self, reason: str) -> None:
        self.fatal = reason
        self._status("failed", reason)
        self.ready.set()

    async def _session(self, backoff: Backoff) -> None:
        options = self._client.options
        async with self._client.http.ws_connect(options.ws_url, heartbeat=HEARTBEAT) as ws:
            await ws.send_json(
                {"seq": 1, "action": "authentication_challenge", "data": {"token": options.token}}
            )
            await asyncio.wait_for(self._hello(ws), HELLO_TIMEOUT)
            self._status("connected", "")
            backoff.reset()
            self.ready.set()
            self._catch_up = asyncio.create_task(self._on_connected(), name="mattermost-catch-up")
            async for frame in ws:
                if self._stopping.is_set():
                    break
                if frame.type == aiohttp.WSMsgType.TEXT:
                    await self._dispatch(frame.data)
                elif frame.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE):
                    break
            if not self._stopping.is_set():
                raise ConnectionError(f"closed by the server ({ws.close_code})")

    async def _hello(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for frame in ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                break
            event = _json(frame.data)
            if event.get("seq_reply") == 1 and event.get("status") == "FAIL":
                raise AuthRejected()
            if event.get("event") == "hello":
                return
        raise ConnectionError("closed before hello")

    async def _dispatch(self, raw: str) -> None:
        event = _json(raw)
        if event.get("event") != "posted":
            return
        try:
            await self._on_posted(event.get("data"))
        except Exception as exc:  # not stored: reconnect, and the catch-up fetches it again
            log.warning("mattermost: a post was not stored (%s); reconnecting to catch up", exc)
            raise ConnectionError("a post could not be stored") from None


def _json(raw: str) -> dict:
    try:
        found = json.loads(raw)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}
