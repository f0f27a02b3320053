"""Slack: the real engine and adapter (slack-sdk's AsyncWebClient + aiohttp SocketModeClient)
against the loopback Slack peer and the scripted model — DMs, threads in channels, the mention
rule, mrkdwn, streaming by chat.update, approval buttons, acks and redelivery, reconnects,
token errors, malformed envelopes, options, files both ways."""

import asyncio
import base64
import logging
import re
from contextlib import asynccontextmanager

import aiohttp
import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from hermes_gateway.config.schema import PlatformSettings
from hermes_gateway.core.types import Attachment, MessageKind, OutboundMessage
from hermes_gateway.platforms.slack.adapter import SlackAdapter
from hermes_gateway.platforms.slack.files import DownloadError, FileDownloader, SlackFile
from hermes_gateway.platforms.slack.names import Names
from tests.adapter_harness import Harness
from tests.helpers import peer_config, running_engine, write_config
from tests.peers.slack_fixtures import (  # noqa: F401
    ALICE,
    BOB,
    DMS,
    GENERAL,
    STRANGER,
    shared_file,
    slack_peer_fixture,
)
from tests.test_agent_runtime_e2e import call

QUIET = "display:\n  tool_progress: 'off'\n"
NO_STREAM = QUIET + "streaming:\n  enabled: false\n"


def home_for(tmp_path, openai_peer, extra: str = NO_STREAM):
    home = tmp_path / "home"
    write_config(home, peer_config(openai_peer.base_url, extra))
    return home


async def until(check, timeout: float = 10.0):
    """Poll an async check until it returns something truthy (bounded)."""
    for _ in range(int(timeout / 0.05)):
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.05)
    raise TimeoutError("condition not met")


@asynccontextmanager
async def adapter_for(tmp_path, peer):
    """The adapter alone, connected to the peer, with a stand-in for the engine."""
    extra = {"app_token": peer.app_token, "api_url": peer.api_url, "processing_reaction": "false"}
    settings = PlatformSettings("slack", True, token=peer.bot_token, extra=extra)
    adapter = SlackAdapter(settings, Harness(tmp_path / "home").context)
    await adapter.connect()
    try:
        yield adapter
    finally:
        await adapter.disconnect()


async def connected(engine) -> None:
    async def ready():
        return engine.platform_state.get("slack") == "connected"

    await until(ready)


async def test_dm_is_answered_in_the_main_timeline_as_mrkdwn(tmp_path, openai_peer, slack_peer):
    home = home_for(tmp_path, openai_peer)
    openai_peer.script([{"text": "Here is **bold** and `a < b`"}])
    async with running_engine(home, slack_peer.env()) as (engine, _):
        await connected(engine)
        await slack_peer.message(ALICE, DMS[ALICE], "hello")
        [sent] = await slack_peer.wait(1, method="chat.postMessage")
    message = sent["message"]
    assert message["channel"] == DMS[ALICE] and message["thread_ts"] == ""
    assert message["text"] == "Here is *bold* and `a &lt; b`"
    assert (await slack_peer.stats())["pending"] == 0  # acknowledged


# -- channels and threads ----------------------------------------------------------------------
async def test_channel_mention_is_answered_in_a_thread_and_the_thread_continues(
    tmp_path, openai_peer, slack_peer
):
    home = home_for(tmp_path, openai_peer)
    openai_peer.script([{"text": "first answer"}, {"text": "second answer"}])
    async with running_engine(home, slack_peer.env()) as (engine, _):
        await connected(engine)
        await slack_peer.message(BOB, GENERAL, "chatter without the bot")
        root = await slack_peer.message(ALICE, GENERAL, "what is up?", mention=True)
        [first] = await slack_peer.wait(1, method="chat.postMessage")
        # In a thread the bot speaks in, no new mention is needed.
        await slack_peer.message(ALICE, GENERAL, "and then?", thread_ts=root["ts"])
        second = await slack_peer.wait(1, method="chat.postMessage", since=first["seq"])
    assert first["message"]["thread_ts"] == root["ts"]
    assert second[0]["message"]["thread_ts"] == root["ts"]
    requests = openai_peer.requests()
    assert len(requests) == 2  # the chatter never reached the model
    assert requests[0]["body"]["messages"][-1]["content"] == "what is up?"  # mention stripped
    assert (await slack_peer.stats())["pending"] == 0  # message + app_mention both acked


