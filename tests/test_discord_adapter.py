"""Discord: the real engine and adapter (discord.py) against the loopback gateway + REST peer —
options, the mention rule, threads and auto-threads, processing reactions, approval buttons,
slash commands, roles, files both ways, the gateway's resume after an outage, and error
handling."""

from __future__ import annotations

import asyncio
import base64
import logging
from pathlib import Path

import pytest

from hermes_gateway.config.schema import PlatformSettings
from hermes_gateway.core.events import PlatformStatusChanged
from hermes_gateway.core.types import Attachment, MessageKind, OutboundMessage
from hermes_gateway.home import HermesHome
from hermes_gateway.platforms.base import AdapterContext
from hermes_gateway.platforms.discord import DEFAULT_API_BASE, options_from_settings
from hermes_gateway.platforms.discord.adapter import DiscordAdapter
from hermes_gateway.platforms.discord.client import RoutedHTTPClient
from hermes_gateway.platforms.discord.convert import command_payloads, components, strip_mention
from tests.helpers import peer_config, running_engine, write_config
from tests.peers.discord_fixtures import (
    ALICE,
    BOB,
    BOT_ID,
    CAROL,
    GROUP_ID,
    HELPER_ROLE,
    STRANGER,
    poll,
)
from tests.test_agent_runtime_e2e import call

QUIET = "display:\n  tool_progress: 'off'\n"


def home_for(tmp_path, openai_peer, extra: str = ""):
    home = tmp_path / "home"
    write_config(home, peer_config(openai_peer.base_url, QUIET + extra))
    return home


def settings(**extra) -> PlatformSettings:
    return PlatformSettings("discord", True, token="t0ken", extra=extra)


# -- options and pure conversions ---------------------------------------------------------------
def test_options_defaults_and_validation():
    options = options_from_settings(settings())
    assert options.api_base == DEFAULT_API_BASE and options.gateway_url == ""
    assert options.require_mention and not options.auto_thread and options.reactions
    assert "t0ken" not in repr(options)
    roles = options_from_settings(settings(allowed_roles="12, 34")).allowed_roles
    assert roles == {"12", "34"}
    with pytest.raises(ValueError, match="DISCORD_BOT_TOKEN is not set"):
        options_from_settings(PlatformSettings("discord", True))
    with pytest.raises(ValueError, match="DISCORD_ALLOWED_ROLES.*'admins'"):
        options_from_settings(settings(allowed_roles="12,admins"))
    with pytest.raises(ValueError, match="DISCORD_GATEWAY_URL.*ws://"):
        options_from_settings(settings(gateway_url="http://example.com"))
    with pytest.raises(ValueError, match="DISCORD_AUTO_THREAD"):
        options_from_settings(settings(auto_thread="sometimes"))
    assert options.max_file_bytes == 25 * 1024 * 1024
    assert options_from_settings(settings(max_file_mb="0.5")).max_file_bytes == 512 * 1024
    with pytest.raises(ValueError, match=r"DISCORD_MAX_FILE_MB\) must be a number, not 'lots'"):
        options_from_settings(settings(max_file_mb="lots"))


def test_rest_and_gateway_urls_are_rewritten_per_client():
    http = RoutedHTTPClient(None, "http://127.0.0.1:9/api/v10", "ws://127.0.0.1:9/gateway")
    default = "wss://gateway.discord.gg/?v=10&encoding=json&compress=zlib-stream"
    assert http.gateway_for(default) == (
        "ws://127.0.0.1:9/gateway?v=10&encoding=json&compress=zlib-stream"
    )
    resume = "wss://gateway-us-east1-b.discord.gg/?v=10"
    assert http.gateway_for(resume) == resume  # a resume URL the server gave is kept
    plain = RoutedHTTPClient(None, DEFAULT_API_BASE, "")
    assert plain.gateway_for(default) == default


