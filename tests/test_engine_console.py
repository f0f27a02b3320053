"""The engine end to end through the console platform: the offline agent in-process, and a
scripted OpenAI-compatible peer over real loopback HTTP."""

import asyncio
import os
import re
import sqlite3
import subprocess
import sys

from hermes_gateway.core.events import MessageIgnored, TurnFinished
from hermes_gateway.core.types import ChatType, InboundMessage, Platform, SessionSource
from tests.helpers import peer_config, running_engine, write_config


async def test_console_round_trip_with_the_offline_agent(tmp_path):
    async with running_engine(tmp_path / "home") as (engine, replies):
        await engine.console.inject("hello there")
        reply = await replies.next()
    assert "Offline agent" in reply and "hello there" in reply
    assert "hermes gateway setup" in reply  # says how to configure a real provider


async def test_reply_is_durable_and_transcript_is_stored(tmp_path):
    home = tmp_path / "home"
    async with running_engine(home) as (engine, replies):
        await engine.console.inject("remember me")
        await replies.next()
        await asyncio.sleep(0.05)
        session = engine.store.session_current("console:dm:local")
        roles = [e.role for e in engine.store.transcript(session.id)]
    assert roles == ["user", "assistant"]
    db = sqlite3.connect(home / "state.db")
    assert db.execute("SELECT status FROM inbox").fetchall() == [("done",)]
    assert db.execute("SELECT status, platform_message_id != '' FROM outbox").fetchall() == [
        ("sent", 1)
    ]


async def test_replayed_platform_message_is_answered_once(tmp_path):
    async with running_engine(tmp_path / "home") as (engine, replies):
        seen = engine.bus.subscribe()
        message = await engine.console.inject("once")
        assert await engine.ingest(message) is False
        await replies.next()
        await asyncio.sleep(0.1)
        events = [seen.get_nowait() for _ in range(50)]
    assert len(replies.items) == 1
    assert any(isinstance(e, MessageIgnored) and e.reason == "duplicate" for e in events if e)


async def test_second_message_during_turn_interrupts_and_merges(tmp_path, openai_peer):
    home = tmp_path / "home"
    write_config(home, peer_config(openai_peer.base_url))
    openai_peer.script([{"delay": 5.0, "text": "too slow"}, {"text": "merged answer"}])
    async with running_engine(home) as (engine, replies):
        await engine.console.inject("first")
        await _until(lambda: len(openai_peer.requests()) == 1)
        await engine.console.inject("second")
        await engine.console.inject("third")
        texts = await replies.wait_for(2)
    assert texts[0].startswith("⚡ Interrupted")
    assert texts[1] == "merged answer"
    last_prompt = openai_peer.requests()[-1]["body"]["messages"]
    assert last_prompt[-1] == {"role": "user", "content": "second\n\nthird"}
    # the interrupted message stays in the history, so the model knows what was asked
    assert {"role": "user", "content": "first"} in last_prompt


async def test_queue_mode_answers_after_the_running_turn(tmp_path, openai_peer):
    home = tmp_path / "home"
    write_config(home, peer_config(openai_peer.base_url, "busy_input_mode: queue\n"))
    openai_peer.script([{"delay": 0.5, "text": "one"}, {"text": "two"}])
    async with running_engine(home) as (engine, replies):
        await engine.console.inject("a")
        await _until(lambda: len(openai_peer.requests()) == 1)
        await engine.console.inject("b")
        texts = await replies.wait_for(2)
    assert texts == ["one", "two"]


async def test_stop_during_turn_stops_without_follow_up(tmp_path, openai_peer):
    home = tmp_path / "home"
    write_config(home, peer_config(openai_peer.base_url))
    openai_peer.script([{"delay": 5.0, "text": "never"}])
    async with running_engine(home) as (engine, replies):
        finished = engine.bus.subscribe()
        await engine.console.inject("long job")
        await _until(lambda: len(openai_peer.requests()) == 1)
        await engine.console.inject("/stop")
        assert await replies.next() == "⏹ Stopped."
        event = await _next_of(finished, TurnFinished)
    assert event.status == "stopped"
    assert len(openai_peer.requests()) == 1


