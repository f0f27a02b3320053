"""The Matrix adapter: options, event conversion and reply content as pure functions, then the
adapter against a real Synapse (tests/peers/synapse_server.py; skipped with the reason when
tests/setup/synapse.sh has not installed it), driven by matrix-nio users: invites, restarts
without loss or replay, gap fill, formatting, replies in groups, the processing reaction,
login by password, revoked and rejected credentials, malformed events."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import socket
import sqlite3
import struct
import time
from pathlib import Path
from types import MappingProxyType
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiohttp import web
from nio import RoomPreset, UploadResponse

from hermes_gateway.config import PlatformSettings, load_settings
from hermes_gateway.core.types import (
    Attachment,
    ChatType,
    InboundMessage,
    MessageKind,
    OutboundMessage,
)
from hermes_gateway.home import HermesHome
from hermes_gateway.platforms.base import AdapterContext
from hermes_gateway.platforms.matrix import MAX_LENGTH, options_from_settings
from hermes_gateway.platforms.matrix.adapter import MatrixAdapter
from hermes_gateway.platforms.matrix.content import edit_content, message_content
from hermes_gateway.platforms.matrix.convert import (
    BotIdentity,
    MalformedEvent,
    RoomInfo,
    convert_event,
    media_of,
)
from hermes_gateway.platforms.matrix.dimensions import image_size
from hermes_gateway.platforms.matrix.files import msgtype_for
from hermes_gateway.platforms.matrix.media import MediaRepo, MediaTooLarge
from hermes_gateway.platforms.matrix.state import StateFile
from hermes_gateway.platforms.matrix.sync import after_our_arrival
from tests.conformance.drivers.matrix import Driver
from tests.helpers import peer_config, running_engine, write_config

WAIT = 15.0  # an upper bound on a loaded machine, never a speed assertion
BOT = BotIdentity("@hermes:example.org", "Hermes")
QUIET = "display:\n  tool_progress: 'off'\n"
e2e = pytest.mark.asyncio(loop_scope="session")


def settings(**extra: Any) -> PlatformSettings:
    return PlatformSettings("matrix", True, extra=MappingProxyType(extra))


# -- options ----------------------------------------------------------------------------------
def test_options_come_from_the_environment_names_the_issue_lists(tmp_path: Path) -> None:
    environ = {
        "MATRIX_HOMESERVER": "https://matrix.example.org/",
        "MATRIX_ACCESS_TOKEN": "syt_secret_token_value",
        "MATRIX_USER_ID": "@bot:example.org",
        "MATRIX_HOME_ROOM": "#ops:example.org",
        "MATRIX_ALLOWED_USERS": "@alice:example.org,@bob:example.org",
    }
    platform = load_settings(HermesHome(tmp_path).ensure(), environ).platforms["matrix"]
    options = options_from_settings(platform)
    assert platform.enabled and platform.allowed_users == ("@alice:example.org", "@bob:example.org")
    assert options.homeserver == "https://matrix.example.org"
    assert options.access_token == "syt_secret_token_value"
    assert options.home_room == "#ops:example.org"
    assert "syt_secret" not in repr(options)


def test_home_channel_stands_in_for_home_room_and_password_login_needs_a_user() -> None:
    base = {"homeserver": "http://127.0.0.1:1", "user_id": "@b:x", "password": "pw"}
    with_channel = PlatformSettings("matrix", True, home_channel="!r:x", extra=base)
    assert options_from_settings(with_channel).home_room == "!r:x"
    assert "pw" not in repr(options_from_settings(with_channel))


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({}, "MATRIX_HOMESERVER"),
        ({"homeserver": "matrix.example.org", "access_token": "t"}, "MATRIX_HOMESERVER"),
        ({"homeserver": "https://m.org"}, "MATRIX_ACCESS_TOKEN"),
        ({"homeserver": "https://m.org", "password": "pw"}, "MATRIX_USER_ID"),
        ({"homeserver": "https://m.org", "access_token": "t", "user_id": "bot"}, "MATRIX_USER_ID"),
        ({"homeserver": "https://m.org", "access_token": "t", "auto_join": "x"}, "AUTO_JOIN"),
        ({"homeserver": "https://m.org", "access_token": "t", "timeline_limit": "0"}, "LIMIT"),
    ],
)
def test_bad_options_name_the_setting(extra: dict, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        options_from_settings(settings(**extra))


# -- events -> InboundMessage -------------------------------------------------------------------
def event(body: Any = "hi", sender: str = "@alice:example.org", **content: Any) -> dict:
    return {
        "type": "m.room.message",
        "event_id": "$e1",
        "sender": sender,
        "origin_server_ts": 1_700_000_000_000,
        "content": {"msgtype": "m.text", "body": body, **content},
    }


DM = RoomInfo("!dm:example.org", 2)
GROUP = RoomInfo("!g:example.org", 3, "Team")


def convert(raw: dict, room: RoomInfo = DM, ours: tuple[str, ...] = ()) -> InboundMessage | None:
    return convert_event(raw, room, BOT, True, is_ours=lambda e: e in ours)


def test_a_dm_message_becomes_an_inbound_message() -> None:
    inbound = convert(event("hello"))
    assert inbound is not None and inbound.text == "hello" and inbound.addressed
    assert inbound.source.chat_type is ChatType.DM
    assert inbound.source.chat_id == "!dm:example.org"
    assert inbound.source.user_id == "@alice:example.org" and inbound.message_id == "$e1"
    assert inbound.timestamp == 1_700_000_000


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (event("Hermes: what time is it?", **{"m.mentions": {"user_ids": [BOT.user_id]}}), ""),
        (event("hermes, what time is it?"), ""),  # a client without m.mentions: the name
        (event("@hermes:example.org what time is it?"), ""),
        (event("x", formatted_body='<a href="https://matrix.to/#/@hermes:example.org">H</a>'), "x"),
    ],
)
def test_a_group_message_that_mentions_the_bot_is_addressed(raw: dict, text: str) -> None:
    inbound = convert(raw, GROUP)
    assert inbound is not None and inbound.addressed
    assert inbound.source.chat_type is ChatType.GROUP and inbound.source.chat_name == "Team"
    assert inbound.text == (text or "what time is it?")


def test_group_messages_not_for_the_bot_are_not_addressed() -> None:
    assert not convert(event("talking about hermes-like birds"), GROUP).addressed
    # With m.mentions, the client said exactly whom it mentions: the name alone is not one.
    assert not convert(event("Hermes is a god", **{"m.mentions": {}}), GROUP).addressed


def test_replies_and_threads_under_bot_messages_are_addressed() -> None:
    reply = event("> <@hermes:example.org> hi\n\nthanks!", **{"m.relates_to": _reply("$ours")})
    inbound = convert(reply, GROUP, ours=("$ours",))
    assert inbound.addressed and inbound.reply_to == "$ours" and inbound.text == "thanks!"
    threaded = event("more", **{"m.relates_to": _thread("$root")})
    inbound = convert(threaded, GROUP, ours=("$root",))
    assert inbound.addressed and inbound.source.thread_id == "$root" and inbound.reply_to == ""
    assert not convert(threaded, GROUP).addressed


def test_a_file_name_is_not_the_text_but_a_caption_is() -> None:
    photo = convert(event("cat.jpg", msgtype="m.image", url="mxc://example.org/abc"))
    assert photo.text == "" and photo.kind is MessageKind.PHOTO
    captioned = event("look at this", msgtype="m.file", filename="report.pdf", url="mxc://x/y")
    assert convert(captioned).text == "look at this"
    same = event("a.txt", msgtype="m.file", filename="a.txt", url="mxc://x/y")
    assert convert(same).text == ""
    voice = event("voice.ogg", msgtype="m.audio", **{"org.matrix.msc3245.voice": {}})
    assert convert(voice).kind is MessageKind.VOICE
    assert convert(event("clip.mp4", msgtype="m.video")).kind is MessageKind.VIDEO


def test_a_file_named_like_the_bot_does_not_mention_it() -> None:
    named = event("hermes-logo.png", msgtype="m.image", url="mxc://x/y")
    assert not convert(named, GROUP).addressed
    captioned = event("hermes, what is this?", msgtype="m.image", filename="a.png", url="mxc://x/y")
    inbound = convert(captioned, GROUP)
    assert inbound.addressed and inbound.text == "what is this?"


def test_media_of_reads_the_file_and_refuses_urls_that_could_change_the_path() -> None:
    info = {"mimetype": "image/png", "size": 1234}
    ref = media_of(
        event("cat.png", msgtype="m.image", url="mxc://example.org:8448/Ab_c-1", info=info)
    )
    assert ref.mxc == "mxc://example.org:8448/Ab_c-1"
    assert (ref.file.id, ref.file.name, ref.file.mime_type, ref.file.size) == (
        "Ab_c-1",
        "cat.png",
        "image/png",
        1234,
    )
    for url in ("mxc://example.org/../../admin", "https://evil/x", "mxc://a/b?c", 42, None):
        assert media_of(event("x", msgtype="m.file", url=url)).mxc == ""
    assert media_of(event("x", msgtype="m.file", info={"size": "9"})).file.size == 0
    assert media_of(event("hi")) is None


def test_outgoing_files_get_the_msgtype_a_client_shows_best() -> None:
    assert msgtype_for(MessageKind.PHOTO, "image/png") == "m.image"
    assert msgtype_for(MessageKind.VOICE, "audio/ogg") == "m.audio"
    assert msgtype_for(MessageKind.DOCUMENT, "video/mp4") == "m.video"
    assert msgtype_for(MessageKind.DOCUMENT, "application/pdf") == "m.file"


def test_image_sizes_come_from_the_header(tmp_path: Path) -> None:
    def saved(name: str, data: bytes) -> Path:
        (tmp_path / name).write_bytes(data)
        return tmp_path / name

    assert image_size(saved("a.png", png(7, 5))) == (7, 5)
    assert image_size(saved("a.gif", b"GIF89a" + struct.pack("<HH", 9, 4) + b"\0" * 8)) == (9, 4)
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"\0" * 14
    sof = b"\xff\xc0" + struct.pack(">HBHH", 17, 8, 30, 40) + b"\0" * 10
    assert image_size(saved("a.jpg", b"\xff\xd8" + app0 + sof)) == (40, 30)
    assert image_size(saved("a.txt", b"not an image")) is None
    assert image_size(saved("b.png", b"\x89PNG\r\n\x1a\n")) is None
    assert image_size(tmp_path / "missing.png") is None


def png(width: int, height: int) -> bytes:
    """A valid PNG header (all the tests need: Synapse and the adapter do not decode pixels)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + b"\0" * 64