def test_mentions_buttons_and_commands_in_discord_shapes():
    assert strip_mention(f"<@{BOT_ID}> hello", int(BOT_ID)) == "hello"
    assert strip_mention(f"hey <@!{BOT_ID}>, look", int(BOT_ID)) == "hey look"
    assert strip_mention("<@42> hello", int(BOT_ID)) == "<@42> hello"
    rows = components(tuple((f"b{i}", f"approval:x:{i}") for i in range(6)) + (("No", "a:deny"),))
    assert [len(r["components"]) for r in rows] == [5, 2]
    assert rows[1]["components"][-1]["style"] == 4  # deny is red
    menu = command_payloads([("/Status", "Show status"), ("status", "dup"), ("bad name!", "")])
    assert [c["name"] for c in menu] == ["status", "badname"]
    assert menu[1]["description"] == "badname" and menu[0]["options"][0]["type"] == 3


# -- the adapter on its own (a real connection to the peer; the engine's side is a list) --------
@pytest.fixture
async def adapter(tmp_path, discord_peer):
    received = []

    async def deliver(message):
        received.append(message)
        return True

    context = AdapterContext(HermesHome(tmp_path).ensure(), deliver, lambda state, why: None)
    options = {"api_base": discord_peer.api_base}
    made = DiscordAdapter(
        PlatformSettings("discord", True, token=discord_peer.token, extra=options), context
    )
    await made.connect()
    made.received = received
    yield made
    await made.disconnect()


async def test_send_edit_typing_and_errors_through_rest(adapter, discord_peer):
    dm = discord_peer.dm(ALICE)
    sent = await adapter.send(OutboundMessage(dm, "first"))
    assert sent.ok
    assert (await adapter.edit(dm, sent.message_id, "first, edited")).ok
    await adapter.typing(dm)
    [shown] = await discord_peer.messages(dm)
    assert shown["content"] == "first, edited" and shown["edits"] == 1
    assert [e["channel_id"] for e in await discord_peer.log("typing")] == [dm]
    [posted] = await discord_peer.log("message")
    assert posted["body"]["allowed_mentions"]["parse"] == []  # the model never pings @everyone
    gone = await adapter.send(OutboundMessage("7777", "nowhere"))
    assert not gone.ok and gone.kind == "not_found" and not gone.retryable
    too_long = await adapter.send(OutboundMessage(dm, "x" * 2001))
    assert too_long.kind == "too_long"
    await discord_peer.fail("POST /api/v10/channels", status=503, times=10)
    down = await adapter.send(OutboundMessage(dm, "later"))
    assert not down.ok and down.retryable


async def test_own_messages_other_bots_and_malformed_events_are_skipped(
    adapter, discord_peer, caplog
):
    caplog.set_level(logging.WARNING, "hermes.discord")
    await adapter.send(OutboundMessage(discord_peer.dm(ALICE), "the bot's own words"))
    await discord_peer.raw("MESSAGE_CREATE", {"id": "5", "channel_id": "x", "type": 0})
    wrong = {
        "id": "6",
        "channel_id": discord_peer.dm(ALICE),
        "author": {"id": ALICE, "username": "alice", "discriminator": "0", "avatar": None},
        "content": 42,
        "type": 0,
        "timestamp": "2024-01-01T00:00:00+00:00",
    }
    await discord_peer.raw("MESSAGE_CREATE", wrong)
    await discord_peer.message(ALICE, discord_peer.dm(ALICE), "hello")
    await poll(lambda: asyncio.sleep(0, adapter.received), bool, 10, "a message")
    assert [m.text for m in adapter.received] == ["hello"]
    assert "skipped a malformed MESSAGE_CREATE" in caplog.text
    assert "skipped a malformed message 6: content is int" in caplog.text
    state = await discord_peer.state()
    assert state["identify"] == 1 and state["connected"] == 1, "one bad event kept the session"