async def test_provider_failure_is_reported_and_retry_answers(tmp_path, openai_peer):
    home = tmp_path / "home"
    write_config(home, peer_config(openai_peer.base_url))
    openai_peer.script([{"status": 500}, {"status": 500}, {"text": "it worked"}])
    async with running_engine(home) as (engine, replies):
        await engine.console.inject("please")
        error = await replies.next()
        assert error.startswith("⚠️") and "/retry" in error
        await engine.console.inject("/status")  # a command in between does not hide the failure
        await replies.next()
        await engine.console.inject("/retry")
        assert await replies.next() == "it worked"
        assert openai_peer.requests()[-1]["body"]["messages"][-1]["content"] == "please"


LOCKED_CONSOLE = {"CONSOLE_ALLOW_ALL_USERS": "false"}


async def test_unknown_dm_user_gets_a_code_and_is_answered_once_approved(tmp_path):
    async with running_engine(tmp_path / "home", LOCKED_CONSOLE) as (engine, replies):
        await engine.console.inject("hi", user_id="alice", chat_id="dm-alice")
        offer = await replies.next()
        code = re.search(r"pairing code is: ([A-Z2-9]{8})", offer).group(1)
        assert "hermes pairing approve console " + code in offer
        await engine.console.inject("hello?", user_id="alice", chat_id="dm-alice")
        await asyncio.sleep(0.1)
        assert len(replies.items) == 1  # no answer and no second code while it is pending
        # the operator approves from the CLI: a separate process writing the same state.db
        result = subprocess.run(
            [sys.executable, "-m", "hermes_gateway", "pairing", "approve", "console", code.lower()],
            env={**os.environ, "HERMES_HOME": str(tmp_path / "home")},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        await engine.console.inject("now?", user_id="alice", chat_id="dm-alice")
        assert "now?" in await replies.next()
    # the code never reached the store in clear
    assert code.encode() not in (tmp_path / "home" / "state.db").read_bytes()


async def test_unauthorized_group_messages_are_ignored_silently(tmp_path):
    async with running_engine(tmp_path / "home", LOCKED_CONSOLE) as (engine, replies):
        seen = engine.bus.subscribe()
        stranger = SessionSource(Platform.CONSOLE, "g1", ChatType.GROUP, user_id="mallory")
        await engine.ingest(InboundMessage(stranger, "m1", "hi all"))
        event = await _next_of(seen, MessageIgnored)
        await asyncio.sleep(0.1)
        assert engine.pairing.pending() == []
    assert event.reason == "unauthorized" and replies.items == []


async def test_group_message_not_addressed_to_the_bot_is_ignored(tmp_path):
    async with running_engine(tmp_path / "home") as (engine, replies):
        seen = engine.bus.subscribe()
        member = SessionSource(Platform.CONSOLE, "g1", ChatType.GROUP, user_id="bob")
        await engine.ingest(InboundMessage(member, "m1", "chatting", addressed=False))
        event = await _next_of(seen, MessageIgnored)
    assert event.reason == "not-addressed" and replies.items == []


async def _until(predicate, timeout: float = 10.0) -> None:
    async def poll():
        while not predicate():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)


async def _next_of(subscription, kind, timeout: float = 10.0):
    async def find():
        async for event in subscription:
            if isinstance(event, kind):
                return event

    return await asyncio.wait_for(find(), timeout)


async def test_tool_calls_round_trip_through_the_turn_loop(tmp_path, openai_peer):
    home = tmp_path / "home"
    write_config(home, peer_config(openai_peer.base_url))
    call = {"id": "call_1", "name": "no_such_tool", "arguments": '{"x": 1}'}
    openai_peer.script([{"tool_calls": [call]}, {"text": "done after the tool"}])
    async with running_engine(home) as (engine, replies):
        await engine.console.inject("use a tool")
        assert await replies.next() == "done after the tool"
        session = engine.store.session_current("console:dm:local")
        entries = engine.store.transcript(session.id)
    assert [e.role for e in entries] == ["user", "assistant", "tool", "assistant"]
    assert entries[1].tool_calls[0]["function"]["name"] == "no_such_tool"
    assert "no tool named" in entries[2].content  # a tool error is a result the model reads
    second = openai_peer.requests()[1]["body"]["messages"]
    assert second[-1]["role"] == "tool" and second[-1]["tool_call_id"] == "call_1"
