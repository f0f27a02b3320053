"""The Mattermost adapter against the loopback REST v4 + websocket peer (a real HTTP server in a
subprocess): options, post conversion, threads, files, the processing reaction, errors, and
no post lost across a websocket outage or a gateway restart."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from pathlib import Path
from types import MappingProxyType

import pytest

from hermes_gateway.config import PlatformSettings
from hermes_gateway.core.events import MessageReceived, TurnFinished
from hermes_gateway.core.types import (
    Attachment,
    ChatType,
    MessageKind,
    OutboundMessage,
)
from hermes_gateway.platforms.mattermost import options_from_settings
from hermes_gateway.platforms.mattermost.adapter import MattermostAdapter, MattermostAuthError
from hermes_gateway.platforms.mattermost.client import MattermostError, result_from_error
from hermes_gateway.platforms.mattermost.convert import (
    BotIdentity,
    MalformedEvent,
    convert_post,
    parse_posted,
)
from tests.adapter_harness import Harness, until
from tests.helpers import peer_config, running_engine, write_config
from tests.peers.mattermost_fixtures import (
    BOT,
    TOWN,
    dm_id,
    mattermost_env,
    mattermost_peer_fixture,  # noqa: F401
    user_id,
)

ME = BotIdentity(user_id(BOT), BOT)
ALICE = user_id("alice")


def settings(url: str = "http://127.0.0.1:1", token: str = "tok-123456789", **extra):
    extra = MappingProxyType({"url": url, **extra})
    return PlatformSettings("mattermost", True, token=token, extra=extra)


@contextlib.asynccontextmanager
async def connected(peer, home: Path, **extra):
    harness = Harness(home)
    adapter = MattermostAdapter(settings(peer.url, peer.token, **extra), harness.context)
    await adapter.connect()
    try:
        yield adapter, harness
    finally:
        await adapter.disconnect()


# -- options ---------------------------------------------------------------------------------
def test_options_name_the_missing_setting_and_hide_the_token():
    with pytest.raises(ValueError, match="MATTERMOST_URL is not set"):
        options_from_settings(PlatformSettings("mattermost", True, token="t"))
    with pytest.raises(ValueError, match="MATTERMOST_TOKEN is not set"):
        options_from_settings(settings(token=""))
    with pytest.raises(ValueError, match=r"extra\.url \(MATTERMOST_URL\) must start with http"):
        options_from_settings(settings(url="chat.example.com"))
    with pytest.raises(ValueError, match="require_mention .* must be true or false"):
        options_from_settings(settings(require_mention="maybe"))
    options = options_from_settings(settings(url="https://chat.example.com/", token="s3cret-tok"))
    assert options.ws_url == "wss://chat.example.com/api/v4/websocket"
    assert options.api == "https://chat.example.com/api/v4"
    assert "s3cret-tok" not in repr(options)


# -- conversion ------------------------------------------------------------------------------
def posted(message: str, channel_type: str = "O", mentions=None, **post) -> dict:
    body = {"id": "p1", "channel_id": "c1", "user_id": ALICE, "message": message,
            "create_at": 1700000000000, **post}  # fmt: skip
    data = {"post": json.dumps(body), "channel_type": channel_type, "sender_name": "@alice"}
    if mentions is not None:
        data["mentions"] = json.dumps(mentions)
    return data


def convert(data: dict, require_mention: bool = True):
    post, context = parse_posted(data)
    return convert_post(post, context, ME, require_mention)


def test_channel_posts_need_a_mention_by_id_or_name_dms_do_not():
    assert not convert(posted("hello all")).message.addressed
    assert convert(posted("hello all"), require_mention=False).message.addressed
    by_id = convert(posted("hi there", mentions=[ME.id]))
    assert by_id.message.addressed
    by_name = convert(posted(f"@{BOT} /status"))
    assert by_name.message.addressed and by_name.message.text == "/status"
    assert not convert(posted(f"mail {BOT}@example.com")).message.addressed
    assert convert(posted(f"@{BOT} /approve", channel_type="D")).message.text == "/approve"
    dm = convert(posted("just talk", channel_type="D")).message
    assert dm.addressed and dm.source.chat_type is ChatType.DM
    assert dm.source.user_name == "alice" and dm.timestamp == 1700000000.0


def test_threads_own_posts_system_posts_and_files():
    threaded = convert(posted(f"@{BOT} in a thread", root_id="root1")).message
    assert threaded.source.thread_id == "root1" and threaded.source.chat_type is ChatType.GROUP
    assert convert(posted("mine", user_id=ME.id)) is None
    assert convert(posted("joined", type="system_join_channel")) is None
    files = {"files": [{"id": "f1", "name": "a.png", "mime_type": "image/png", "size": 3}]}
    with_file = convert(posted("look", channel_type="D", metadata=files, file_ids=["f1"]))
    assert with_file.message.kind is MessageKind.PHOTO and [f.id for f in with_file.files] == ["f1"]


@pytest.mark.parametrize(
    "data",
    [
        {"post": "{not json"},
        {"post": json.dumps({"message": "no ids"})},
        {"post": json.dumps({"id": "p", "channel_id": "c", "user_id": "u", "message": 42})},
        {"channel_type": "D"},
        "a string",
    ],
)
def test_malformed_events_raise_malformed(data):
    with pytest.raises(MalformedEvent):
        convert(data)


def test_errors_map_to_what_delivery_can_act_on():
    assert result_from_error(MattermostError(429, "slow down", retry_after=2.0)).retry_after == 2.0
    assert result_from_error(MattermostError(401, "no")).kind == "auth"
    assert result_from_error(MattermostError(404, "gone")).kind == "not_found"
    assert result_from_error(MattermostError(503, "later")).retryable
    assert not result_from_error(MattermostError(0, "timeout after 30 s")).retryable
    assert result_from_error(MattermostError(0, "connection refused")).retryable


# -- against the peer ------------------------------------------------------------------------
async def test_bad_token_raises_a_clear_error_without_the_token(tmp_path, mattermost_peer):
    harness = Harness(tmp_path)
    adapter = MattermostAdapter(settings(mattermost_peer.url, "not-the-token-xyz"), harness.context)
    with pytest.raises(MattermostAuthError) as caught:
        await adapter.connect()
    assert "MATTERMOST_TOKEN was rejected by Mattermost" in str(caught.value)
    assert "(401)" in str(caught.value) and "not-the-token-xyz" not in str(caught.value)


async def test_unreachable_server_keeps_trying_then_connects(tmp_path, mattermost_peer):
    await mattermost_peer.call("POST", "/_peer/fail", json={"method": "GET", "path": "/users/me",
                                                            "status": 502, "times": 1})  # fmt: skip
    async with connected(mattermost_peer, tmp_path) as (adapter, harness):
        assert harness.statuses[-1] == ("connected", "")
        assert any(state == "connecting" for state, _ in harness.statuses)


async def test_replies_post_into_the_thread_and_edit_in_place(tmp_path, mattermost_peer):
    root = await mattermost_peer.post("alice", TOWN, "a root post")
    async with connected(mattermost_peer, tmp_path) as (adapter, harness):
        await mattermost_peer.post("alice", TOWN, f"@{BOT} hi", root_id=root["id"])
        [inbound] = await harness.wait_inbound(1)
        assert inbound.source.thread_id == root["id"] and inbound.text == "hi"
        sent = await adapter.send(OutboundMessage(TOWN, "draft", thread_id=root["id"]))
        edited = await adapter.edit(TOWN, sent.message_id, "final **text**")
        await adapter.typing(TOWN, root["id"])
        assert sent.ok and edited.ok
        [post] = await mattermost_peer.bot_posts(TOWN)
        assert post["root_id"] == root["id"] and post["message"] == "final **text**"
        assert post["edits"] == 1
        typing = await mattermost_peer.call("GET", "/_peer/typing")
        assert typing == [{"channel_id": TOWN, "parent_id": root["id"]}]
        assert len(harness.inbound) == 1, "the bot's own posts come back on the websocket"
        missing = await adapter.send(OutboundMessage("nochannel0000000000000000x", "x"))
        assert not missing.ok and missing.kind == "not_found"


async def test_files_in_and_out(tmp_path, mattermost_peer):
    async with connected(mattermost_peer, tmp_path) as (adapter, harness):
        file = {"name": "notes.txt", "mime": "text/plain", "data": b"hello file"}
        await mattermost_peer.post("alice", dm_id("alice"), "see attached", file=file)
        [inbound] = await harness.wait_inbound(1)
        [attachment] = inbound.attachments
        assert Path(attachment.path).read_bytes() == b"hello file"
        assert inbound.kind is MessageKind.DOCUMENT and attachment.mime_type == "text/plain"
        out = tmp_path / "chart.png"
        out.write_bytes(b"\x89PNG fake")
        chart = Attachment(str(out), MessageKind.PHOTO, "image/png")
        sent = await adapter.send(OutboundMessage(dm_id("alice"), "", attachments=(chart,)))
        assert sent.ok
        [post] = await mattermost_peer.bot_posts(dm_id("alice"))
        assert post["metadata"]["files"][0]["name"] == "chart.png"


async def test_processing_reaction_follows_the_turn(tmp_path, mattermost_peer):
    async with connected(mattermost_peer, tmp_path) as (adapter, harness):
        post = await mattermost_peer.post("alice", dm_id("alice"), "work on this")
        await harness.wait_inbound(1)
        [listener] = harness.listeners
        listener(MessageReceived("mattermost", dm_id("alice"), ALICE, post["id"], "key1", 12))

        async def reactions():
            return await mattermost_peer.call("GET", "/_peer/reactions")

        [added] = await until(reactions, "the processing reaction")
        assert added["emoji_name"] == "eyes" and added["post_id"] == post["id"]
        listener(TurnFinished("key1", "s1", "ok", 1.0))

        async def removed():
            return [r for r in await reactions() if r["removed"]]

        await until(removed, "the reaction to go away")


async def test_malformed_event_is_logged_and_skipped(tmp_path, mattermost_peer, caplog):
    caplog.set_level(logging.WARNING, "hermes.mattermost")
    async with connected(mattermost_peer, tmp_path) as (adapter, harness):
        await mattermost_peer.call("POST", "/_peer/malformed")
        await mattermost_peer.post("alice", dm_id("alice"), "valid")
        [inbound] = await harness.wait_inbound(1)
    assert inbound.text == "valid"
    assert sum("skipped a malformed posted event" in r.getMessage() for r in caplog.records) == 2


async def test_posts_during_an_outage_are_caught_up(tmp_path, mattermost_peer):
    async with connected(mattermost_peer, tmp_path) as (adapter, harness):
        await mattermost_peer.post("alice", dm_id("alice"), "before")
        await harness.wait_inbound(1)
        restart = asyncio.create_task(
            mattermost_peer.call("POST", "/_peer/restart", json={"seconds": 1.0})
        )
        await asyncio.sleep(0.3)  # the websocket is down: this post is only in the channel
        await mattermost_peer.post("alice", dm_id("alice"), "during")
        await restart
        inbound = await harness.wait_inbound(2)
        assert [m.text for m in inbound] == ["before", "during"]
        assert harness.statuses[-1] == ("connected", "")
        assert any(s == "connecting" for s, _ in harness.statuses)


async def test_a_gateway_restart_answers_posts_sent_while_it_was_down(
    tmp_path, openai_peer, mattermost_peer
):
    home = tmp_path / "home"
    write_config(home, peer_config(openai_peer.base_url, "display:\n  tool_progress: 'off'\n"))
    openai_peer.script([{"text": "first answer"}, {"text": "answer after the restart"}])
    env = mattermost_env(mattermost_peer, [ALICE])
    chat = dm_id("alice")

    async def bot_texts():
        return [p["message"] for p in await mattermost_peer.bot_posts(chat)]

    async with running_engine(home, env):
        await mattermost_peer.post("alice", chat, "one")
        await until(lambda: _has(bot_texts, "first answer"), "the first answer")
    await mattermost_peer.post("alice", chat, "sent while the gateway was stopped")
    async with running_engine(home, env):
        await until(lambda: _has(bot_texts, "answer after the restart"), "the late answer")
    last = openai_peer.requests()[-1]["body"]["messages"][-1]["content"]
    assert "sent while the gateway was stopped" in str(last)


async def _has(texts, wanted: str) -> bool:
    return any(wanted in t for t in await texts())


async def test_a_token_revoked_during_an_outage_fails_the_platform(tmp_path, mattermost_peer):
    async with connected(mattermost_peer, tmp_path) as (adapter, harness):
        await mattermost_peer.call("POST", "/_peer/token", json={"token": "rotated-token-123"})
        await mattermost_peer.call("POST", "/_peer/restart", json={"seconds": 0.2})

        async def failed():
            return [s for s in harness.statuses if s[0] == "failed"]

        [(_, reason)] = await until(failed, "the platform to fail")
    assert "MATTERMOST_TOKEN was rejected by Mattermost" in reason
    assert mattermost_peer.token not in reason