async def test_slash_commands_are_synced_from_the_menu(tmp_path, openai_peer, discord_peer):
    async with running_engine(home_for(tmp_path, openai_peer), discord_peer.env()) as (engine, _):
        await discord_peer.wait_log("commands")
        names = [c["name"] for c in (await discord_peer.state())["commands"]]
        assert "status" in names and "approve" in names
        dm = discord_peer.dm(ALICE)
        await discord_peer.slash(ALICE, dm, "status")
        [echo] = await discord_peer.wait_log("callback")
        assert echo["body"] == {"type": 4, "data": {"content": "`/status`"}}
        [reply] = await discord_peer.wait_messages(dm, 1)
        await discord_peer.message(ALICE, dm, "/status")  # typed, not from the menu
        await discord_peer.wait_messages(dm, 2)
        reacted = await discord_peer.log("react")
    assert reply["content"] and openai_peer.requests() == []  # answered by the command
    assert reacted == [], "a command is answered at once: no 👀 left hanging on it"


# -- conversations ------------------------------------------------------------------------------
async def test_group_mention_is_stripped_and_the_user_message_gets_reactions(
    tmp_path, openai_peer, discord_peer
):
    openai_peer.script([{"text": "hello group"}])
    home = home_for(tmp_path, openai_peer)
    async with running_engine(home, discord_peer.env()):
        await discord_peer.message(BOB, GROUP_ID, "not for the bot")
        asked = await discord_peer.message(ALICE, GROUP_ID, "what time is it", mention=True)
        await discord_peer.wait_messages(GROUP_ID, 1)
        marks = await poll(
            lambda: discord_peer.reactions(asked["id"]), lambda r: r == ["✅"], 10, "✅ only"
        )
        kinds = [(e["kind"], e["emoji"]) for e in await discord_peer.log() if "emoji" in e]
    assert marks == ["✅"]
    assert kinds == [("react", "👀"), ("unreact", "👀"), ("react", "✅")]
    [request] = openai_peer.requests()
    assert request["body"]["messages"][-1]["content"].endswith("what time is it")
    assert f"<@{BOT_ID}>" not in str(request["body"]["messages"][-1]["content"])


async def test_a_failed_turn_is_marked_with_a_cross(tmp_path, openai_peer, discord_peer):
    openai_peer.script([{"status": 400, "message": "bad request"}])
    async with running_engine(home_for(tmp_path, openai_peer), discord_peer.env()):
        asked = await discord_peer.message(ALICE, discord_peer.dm(ALICE), "break")
        marks = await poll(
            lambda: discord_peer.reactions(asked["id"]), lambda r: "❌" in r, 10, "❌"
        )
    assert marks == ["❌"]


async def test_auto_thread_answers_in_a_new_thread_and_keeps_talking_there(
    tmp_path, openai_peer, discord_peer
):
    openai_peer.script([{"text": "first answer"}, {"text": "second answer"}])
    env = discord_peer.env(auto_thread="true")
    async with running_engine(home_for(tmp_path, openai_peer), env):
        asked = await discord_peer.message(ALICE, GROUP_ID, "plan a trip\nto Rome", mention=True)
        [first] = await discord_peer.wait_messages(GROUP_ID, 1)
        assert first["thread"] == asked["id"]  # a thread started on a message has its id
        [started] = await discord_peer.log("thread")
        assert started["body"]["name"] == "plan a trip"
        # In the bot's own thread no mention is needed.
        await discord_peer.message(ALICE, GROUP_ID, "and Milan?", thread=asked["id"])
        both = await discord_peer.wait_messages(GROUP_ID, 2)
        await poll(lambda: discord_peer.reactions(asked["id"]), lambda r: r == ["✅"], 10, "✅")
    assert [m["thread"] for m in both] == [asked["id"], asked["id"]]
    assert both[1]["content"] == "second answer"


