"""RemoteHandle: the GatewayHandle of a running `hermes gateway`, over its control socket.

Requests carry ids, so several may be in flight at once. When the gateway goes away, every
pending request fails with ConnectionError("the gateway stopped"), every `events()` stream ends
and `disconnected` is set: a control center shows it and may `connect()` again."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from hermes_gateway.control.protocol import (
    CLIENT_LINE_LIMIT,
    INVALID,
    LINE_LIMIT,
    VERSION,
    ControlError,
    event_from_json,
    request_line,
)
from hermes_gateway.control.snapshot import Snapshot
from hermes_gateway.core.bus import EventBus, Subscription
from hermes_gateway.core.events import Event

log = logging.getLogger("hermes.control")

EVENT_QUEUE = 2000  # per events() stream, as in LocalHandle
GATEWAY_STOPPED = "the gateway stopped"
CLOSE_TIMEOUT = 2.0


class RemoteHandle:
    mode = "attached"

    def __init__(
        self, path: Path, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.path = path
        self.disconnected = asyncio.Event()
        self._reader = reader
        self._writer = writer
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self._bus = EventBus()  # fans the one server subscription out to every events() stream
        self._streams: list[Subscription] = []
        self._subscribed = False
        self._why = GATEWAY_STOPPED
        self._read_task = asyncio.create_task(self._read_loop(), name="hermes-control-read")

    @classmethod
    async def connect(cls, path: Path | str) -> RemoteHandle:
        """Attach to the gateway serving `path`; ConnectionError when none does."""
        path = Path(path)
        try:
            reader, writer = await asyncio.open_unix_connection(str(path), limit=CLIENT_LINE_LIMIT)
        except (FileNotFoundError, ConnectionRefusedError):
            raise ConnectionError(f"no Hermes gateway is running on {path.parent}") from None
        except PermissionError:
            raise ConnectionError(
                f"cannot open the control socket {path}: permission denied "
                "(is the gateway running as another user?)"
            ) from None
        except OSError as exc:
            raise ConnectionError(f"cannot open the control socket {path}: {exc}") from None
        return cls(path, reader, writer)

    @property
    def connected(self) -> bool:
        return not self.disconnected.is_set()

    # -- GatewayHandle ----------------------------------------------------------------------
    async def snapshot(self) -> Snapshot:
        return Snapshot.from_json(await self._request("snapshot"))

    def events(self) -> AsyncIterator[Event]:
        """Engine events from now on. The subscribe request is written before this returns, so
        whatever the caller asks next happens after the gateway subscribed it."""
        stream = self._bus.subscribe(maxsize=EVENT_QUEUE)
        if not self.connected:
            stream.close()
            return stream
        self._streams.append(stream)
        if not self._subscribed:
            self._subscribed = True
            future = self._send("subscribe", {})
            future.add_done_callback(_log_failure)
        return stream

    async def resolve_approval(self, approval_id: str, choice: str) -> bool:
        return bool(await self._request("resolve_approval", approval_id=approval_id, choice=choice))

    async def stop_session(self, key: str) -> bool:
        return bool(await self._request("stop_session", key=key))

    async def reset_session(self, key: str) -> bool:
        return bool(await self._request("reset_session", key=key))

    async def reconnect_platform(self, name: str) -> None:
        await self._request("reconnect_platform", name=name)

    async def disable_platform(self, name: str) -> None:
        await self._request("disable_platform", name=name)

    async def approve_pairing(self, platform: str, code: str) -> str:
        return str(await self._request("approve_pairing", platform=platform, code=code))

    async def transcript(self, session_id: str, limit: int = 200) -> list[dict]:
        return list(await self._request("transcript", session_id=session_id, limit=limit))

    async def kill_process(self, process_id: str) -> bool:
        return bool(await self._request("kill_process", process_id=process_id))

    async def revoke_pairing(self, platform: str, user_id: str) -> bool:
        return bool(await self._request("revoke_pairing", platform=platform, user_id=user_id))

    async def run_cron(self, job_id: str) -> None:
        """Starts the job and returns (its outcome arrives as CronRun events)."""
        await self._request("run_cron", job_id=job_id)

    async def pause_cron(self, job_id: str, paused: bool = True) -> None:
        await self._request("pause_cron", job_id=job_id, paused=paused)

    async def send_console(self, text: str) -> None:
        await self._request("send_console", text=text)

    async def close(self) -> None:
        if self.connected:
            self._why = "the handle was closed"
            self._writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._read_task), CLOSE_TIMEOUT)
        self._read_task.cancel()
        self._lost()

    # -- the wire ---------------------------------------------------------------------------
    async def _request(self, op: str, **args: Any) -> Any:
        return await self._send(op, args)

    def _send(self, op: str, args: dict[str, Any]) -> asyncio.Future:
        if not self.connected:
            raise ConnectionError(self._why)
        request_id = next(self._ids)
        line = request_line(request_id, op, args)
        if len(line) > LINE_LIMIT:
            raise ValueError(f"the {op} request is {len(line)} bytes; the limit is {LINE_LIMIT}")
        future = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        future.add_done_callback(lambda _: self._pending.pop(request_id, None))
        self._writer.write(line)
        return future

    async def _read_loop(self) -> None:
        try:
            while line := await self._reader.readline():
                self._dispatch(line)
        except (ConnectionError, OSError, ValueError) as exc:  # ValueError: an endless line
            log.debug("control connection lost: %s", exc)
        finally:
            self._lost()

    def _dispatch(self, line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            log.warning("the gateway sent a line that is not JSON; skipped")
            return
        if not isinstance(message, dict) or message.get("v") != VERSION:
            log.warning("the gateway speaks another control protocol version; line skipped")
            return
        if "event" in message:
            event = event_from_json(message["event"] or {})
            if event is not None:
                self._bus.publish(event)
            return
        future = self._pending.get(message.get("id"))
        if future is None or future.done():
            if not message.get("ok", True):
                log.warning("the gateway refused a request: %s", message.get("error"))
            return
        if message.get("ok"):
            future.set_result(message.get("result"))
        else:
            error = str(message.get("error") or "the gateway refused the request")
            future.set_exception(
                ValueError(error) if message.get("kind") == INVALID else ControlError(error)
            )

    def _lost(self) -> None:
        if self.disconnected.is_set():
            return
        self.disconnected.set()
        for future in list(self._pending.values()):
            if not future.done():
                future.set_exception(ConnectionError(self._why))
        self._pending.clear()
        for stream in self._streams:
            stream.close()  # what was received is still delivered, then the stream ends
        self._streams.clear()
        self._writer.close()


def _log_failure(future: asyncio.Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.debug("subscribing to events failed: %s", future.exception())