async def test_a_thread_the_bot_is_not_in_needs_a_mention(tmp_path, openai_peer, slack_peer):
    home = home_for(tmp_path, openai_peer)
    openai_peer.script([{"text": "now I am here"}])
    async with running_engine(home, slack_peer.env()) as (engine, _):
        await connected(engine)
        root = await slack_peer.message(BOB, GENERAL, "people talking")
        await slack_peer.message(ALICE, GENERAL, "just us", thread_ts=root["ts"])
        await slack_peer.message(ALICE, GENERAL, "bot?", thread_ts=root["ts"], mention=True)
        [reply] = await slack_peer.wait(1, method="chat.postMessage")
    assert reply["message"]["thread_ts"] == root["ts"]
    assert len(openai_peer.requests()) == 1


async def test_reply_in_thread_off_answers_in_the_channel_and_its_thread_needs_no_mention(
    tmp_path, openai_peer, slack_peer
):
    home = home_for(tmp_path, openai_peer)
    openai_peer.script([{"text": "in the channel"}, {"text": "in my thread"}])
    env = slack_peer.env(reply_in_thread="false")
    async with running_engine(home, env) as (engine, _):
        await connected(engine)
        await slack_peer.message(ALICE, GENERAL, "hi", mention=True)
        [reply] = await slack_peer.wait(1, method="chat.postMessage")
        # A reply in the thread of the bot's own message is meant for the bot.
        await slack_peer.message(ALICE, GENERAL, "more", thread_ts=reply["message"]["ts"])
        [more] = await slack_peer.wait(1, method="chat.postMessage", since=reply["seq"])
    assert reply["message"]["thread_ts"] == ""
    assert more["message"]["thread_ts"] == reply["message"]["ts"]


async def test_own_posts_edits_and_other_bots_are_not_answered(tmp_path, openai_peer, slack_peer):
    home = home_for(tmp_path, openai_peer)
    openai_peer.script([{"text": "only this one"}])
    async with running_engine(home, slack_peer.env()) as (engine, _):
        await connected(engine)
        await slack_peer.message(ALICE, DMS[ALICE], "edited", subtype="message_changed")
        await slack_peer.message(ALICE, DMS[ALICE], "from a bot", bot_id="B0OTHER")
        await slack_peer.message(ALICE, DMS[ALICE], "a real one")
        [reply] = await slack_peer.wait(1, method="chat.postMessage")
    assert reply["message"]["text"] == "only this one"
    [request] = openai_peer.requests()
    assert request["body"]["messages"][-1]["content"] == "a real one"
    assert (await slack_peer.stats())["pending"] == 0  # skipped ones are acknowledged too


# -- streaming, limits ---------------------------------------------------------------------------
async def test_streamed_reply_grows_by_chat_update(tmp_path, openai_peer, slack_peer):
    home = home_for(tmp_path, openai_peer, QUIET + "streaming:\n  edit_interval: 0.2\n")
    words = " ".join(f"word{i}" for i in range(40))
    openai_peer.script([{"text": words, "chunks": 10, "chunk_delay": 0.15}])
    async with running_engine(home, slack_peer.env()) as (engine, _):
        await connected(engine)
        await slack_peer.message(ALICE, DMS[ALICE], "talk")

        async def final():
            shown = await slack_peer.messages(DMS[ALICE])
            return shown and shown[-1]["text"] == words

        await until(final)
    assert len(await slack_peer.ops("chat.postMessage")) == 1
    assert len(await slack_peer.ops("chat.update")) >= 2