async def test_approval_buttons_check_who_presses_and_go_away(tmp_path, openai_peer, discord_peer):
    openai_peer.script([call("terminal", command="rm -rf ./build"), {"text": "cleaned"}])
    home = home_for(tmp_path, openai_peer)
    (home / "workspace" / "build").mkdir(parents=True)
    async with running_engine(home, discord_peer.env()):
        await discord_peer.message(ALICE, GROUP_ID, "clean up", mention=True)
        [prompt] = await discord_peer.wait_messages(GROUP_ID, 1)
        buttons = [b for row in prompt["components"] for b in row["components"]]
        assert [b["label"] for b in buttons] == ["Allow once", "Allow session", "Always", "Deny"]
        allow = buttons[0]["custom_id"]
        await discord_peer.press(BOB, prompt["id"], allow)  # Bob is allowed, but not his session
        [refused] = await discord_peer.wait_log("callback")
        assert refused["body"]["data"]["flags"] == 64  # only Bob sees the answer
        assert "Only someone in that conversation" in refused["body"]["data"]["content"]
        await discord_peer.press(ALICE, prompt["id"], allow)
        done = await discord_peer.wait_messages(GROUP_ID, 2)
        assert done[-1]["content"] == "cleaned"
        await discord_peer.wait_messages(GROUP_ID, 1, where=lambda m: m["components"] == [])
    assert not (home / "workspace" / "build").exists()


async def test_allowed_roles_let_role_holders_in_groups_and_dms(
    tmp_path, openai_peer, discord_peer
):
    openai_peer.script([{"text": "hi carol"}, {"text": "hi again carol"}])
    env = discord_peer.env(allowed=[ALICE], allowed_roles=HELPER_ROLE)
    async with running_engine(home_for(tmp_path, openai_peer), env):
        await discord_peer.message(CAROL, discord_peer.dm(CAROL), "hello in private")
        await discord_peer.wait_messages(discord_peer.dm(CAROL), 1)
        await discord_peer.message(CAROL, GROUP_ID, "hello", mention=True)
        await discord_peer.wait_messages(GROUP_ID, 1)
        await discord_peer.message(STRANGER, discord_peer.dm(STRANGER), "me too?")
        [offer] = await discord_peer.wait_messages(discord_peer.dm(STRANGER), 1)
    assert "pairing code" in offer["content"]
    assert len(openai_peer.requests()) == 2
    looked_up = {e["user"] for e in await discord_peer.log("member")}
    assert looked_up == {CAROL, STRANGER}  # DMs: roles come from a member lookup


# -- connection -------------------------------------------------------------------------------
async def test_bad_token_fails_the_platform_with_a_clear_reason(
    tmp_path, openai_peer, discord_peer, caplog
):
    caplog.set_level(logging.DEBUG)
    env = {**discord_peer.env(), "DISCORD_BOT_TOKEN": "not.the.right-token"}
    async with running_engine(home_for(tmp_path, openai_peer), env) as (engine, _):
        state, reason = engine.platform_state["discord"], engine.platform_reason["discord"]
    assert state == "failed"
    assert reason.startswith("DISCORD_BOT_TOKEN was rejected by Discord (401 Unauthorized)")
    assert "not.the.right-token" not in reason and "not.the.right-token" not in caplog.text