def test_media_and_emotes_say_what_came() -> None:
    emote = convert_event(event("waves", msgtype="m.emote"), DM, BOT, True, lambda u: "Alice")
    assert emote.text == "* Alice waves"


def test_own_messages_notices_edits_and_other_events_are_not_for_us() -> None:
    assert convert(event(sender=BOT.user_id)) is None
    assert convert(event(msgtype="m.notice")) is None
    assert convert(event("* fixed", **{"m.relates_to": {"rel_type": "m.replace"}})) is None
    assert convert({**event(), "type": "m.reaction"}) is None
    assert convert({**event(), "content": {}}) is None  # redacted


@pytest.mark.parametrize(
    "raw",
    [
        event(body=None),
        event(body=42),
        {**event(), "content": {"body": "no msgtype"}},
        {**event(), "content": "junk"},
        {**event(), "sender": None},
        {**event(), "event_id": 7},
        event(**{"m.relates_to": "junk"}),
        event(**{"m.relates_to": {"rel_type": "m.thread", "event_id": 42}}),
    ],
)
def test_malformed_events_raise(raw: dict) -> None:
    with pytest.raises(MalformedEvent):
        convert(raw)


def test_only_what_was_said_after_our_invite_counts_in_a_room_we_just_joined() -> None:
    def member(who: str, membership: str, prev: str = "") -> dict:
        unsigned = {"prev_content": {"membership": prev}} if prev else {}
        return {
            "type": "m.room.member",
            "state_key": who,
            "content": {"membership": membership},
            "unsigned": unsigned,
        }

    old, new = {"event_id": "$old"}, {"event_id": "$new"}
    bot = BOT.user_id
    joined = [old, member(bot, "invite"), new, member(bot, "join", "invite")]
    assert after_our_arrival(joined, bot)[0] == new
    assert after_our_arrival([old, member(bot, "join")], bot) == []
    renamed = [old, member(bot, "join", "join"), new]  # a display-name change, not an arrival
    assert after_our_arrival(renamed, bot) == renamed


