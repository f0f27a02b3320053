"""The Signal adapter against the loopback signal-cli HTTP daemon (a real HTTP server in a
subprocess): options, envelope conversion, groups and mentions, quotes, attachments, reactions,
numbered parts, the account check, and no message lost across a stream outage."""

from __future__ import annotations

import asyncio
import contextlib
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
from hermes_gateway.platforms.signal import options_from_settings
from hermes_gateway.platforms.signal.adapter import SignalAccountError, SignalAdapter
from hermes_gateway.platforms.signal.convert import (
    MalformedEvent,
    convert_envelope,
    envelope_of,
    parse_ref,
)
from hermes_gateway.platforms.signal.rpc import SignalRpcError, result_from_error
from tests.adapter_harness import Harness, until
from tests.helpers import peer_config, running_engine, write_config
from tests.peers.signal_fixtures import (
    ACCOUNT,
    GROUP,
    USERS,
    signal_env,
    signal_peer_fixture,  # noqa: F401
)

ALICE = USERS["alice"]


def settings(url: str = "http://127.0.0.1:1", account: str = ACCOUNT, **extra):
    extra = MappingProxyType({"http_url": url, "account": account, **extra})
    return PlatformSettings("signal", True, extra=extra)


async def _enough(items: list, count: int):
    return items if len(items) >= count else None


@contextlib.asynccontextmanager
async def connected(peer, home: Path, **extra):
    harness = Harness(home)
    adapter = SignalAdapter(settings(peer.url, **extra), harness.context)
    await adapter.connect()
    try:
        yield adapter, harness
    finally:
        await adapter.disconnect()


# -- options and conversion ------------------------------------------------------------------
def test_options_name_the_setting():
    with pytest.raises(ValueError, match="SIGNAL_HTTP_URL is not set"):
        options_from_settings(settings(url=""))
    with pytest.raises(ValueError, match=r"SIGNAL_ACCOUNT must be .* not '4915'"):
        options_from_settings(settings(account="4915"))
    with pytest.raises(ValueError, match=r"SIGNAL_ACCOUNT .*\(it is not set\)"):
        options_from_settings(settings(account=""))
    options = options_from_settings(settings(url="http://host:8080/", account="+49 151 2345678"))
    assert options.http_url == "http://host:8080" and options.account == "+491512345678"


def envelope(data: dict | None = None, source: str = ALICE, **fields) -> dict:
    env = {"source": source, "sourceNumber": source, "sourceUuid": "u-1", "sourceName": "Alice",
           "timestamp": 1700000000123, **fields}  # fmt: skip
    if data is not None:
        env["dataMessage"] = {"timestamp": 1700000000123, **data}
    return env


def convert(env: dict, require_mention: bool = True):
    return convert_envelope(env, ACCOUNT, require_mention)


def test_dm_and_group_rules():
    dm = convert(envelope({"message": "hi"})).message
    assert dm.source.chat_type is ChatType.DM and dm.source.chat_id == ALICE and dm.addressed
    assert dm.message_id == f"{ALICE}:1700000000123" and dm.source.user_name == "Alice"
    group = {"groupInfo": {"groupId": "R0lE", "groupName": "Team"}}
    quiet = convert(envelope({"message": "chat", **group})).message
    assert quiet.source.chat_id == "group:R0lE" and not quiet.addressed
    assert convert(envelope({"message": "chat", **group}), require_mention=False).message.addressed
    # A mention's start and length count UTF-16 units: the emoji before it counts twice.
    mention = {"number": ACCOUNT, "uuid": "bot", "start": 3, "length": 1}
    text = "😀 \ufffc /status"
    said = convert(envelope({"message": text, "mentions": [mention], **group})).message
    assert said.addressed and said.text == "😀  /status"
    other = {"number": USERS["bob"], "uuid": "b", "start": 0, "length": 1}
    assert not convert(
        envelope({"message": "\ufffc hi", "mentions": [other], **group})
    ).message.addressed
    quote = {"id": 1699, "author": ACCOUNT, "authorNumber": ACCOUNT, "text": "earlier"}
    replied = convert(envelope({"message": "and then?", "quote": quote, **group})).message
    assert replied.addressed and replied.reply_to == f"{ACCOUNT}:1699"