async def test_rate_limited_send_waits_and_retries(tmp_path, openai_peer, slack_peer):
    home = home_for(tmp_path, openai_peer)
    openai_peer.script([{"text": "after the wait"}])
    await slack_peer.fail("chat.postMessage", "ratelimited", status=429, retry_after=1)
    async with running_engine(home, slack_peer.env()) as (engine, _):
        await connected(engine)
        await slack_peer.message(ALICE, DMS[ALICE], "hi")
        [sent] = await slack_peer.wait(1, method="chat.postMessage")
    assert sent["message"]["text"] == "after the wait"


# -- approvals -----------------------------------------------------------------------------------
async def test_approval_buttons_in_a_thread(tmp_path, openai_peer, slack_peer):
    home = home_for(tmp_path, openai_peer)
    build = home / "workspace" / "build"
    build.mkdir(parents=True)
    openai_peer.script([call("terminal", command="rm -rf build"), {"text": "cleaned"}])
    async with running_engine(home, slack_peer.env()) as (engine, _):
        await connected(engine)
        root = await slack_peer.message(ALICE, GENERAL, "clean up", mention=True)
        [prompt] = await slack_peer.wait(1, method="chat.postMessage")
        message = prompt["message"]
        assert message["thread_ts"] == root["ts"]
        actions = [b for b in message["blocks"] if b["type"] == "actions"]
        labels = [e["text"]["text"] for e in actions[0]["elements"]]
        assert labels == ["Allow once", "Allow session", "Always", "Deny"]
        # Bob may use the bot, but this thread's session is Alice's: only he is told.
        await slack_peer.press(BOB, GENERAL, message["ts"], label="Allow once")
        [told] = await slack_peer.wait(1, method="chat.postEphemeral")
        assert told["user"] == BOB and build.exists()
        await slack_peer.press(ALICE, GENERAL, message["ts"], label="Allow once")
        [done] = await slack_peer.wait(1, method="chat.postMessage", since=told["seq"])
        [updated] = await slack_peer.wait(1, method="chat.update")
    assert done["message"]["text"] == "cleaned" and not build.exists()
    shown = updated["message"]
    assert "Approved once" in shown["text"]
    assert [b["type"] for b in shown["blocks"]][-1] == "context"
    assert shown["blocks"][-1]["elements"][0]["text"] == f"✅ Approved once (<@{ALICE}>)"
    assert all(b["type"] != "actions" for b in shown["blocks"])  # pressed once, gone


# -- connection ----------------------------------------------------------------------------------
async def test_bad_bot_token_fails_with_a_clear_reason(tmp_path, openai_peer, slack_peer):
    home = home_for(tmp_path, openai_peer)
    env = {**slack_peer.env(), "SLACK_BOT_TOKEN": "xoxb-9999-not-the-right-one"}
    async with running_engine(home, env) as (engine, _):
        state, reason = engine.platform_state["slack"], engine.platform_reason["slack"]
    assert state == "failed"
    assert reason.startswith("SLACK_BOT_TOKEN was rejected by Slack (invalid_auth)")
    assert "xoxb-9999" not in reason


async def test_bad_app_token_fails_with_a_clear_reason(tmp_path, openai_peer, slack_peer):
    home = home_for(tmp_path, openai_peer)
    env = {**slack_peer.env(), "SLACK_APP_TOKEN": "xapp-1-A0-wrong-app-token"}
    async with running_engine(home, env) as (engine, _):
        state, reason = engine.platform_state["slack"], engine.platform_reason["slack"]
    assert state == "failed"
    assert reason.startswith("SLACK_APP_TOKEN was rejected by Slack (invalid_auth)")
    assert "wrong-app-token" not in reason