# -- our replies -> content ---------------------------------------------------------------------
def test_replies_carry_plain_body_and_html_with_line_breaks_outside_code() -> None:
    content = message_content("**Done**: see `x < y`\nnext\n```\na\nb\n```")
    assert content["body"] == "Done: see x < y\nnext\na\nb"
    assert content["format"] == "org.matrix.custom.html"
    html = content["formatted_body"]
    assert html == "<b>Done</b>: see <code>x &lt; y</code><br>next<br><pre>a\nb</pre>"
    assert content["m.mentions"] == {}
    plain = message_content("just words")
    assert "formatted_body" not in plain and plain["body"] == "just words"


def test_thread_replies_and_edits_use_the_matrix_relations() -> None:
    threaded = message_content("x", thread_id="$root")["m.relates_to"]
    assert threaded["rel_type"] == "m.thread" and threaded["event_id"] == "$root"
    assert threaded["is_falling_back"] and threaded["m.in_reply_to"] == {"event_id": "$root"}
    assert message_content("x", reply_to="$q")["m.relates_to"] == _reply("$q")
    edit = edit_content("$orig", "**new** text")
    assert edit["m.relates_to"] == {"rel_type": "m.replace", "event_id": "$orig"}
    assert edit["m.new_content"]["body"] == "new text" and edit["body"] == "* new text"
    assert "<b>new</b>" in edit["m.new_content"]["formatted_body"]


