"""The SSE stream of GET /api/v1/events: parse events, hand each "receive" to the adapter, and
reconnect with a jittered backoff. signal-cli numbers its events and keeps the last ones: we
reconnect with Last-Event-ID = the newest event we stored, so an outage loses nothing (an
older signal-cli without ids simply resumes). A quiet stream is dead after KEEPALIVE_GRACE:
signal-cli writes a keep-alive comment every 15 s."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable

import aiohttp

from hermes_gateway.platforms.connection import Backoff, StatusLatch, sleep_unless

from .rpc import SignalRpc, SignalRpcError

log = logging.getLogger("hermes.signal")

KEEPALIVE_GRACE = 45.0
MAX_HANDLER_FAILURES = 5  # an event that cannot be stored this often is skipped, not retried


class AccountRejected(Exception):
    """The daemon does not serve our account: retrying cannot help."""


class EventStream:
    def __init__(
        self,
        rpc: SignalRpc,
        status: StatusLatch,
        setup: Callable[[], Awaitable[None]],
        on_receive: Callable[[dict], Awaitable[None]],
    ) -> None:
        self._rpc = rpc
        self._status = status
        self._setup = setup  # the account check, until it has succeeded once
        self._on_receive = on_receive
        self._stopping = asyncio.Event()
        self._failures: dict[str, int] = {}
        self.last_event_id = ""
        self.ready = asyncio.Event()  # set when the stream is first up, or on giving up
        self.fatal = ""

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        backoff = Backoff()
        url = self._rpc.http_url
        while not self._stopping.is_set():
            try:
                await self._setup()
                await self._session(backoff)
            except AccountRejected as exc:
                self.fatal = str(exc)
                self._status("failed", self.fatal)
                self.ready.set()
                return
            except SignalRpcError as exc:
                self._status("connecting", f"cannot reach signal-cli at {url}: {exc}")
            except (aiohttp.ClientError, TimeoutError, ConnectionError, ValueError) as exc:
                reason = str(exc) or type(exc).__name__
                self._status("connecting", f"signal-cli event stream lost: {reason}")
            if not self._stopping.is_set():
                await sleep_unless(self._stopping, backoff.next())

    async def _session(self, backoff: Backoff) -> None:
        headers = {"Accept": "text/event-stream"}
        if self.last_event_id:
            headers["Last-Event-ID"] = self.last_event_id
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10.0, sock_read=KEEPALIVE_GRACE)
        async with self._rpc.http.get(
            f"{self._rpc.http_url}/api/v1/events",
            params={"account": self._rpc.account},
            headers=headers,
            timeout=timeout,
        ) as response:
            if response.status != 200:
                raise ConnectionError(f"/api/v1/events answered {response.status}")
            self._status("connected", "")
            backoff.reset()
            self.ready.set()
            await self._read(response.content)
        if not self._stopping.is_set():
            raise ConnectionError("the event stream ended")

    async def _read(self, content: aiohttp.StreamReader) -> None:
        kind, data, event_id = "", [], ""
        async for raw in content:
            if self._stopping.is_set():
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if not line:
                if data:
                    await self._dispatch(kind, "\n".join(data), event_id)
                kind, data, event_id = "", [], ""
                continue
            if line.startswith(":"):  # a keep-alive comment
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "data":
                data.append(value)
            elif field == "event":
                kind = value
            elif field == "id":
                event_id = value

    async def _dispatch(self, kind: str, data: str, event_id: str) -> None:
        if kind in ("", "receive"):
            try:
                payload = json.loads(data)
            except ValueError:
                log.warning("signal: skipped an event that is not JSON (id %s)", event_id or "-")
                payload = None
            if payload is not None:
                try:
                    await self._on_receive(payload)
                except Exception as exc:
                    if not self._give_up_on(event_id, exc):
                        raise ConnectionError("an event could not be stored") from None
                self._failures.pop(event_id, None)
        if event_id:
            self.last_event_id = event_id

    def _give_up_on(self, event_id: str, exc: Exception) -> bool:
        """Whether to skip an event whose handler failed (else: reconnect and get it again)."""
        tries = self._failures.get(event_id, 0) + 1
        if not event_id or tries >= MAX_HANDLER_FAILURES:
            self._failures.pop(event_id, None)
            log.error("signal: gave up on event %s after %s tries: %s", event_id, tries, exc)
            return True
        self._failures[event_id] = tries
        log.warning("signal: event %s not stored yet (%s); reconnecting", event_id, exc)
        return False