async def test_refresh_requested_reconnects_and_keeps_answering(tmp_path, openai_peer, slack_peer):
    home = home_for(tmp_path, openai_peer)
    openai_peer.script([{"text": "still answering"}])
    async with running_engine(home, slack_peer.env()) as (engine, _):
        await connected(engine)
        opens = (await slack_peer.stats())["opens"]
        await slack_peer.refresh()

        async def reopened():
            stats = await slack_peer.stats()
            return stats["opens"] > opens and stats["sockets"] >= 1

        await until(reopened)
        await slack_peer.message(ALICE, DMS[ALICE], "there?")
        [sent] = await slack_peer.wait(1, method="chat.postMessage")
    assert sent["message"]["text"] == "still answering"


async def test_an_envelope_not_stored_is_not_acked_and_comes_again(
    tmp_path, openai_peer, slack_peer
):
    home = home_for(tmp_path, openai_peer)
    openai_peer.script([{"text": "got it the second time"}])
    async with running_engine(home, slack_peer.env()) as (engine, _):
        await connected(engine)
        adapter = engine.adapters["slack"]
        deliver = adapter.context.deliver_inbound

        async def broken_inbox(message):
            adapter.context.deliver_inbound = deliver  # fails once, like a full disk would
            raise OSError("disk full")

        adapter.context.deliver_inbound = broken_inbox
        await slack_peer.message(ALICE, DMS[ALICE], "important")

        async def left_unacked():
            return (await slack_peer.stats())[
                "pending"
            ] == 1 and adapter.context.deliver_inbound is deliver

        await until(left_unacked)
        await slack_peer.restart(0.2)  # the next connection brings it again
        [sent] = await slack_peer.wait(1, method="chat.postMessage", timeout=20)
    assert sent["message"]["text"] == "got it the second time"
    assert (await slack_peer.stats())["pending"] == 0


async def test_malformed_envelope_is_logged_acked_and_skipped(
    tmp_path, openai_peer, slack_peer, caplog
):
    home = home_for(tmp_path, openai_peer)
    openai_peer.script([{"text": "fine"}])
    async with running_engine(home, slack_peer.env()) as (engine, _):
        await connected(engine)
        event = {"type": "message", "channel": ["C0GENERAL"], "user": ALICE, "ts": "1.1"}
        await slack_peer.envelope("events_api", {"type": "event_callback", "event": event})
        await slack_peer.envelope("interactive", {"type": "block_actions", "actions": "x"})
        await slack_peer.message(ALICE, DMS[ALICE], "hello")
        await slack_peer.wait(1, method="chat.postMessage")
    assert (await slack_peer.stats())["pending"] == 0
    skipped = [r.getMessage() for r in caplog.records if "malformed" in r.getMessage()]
    assert len(skipped) == 2 and all("\n" not in line for line in skipped)


async def test_no_token_reaches_the_logs(tmp_path, openai_peer, slack_peer, caplog):
    caplog.set_level(logging.DEBUG)
    home = home_for(tmp_path, openai_peer)
    openai_peer.script([{"text": "hi"}])
    async with running_engine(home, slack_peer.env()) as (engine, _):
        await connected(engine)
        await slack_peer.message(ALICE, DMS[ALICE], "hello")
        await slack_peer.wait(1, method="chat.postMessage")
    assert caplog.records
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert slack_peer.bot_token not in text and slack_peer.app_token not in text
    assert "ticket=<redacted>" in text and not re.search(r"ticket=[0-9a-f]{8}", text)


async def test_the_message_being_worked_on_shows_eyes_until_the_turn_ends(
    tmp_path, openai_peer, slack_peer
):
    home = home_for(tmp_path, openai_peer)
    openai_peer.script([{"text": "done thinking", "delay": 0.5}])
    async with running_engine(home, slack_peer.env()) as (engine, _):
        await connected(engine)
        sent = await slack_peer.message(ALICE, DMS[ALICE], "think")
        [added] = await slack_peer.wait(1, method="reactions.add")
        [removed] = await slack_peer.wait(1, method="reactions.remove")
    assert added["timestamp"] == removed["timestamp"] == sent["ts"]
    assert added["name"] == removed["name"] == "eyes"