async def test_gateway_outage_resumes_the_session_and_replays_what_was_missed(
    tmp_path, openai_peer, discord_peer, caplog
):
    caplog.set_level(logging.DEBUG)  # discord.py's own debug lines included
    openai_peer.script([{"text": "one"}, {"text": "two"}])
    dm = discord_peer.dm(ALICE)
    statuses = []
    async with running_engine(home_for(tmp_path, openai_peer), discord_peer.env()) as (engine, _):
        engine.bus.listen(
            lambda e: (
                statuses.append(e.state)
                if isinstance(e, PlatformStatusChanged) and e.platform == "discord"
                else None
            )
        )
        await discord_peer.message(ALICE, dm, "before")
        await discord_peer.wait_messages(dm, 1)
        outage = asyncio.create_task(discord_peer.outage(1.0))
        await poll(lambda: asyncio.sleep(0, statuses), lambda s: "connecting" in s, 10, "down")
        await discord_peer.message(ALICE, dm, "during")  # queued in the session
        await outage
        await discord_peer.wait_messages(dm, 2, timeout=30)
        state = await discord_peer.state()
        assert engine.platform_state["discord"] == "connected"
    assert state["identify"] == 1 and state["resume"] >= 1, state
    assert statuses[statuses.index("connecting") + 1] == "connected"
    assert "during" in str(openai_peer.requests()[-1]["body"]["messages"])
    assert discord_peer.token not in caplog.text, "the token never reaches a log line"


async def test_explicit_gateway_url_is_used(tmp_path, openai_peer, discord_peer):
    openai_peer.script([{"text": "via the configured gateway"}])
    gateway = discord_peer.url.replace("http://", "ws://") + "/gateway"
    env = discord_peer.env(gateway_url=gateway)
    async with running_engine(home_for(tmp_path, openai_peer), env) as (engine, _):
        assert engine.platform_state["discord"] == "connected"
        await discord_peer.message(ALICE, discord_peer.dm(ALICE), "hi")
        await discord_peer.wait_messages(discord_peer.dm(ALICE), 1)


async def test_a_reply_to_the_bot_needs_no_mention(tmp_path, openai_peer, discord_peer):
    openai_peer.script([{"text": "first"}, {"text": "answer to the reply"}])
    async with running_engine(home_for(tmp_path, openai_peer), discord_peer.env()):
        await discord_peer.message(ALICE, GROUP_ID, "start", mention=True)
        [first] = await discord_peer.wait_messages(GROUP_ID, 1)
        await discord_peer.message(BOB, GROUP_ID, "and me?", reply_to=first["id"])
        both = await discord_peer.wait_messages(GROUP_ID, 2)
    assert both[1]["content"] == "answer to the reply"
    assert "and me?" in str(openai_peer.requests()[-1]["body"]["messages"][-1]["content"])


async def test_auto_thread_falls_back_to_the_channel_when_refused(
    tmp_path, openai_peer, discord_peer
):
    openai_peer.script([{"text": "answered in the channel"}])
    await discord_peer.fail("/threads", status=403)  # no Create Public Threads permission
    env = discord_peer.env(auto_thread="true")
    async with running_engine(home_for(tmp_path, openai_peer), env):
        await discord_peer.message(ALICE, GROUP_ID, "hello", mention=True)
        [reply] = await discord_peer.wait_messages(GROUP_ID, 1)
    assert reply["thread"] == "" and reply["content"] == "answered in the channel"


# -- files ------------------------------------------------------------------------------------
PNG = b"\x89PNG\r\n\x1a\n" + b"pixels" * 10
PDF = b"%PDF-1.4 a small report"


async def post_with_files(peer, user, channel, content, files, mention=False) -> dict:
    """A user's message with attachments: files are (name, content type, bytes[, size to
    claim])."""
    attachments = [
        {
            "filename": name,
            "content_type": kind,
            "data": base64.b64encode(data).decode(),
            **({"size": rest[0]} if rest else {}),
        }
        for name, kind, data, *rest in files
    ]
    body = {"user": user, "channel": channel, "content": content, "mention": mention}
    return await peer.call("POST", "/_peer/message", json={**body, "attachments": attachments})


async def files_of(peer, message_id: str = "") -> dict:
    """{files: [{filename, content_type, size, data (bytes)}], fetches: [CDN paths served]}."""
    found = await peer.call("GET", "/_peer/files", params={"message": message_id})
    for item in found["files"]:
        item["data"] = base64.b64decode(item["data"])
    return found


