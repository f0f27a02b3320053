"""The control socket of a real `hermes gateway --headless`: private, JSON lines, robust against bad
input, gone when the gateway goes; and, in-process, what happens to clients that stop reading."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import stat

import pytest

from hermes_gateway.control.protocol import LINE_LIMIT
from hermes_gateway.control.remote import RemoteHandle
from hermes_gateway.control.server import ControlServer
from hermes_gateway.core.events import ConsoleReply, EngineWarning, ToolProgress
from tests.helpers import WAIT, running_engine

LISTENING = "control socket listening"


@pytest.fixture
def home(tmp_path):
    return tmp_path / "home"


class RawClient:
    """A plain asyncio Unix socket client: exactly the bytes we choose, one reply line each."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, path) -> RawClient:
        return cls(*await asyncio.open_unix_connection(str(path), limit=4 * LINE_LIMIT))

    async def ask(self, line: bytes | dict) -> dict:
        if isinstance(line, dict):
            line = json.dumps(line).encode() + b"\n"
        self.writer.write(line)
        return json.loads(await asyncio.wait_for(self.reader.readline(), WAIT))

    def close(self) -> None:
        self.writer.close()


async def console_reply(events, timeout: float = WAIT) -> ConsoleReply:
    async def first() -> ConsoleReply:
        async for event in events:
            if isinstance(event, ConsoleReply):
                return event
        raise AssertionError("the event stream ended before a console reply")

    return await asyncio.wait_for(first(), timeout)


# -- a real gateway process ---------------------------------------------------------------------
async def test_socket_is_private_and_serves_snapshots_and_the_console(home, gateways):
    gateway = gateways(home)
    gateway.wait_for_log(LISTENING)
    sock = home / "control.sock"
    mode = os.stat(sock).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600

    first = await RemoteHandle.connect(sock)
    second = await RemoteHandle.connect(sock)  # several clients at once
    try:
        snap_a, snap_b = await asyncio.gather(first.snapshot(), second.snapshot())
        streams = [first.events(), second.events()]
        await first.send_console("hello over the socket")
        replies = await asyncio.gather(*(console_reply(s) for s in streams))
    finally:
        await first.close()
        await second.close()
    assert snap_a == snap_b
    assert (snap_a.mode, snap_a.provider, snap_a.home) == ("attached", "offline", str(home))
    assert [(p.name, p.state) for p in snap_a.platforms] == [("console", "connected")]
    assert all("hello over the socket" in r.text for r in replies)
    assert "hello over the socket" in gateway.reply()["text"]  # the stdout console saw it too
    assert first.mode == "attached" and not first.connected


async def test_bad_lines_get_error_replies_and_the_connection_still_works(home, gateways):
    gateway = gateways(home)
    gateway.wait_for_log(LISTENING)
    client = await RawClient.open(home / "control.sock")
    try:
        malformed = await client.ask(b"{not json\n")
        not_object = await client.ask(b"[1, 2]\n")
        unknown = await client.ask({"v": 1, "id": 2, "op": "explode"})
        version = await client.ask({"v": 2, "id": 3, "op": "snapshot"})
        missing = await client.ask({"v": 1, "id": 4, "op": "stop_session", "args": {}})
        wrong_type = await client.ask({"v": 1, "id": 5, "op": "stop_session", "args": {"key": 5}})
        too_long = await client.ask(b"x" * (LINE_LIMIT + 10) + b"\n")
        works = await client.ask({"v": 1, "id": 6, "op": "snapshot"})
    finally:
        client.close()
    errors = [malformed, not_object, unknown, version, missing, wrong_type, too_long]
    assert all(e["v"] == 1 and e["ok"] is False for e in errors)
    assert "malformed JSON" in malformed["error"] and malformed["id"] is None
    assert "JSON object" in not_object["error"]
    assert unknown["id"] == 2 and "unknown op 'explode'" in unknown["error"]
    assert version["id"] == 3 and "version 2" in version["error"]
    assert missing["id"] == 4 and "args.key" in missing["error"]
    assert wrong_type["id"] == 5 and "must be a string" in wrong_type["error"]
    assert "limited to" in too_long["error"]
    assert works["id"] == 6 and works["ok"] is True and works["result"]["mode"] == "attached"


async def test_sigterm_removes_the_socket_and_disconnects_attached_clients(home, gateways):
    gateway = gateways(home)
    gateway.wait_for_log(LISTENING)
    remote = await RemoteHandle.connect(home / "control.sock")
    events = remote.events()
    await remote.snapshot()  # subscribed and served

    assert gateway.terminate() == 0  # blocks this loop: the handle has not noticed anything yet
    assert not (home / "control.sock").exists()
    with pytest.raises(ConnectionError, match="the gateway stopped"):
        await asyncio.wait_for(remote.snapshot(), WAIT)
    await asyncio.wait_for(remote.disconnected.wait(), WAIT)
    leftovers = await asyncio.wait_for(_drain(events), WAIT)  # the stream ends
    assert not remote.connected
    assert all(not isinstance(e, ConsoleReply) for e in leftovers)