async def test_slash_command_runs_a_command_or_asks_the_model(tmp_path, openai_peer, slack_peer):
    home = home_for(tmp_path, openai_peer)
    openai_peer.script([{"text": "a model answer"}])
    async with running_engine(home, slack_peer.env()) as (engine, _):
        await connected(engine)
        await slack_peer.slash(ALICE, DMS[ALICE], "help")
        [helped] = await slack_peer.wait(1, method="chat.postMessage")
        await slack_peer.slash(ALICE, DMS[ALICE], "what is 2+2?")
        [answer] = await slack_peer.wait(1, method="chat.postMessage", since=helped["seq"])
    assert "/status" in helped["message"]["text"]  # the command list
    assert answer["message"]["text"] == "a model answer"
    [request] = openai_peer.requests()
    assert request["body"]["messages"][-1]["content"] == "what is 2+2?"
    assert (await slack_peer.stats())["pending"] == 0


async def test_typed_approvals_in_a_thread_and_by_slash_command(tmp_path, openai_peer, slack_peer):
    home = home_for(tmp_path, openai_peer)
    (home / "workspace" / "a").mkdir(parents=True)
    (home / "workspace" / "b").mkdir(parents=True)
    openai_peer.script(
        [
            call("terminal", command="rm -rf a"),
            {"text": "a is gone"},
            call("terminal", command="rm -rf b"),
            {"text": "b is gone"},
        ]
    )
    async with running_engine(home, slack_peer.env()) as (engine, _):
        await connected(engine)
        root = await slack_peer.message(ALICE, GENERAL, "remove a", mention=True)
        [prompt] = await slack_peer.wait(1, method="chat.postMessage")
        await slack_peer.message(ALICE, GENERAL, "/approve", thread_ts=root["ts"], mention=True)
        done = await slack_peer.wait(1, method="chat.postMessage", since=prompt["seq"])
        await until(lambda: _has(slack_peer, GENERAL, "a is gone"))
        await slack_peer.message(ALICE, DMS[ALICE], "remove b")
        [prompt] = await slack_peer.wait(1, method="chat.postMessage", channel=DMS[ALICE])
        await slack_peer.slash(ALICE, DMS[ALICE], "approve")
        await until(lambda: _has(slack_peer, DMS[ALICE], "b is gone"))
    assert done and not (home / "workspace" / "a").exists()
    assert not (home / "workspace" / "b").exists()


async def _has(peer, channel: str, text: str) -> bool:
    return any(text in m["text"] for m in await peer.messages(channel))


async def test_a_connection_that_dies_without_a_close_is_replaced(
    tmp_path, openai_peer, slack_peer
):
    home = home_for(tmp_path, openai_peer)
    openai_peer.script([{"text": "back again"}])
    states: list[str] = []
    async with running_engine(home, slack_peer.env(ping_interval="0.5")) as (engine, _):
        await connected(engine)
        engine.bus.listen(lambda e: states.append(getattr(e, "state", "")))
        opens = (await slack_peer.stats())["opens"]
        await slack_peer.cut()
        await slack_peer.message(ALICE, DMS[ALICE], "sent into the void")  # waits as pending

        async def reopened():
            return (await slack_peer.stats())["opens"] > opens

        await until(reopened)
        [sent] = await slack_peer.wait(1, method="chat.postMessage")
    assert sent["message"]["text"] == "back again"
    assert "connecting" in states and "connected" in states  # the outage was reported


async def test_names_are_looked_up_once_and_failures_give_nothing(slack_peer):
    web = AsyncWebClient(token=slack_peer.bot_token, base_url=slack_peer.api_url)
    names = Names(web, size=2)
    assert await names.user(ALICE) == "alice"
    assert await names.channel(GENERAL) == "#general"
    assert await names.user("U0NOBODY") == ""
    await slack_peer.fail("users.info", "internal_error")
    assert await names.user(ALICE) == "alice"  # cached: no second call
    assert await names.user(BOB) == ""  # the failure, not remembered
    assert await names.user(BOB) == "bob"