async def test_a_photo_and_a_document_reach_the_model_as_saved_files(
    tmp_path, openai_peer, discord_peer
):
    openai_peer.script([{"text": "got both"}])
    home = home_for(tmp_path, openai_peer)
    dm = discord_peer.dm(ALICE)
    async with running_engine(home, discord_peer.env()):
        # Group chatter the bot will not answer: its file is not worth a download.
        await post_with_files(discord_peer, BOB, GROUP_ID, "fyi", [("x.png", "image/png", PNG)])
        sent = await post_with_files(
            discord_peer,
            ALICE,
            dm,
            "what do you make of these?",
            [("cat photo.png", "image/png", PNG), ("../report.pdf", "application/pdf", PDF)],
        )
        [reply] = await discord_peer.wait_messages(dm, 1)
    assert reply["content"] == "got both"
    photo_id, pdf_id = (a["id"] for a in sent["attachments"])
    cache = home / "cache" / "discord"
    photo, pdf = cache / f"{photo_id}_cat_photo.png", cache / f"{pdf_id}_.._report.pdf"
    assert sorted(cache.iterdir()) == sorted([photo, pdf]), "names are made safe, in the cache"
    assert photo.read_bytes() == PNG and pdf.read_bytes() == PDF
    prompt = openai_peer.requests()[0]["body"]["messages"][-1]["content"]
    assert prompt.startswith("what do you make of these?")
    assert f"[attached photo: {photo.name} (image/png, {len(PNG)} bytes) saved at {photo}]" in (
        prompt
    )
    assert f"[attached document: {pdf.name} (application/pdf, {len(PDF)} bytes)" in prompt
    fetched = (await files_of(discord_peer))["fetches"]
    assert len(fetched) == 2 and all(f"/{dm}/" in path for path in fetched)


async def test_an_oversize_file_is_skipped_with_a_note(tmp_path, openai_peer, discord_peer):
    openai_peer.script([{"text": "noted"}])
    home = home_for(tmp_path, openai_peer)
    big = b"\0" * (600 * 1024)
    env = discord_peer.env(max_file_mb="0.5")
    async with running_engine(home, env):
        await post_with_files(
            discord_peer,
            ALICE,
            GROUP_ID,
            "two big ones",
            [
                ("big.bin", "application/octet-stream", big),
                ("liar.bin", "", big, 10),  # says 10 bytes: caught once fetched
                ("ok.txt", "text/plain", b"small"),
            ],
            mention=True,
        )
        await discord_peer.wait_messages(GROUP_ID, 1)
    prompt = openai_peer.requests()[0]["body"]["messages"][-1]["content"]
    assert "[file too large: big.bin (0.6 MB); it was not downloaded]" in prompt
    assert "[file too large: liar.bin (0.6 MB); it was not downloaded]" in prompt
    assert "[attached document: " in prompt and "ok.txt (text/plain, 5 bytes)" in prompt
    [saved] = (home / "cache" / "discord").iterdir()
    assert saved.name.endswith("_ok.txt")
    fetched = (await files_of(discord_peer))["fetches"]
    assert not any("big.bin" in path for path in fetched), "the size was checked first"


async def test_voice_and_audio_files_and_a_download_that_falls_back_to_the_media_proxy(
    adapter, discord_peer
):
    await discord_peer.fail("GET /cdn/attachments", status=500)
    ogg = {"filename": "voice-message.ogg", "content_type": "audio/ogg", "data": "T2dnUw=="}
    body = {"user": ALICE, "channel": discord_peer.dm(ALICE), "content": ""}
    song, voice = {**ogg, "filename": "song.ogg"}, {**ogg, "voice": True}
    await discord_peer.call("POST", "/_peer/message", json={**body, "attachments": [voice, song]})
    [message] = await poll(lambda: asyncio.sleep(0, adapter.received), bool, 10, "a message")
    saved, other = message.attachments
    assert saved.kind is MessageKind.VOICE and saved.mime_type == "audio/ogg"
    assert Path(saved.path).read_bytes() == b"OggS" and message.kind is MessageKind.VOICE
    assert other.kind is MessageKind.AUDIO and other.path.endswith("_song.ogg")
    assert message.text == ""  # the engine describes the file; the adapter adds no note
    fetched = (await files_of(discord_peer))["fetches"]
    assert [path.split("/")[1] for path in fetched] == ["media", "cdn"]  # one failure only