def test_what_is_not_a_message_is_none():
    assert convert(envelope(typingMessage={"action": "STARTED"})) is None
    assert convert(envelope(receiptMessage={"isRead": True})) is None
    assert convert(envelope({"message": "mine"}, source=ACCOUNT)) is None
    reaction = {"emoji": "👍", "targetAuthor": ACCOUNT, "targetSentTimestamp": 1}
    assert convert(envelope({"message": None, "reaction": reaction})) is None
    assert convert(envelope({"message": None, "groupInfo": {"groupId": "x"}})) is None
    photo = {"contentType": "image/jpeg", "filename": "a.jpg", "id": "att1", "size": 9}
    with_photo = convert(envelope({"message": None, "attachments": [photo]}))
    assert with_photo.message.kind is MessageKind.PHOTO and with_photo.attachments[0].id == "att1"


def test_rpc_wrapped_and_malformed_events():
    inner = {"account": ACCOUNT, "envelope": envelope({"message": "x"})}
    assert envelope_of({"jsonrpc": "2.0", "method": "receive", "params": inner})["source"] == ALICE
    for bad in ({"account": ACCOUNT}, "text", {"envelope": "x"}):
        with pytest.raises(MalformedEvent):
            envelope_of(bad)
    for env in (
        envelope({"message": 42}),
        envelope({"message": "x"}, source=None, sourceNumber=None, sourceUuid=None),
        {**envelope(), "dataMessage": {"message": "x", "timestamp": "soon"}, "timestamp": "x"},
        {**envelope(), "dataMessage": "text"},
    ):
        with pytest.raises(MalformedEvent):
            convert(env)
    assert parse_ref(f"{ALICE}:17") == (ALICE, 17) and parse_ref("u-uuid:5") == ("u-uuid", 5)
    assert parse_ref("17") is None and parse_ref("abc:x") is None


def test_errors_map_to_what_delivery_can_act_on():
    assert result_from_error(SignalRpcError(-1, "Rate limit exceeded: 413")).retry_after
    assert result_from_error(SignalRpcError(None, "connection refused")).retryable
    assert not result_from_error(SignalRpcError(None, "timeout after 60 s")).retryable
    assert result_from_error(SignalRpcError(-1, "Invalid group id: x")).kind == "not_found"


# -- against the peer ------------------------------------------------------------------------
async def test_an_unknown_account_fails_with_a_clear_reason(tmp_path, signal_peer):
    harness = Harness(tmp_path)
    adapter = SignalAdapter(settings(signal_peer.url, account="+15559999999"), harness.context)
    with pytest.raises(SignalAccountError) as caught:
        await adapter.connect()
    assert str(caught.value).startswith(
        f"SIGNAL_ACCOUNT +15559999999 is not registered with signal-cli at {signal_peer.url}"
    )


async def test_a_daemon_that_is_not_up_yet_is_waited_for(tmp_path, signal_peer):
    down = asyncio.create_task(signal_peer.call("POST", "/_peer/restart", json={"seconds": 1.0}))
    await asyncio.sleep(0.2)
    async with connected(signal_peer, tmp_path) as (adapter, harness):
        await down
        await until(lambda: _enough([s for s in harness.statuses if s[0] == "connected"], 1), "up")
        assert harness.statuses[0][0] == "connecting"
        assert "cannot reach signal-cli" in harness.statuses[0][1]


async def test_messages_sent_during_an_outage_arrive_once_after_it(tmp_path, signal_peer):
    async with connected(signal_peer, tmp_path) as (adapter, harness):
        await signal_peer.message("alice", "before")
        await harness.wait_inbound(1)
        down = asyncio.create_task(
            signal_peer.call("POST", "/_peer/restart", json={"seconds": 1.0})
        )
        await asyncio.sleep(0.3)
        await signal_peer.message("alice", "during")
        await signal_peer.call("POST", "/_peer/typing_event", json={"user": "alice"})
        await down
        await signal_peer.message("alice", "after")
        await harness.wait_inbound(3)
        await asyncio.sleep(0.2)  # nothing more comes (no replay of "before")
        assert [m.text for m in harness.inbound] == ["before", "during", "after"]
        assert harness.statuses[-1] == ("connected", "")