async def test_a_typed_command_gets_no_eyes(tmp_path, openai_peer, slack_peer):
    home = home_for(tmp_path, openai_peer)
    openai_peer.script([{"text": "a turn"}])
    async with running_engine(home, slack_peer.env()) as (engine, _):
        await connected(engine)
        await slack_peer.message(ALICE, DMS[ALICE], "/status")
        [status] = await slack_peer.wait(1, method="chat.postMessage")
        asked = await slack_peer.message(ALICE, DMS[ALICE], "a question")
        await slack_peer.wait(1, method="reactions.remove")
    added = await slack_peer.ops("reactions.add")
    assert [op["timestamp"] for op in added] == [asked["ts"]]
    assert status["seq"] < added[0]["seq"]


# -- files ---------------------------------------------------------------------------------------
async def test_a_file_shared_in_a_dm_is_saved_and_its_path_reaches_the_model(
    tmp_path, openai_peer, slack_peer
):
    home = home_for(tmp_path, openai_peer)
    openai_peer.script([{"text": "nice picture"}])
    png = b"\x89PNG\r\n\x1a\npixels"
    spec = shared_file("cat photo.png", png, "image/png")
    async with running_engine(home, slack_peer.env()) as (engine, _):
        await connected(engine)
        sent = await slack_peer.message(ALICE, DMS[ALICE], "", files=[spec])
        [reply] = await slack_peer.wait(1, method="chat.postMessage")
    assert reply["message"]["text"] == "nice picture"
    [saved] = (home / "cache" / "slack").iterdir()
    assert saved.read_bytes() == png and saved.name.endswith("cat_photo.png")
    prompt = openai_peer.requests()[0]["body"]["messages"][-1]["content"]
    assert (
        prompt == f"[attached photo: {saved.name} (image/png, {len(png)} bytes) saved at {saved}]"
    )
    [download] = await slack_peer.downloads()
    assert download == {"file_id": sent["files"][0]["id"], "authorized": True, "status": 200}
    assert (await slack_peer.stats())["pending"] == 0


async def test_a_file_with_a_mention_in_a_channel_is_fetched_once_and_chatter_not_at_all(
    tmp_path, openai_peer, slack_peer
):
    home = home_for(tmp_path, openai_peer)
    openai_peer.script([{"text": "read it"}])
    doc = shared_file("notes.txt", b"meeting at noon", "text/plain")
    async with running_engine(home, slack_peer.env()) as (engine, _):
        await connected(engine)
        await slack_peer.message(BOB, GENERAL, "not for the bot", files=[doc])
        await slack_peer.message(ALICE, GENERAL, "summarise this", mention=True, files=[doc])
        [reply] = await slack_peer.wait(1, method="chat.postMessage")
    assert len(await slack_peer.downloads()) == 1  # message + app_mention, one download
    prompt = openai_peer.requests()[0]["body"]["messages"][-1]["content"]
    assert prompt.startswith("summarise this\n[attached document: ")
    assert "(text/plain, 15 bytes)" in prompt
    assert (await slack_peer.stats())["pending"] == 0


async def test_an_oversize_file_is_skipped_with_a_note(tmp_path, openai_peer, slack_peer):
    home = home_for(tmp_path, openai_peer)
    openai_peer.script([{"text": "too big"}, {"text": "still too big"}])
    said = shared_file("big.bin", b"x" * 4096, "application/octet-stream")
    # The event claims a small size, the bytes served are not: caught while reading.
    understated = shared_file("sly.bin", b"y" * 4096, "application/octet-stream", size=10)
    async with running_engine(home, slack_peer.env(max_file_mb="0.001")) as (engine, _):
        await connected(engine)
        await slack_peer.message(ALICE, DMS[ALICE], "look", files=[said])
        [first] = await slack_peer.wait(1, method="chat.postMessage")
        sly = await slack_peer.message(ALICE, DMS[ALICE], "and this", files=[understated])
        await slack_peer.wait(1, method="chat.postMessage", since=first["seq"])
    prompts = [r["body"]["messages"][-1]["content"] for r in openai_peer.requests()]
    assert prompts[0] == "look\n[file too large: big.bin (0.0 MB); it was not downloaded]"
    assert prompts[1] == "and this\n[file too large: sly.bin (0.0 MB); it was not downloaded]"
    # The file whose size was stated was never fetched; the other was, and not kept.
    downloads = await slack_peer.downloads()
    assert [d["file_id"] for d in downloads] == [sly["files"][0]["id"]]
    assert not (home / "cache" / "slack").exists() or not list((home / "cache" / "slack").iterdir())