async def test_a_media_line_in_a_reply_uploads_the_file(tmp_path, openai_peer, discord_peer):
    report = tmp_path / "report.csv"
    report.write_bytes(b"a,b\n1,2\n")
    openai_peer.script([{"text": f"Here is the report.\nMEDIA: {report}"}])
    dm = discord_peer.dm(ALICE)
    async with running_engine(home_for(tmp_path, openai_peer), discord_peer.env()):
        await discord_peer.message(ALICE, dm, "send me the report")
        text, upload = await discord_peer.wait_messages(dm, 2)
    assert text["content"] == "Here is the report." and text["files"] == []
    assert upload["files"] == ["report.csv"]
    [stored] = (await files_of(discord_peer, upload["id"]))["files"]
    assert stored["data"] == b"a,b\n1,2\n" and stored["content_type"] == "text/csv"
    [posted] = [e for e in await discord_peer.log("message") if e["id"] == upload["id"]]
    assert posted["body"]["attachments"] == [{"id": 0, "filename": "report.csv"}]
    assert posted["body"]["allowed_mentions"]["parse"] == []


async def test_text_buttons_and_many_files_go_in_as_few_messages_as_allowed(
    adapter, discord_peer, tmp_path
):
    dm = discord_peer.dm(ALICE)
    asked = await discord_peer.message(ALICE, dm, "files please")
    paths = []
    for index in range(12):
        path = tmp_path / f"part{index}.txt"
        path.write_bytes(f"part {index}".encode())
        paths.append(Attachment(str(path), MessageKind.DOCUMENT, "text/plain", path.stat().st_size))
    message = OutboundMessage(
        dm, "twelve parts", reply_to=asked["id"], attachments=tuple(paths), buttons=(("Ok", "x"),)
    )
    sent = await adapter.send(message)
    assert sent.ok
    first, second = await discord_peer.messages(dm)
    assert sent.message_id == first["id"] and first["content"] == "twelve parts"
    assert first["files"] == [f"part{i}.txt" for i in range(10)]  # Discord's 10 a message
    assert second["files"] == ["part10.txt", "part11.txt"] and second["content"] == ""
    assert first["components"] and not second["components"]
    posted = await discord_peer.log("message")
    assert posted[0]["body"]["message_reference"]["message_id"] == asked["id"]
    stored = (await files_of(discord_peer, second["id"]))["files"]
    assert [f["data"] for f in stored] == [b"part 10", b"part 11"]


async def test_unsendable_files_fail_clearly_and_are_not_retried(adapter, discord_peer, tmp_path):
    dm = discord_peer.dm(ALICE)
    missing = Attachment(str(tmp_path / "gone.pdf"), MessageKind.DOCUMENT)
    result = await adapter.send(OutboundMessage(dm, "", attachments=(missing,)))
    assert not result.ok and not result.retryable
    assert result.error.startswith(f"cannot read {tmp_path / 'gone.pdf'}")
    huge = tmp_path / "huge.bin"
    huge.write_bytes(b"\0" * (10 * 1024 * 1024 + 1))  # over the 10 MB a message may carry
    result = await adapter.send(
        OutboundMessage(dm, "", attachments=(Attachment(str(huge), MessageKind.DOCUMENT),))
    )
    assert not result.ok and not result.retryable
    assert "refused the upload as too large" in result.error
    assert await discord_peer.messages(dm) == []
