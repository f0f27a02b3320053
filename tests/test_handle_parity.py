"""One behaviour suite for both GatewayHandles: a LocalHandle on an in-process engine, and a
RemoteHandle speaking real JSON lines over a real Unix socket to a ControlServer on such an
engine. Whatever a control center can do embedded, it can do attached."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from hermes_gateway.control.handle import GatewayHandle
from hermes_gateway.control.local import LocalHandle
from hermes_gateway.control.remote import RemoteHandle
from hermes_gateway.control.server import ControlServer
from hermes_gateway.core.engine import Engine
from hermes_gateway.core.events import (
    ApprovalRequested,
    ApprovalResolved,
    ConsoleReply,
    Event,
    PlatformStatusChanged,
    TurnFinished,
    TurnStarted,
)
from tests.helpers import WAIT, peer_config, running_engine, write_config
from tests.test_agent_runtime_e2e import call

CONSOLE_KEY = "console:dm:local"
QUIET = "display:\n  tool_progress: off\n"


@dataclass
class Attached:
    handle: GatewayHandle
    engine: Engine


@contextlib.asynccontextmanager
async def local_handle(engine: Engine, sock_dir: Path) -> AsyncIterator[GatewayHandle]:
    handle = LocalHandle(engine)
    try:
        yield handle
    finally:
        await handle.close()


@contextlib.asynccontextmanager
async def remote_handle(engine: Engine, sock_dir: Path) -> AsyncIterator[GatewayHandle]:
    server = ControlServer(engine, sock_dir / "control.sock")
    await server.start()
    try:
        handle = await RemoteHandle.connect(server.path)
        try:
            yield handle
        finally:
            await handle.close()
    finally:
        await server.stop()


@pytest.fixture(params=[local_handle, remote_handle], ids=["local", "remote"])
def attach(request, tmp_path) -> Callable:
    """attach(home) → an async context giving the handle on a running engine on that home."""

    @contextlib.asynccontextmanager
    async def open_on(home: Path) -> AsyncIterator[Attached]:
        async with (
            running_engine(home) as (engine, _replies),
            request.param(engine, tmp_path) as handle,
        ):
            yield Attached(handle, engine)

    return open_on


async def next_event(
    events: AsyncIterator[Event], kind: type[Event], match: Callable[[Event], bool] = bool
) -> Event:
    async def find() -> Event:
        async for event in events:
            if isinstance(event, kind) and match(event):
                return event
        raise AssertionError(f"the event stream ended before a {kind.__name__}")

    return await asyncio.wait_for(find(), WAIT)


def peer_home(tmp_path: Path, peer) -> Path:
    home = tmp_path / "home"
    write_config(home, peer_config(peer.base_url, QUIET))
    return home


async def test_snapshot_shows_the_console_connected_and_the_offline_provider(tmp_path, attach):
    async with attach(tmp_path / "home") as it:
        snap = await it.handle.snapshot()
    assert snap.mode == it.handle.mode
    assert snap.provider == "offline"
    assert snap.home == str(tmp_path / "home")
    console = next(p for p in snap.platforms if p.name == "console")
    assert console.state == "connected"


async def test_send_console_answers_with_a_console_reply_event(tmp_path, attach):
    async with attach(tmp_path / "home") as it:
        events = it.handle.events()
        await it.handle.send_console("hello over the seam")
        reply = await next_event(events, ConsoleReply)
    assert reply.chat_id == "local"
    assert "Offline agent" in reply.text and "hello over the seam" in reply.text


async def test_pending_approval_is_listed_and_approving_it_runs_the_command(
    tmp_path, attach, openai_peer
):
    home = peer_home(tmp_path, openai_peer)
    target = home / "workspace" / "x"
    target.mkdir(parents=True)
    openai_peer.script([call("terminal", command="rm -r x"), {"text": "removed x"}])
    async with attach(home) as it:
        events = it.handle.events()
        await it.handle.send_console("delete x")
        asked = await next_event(events, ApprovalRequested)
        pending = (await it.handle.snapshot()).approvals
        assert [(a.id, a.command) for a in pending] == [(asked.approval_id, "rm -r x")]
        assert target.exists()

        assert await it.handle.resolve_approval(asked.approval_id, "once") is True
        resolved = await next_event(events, ApprovalResolved)
        await next_event(events, ConsoleReply, lambda e: e.text == "removed x")
        assert (await it.handle.snapshot()).approvals == []
    assert (resolved.decision, resolved.by) == ("once", "operator")
    assert not target.exists()


async def test_resolving_an_unknown_approval_returns_false(tmp_path, attach):
    async with attach(tmp_path / "home") as it:
        assert await it.handle.resolve_approval("no-such-approval", "once") is False


async def test_a_bad_approval_choice_is_a_value_error(tmp_path, attach):
    async with attach(tmp_path / "home") as it:
        with pytest.raises(ValueError, match="Unknown approval choice"):
            await it.handle.resolve_approval("whatever", "sometimes")


async def test_stop_session_interrupts_a_running_turn(tmp_path, attach, openai_peer):
    home = peer_home(tmp_path, openai_peer)
    openai_peer.script([{"delay": 30.0, "text": "too late"}])
    async with attach(home) as it:
        events = it.handle.events()
        assert await it.handle.stop_session(CONSOLE_KEY) is False  # nothing runs yet
        await it.handle.send_console("think for a long time")
        await next_event(events, TurnStarted)
        assert await it.handle.stop_session(CONSOLE_KEY) is True
        finished = await next_event(events, TurnFinished)
    assert finished.status == "stopped"


async def test_reset_session_starts_a_new_session(tmp_path, attach):
    async with attach(tmp_path / "home") as it:
        assert await it.handle.reset_session(CONSOLE_KEY) is False  # no session yet
        events = it.handle.events()
        await it.handle.send_console("first")
        await next_event(events, ConsoleReply)
        before = _session_id(await it.handle.snapshot())
        assert await it.handle.reset_session(CONSOLE_KEY) is True
        after = _session_id(await it.handle.snapshot())
    assert before and after and before != after


async def test_reconnect_platform_reports_the_console_going_down_and_up(tmp_path, attach):
    async with attach(tmp_path / "home") as it:
        events = it.handle.events()
        await it.handle.reconnect_platform("console")
        states = []
        while "connected" not in states:
            event = await next_event(events, PlatformStatusChanged)
            states.append(event.state)
    # (the adapter and the engine may each report "stopped")
    assert [s for i, s in enumerate(states) if s not in states[:i]] == [
        "stopped",
        "connecting",
        "connected",
    ]


async def test_approving_a_bad_pairing_code_is_a_value_error(tmp_path, attach):
    async with attach(tmp_path / "home") as it:
        with pytest.raises(ValueError) as caught:
            await it.handle.approve_pairing("telegram", "NOSUCHCD")
    assert str(caught.value)  # the engine's reason, word for word


async def test_revoking_an_unknown_user_returns_false(tmp_path, attach):
    async with attach(tmp_path / "home") as it:
        assert await it.handle.revoke_pairing("telegram", "123456") is False


def _session_id(snap) -> str:
    return next(s.session_id for s in snap.sessions if s.key == CONSOLE_KEY)


async def test_transcript_returns_the_sessions_entries_oldest_first(tmp_path, attach):
    async with attach(tmp_path / "home") as it:
        events = it.handle.events()
        await it.handle.send_console("remember this")
        await next_event(events, ConsoleReply)
        session_id = _session_id(await it.handle.snapshot())
        entries = await it.handle.transcript(session_id)
        last = await it.handle.transcript(session_id, limit=1)
    assert [e["role"] for e in entries] == ["user", "assistant"]
    assert entries[0]["content"] == "remember this"
    assert last == entries[-1:]


async def test_kill_process_stops_a_background_process_once(tmp_path, attach):
    async with attach(tmp_path / "home") as it:
        processes = it.engine.services.processes
        info = await processes.start("sleep 300", cwd=tmp_path, session_key=CONSOLE_KEY)
        assert await it.handle.kill_process(info.id) is True
        assert processes.get(info.id).state != "running"
        assert await it.handle.kill_process(info.id) is False  # already ended
        assert await it.handle.kill_process("proc_nope") is False