async def test_file_urls_need_the_bot_token_and_the_adapter_sends_it(
    tmp_path, openai_peer, slack_peer
):
    home = home_for(tmp_path, openai_peer)
    openai_peer.script([{"text": "got it"}])
    spec = shared_file("secret.pdf", b"%PDF-1.7 body", "application/pdf")
    async with running_engine(home, slack_peer.env()) as (engine, _):
        await connected(engine)
        sent = await slack_peer.message(ALICE, DMS[ALICE], "file", files=[spec])
        await slack_peer.wait(1, method="chat.postMessage")
    url = sent["files"][0]["url_private_download"]
    async with httpx.AsyncClient(trust_env=False) as http:
        anonymous = await http.get(url)
        wrong = await http.get(url, headers={"Authorization": "Bearer xoxb-not-it"})
        right = await http.get(url, headers={"Authorization": f"Bearer {slack_peer.bot_token}"})
    assert (anonymous.status_code, wrong.status_code) == (401, 401)
    assert right.content == b"%PDF-1.7 body"
    # The adapter's GET came first, with the token.
    assert [d["authorized"] for d in await slack_peer.downloads()] == [True, False, False, True]
    [saved] = (home / "cache" / "slack").iterdir()
    assert saved.read_bytes() == b"%PDF-1.7 body"


async def test_a_deleted_file_becomes_a_note_and_the_message_still_arrives(
    tmp_path, openai_peer, slack_peer
):
    home = home_for(tmp_path, openai_peer)
    openai_peer.script([{"text": "no file"}])
    gone = {**shared_file("gone.txt", b"bytes", "text/plain"), "mode": "tombstone"}
    async with running_engine(home, slack_peer.env()) as (engine, _):
        await connected(engine)
        await slack_peer.message(ALICE, DMS[ALICE], "here", files=[gone])
        await slack_peer.wait(1, method="chat.postMessage")
    prompt = openai_peer.requests()[0]["body"]["messages"][-1]["content"]
    assert prompt == (
        "here\n[file not downloaded: gone.txt (Slack gave no download address; it may be deleted)]"
    )
    assert await slack_peer.downloads() == []


async def test_a_file_named_by_id_only_is_completed_with_files_info(
    tmp_path, openai_peer, slack_peer
):
    home = home_for(tmp_path, openai_peer)
    openai_peer.script([{"text": "seen"}])
    spec = {
        **shared_file("voice memo.m4a", b"m4a-bytes", "audio/mp4"),
        "file_access": "check_file_info",
    }
    async with running_engine(home, slack_peer.env()) as (engine, _):
        await connected(engine)
        sent = await slack_peer.message(ALICE, DMS[ALICE], "listen", files=[spec])
        await slack_peer.wait(1, method="chat.postMessage")
    [info] = await slack_peer.ops("files.info")
    assert info["file"] == sent["files"][0]["id"]
    [saved] = (home / "cache" / "slack").iterdir()
    prompt = openai_peer.requests()[0]["body"]["messages"][-1]["content"]
    assert prompt == f"listen\n[attached audio: {saved.name} (audio/mp4, 9 bytes) saved at {saved}]"