async def test_request_in_flight_when_the_gateway_dies_fails_and_a_restart_replaces_the_socket(
    home, gateways
):
    first = gateways(home)
    first.wait_for_log(LISTENING)
    remote = await RemoteHandle.connect(home / "control.sock")
    first.proc.send_signal(signal.SIGSTOP)  # it cannot answer what we ask now
    pending = asyncio.create_task(remote.snapshot())
    await asyncio.sleep(0)  # the request is on the wire
    assert not pending.done()
    first.kill()  # SIGKILL: no cleanup, the socket file stays behind
    with pytest.raises(ConnectionError, match="the gateway stopped"):
        await asyncio.wait_for(pending, WAIT)
    assert remote.disconnected.is_set()
    assert stat.S_ISSOCK(os.lstat(home / "control.sock").st_mode)  # stale

    second = gateways(home)
    second.wait_for_log(LISTENING)
    again = await RemoteHandle.connect(home / "control.sock")
    try:
        assert (await again.snapshot()).mode == "attached"
    finally:
        await again.close()


async def test_connecting_without_a_gateway_says_none_is_running(home):
    home.mkdir()
    with pytest.raises(ConnectionError) as missing:
        await RemoteHandle.connect(home / "control.sock")
    dead = socket.socket(socket.AF_UNIX)  # a socket file nobody listens on: a crashed gateway's
    dead.bind(str(home / "control.sock"))
    dead.close()
    with pytest.raises(ConnectionError) as refused:
        await RemoteHandle.connect(home / "control.sock")
    assert str(missing.value) == f"no Hermes gateway is running on {home}"
    assert str(refused.value) == str(missing.value)


async def test_a_refused_second_gateway_leaves_the_first_ones_socket_alone(home, gateways):
    first = gateways(home)
    first.wait_for_log(LISTENING)
    before = os.stat(home / "control.sock")
    second = gateways(home)
    assert second.proc.wait(15) == 1
    assert f"PID {first.proc.pid}" in "\n".join(second.stderr_lines)
    after = os.stat(home / "control.sock")
    assert (after.st_ino, stat.S_IMODE(after.st_mode)) == (before.st_ino, 0o600)
    remote = await RemoteHandle.connect(home / "control.sock")
    try:
        assert (await remote.snapshot()).mode == "attached"
    finally:
        await remote.close()


# -- clients that stop reading (in-process: the engine's bus is ours to flood) ------------------
async def _drain(events) -> list:
    return [event async for event in events]


def _subscribed_sleeper(server: ControlServer) -> socket.socket:
    """A client that subscribes and then reads nothing (a plain socket: no reader task)."""
    sleeper = socket.socket(socket.AF_UNIX)
    sleeper.connect(str(server.path))
    sleeper.sendall(b'{"v":1,"id":1,"op":"subscribe"}\n')
    return sleeper


async def _wake(sleeper: socket.socket) -> RawClient:
    sleeper.setblocking(False)
    return RawClient(*await asyncio.open_unix_connection(sock=sleeper, limit=4 * LINE_LIMIT))


async def test_a_client_that_stops_reading_loses_only_progress_events(tmp_path):
    published = 5000  # megabytes: far more than the socket buffers and the queue hold
    async with running_engine(tmp_path / "home") as (engine, _):
        server = ControlServer(engine, tmp_path / "c.sock", event_queue=10, backlog_limit=50)
        await server.start()
        sleeper = _subscribed_sleeper(server)
        try:
            await asyncio.wait_for(_until(lambda: server.clients == 1), WAIT)
            for i in range(published):
                engine.bus.publish(ToolProgress("k", "terminal", "💻", "x" * 1000, f"{i}"))
                await asyncio.sleep(0)
            engine.bus.publish(EngineWarning("the last word"))
            assert server.clients == 1  # progress was dropped; nothing piled up
            client = await _wake(sleeper)
            names = []
            while not names or names[-1] != "EngineWarning":
                message = json.loads(await asyncio.wait_for(client.reader.readline(), WAIT))
                names.append(message["event"]["name"] if "event" in message else "reply")
            client.close()
        finally:
            sleeper.close()
            await server.stop()
    assert names[0] == "reply"
    assert 0 < names.count("ToolProgress") < published


async def test_a_client_hopelessly_behind_is_disconnected_and_others_carry_on(tmp_path):
    async with running_engine(tmp_path / "home") as (engine, _):
        server = ControlServer(engine, tmp_path / "c.sock", event_queue=10, backlog_limit=50)
        await server.start()
        sleeper = _subscribed_sleeper(server)
        try:
            await asyncio.wait_for(_until(lambda: server.clients == 1), WAIT)
            for _ in range(5000):
                if server.clients == 0:
                    break
                engine.bus.publish(EngineWarning("y" * 1000))  # never droppable
                await asyncio.sleep(0)
            assert server.clients == 0
            healthy = await RawClient.open(server.path)
            reply = await healthy.ask({"v": 1, "id": 1, "op": "snapshot"})
            healthy.close()
        finally:
            sleeper.close()
            await server.stop()
    assert reply["ok"] is True
    assert not (tmp_path / "c.sock").exists()


async def _until(predicate) -> None:
    while not predicate():
        await asyncio.sleep(0.01)