def test_a_reply_too_big_for_one_event_drops_its_html() -> None:
    # As long as a chunk may be, and every "&" is five bytes as HTML.
    text = ("**" + "&" * 30 + "** ") * (MAX_LENGTH // 35)
    content = message_content(text)
    assert "formatted_body" not in content
    assert len(json.dumps(content, ensure_ascii=False).encode()) < 64 * 1024


def _reply(event_id: str) -> dict:
    return {"m.in_reply_to": {"event_id": event_id}}


def _thread(root: str) -> dict:
    return {"rel_type": "m.thread", "event_id": root, "is_falling_back": True, **_reply(root)}


# -- against a real Synapse ---------------------------------------------------------------------
@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def synapse_users():
    driver = Driver()
    await driver.start()  # skips, naming tests/setup/synapse.sh, when Synapse is not installed
    yield driver
    await driver.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def mx(synapse_users: Driver) -> Driver:
    await synapse_users.reset()
    return synapse_users


@contextlib.asynccontextmanager
async def gateway(home: Path, openai_peer, mx: Driver, **env: str):
    write_config(home, peer_config(openai_peer.base_url, QUIET))
    environ = {**mx.env([mx.users.alice, mx.users.bob]), **env}
    async with running_engine(home, environ) as (engine, _):
        yield engine


async def until(check, what: str, timeout: float = WAIT):
    """Poll `check` (sync or async) until it returns something truthy (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} within {timeout:g} s")
        await asyncio.sleep(0.1)


async def membership(mx: Driver, owner: str, room_id: str, user_id: str) -> str:
    token = mx.server.accounts[owner[1:].split(":")[0]].access_token
    async with httpx.AsyncClient(timeout=10.0, trust_env=False) as http:
        answer = await http.get(
            f"{mx.server.url}/_matrix/client/v3/rooms/{room_id}/state/m.room.member/{user_id}",
            headers={"Authorization": f"Bearer {token}"},
        )
    return answer.json().get("membership", "") if answer.status_code == 200 else ""


def inbox_ids(home: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(home / "state.db")) as db:
        rows = db.execute("SELECT message_id FROM inbox WHERE platform = 'matrix' ORDER BY id")
        return [row[0] for row in rows]


def containing(text: str):
    return lambda m: text in m.text


@e2e
async def test_invites_dms_from_anyone_and_groups_only_from_allowed_users(
    tmp_path, openai_peer, mx
):
    openai_peer.script([{"text": "hello in the new room"}])
    users = mx.users
    async with gateway(tmp_path / "home", openai_peer, mx):
        room = await mx.create_room(users.alice, [mx.bot_id], direct=True)
        # Said before the bot arrived, but after it was invited: it is for the bot.
        await mx.send_raw(users.alice, room, {"msgtype": "m.text", "body": "hi, new room"})
        strangers_dm = await mx.create_room(users.stranger, [mx.bot_id], direct=True)
        strangers_group = await mx.create_room(users.stranger, [mx.bot_id, users.alice])
        await until(lambda: mx.wait_messages(room, 1, where=containing("new room")), "reply")
        await until(
            lambda: _is(membership(mx, users.stranger, strangers_group, mx.bot_id), "leave"),
            "declined invite",
        )
        assert await membership(mx, users.stranger, strangers_dm, mx.bot_id) == "join"
    assert "hi, new room" in str(openai_peer.requests()[0]["body"]["messages"])


@e2e
async def test_auto_join_allowed_declines_a_strangers_dm(tmp_path, openai_peer, mx):
    async with gateway(tmp_path / "home", openai_peer, mx, MATRIX_AUTO_JOIN="allowed"):
        room = await mx.create_room(mx.users.stranger, [mx.bot_id], direct=True)
        await until(
            lambda: _is(membership(mx, mx.users.stranger, room, mx.bot_id), "leave"), "decline"
        )


async def _is(value, wanted: str) -> bool:
    return (await value) == wanted


@e2e
async def test_a_message_sent_while_the_gateway_is_down_is_answered_once(tmp_path, openai_peer, mx):
    openai_peer.script([{"text": "answer one"}, {"text": "answer two"}])
    home, alice = tmp_path / "home", mx.users.alice
    chat = mx.dm(alice)
    async with gateway(home, openai_peer, mx):
        await mx.send(alice, "one")
        await mx.wait_messages(chat, 1, where=containing("answer one"))
    await mx.send(alice, "two")  # nobody is listening
    async with gateway(home, openai_peer, mx):
        await mx.wait_messages(chat, 1, where=containing("answer two"))
    prompts = [str(r["body"]["messages"][-1]["content"]) for r in openai_peer.requests()]
    assert len(prompts) == 2 and "two" in prompts[1] and "one" not in prompts[1]
    replies = [m.text for m in await mx.bot_messages(chat)]
    assert replies == ["answer one", "answer two"], "nothing was answered twice"


@e2e
async def test_a_gap_longer_than_the_timeline_limit_is_paged_in(tmp_path, openai_peer, mx):
    home, alice = tmp_path / "home", mx.users.alice
    openai_peer.script([{"text": "ok"}] * 8)
    async with gateway(home, openai_peer, mx, MATRIX_TIMELINE_LIMIT="2"):
        pass  # learns where "now" is
    sent = [await mx.send_raw(alice, mx.dm(alice), _text(f"missed {i}")) for i in range(7)]
    async with gateway(home, openai_peer, mx, MATRIX_TIMELINE_LIMIT="2"):
        stored = await until(lambda: inbox_ids(home) if len(inbox_ids(home)) >= 7 else [], "7")
    assert stored == sent, "every missed message once, in order"


@e2e
async def test_a_reply_is_html_and_plain_text(tmp_path, openai_peer, mx):
    openai_peer.script([{"text": "**Bold** and `code`\nsecond line"}])
    alice, chat = mx.users.alice, mx.dm(mx.users.alice)
    async with gateway(tmp_path / "home", openai_peer, mx):
        await mx.send(alice, "format something")
        [reply] = await mx.wait_messages(chat, 1, where=containing("second line"))
    [raw] = [e for e in await mx.room_events(chat) if e["event_id"] == reply.id]
    assert raw["content"]["body"] == "Bold and code\nsecond line"
    assert raw["content"]["format"] == "org.matrix.custom.html"
    assert raw["content"]["formatted_body"] == "<b>Bold</b> and <code>code</code><br>second line"


@e2e
async def test_a_reply_to_the_bot_in_a_group_needs_no_mention(tmp_path, openai_peer, mx):
    openai_peer.script([{"text": "first answer"}, {"text": "second answer"}])
    users = mx.users
    async with gateway(tmp_path / "home", openai_peer, mx):
        await mx.send(users.alice, "question", chat=mx.group, mention=True)
        [first] = await mx.wait_messages(mx.group, 1, where=containing("first answer"))
        reply = {
            **_text("and a follow-up"),
            "m.relates_to": {"m.in_reply_to": {"event_id": first.id}},
        }
        await mx.send_raw(users.bob, mx.group, reply)
        await mx.wait_messages(mx.group, 1, where=containing("second answer"))


@e2e
async def test_the_processing_reaction_comes_and_goes(tmp_path, openai_peer, mx):
    openai_peer.script([{"text": "done thinking", "delay": 0.5}])
    alice, chat = mx.users.alice, mx.dm(mx.users.alice)
    async with gateway(tmp_path / "home", openai_peer, mx):
        await mx.send(alice, "think")
        await mx.wait_messages(chat, 1, where=containing("done thinking"))

        async def reaction_gone() -> bool:
            events = await mx.room_events(chat)
            reactions = [e for e in events if e["type"] == "m.reaction"]
            redacted = {e.get("redacts") for e in events if e["type"] == "m.room.redaction"}
            return bool(reactions) and all(r["event_id"] in redacted for r in reactions)

        await until(reaction_gone, "👀 reaction and its redaction")


@e2e
async def test_a_wrong_password_fails_the_platform_with_a_clear_reason(tmp_path, openai_peer, mx):
    env = {"MATRIX_ACCESS_TOKEN": "", "MATRIX_USER_ID": mx.bot_id, "MATRIX_PASSWORD": "hunter2-x"}
    async with gateway(tmp_path / "home", openai_peer, mx, **env) as engine:
        assert engine.platform_state["matrix"] == "failed"
        reason = engine.platform_reason["matrix"]
    assert "MATRIX_PASSWORD" in reason and "M_FORBIDDEN" in reason and "hunter2-x" not in reason


@e2e
async def test_a_password_login_keeps_one_device_across_restarts(tmp_path, openai_peer, mx):
    account = mx.server.accounts["hermes"]
    env = {
        "MATRIX_ACCESS_TOKEN": "",
        "MATRIX_USER_ID": mx.bot_id,
        "MATRIX_PASSWORD": account.password,
    }
    for _ in range(2):
        async with gateway(tmp_path / "home", openai_peer, mx, **env) as engine:
            assert engine.platform_state["matrix"] == "connected"
    async with httpx.AsyncClient(timeout=10.0, trust_env=False) as http:
        answer = await http.get(
            f"{mx.server.url}/_matrix/client/v3/devices",
            headers={"Authorization": f"Bearer {account.access_token}"},
        )
    ours = [d for d in answer.json()["devices"] if d.get("display_name") == "Hermes Gateway"]
    assert len(ours) == 1, ours


@e2e
async def test_a_token_revoked_while_running_fails_the_platform(tmp_path, openai_peer, mx):
    login = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": mx.bot_id},
        "password": mx.server.accounts["hermes"].password,
    }
    async with httpx.AsyncClient(timeout=10.0, trust_env=False) as http:
        token = (await http.post(f"{mx.server.url}/_matrix/client/v3/login", json=login)).json()[
            "access_token"
        ]
        env = {"MATRIX_ACCESS_TOKEN": token, "MATRIX_SYNC_TIMEOUT": "1"}
        async with gateway(tmp_path / "home", openai_peer, mx, **env) as engine:
            assert engine.platform_state["matrix"] == "connected"
            headers = {"Authorization": f"Bearer {token}"}
            await http.post(f"{mx.server.url}/_matrix/client/v3/logout", headers=headers)
            await until(lambda: engine.platform_state["matrix"] == "failed", "failed state")
            reason = engine.platform_reason["matrix"]
    assert "MATRIX_ACCESS_TOKEN was rejected" in reason and token not in reason


@e2e
async def test_an_unreachable_homeserver_is_retried_not_failed(tmp_path, openai_peer, mx):
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there
    env = {"MATRIX_HOMESERVER": f"http://127.0.0.1:{port}"}
    async with gateway(tmp_path / "home", openai_peer, mx, **env) as engine:
        assert engine.platform_state["matrix"] == "connecting"
        assert "cannot reach" in engine.platform_reason["matrix"]


@e2e
async def test_a_malformed_event_is_logged_without_secrets(tmp_path, openai_peer, mx, caplog):
    caplog.set_level(logging.WARNING, logger="hermes.matrix")
    async with gateway(tmp_path / "home", openai_peer, mx):
        await mx.send_malformed()
        await until(lambda: "malformed" in caplog.text, "a log line")
    [line] = [r.getMessage() for r in caplog.records if "malformed" in r.getMessage()]
    assert mx.dm(mx.users.alice) in line and "thread" in line
    assert mx.server.accounts["hermes"].access_token not in caplog.text


@e2e
async def test_the_sync_token_moves_only_after_the_inbox_has_the_message(tmp_path, mx):
    """deliver_inbound fails twice: the batch is fetched again, and the token saved after."""
    attempts: list[str] = []
    statuses: list[tuple[str, str]] = []

    async def deliver(message: InboundMessage) -> bool:
        attempts.append(message.message_id)
        if len(attempts) <= 2:
            raise OSError("disk full")
        return True

    home = HermesHome(tmp_path / "home").ensure()
    context = AdapterContext(home, deliver, lambda s, d: statuses.append((s, d)))
    platform = load_settings(home, mx.env([mx.users.alice])).platforms["matrix"]
    adapter = MatrixAdapter(platform, context)
    await adapter.connect()
    state = StateFile(home.root / "matrix", adapter.options.homeserver, mx.bot_id)
    before = state.load().next_batch
    try:
        event_id = await mx.send_raw(mx.users.alice, mx.dm(mx.users.alice), _text("keep me"))
        await until(lambda: len(attempts) >= 3, "a third delivery", timeout=30)
        assert attempts == [event_id] * 3
        assert await until(lambda: state.load().next_batch != before, "saved token")
    finally:
        await adapter.disconnect()
    assert ("connecting", "a message could not be stored; retrying") in statuses


def _text(body: str) -> dict[str, Any]:
    return {"msgtype": "m.text", "body": body, "m.mentions": {}}


@e2e
async def test_the_home_room_is_joined_by_its_alias(tmp_path, openai_peer, mx):
    alias = f"ops{int(time.time() * 1000)}"
    answer = await mx.clients[mx.users.alice].room_create(
        alias=alias, name="Ops", preset=RoomPreset.public_chat
    )
    env = {"MATRIX_HOME_ROOM": f"#{alias}:localhost"}
    async with gateway(tmp_path / "home", openai_peer, mx, **env):
        await until(
            lambda: _is(membership(mx, mx.users.alice, answer.room_id, mx.bot_id), "join"),
            "the bot in its home room",
        )


@e2e
async def test_a_refused_saved_position_starts_afresh(tmp_path, openai_peer, mx, caplog):
    openai_peer.script([{"text": "fresh start"}])
    home = tmp_path / "home"
    state = StateFile(home / "matrix", mx.server.url, mx.bot_id)
    state.path.parent.mkdir(parents=True)
    state.path.write_text(json.dumps({"next_batch": "not-a-token", "device_id": ""}))
    async with gateway(home, openai_peer, mx) as engine:
        await until(lambda: state.load().next_batch not in ("", "not-a-token"), "a new position")
        await until(lambda: engine.platform_state["matrix"] == "connected", "connected")
        await mx.send(mx.users.alice, "hello again")
        await mx.wait_messages(mx.dm(mx.users.alice), 1, where=containing("fresh start"))
    assert "refused the saved sync position" in caplog.text


# -- files both ways, against the real Synapse ---------------------------------------------------
async def upload_as(mx: Driver, user: str, data: bytes, name: str, mime: str) -> str:
    """What a client does before sending a file: the media repository's mxc:// URI for it."""
    answer, _ = await mx.clients[user].upload(
        io.BytesIO(data), content_type=mime, filename=name, filesize=len(data)
    )
    assert isinstance(answer, UploadResponse), answer
    return answer.content_uri


async def send_file(
    mx: Driver,
    user: str,
    msgtype: str,
    name: str,
    data: bytes,
    mime: str,
    *,
    chat: str = "",
    caption: str = "",
    say_size: bool = True,
) -> str:
    """An m.image / m.file as Element sends it (info with mimetype and size)."""
    info: dict[str, Any] = {"mimetype": mime, **({"size": len(data)} if say_size else {})}
    content = {
        "msgtype": msgtype,
        "body": caption or name,
        "url": await upload_as(mx, user, data, name, mime),
        "info": info,
        "m.mentions": {},
    }
    if caption:
        content["filename"] = name
    return await mx.send_raw(user, chat or mx.dm(user), content)


async def download_as(mx: Driver, user: str, mxc: str) -> bytes:
    token = mx.server.accounts[user[1:].split(":")[0]].access_token
    server, media_id = mxc.removeprefix("mxc://").split("/")
    async with httpx.AsyncClient(timeout=30.0, trust_env=False) as http:
        answer = await http.get(
            f"{mx.server.url}/_matrix/client/v1/media/download/{server}/{media_id}",
            headers={"Authorization": f"Bearer {token}"},
        )
    assert answer.status_code == 200, answer.text
    return answer.content


def prompts(openai_peer) -> list[str]:
    return [str(r["body"]["messages"][-1]["content"]) for r in openai_peer.requests()]


def cached(home: Path) -> dict[str, bytes]:
    folder = home / "cache" / "matrix"
    return {p.name: p.read_bytes() for p in folder.iterdir()} if folder.exists() else {}


@e2e
async def test_an_image_and_a_file_reach_the_model_as_saved_files(tmp_path, openai_peer, mx):
    openai_peer.script([{"text": "nice cat"}, {"text": "read it"}])
    home, alice = tmp_path / "home", mx.users.alice
    image, document = png(4, 3), b"%PDF-1.4 quarterly numbers\n" * 40
    async with gateway(home, openai_peer, mx):
        await send_file(mx, alice, "m.image", "cat.png", image, "image/png")
        await mx.wait_messages(mx.dm(alice), 1, where=containing("nice cat"))
        await send_file(
            mx, alice, "m.file", "report.pdf", document, "application/pdf", caption="summarise"
        )
        await mx.wait_messages(mx.dm(alice), 1, where=containing("read it"))
    files = cached(home)
    [cat] = [name for name in files if name.endswith("_cat.png")]
    [report] = [name for name in files if name.endswith("_report.pdf")]
    assert files[cat] == image and files[report] == document
    first, second = prompts(openai_peer)
    folder = home / "cache" / "matrix"
    # No caption: the model reads only the engine's line about the file, not "cat.png" as text.
    assert first == (
        f"[attached photo: {cat} (image/png, {len(image)} bytes) saved at {folder / cat}]"
    )
    assert second.startswith("summarise\n[attached document: ")
    assert f"saved at {folder / report}]" in second


@e2e
async def test_files_over_the_limit_are_not_downloaded_and_the_model_is_told(
    tmp_path, openai_peer, mx
):
    openai_peer.script([{"text": "too big"}, {"text": "still too big"}])
    home, alice = tmp_path / "home", mx.users.alice
    big = b"x" * 4096
    async with gateway(home, openai_peer, mx, MATRIX_MAX_FILE_MB="0.001"):  # 1048 bytes
        await send_file(mx, alice, "m.file", "big.bin", big, "application/octet-stream")
        await mx.wait_messages(mx.dm(alice), 1, where=containing("too big"))
        # A client that did not say the size: the download itself stops at the limit.
        await send_file(
            mx, alice, "m.file", "unsized.bin", big, "application/octet-stream", say_size=False
        )
        await mx.wait_messages(mx.dm(alice), 1, where=containing("still too big"))
    first, second = prompts(openai_peer)
    assert first.startswith("[file too large: big.bin (") and "not downloaded]" in first
    assert second.startswith("[file not downloaded: unsized.bin (M_TOO_LARGE: larger than")
    assert cached(home) == {}


@e2e
async def test_a_file_the_server_does_not_have_becomes_a_note(tmp_path, openai_peer, mx):
    openai_peer.script([{"text": "it is gone"}])
    home, alice = tmp_path / "home", mx.users.alice
    missing = {"msgtype": "m.file", "body": "gone.txt", "url": "mxc://localhost/NoSuchMedia"}
    async with gateway(home, openai_peer, mx):
        await mx.send_raw(alice, mx.dm(alice), missing)
        await mx.wait_messages(mx.dm(alice), 1, where=containing("it is gone"))
    [prompt] = prompts(openai_peer)
    assert prompt.startswith("[file not downloaded: gone.txt (M_NOT_FOUND")
    assert mx.server.accounts["hermes"].access_token not in prompt
    assert cached(home) == {}


@e2e
async def test_a_file_in_a_group_not_for_the_bot_is_not_downloaded(tmp_path, openai_peer, mx):
    openai_peer.script([{"text": "only the question"}])
    home, alice = tmp_path / "home", mx.users.alice
    async with gateway(home, openai_peer, mx):
        await send_file(mx, alice, "m.image", "hermes.png", png(2, 2), "image/png", chat=mx.group)
        await mx.send(alice, "question", chat=mx.group, mention=True)
        await mx.wait_messages(mx.group, 1, where=containing("only the question"))
    assert cached(home) == {}
    assert prompts(openai_peer) == ["question"]


@e2e
async def test_a_reply_with_a_media_line_sends_the_file_alice_can_download(
    tmp_path, openai_peer, mx
):
    picture = tmp_path / "chart.png"
    picture.write_bytes(png(6, 5))
    openai_peer.script([{"text": f"here is the chart\nMEDIA: {picture}"}])
    alice, chat = mx.users.alice, mx.dm(mx.users.alice)
    async with gateway(tmp_path / "home", openai_peer, mx):
        await mx.send(alice, "draw me a chart")
        await mx.wait_messages(chat, 1, where=lambda m: m.text == "chart.png")
        await mx.wait_messages(chat, 1, where=containing("here is the chart"))
    [image] = [e for e in await mx.room_events(chat) if e["content"].get("msgtype") == "m.image"]
    content = image["content"]
    assert image["sender"] == mx.bot_id and content["body"] == "chart.png"
    size = picture.stat().st_size
    assert content["info"] == {"mimetype": "image/png", "size": size, "w": 6, "h": 5}
    assert await download_as(mx, alice, content["url"]) == picture.read_bytes()
    texts = [m.text for m in await mx.bot_messages(chat)]
    assert "MEDIA" not in str(texts)


@e2e
async def test_files_then_text_go_in_the_thread_the_text_would_use(tmp_path, mx):
    """One OutboundMessage with two files and text: three events, files first, all in the
    thread, and the bytes in the media repository are exactly the files'."""
    home = HermesHome(tmp_path / "home").ensure()
    context = AdapterContext(home, _stored, lambda s, d: None)
    platform = load_settings(home, mx.env([mx.users.alice])).platforms["matrix"]
    adapter = MatrixAdapter(platform, context)
    assert adapter.capabilities.images and adapter.capabilities.files
    picture, notes = tmp_path / "p.png", tmp_path / "notes.txt"
    picture.write_bytes(png(2, 3))
    notes.write_bytes("line one\nligne deux ✓\n".encode())
    root = await mx.new_thread(mx.users.alice)
    await adapter.connect()
    try:
        result = await adapter.send(
            OutboundMessage(
                mx.group,
                "both files",
                thread_id=root,
                attachments=(
                    Attachment(str(picture), MessageKind.PHOTO, "image/png", 0),
                    Attachment(str(notes), MessageKind.DOCUMENT, "text/plain", 0),
                ),
            )
        )
        missing = await adapter.send(
            OutboundMessage(
                mx.group,
                "",
                attachments=(Attachment(str(tmp_path / "gone.pdf"), MessageKind.DOCUMENT),),
            )
        )
    finally:
        await adapter.disconnect()
    assert result.ok, result
    ours = [e for e in await mx.room_events(mx.group) if e["sender"] == mx.bot_id]
    assert [e["content"]["msgtype"] for e in ours] == ["m.image", "m.file", "m.text"]
    assert ours[0]["event_id"] == result.message_id
    assert all(e["content"]["m.relates_to"]["event_id"] == root for e in ours)
    assert all(e["content"]["m.relates_to"]["rel_type"] == "m.thread" for e in ours)
    assert ours[2]["content"]["body"] == "both files"
    assert ours[1]["content"]["info"] == {"mimetype": "text/plain", "size": notes.stat().st_size}
    for event, path in zip(ours[:2], (picture, notes), strict=True):
        assert await download_as(mx, mx.users.alice, event["content"]["url"]) == path.read_bytes()
    assert not missing.ok and not missing.retryable and "gone.pdf" in missing.error


async def _stored(message: InboundMessage) -> bool:
    return True


@pytest.mark.asyncio
async def test_an_older_homeserver_gets_the_legacy_download_and_busy_ones_are_retried():
    """A loopback media repository without the authenticated endpoint (a server before Matrix
    1.11) that answers 503 once: the legacy path is used, the retry fetches the file, and
    every request carries the token in the header (never in the URL)."""
    seen: list[tuple[str, str, str]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append((request.path, request.query_string, request.headers.get("Authorization", "")))
        if request.path.startswith("/_matrix/client/v1/"):
            return web.json_response({"errcode": "M_UNRECOGNIZED"}, status=404)
        if len(seen) == 2:
            return web.json_response({"errcode": "M_UNKNOWN", "error": "busy"}, status=503)
        return web.Response(body=b"old server bytes")

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    repo = MediaRepo(f"http://127.0.0.1:{port}", lambda: "tok")
    try:
        assert await repo.download("mxc://old.example/abc", 1024) == b"old server bytes"
        with pytest.raises(MediaTooLarge):
            await repo.download("mxc://old.example/abc", 4)
    finally:
        await repo.close()
        await runner.cleanup()
    paths = [path for path, _, _ in seen[:4]]
    assert paths == [
        "/_matrix/client/v1/media/download/old.example/abc",
        "/_matrix/media/v3/download/old.example/abc",
        "/_matrix/client/v1/media/download/old.example/abc",
        "/_matrix/media/v3/download/old.example/abc",
    ]
    assert all(auth == "Bearer tok" and "tok" not in query for _, query, auth in seen)