async def test_sends_quotes_groups_typing_and_unknown_recipients(tmp_path, signal_peer):
    async with connected(signal_peer, tmp_path) as (adapter, harness):
        sent = await adapter.send(OutboundMessage(GROUP, "to the group", reply_to=f"{ALICE}:42"))
        await adapter.typing(ALICE)
        assert sent.ok and sent.message_id.startswith(f"{ACCOUNT}:")
        [recorded] = await signal_peer.sent(GROUP)
        assert recorded["quote"] == 42 and recorded["quoteAuthor"] == ALICE
        assert await signal_peer.call("GET", "/_peer/typing") == [{"chat": ALICE, "stop": False}]
        nobody = await adapter.send(OutboundMessage("+15551234567", "hello?"))
        assert not nobody.ok and nobody.kind == "not_found"
        bad_group = await adapter.send(OutboundMessage("group:bm9wZQ==", "x"))
        assert not bad_group.ok and bad_group.kind == "not_found"


async def test_attachments_in_and_out(tmp_path, signal_peer):
    async with connected(signal_peer, tmp_path) as (adapter, harness):
        photo = ("cat.jpg", "image/jpeg", b"\xff\xd8 a cat")
        await signal_peer.message("alice", "look", attachment=photo)
        [inbound] = await harness.wait_inbound(1)
        [attachment] = inbound.attachments
        assert Path(attachment.path).read_bytes() == b"\xff\xd8 a cat"
        assert inbound.kind is MessageKind.PHOTO and attachment.mime_type == "image/jpeg"
        out = tmp_path / "report.pdf"
        out.write_bytes(b"%PDF-1.4 fake")
        doc = Attachment(str(out), MessageKind.DOCUMENT, "application/pdf")
        assert (await adapter.send(OutboundMessage(ALICE, "", attachments=(doc,)))).ok
        [recorded] = await signal_peer.sent(ALICE)
        assert recorded["attachments"] == [
            {"filename": "report.pdf", "contentType": "application/pdf", "size": 13}
        ]


async def test_processing_reaction_targets_the_message(tmp_path, signal_peer):
    async with connected(signal_peer, tmp_path) as (adapter, harness):
        sent = await signal_peer.message("alice", "work on this")
        [inbound] = await harness.wait_inbound(1)
        [listener] = harness.listeners
        listener(MessageReceived("signal", ALICE, ALICE, inbound.message_id, "k", 12))
        listener(TurnFinished("k", "s", "ok", 1.0))

        async def reactions():
            found = await signal_peer.call("GET", "/_peer/reactions")
            return found if len(found) >= 2 else None

        added, removed = await until(reactions, "the reaction and its removal")
    assert added == {"chat": ALICE, "emoji": "👀", "targetAuthor": ALICE,
                     "targetTimestamp": sent["timestamp"], "remove": False}  # fmt: skip
    assert removed["remove"] is True


async def test_malformed_events_are_logged_and_skipped(tmp_path, signal_peer, caplog):
    caplog.set_level(logging.WARNING, "hermes.signal")
    async with connected(signal_peer, tmp_path) as (adapter, harness):
        await signal_peer.call("POST", "/_peer/malformed")
        await signal_peer.message("alice", "valid")
        [inbound] = await harness.wait_inbound(1)
    assert inbound.text == "valid"
    logged = [r.getMessage() for r in caplog.records]
    assert any("skipped a malformed event" in m for m in logged)
    assert any("skipped an event that is not JSON" in m for m in logged)


async def test_a_long_reply_arrives_in_numbered_parts(tmp_path, openai_peer, signal_peer):
    home = tmp_path / "home"
    config = "display:\n  tool_progress: 'off'\nstreaming:\n  enabled: false\n"
    write_config(home, peer_config(openai_peer.base_url, config))
    words = " ".join(f"word{i}" for i in range(700))  # about 3 messages of 2000
    openai_peer.script([{"text": words}])
    async with running_engine(home, signal_env(signal_peer, [ALICE])):
        await signal_peer.message("alice", "tell me everything")

        async def parts():
            found = await signal_peer.sent(ALICE)
            return (
                found
                if found and found[-1]["text"].endswith(f"({len(found)}/{len(found)})")
                else None
            )

        sent = await until(parts, "every numbered part")
    total = len(sent)
    assert total >= 3 and all(len(s["text"]) <= 2000 for s in sent)
    assert [s["text"].rsplit("\n", 1)[1] for s in sent] == [
        f"({i}/{total})" for i in range(1, total + 1)
    ]
    assert " ".join(s["text"].rsplit("\n", 1)[0] for s in sent).split() == words.split()
