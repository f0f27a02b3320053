"""ControlServer: the Unix control socket of a running gateway. Each client may call every
GatewayHandle method (answered by a LocalHandle on the engine) and subscribe to engine events.

The socket is private to its user (0600), one per HERMES_HOME (the engine lock guarantees a
single engine; a socket file left by a crashed gateway is replaced), and removed on stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hermes_gateway.control.local import LocalHandle
from hermes_gateway.control.protocol import (
    FAILED,
    INVALID,
    LINE_LIMIT,
    PROTOCOL,
    ProtocolError,
    Request,
    event_line,
    parse_request,
    reply_error,
    reply_ok,
)
from hermes_gateway.core.events import Event

if TYPE_CHECKING:
    from hermes_gateway.core.engine import Engine

log = logging.getLogger("hermes.control")

EVENT_QUEUE = 2000  # per client: past this, its oldest progress events are dropped
BACKLOG_LIMIT = 20000  # undelivered events a client may owe before it is disconnected
MAX_IN_FLIGHT = 64  # requests one client may have running at once
SUN_PATH_MAX = 107  # bytes in a Unix socket path (Linux; macOS allows 103)
PROBE_TIMEOUT = 2.0
CLOSE_TIMEOUT = 2.0


class ControlServer:
    def __init__(
        self,
        engine: Engine,
        path: Path,
        *,
        event_queue: int = EVENT_QUEUE,
        backlog_limit: int = BACKLOG_LIMIT,
    ) -> None:
        self.engine = engine
        self.path = Path(path)
        self.event_queue = event_queue
        self.backlog_limit = backlog_limit
        # Made now, so that its counters see the platforms connect during engine.start().
        self.handle = LocalHandle(engine, mode="attached")
        self._server: asyncio.AbstractServer | None = None
        self._inode: int | None = None
        self._clients: dict[_Client, asyncio.Task] = {}
        self._jobs: set[asyncio.Task] = set()  # cron runs started by run_cron
        self._stopped = False

    @property
    def clients(self) -> int:
        return len(self._clients)

    async def start(self) -> None:
        """Bind and listen. Raises OSError when the path cannot be a socket, RuntimeError when
        another process serves it."""
        path = self.path
        if len(os.fsencode(path)) > SUN_PATH_MAX:
            raise OSError(
                f"the control socket path {path} is longer than a Unix socket allows "
                f"({SUN_PATH_MAX} bytes); use a shorter HERMES_HOME"
            )
        await _clear_stale(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)  # the file is born 0600: no window where others can connect
        try:
            sock.bind(str(path))
        except OSError:
            sock.close()
            raise
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o600)
        self._inode = os.stat(path).st_ino
        self._server = await asyncio.start_unix_server(self._serve, sock=sock, limit=LINE_LIMIT)
        log.info("control socket listening at %s", path)

    async def stop(self) -> None:
        """Close every client (their pending requests fail, their event streams end) and remove
        the socket file."""
        if self._stopped:
            return
        self._stopped = True
        if self._server is not None:
            self._server.close()
            tasks = list(self._clients.values())
            for client in list(self._clients):
                client.close()
            for job in self._jobs:
                job.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT)
            with contextlib.suppress(FileNotFoundError):
                if os.stat(self.path).st_ino == self._inode:  # never remove another's socket
                    os.unlink(self.path)
        await self.handle.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = _Client(self, reader, writer)
        self._clients[client] = asyncio.current_task()
        try:
            await client.run()
        except (ConnectionError, OSError):
            pass  # the client hung up mid-line
        finally:
            client.close()
            self._clients.pop(client, None)

    async def perform(self, op: str, args: dict[str, Any]) -> Any:
        """Run one op on the LocalHandle; its return value, JSON-ready."""
        if op == "snapshot":
            return (await self.handle.snapshot()).to_json()
        if op == "run_cron":
            # A run takes as long as the agent does: start it, and answer at once.
            self.engine.services.cron.get(args["job_id"])  # an unknown id: ValueError now
            job = asyncio.create_task(self._run_cron(args["job_id"]))
            self._jobs.add(job)
            job.add_done_callback(self._jobs.discard)
            return "started"
        return await getattr(self.handle, op)(**args)

    async def _run_cron(self, job_id: str) -> None:
        try:
            await self.handle.run_cron(job_id)
        except Exception as exc:  # its outcome reaches clients as CronRun events
            log.warning("cron run %s requested on the control socket failed: %s", job_id, exc)


class _Client:
    """One connection: reads request lines, answers each in its own task, pumps events."""

    def __init__(
        self, server: ControlServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.requests: set[asyncio.Task] = set()
        self.subscription = None
        self.pump: asyncio.Task | None = None
        self._unlisten = None
        self.published = 0  # events the bus offered this client
        self.taken = 0  # events the pump took off its subscription
        self.closed = False

    async def run(self) -> None:
        while not self.closed:
            await self.writer.drain()  # a client that does not read its replies is not read
            line = await _read_line(self.reader)
            if line is None:
                return
            if line is _TOO_LONG:
                self.send(
                    reply_error(None, f"a request line is limited to {LINE_LIMIT} bytes", PROTOCOL)
                )
            elif line.strip():
                self.take(line)

    def take(self, line: bytes) -> None:
        try:
            request = parse_request(line)
        except ProtocolError as exc:
            self.send(reply_error(exc.request_id, str(exc), PROTOCOL))
            return
        if request.op == "subscribe":  # inline: requests after it see the subscription in place
            self.subscribe()
            self.send(reply_ok(request.id, True))
        elif len(self.requests) >= MAX_IN_FLIGHT:
            error = f"too many requests in flight ({MAX_IN_FLIGHT}); wait for their replies"
            self.send(reply_error(request.id, error, FAILED))
        else:
            task = asyncio.create_task(self.answer(request))
            self.requests.add(task)
            task.add_done_callback(self.requests.discard)

    async def answer(self, request: Request) -> None:
        try:
            result = await self.server.perform(request.op, request.args)
        except ValueError as exc:
            self.send(reply_error(request.id, str(exc), INVALID))
        except Exception as exc:
            log.exception("control op %s failed", request.op)
            self.send(reply_error(request.id, str(exc) or type(exc).__name__, FAILED))
        else:
            self.send(reply_ok(request.id, result))

    def send(self, data: bytes) -> None:
        if not self.closed and not self.writer.is_closing():
            self.writer.write(data)

    # -- events ---------------------------------------------------------------------------
    def subscribe(self) -> None:
        if self.subscription is not None:
            return
        bus = self.server.engine.bus
        self.subscription = bus.subscribe(maxsize=self.server.event_queue)
        self._unlisten = bus.listen(self._count)  # counts what the subscription is offered
        self.pump = asyncio.create_task(self._pump())

    def _count(self, event: Event) -> None:
        self.published += 1
        behind = self.published - self.taken - self.subscription.dropped
        if behind > self.server.backlog_limit and not self.writer.is_closing():
            # Only progress events may be dropped; rather than hold the rest forever, let go.
            log.warning("a control client fell %d events behind; disconnecting it", behind)
            self.writer.transport.abort()
            # Not now: unlistening inside the bus's listener loop would skip the next listener.
            asyncio.get_running_loop().call_soon(self.close)

    async def _pump(self) -> None:
        try:
            async for event in self.subscription:
                self.taken += 1
                self.send(event_line(event))
                await self.writer.drain()
        except (ConnectionError, OSError):
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._unlisten is not None:
            self._unlisten()
        if self.subscription is not None:
            self.subscription.close()
        current = asyncio.current_task()
        for task in [*self.requests, self.pump]:
            if task is not None and task is not current:
                task.cancel()
        self.writer.close()


_TOO_LONG = b"\0too-long"


async def _read_line(reader: asyncio.StreamReader) -> bytes | None:
    """The next line; None at EOF; _TOO_LONG (after skipping it) when it exceeds the limit."""
    try:
        return await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as exc:
        return exc.partial or None  # a last line without a newline still counts
    except asyncio.LimitOverrunError as exc:
        consumed = exc.consumed
    while True:  # drop the rest of the long line, whatever size it turns out to be
        await reader.readexactly(consumed)
        try:
            await reader.readuntil(b"\n")
            return _TOO_LONG
        except asyncio.LimitOverrunError as exc:
            consumed = exc.consumed
        except asyncio.IncompleteReadError:
            return None


async def _clear_stale(path: Path) -> None:
    """Remove a socket file whose gateway is gone; refuse to touch a live one or a non-socket."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise OSError(f"{path} exists and is not a socket; move it away and start again")
    try:
        _, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(path)), PROBE_TIMEOUT)
    except (ConnectionRefusedError, FileNotFoundError):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # left by a gateway that crashed
        return
    except (TimeoutError, OSError):
        pass
    else:
        writer.close()
    raise RuntimeError(f"another process is serving the control socket {path}")