async def test_the_token_goes_only_to_slack_hosts():
    async with aiohttp.ClientSession() as http:
        no_info = AsyncWebClient(token="xoxb-unused").files_info
        downloader = FileDownloader(http, "xoxb-1", "https://slack.com/api/", no_info)
        assert downloader.trusted("https://files.slack.com/files-pri/T1-F1/download/a.png")
        assert not downloader.trusted("http://files.slack.com/files-pri/T1-F1/a.png")
        assert not downloader.trusted("https://files.slack.com.evil.example/a.png")
        assert not downloader.trusted("https://evil.example/slack.com/a.png")
        elsewhere = SlackFile("F1", "a.png", "image/png", 3, url="https://evil.example/a.png")
        with pytest.raises(DownloadError, match="not a Slack file address"):
            await downloader.fetch(elsewhere, 1000)


async def test_a_reply_attachment_is_uploaded_into_the_thread(tmp_path, openai_peer, slack_peer):
    home = home_for(tmp_path, openai_peer)
    report = tmp_path / "report.csv"
    report.write_bytes(b"a,b\n1,2\n")
    openai_peer.script([{"text": f"Here is the report.\nMEDIA: {report}"}])
    async with running_engine(home, slack_peer.env()) as (engine, _):
        await connected(engine)
        root = await slack_peer.message(ALICE, GENERAL, "the report please", mention=True)
        [text] = await slack_peer.wait(1, method="chat.postMessage")
        [upload] = await slack_peer.wait(1, method="files.completeUploadExternal")
    assert text["message"]["text"] == "Here is the report."
    message = upload["message"]
    assert (message["channel"], message["thread_ts"]) == (GENERAL, root["ts"])
    [sent] = upload["files"]
    assert sent["name"] == sent["title"] == "report.csv" and sent["length"] == 8
    assert base64.b64decode(sent["data_b64"]) == b"a,b\n1,2\n"
    assert text["seq"] < upload["seq"]


async def test_an_upload_carries_the_text_as_its_comment(tmp_path, slack_peer):
    """Straight through the adapter: text and a picture in one message in a DM."""
    picture = tmp_path / "chart.png"
    picture.write_bytes(b"\x89PNG chart")
    async with adapter_for(tmp_path, slack_peer) as adapter:
        attachment = Attachment(str(picture), MessageKind.PHOTO, "image/png", 11)
        message = OutboundMessage(DMS[ALICE], "the *chart*", parse_mode="mrkdwn",
                                  attachments=(attachment,))  # fmt: skip
        result = await adapter.send(message)
        missing = Attachment(str(tmp_path / "nope.png"), MessageKind.PHOTO, "image/png", 1)
        failed = await adapter.send(OutboundMessage(DMS[ALICE], "", attachments=(missing,)))
    assert result.ok
    [upload] = await slack_peer.ops("files.completeUploadExternal")
    assert upload["message"]["text"] == "the *chart*"
    assert upload["message"]["channel"] == DMS[ALICE] and upload["message"]["thread_ts"] == ""
    assert base64.b64decode(upload["files"][0]["data_b64"]) == b"\x89PNG chart"
    assert not failed.ok and not failed.retryable and "cannot read the attachment" in failed.error


async def test_no_token_reaches_the_logs_with_files_both_ways(
    tmp_path, openai_peer, slack_peer, caplog
):
    caplog.set_level(logging.DEBUG)
    home = home_for(tmp_path, openai_peer)
    back = tmp_path / "back.txt"
    back.write_bytes(b"returned")
    openai_peer.script([{"text": f"MEDIA: {back}"}])
    spec = shared_file("in.txt", b"incoming", "text/plain")
    async with running_engine(home, slack_peer.env()) as (engine, _):
        await connected(engine)
        await slack_peer.message(ALICE, DMS[ALICE], "swap", files=[spec])
        [upload] = await slack_peer.wait(1, method="files.completeUploadExternal")
    assert base64.b64decode(upload["files"][0]["data_b64"]) == b"returned"
    assert not await slack_peer.ops("chat.postMessage")  # a file alone: no empty message
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "files.getUploadURLExternal" in text  # the SDK did log its calls
    assert slack_peer.bot_token not in text and slack_peer.app_token not in text
