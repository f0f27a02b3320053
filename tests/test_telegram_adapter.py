"""The Telegram adapter against the loopback Bot API peer (a real HTTP server in a subprocess),
driven through python-telegram-bot: receiving, acknowledging, addressing, files, sending, error
mapping, buttons, the command menu, connection health and webhook mode."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from types import MappingProxyType
from typing import Any

import httpx
import pytest

from hermes_gateway.config import PlatformSettings
from hermes_gateway.core.types import (
    Attachment,
    ButtonPress,
    ChatType,
    InboundMessage,
    MessageKind,
    OutboundMessage,
    Platform,
)
from hermes_gateway.home import HermesHome
from hermes_gateway.platforms.base import AdapterContext
from hermes_gateway.platforms.telegram import AUTH_FAILED
from hermes_gateway.platforms.telegram.adapter import TelegramAdapter, TelegramAuthError
from hermes_gateway.platforms.telegram.polling import CONFLICT, STALLED
from hermes_gateway.platforms.telegram.webhook import SECRET_HEADER
from tests.helpers import running_engine, write_config

WAIT = 10.0  # an upper bound on a loaded machine, never a speed assertion
GROUP = -100123
DM = 42


class Harness:
    """The engine's side of an AdapterContext: records what the adapter hands over."""

    def __init__(self, home: Path) -> None:
        self.inbound: list[InboundMessage] = []
        self.statuses: list[tuple[str, str]] = []
        self.presses: list[ButtonPress] = []
        self.gate: asyncio.Event | None = None  # when set, deliver_inbound waits for it
        self.entered = asyncio.Event()
        self.action_reply = "Done"
        self._changed = asyncio.Event()
        self.context = AdapterContext(
            HermesHome(home),
            self.deliver,
            self.report,
            deliver_action=self.action,
            command_menu=[("Help", "Show the commands"), ("set-home", "x" * 300), ("bad/*", "")],
        )

    async def deliver(self, message: InboundMessage) -> bool:
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        self.inbound.append(message)
        self._poke()
        return True

    def report(self, state: str, detail: str) -> None:
        self.statuses.append((state, detail))
        self._poke()

    async def action(self, press: ButtonPress) -> str:
        self.presses.append(press)
        self._poke()
        return self.action_reply

    def _poke(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def until(self, check, timeout: float = WAIT) -> Any:
        async def loop() -> Any:
            while not (result := check()):
                await self._changed.wait()
            return result

        return await asyncio.wait_for(loop(), timeout)

    async def message(self, count: int = 1) -> InboundMessage:
        await self.until(lambda: len(self.inbound) >= count)
        return self.inbound[count - 1]

    async def status(self, state: str, detail: str | None = None) -> None:
        await self.until(lambda: any(s == state and detail in (None, d) for s, d in self.statuses))


def settings(peer, token: str | None = None, **extra: Any) -> PlatformSettings:
    values = {"base_url": peer.base_url, "long_poll_timeout": 1, **extra}
    return PlatformSettings(
        "telegram", True, token=token or peer.token, extra=MappingProxyType(values)
    )


@contextlib.asynccontextmanager
async def running(
    peer, tmp_path: Path, harness: Harness | None = None, **extra: Any
) -> AsyncIterator[tuple[TelegramAdapter, Harness]]:
    harness = harness or Harness(tmp_path / "home")
    adapter = TelegramAdapter(settings(peer, **extra), harness.context)
    await adapter.connect()
    try:
        yield adapter, harness
    finally:
        await asyncio.wait_for(adapter.disconnect(), WAIT)


async def until_peer(peer, check, timeout: float = WAIT) -> dict:
    """Poll the peer's stats until `check(stats)` holds (bounded)."""

    async def loop() -> dict:
        while not check(stats := await peer.aio.stats()):
            await asyncio.sleep(0.05)
        return stats

    return await asyncio.wait_for(loop(), timeout)


# -- receiving ---------------------------------------------------------------------------------


async def test_dm_text_becomes_an_inbound_message_with_its_source(telegram_peer, tmp_path):
    async with running(telegram_peer, tmp_path) as (_, harness):
        sent = await telegram_peer.aio.message(DM, "hello there", username="ada")
        message = await harness.message()
    assert message.text == "hello there"
    assert message.message_id == str(sent["message_id"])
    assert message.addressed
    source = message.source
    assert (source.platform, source.chat_id, source.chat_type) == (
        Platform.TELEGRAM,
        str(DM),
        ChatType.DM,
    )
    assert (source.user_id, source.user_name, source.thread_id) == (str(DM), "ada", "")
    assert harness.statuses[0] == ("connected", "")


async def test_an_update_is_confirmed_only_after_deliver_inbound_returned(telegram_peer, tmp_path):
    harness = Harness(tmp_path / "home")
    harness.gate = asyncio.Event()
    async with running(telegram_peer, tmp_path, harness):
        await telegram_peer.aio.message(DM, "keep me")
        await asyncio.wait_for(harness.entered.wait(), WAIT)
        stats = await telegram_peer.aio.stats()
        assert stats["pending_updates"] == 1  # delivered to us, not yet confirmed
        harness.gate.set()
        await harness.message()
        await until_peer(telegram_peer, lambda s: s["pending_updates"] == 0)


async def test_an_update_not_stored_before_a_stop_is_received_again(telegram_peer, tmp_path):
    first = Harness(tmp_path / "home")
    first.gate = asyncio.Event()  # never opened: the "crash" happens while storing
    async with running(telegram_peer, tmp_path, first):
        await telegram_peer.aio.message(DM, "do not lose me")
        await asyncio.wait_for(first.entered.wait(), WAIT)
    async with running(telegram_peer, tmp_path) as (_, second):
        assert (await second.message()).text == "do not lose me"


async def test_group_message_without_a_mention_is_not_addressed(telegram_peer, tmp_path):
    async with running(telegram_peer, tmp_path) as (_, harness):
        await telegram_peer.aio.message(GROUP, "just chatting", chat_type="supergroup")
        message = await harness.message()
    assert message.source.chat_type is ChatType.GROUP
    assert message.source.user_id == "4242"
    assert not message.addressed


async def test_group_mention_addresses_the_bot_and_is_stripped(telegram_peer, tmp_path):
    async with running(telegram_peer, tmp_path) as (_, harness):
        await telegram_peer.aio.message(GROUP, "@hermes_test_bot what's up?", chat_type="group")
        await telegram_peer.aio.message(GROUP, "/status@hermes_test_bot", chat_type="group")
        await telegram_peer.aio.message(GROUP, "hi @someone_else", chat_type="group")
        first, second, third = (await harness.message(3), harness.inbound)[1]
    assert (first.addressed, first.text) == (True, "what's up?")
    assert (second.addressed, second.text) == (True, "/status")
    assert not third.addressed


async def test_group_without_require_mention_is_always_addressed(telegram_peer, tmp_path):
    async with running(telegram_peer, tmp_path, require_mention="false") as (_, harness):
        await telegram_peer.aio.message(GROUP, "anyone?", chat_type="supergroup")
        assert (await harness.message()).addressed


async def test_a_reply_to_the_bots_message_addresses_the_bot(telegram_peer, tmp_path):
    async with running(telegram_peer, tmp_path) as (adapter, harness):
        result = await adapter.send(OutboundMessage(str(GROUP), "I am the bot"))
        await telegram_peer.aio.message(
            GROUP,
            "replying",
            chat_type="supergroup",
            reply_to_bot_message_id=int(result.message_id),
        )
        message = await harness.message()
    assert message.addressed
    assert message.reply_to == result.message_id


async def test_forum_topic_message_carries_its_thread_id(telegram_peer, tmp_path):
    async with running(telegram_peer, tmp_path) as (_, harness):
        await telegram_peer.aio.message(
            GROUP, "@hermes_test_bot in a topic", chat_type="supergroup", message_thread_id=77
        )
        message = await harness.message()
    assert message.source.thread_id == "77"
    assert message.text == "in a topic"


async def test_photo_and_document_are_downloaded_into_the_cache(telegram_peer, tmp_path):
    async with running(telegram_peer, tmp_path) as (_, harness):
        await telegram_peer.aio.message(DM, photo=b"\xff\xd8jpeg-bytes", caption="look")
        await telegram_peer.aio.message(
            DM, document=b"%PDF-1.4 report", file_name="report.pdf", mime_type="application/pdf"
        )
        photo, document = (await harness.message(2), harness.inbound)[1]
    cache = tmp_path / "home" / "cache" / "telegram"
    assert (photo.kind, photo.text) == (MessageKind.PHOTO, "look")
    (image,) = photo.attachments
    assert Path(image.path).parent == cache
    assert Path(image.path).read_bytes() == b"\xff\xd8jpeg-bytes"
    assert (image.kind, image.size) == (MessageKind.PHOTO, 12)
    (pdf,) = document.attachments
    assert Path(pdf.path).read_bytes() == b"%PDF-1.4 report"
    assert pdf.path.endswith(".pdf")
    assert (pdf.mime_type, document.kind) == ("application/pdf", MessageKind.DOCUMENT)


async def test_a_file_over_the_size_limit_is_not_downloaded(telegram_peer, tmp_path):
    async with running(telegram_peer, tmp_path, max_file_mb=0.001) as (_, harness):
        await telegram_peer.aio.message(
            DM, document=b"x" * 4096, file_name="big.bin", caption="see attached"
        )
        message = await harness.message()
    assert message.attachments == ()
    assert message.text.startswith("see attached\n[file too large: big.bin")
    assert not (tmp_path / "home" / "cache" / "telegram").exists()


async def test_a_malformed_update_is_skipped_and_later_ones_arrive(telegram_peer, tmp_path):
    async with running(telegram_peer, tmp_path) as (_, harness):
        # An entity without offset/length: python-telegram-bot cannot parse this message.
        await telegram_peer.aio.message(DM, "broken", entities=[{"type": "bold"}])
        await telegram_peer.aio.message(DM, "fine")
        assert (await harness.message()).text == "fine"
        await until_peer(telegram_peer, lambda s: s["pending_updates"] == 0)
    assert [m.text for m in harness.inbound] == ["fine"]


# -- sending -----------------------------------------------------------------------------------


async def test_send_html_with_buttons_thread_and_reply(telegram_peer, tmp_path):
    async with running(telegram_peer, tmp_path) as (adapter, _):
        first = await adapter.send(OutboundMessage(str(GROUP), "first"))
        result = await adapter.send(
            OutboundMessage(
                str(GROUP),
                "<b>bold</b> &amp; done",
                thread_id="77",
                reply_to=first.message_id,
                buttons=(("Allow", "a:1"), ("Deny", "d:1"), ("Always", "w:1")),
                parse_mode="HTML",
            )
        )
        op = (await telegram_peer.aio.sent(method="sendMessage"))[-1]
    assert result.ok and result.message_id == str(op["message_id"])
    assert (op["parse_mode"], op["message_thread_id"]) == ("HTML", 77)
    assert op["reply_to_message_id"] == int(first.message_id)
    rows = op["reply_markup"]["inline_keyboard"]
    assert [[b["callback_data"] for b in row] for row in rows] == [["a:1", "d:1"], ["w:1"]]


async def test_send_error_mapping(telegram_peer, tmp_path):
    peer = telegram_peer.aio
    async with running(telegram_peer, tmp_path) as (adapter, _):
        bad_html = await adapter.send(OutboundMessage(str(DM), "<b>open", parse_mode="HTML"))
        too_long = await adapter.send(OutboundMessage(str(DM), "x" * 4097))
        await peer.fail("sendMessage", 429, retry_after=7)
        flood = await adapter.send(OutboundMessage(str(DM), "hi"))
        await peer.fail("sendMessage", 403, "Forbidden: bot was blocked by the user")
        blocked = await adapter.send(OutboundMessage(str(DM), "hi"))
        await peer.fail("sendMessage", 400, "Bad Request: chat not found")
        missing = await adapter.send(OutboundMessage(str(DM), "hi"))
        await peer.fail("sendMessage", 0)  # the connection drops: a network error
        dropped = await adapter.send(OutboundMessage(str(DM), "hi"))
    assert (bad_html.ok, bad_html.kind, bad_html.retryable) == (False, "format", False)
    assert (too_long.kind, too_long.retryable) == ("too_long", False)
    assert (flood.retry_after, flood.retryable) == (7.0, True)
    assert (blocked.kind, blocked.retryable) == ("not_found", False)
    assert (missing.kind, missing.retryable) == ("not_found", False)
    assert (dropped.ok, dropped.retryable, dropped.kind) == (False, True, "")


async def test_edit_changes_the_text_and_maps_not_modified(telegram_peer, tmp_path):
    async with running(telegram_peer, tmp_path) as (adapter, _):
        sent = await adapter.send(OutboundMessage(str(DM), "draft"))
        edited = await adapter.edit(str(DM), sent.message_id, "<i>final</i>", "HTML")
        same = await adapter.edit(str(DM), sent.message_id, "<i>final</i>", "HTML")
        gone = await adapter.edit(str(DM), "999", "nothing here")
        view = await telegram_peer.aio.messages(DM)
    assert edited.ok and edited.message_id == sent.message_id
    assert view[int(sent.message_id)]["text"] == "final"
    assert (same.kind, same.retryable) == ("not_modified", False)
    assert gone.kind == "not_found"


async def test_typing_sends_a_chat_action_in_the_thread(telegram_peer, tmp_path):
    async with running(telegram_peer, tmp_path) as (adapter, _):
        await adapter.typing(str(GROUP), "77")
        (op,) = await telegram_peer.aio.sent(method="sendChatAction")
    assert (op["chat_id"], op["action"], op["message_thread_id"]) == (GROUP, "typing", 77)


async def test_attachments_are_uploaded_with_a_caption_or_after_the_text(telegram_peer, tmp_path):
    picture = tmp_path / "chart.png"
    picture.write_bytes(b"\x89PNG fake")
    notes = tmp_path / "notes.txt"
    notes.write_text("notes")
    async with running(telegram_peer, tmp_path) as (adapter, _):
        short = await adapter.send(
            OutboundMessage(
                str(DM), "the chart", attachments=(Attachment(str(picture), MessageKind.PHOTO),)
            )
        )
        long = await adapter.send(
            OutboundMessage(
                str(DM), "y" * 1500, attachments=(Attachment(str(notes), MessageKind.DOCUMENT),)
            )
        )
        ops = await telegram_peer.aio.sent(chat_id=DM)
    assert short.ok and long.ok
    assert [(op["method"], op["text"]) for op in ops] == [
        ("sendPhoto", "the chart"),
        ("sendMessage", "y" * 1500),
        ("sendDocument", None),
    ]
    assert long.message_id == str(ops[1]["message_id"])


# -- buttons and the command menu ---------------------------------------------------------------


async def test_a_button_press_is_delivered_and_answered(telegram_peer, tmp_path):
    async with running(telegram_peer, tmp_path) as (adapter, harness):
        harness.action_reply = "Approved once"
        sent = await adapter.send(
            OutboundMessage(str(DM), "Run `rm -rf build`?", buttons=(("Allow", "approve:1"),))
        )
        await telegram_peer.aio.callback(DM, int(sent.message_id), "approve:1")
        (answer,) = await telegram_peer.aio.wait(1, method="answerCallbackQuery")
    (press,) = harness.presses
    assert press == ButtonPress(
        Platform.TELEGRAM, str(DM), str(DM), "approve:1", sent.message_id, "", press.user_name
    )
    assert answer["text"] == "Approved once"


async def test_the_command_menu_is_set_with_telegram_names(telegram_peer, tmp_path):
    async with running(telegram_peer, tmp_path):
        (op,) = await telegram_peer.aio.sent(method="setMyCommands")
    assert op["commands"] == [
        {"command": "help", "description": "Show the commands"},
        {"command": "set_home", "description": "x" * 256},
        {"command": "bad", "description": "bad"},
    ]


# -- connection health --------------------------------------------------------------------------


async def test_a_rejected_token_fails_with_a_clear_message(telegram_peer, tmp_path):
    harness = Harness(tmp_path / "home")
    adapter = TelegramAdapter(settings(telegram_peer, token="999:WRONG-SECRET"), harness.context)
    with pytest.raises(TelegramAuthError) as raised:
        await adapter.connect()
    assert str(raised.value) == AUTH_FAILED
    assert "WRONG-SECRET" not in str(raised.value)
    assert harness.statuses == [("failed", AUTH_FAILED)]
    assert "WRONG-SECRET" not in repr(adapter)


async def test_a_wrong_base_url_says_so_instead_of_blaming_the_token(telegram_peer, tmp_path):
    harness = Harness(tmp_path / "home")
    extra = {"base_url": f"{telegram_peer.url}/not-the-api/bot"}
    adapter = TelegramAdapter(settings(telegram_peer, **extra), harness.context)
    with pytest.raises(TelegramAuthError, match="404 Not Found at platforms.telegram"):
        await adapter.connect()


async def test_telegram_unreachable_at_boot_keeps_trying_then_connects(telegram_peer, tmp_path):
    await telegram_peer.aio.fail("getMe", 502, "Bad Gateway")
    async with running(telegram_peer, tmp_path) as (_, harness):
        assert harness.statuses == [("connecting", "cannot reach Telegram: Bad Gateway")]
        await harness.status("connected")
        await telegram_peer.aio.message(DM, "made it")
        assert (await harness.message()).text == "made it"
    assert await telegram_peer.aio.sent(method="setMyCommands")  # set once it got through


async def test_a_token_revoked_while_polling_stops_the_loop(telegram_peer, tmp_path):
    async with running(telegram_peer, tmp_path) as (adapter, harness):
        await telegram_peer.aio.set_token("555:NEW-TOKEN")
        await harness.status("failed", AUTH_FAILED)
        await asyncio.wait_for(asyncio.shield(adapter.poll_task), WAIT)  # the loop ended by itself
        calls = (await telegram_peer.aio.stats())["get_updates_calls"]
        await asyncio.sleep(0.3)  # a spinning loop would poll again within this
        assert (await telegram_peer.aio.stats())["get_updates_calls"] == calls


async def test_a_conflict_reports_failed_then_recovers(telegram_peer, tmp_path):
    async with running(telegram_peer, tmp_path) as (_, harness):
        await telegram_peer.aio.fail("getUpdates", 409, times=2)
        await harness.status("failed", CONFLICT)
        await telegram_peer.aio.message(DM, "after the conflict")
        assert (await harness.message()).text == "after the conflict"
    states = [s for s, _ in harness.statuses]
    assert states[states.index("failed") :][:2] == ["failed", "connected"]
    assert harness.statuses.count(("failed", CONFLICT)) == 1  # no repeated identical report


async def test_network_errors_report_connecting_then_connected(telegram_peer, tmp_path):
    async with running(telegram_peer, tmp_path) as (_, harness):
        await telegram_peer.aio.fail("getUpdates", 502, "Bad Gateway")
        await harness.status("connecting")
        await telegram_peer.aio.message(DM, "back")
        assert (await harness.message()).text == "back"
    connecting = [d for s, d in harness.statuses if s == "connecting"]
    assert connecting == ["cannot reach Telegram: Bad Gateway"]
    assert harness.statuses[-2:] == [("connected", ""), ("stopped", "")]


async def test_a_stalled_long_poll_is_replaced_and_messages_flow_again(telegram_peer, tmp_path):
    async with running(telegram_peer, tmp_path, stall_grace=1) as (_, harness):
        await telegram_peer.aio.stall(60)
        await harness.status("connecting", STALLED)
        await telegram_peer.aio.message(DM, "still there?")
        assert (await harness.message()).text == "still there?"
    after = harness.statuses[harness.statuses.index(("connecting", STALLED)) :]
    assert ("connected", "") in after


async def test_disconnect_ends_a_long_poll_in_flight(telegram_peer, tmp_path):
    harness = Harness(tmp_path / "home")
    adapter = TelegramAdapter(settings(telegram_peer, long_poll_timeout=25), harness.context)
    await adapter.connect()
    await until_peer(telegram_peer, lambda s: s["in_flight_get_updates"] == 1)
    await asyncio.wait_for(adapter.disconnect(), 2.0)  # bounded: the 25 s poll is cancelled
    assert harness.statuses[-1] == ("stopped", "")
    await until_peer(telegram_peer, lambda s: s["in_flight_get_updates"] == 0)


async def test_the_token_never_reaches_the_logs(telegram_peer, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    async with running(telegram_peer, tmp_path) as (adapter, harness):
        await telegram_peer.aio.message(DM, "hi")
        await harness.message()
        await adapter.send(OutboundMessage(str(DM), "<b>broken", parse_mode="HTML"))
        await telegram_peer.aio.set_token("555:NEW-TOKEN")
        await harness.status("failed")
    assert caplog.records  # the adapter and python-telegram-bot did log
    assert "/bot<redacted>/getUpdates" in caplog.text
    assert telegram_peer.default_token not in caplog.text


# -- webhook mode -------------------------------------------------------------------------------


async def test_webhook_checks_the_secret_delivers_updates_and_ignores_edits(
    telegram_peer, tmp_path, caplog
):
    caplog.set_level(logging.DEBUG)
    update = {
        "update_id": 9001,
        "message": {
            "message_id": 5,
            "date": 1700000000,
            "chat": {"id": DM, "type": "private", "first_name": "Ada"},
            "from": {"id": DM, "is_bot": False, "first_name": "Ada"},
            "text": "via webhook",
        },
    }
    extra = {"webhook_url": "https://bot.example.com/tg/hook", "webhook_port": 0}
    async with running(telegram_peer, tmp_path, **extra) as (adapter, harness):
        webhook = (await telegram_peer.aio.stats())["webhook"]
        assert webhook["url"] == "https://bot.example.com/tg/hook"
        secret = webhook["secret_token"]
        assert secret
        url = f"http://127.0.0.1:{adapter.webhook.port}/tg/hook"
        async with httpx.AsyncClient(trust_env=False) as http:
            refused = await http.post(url, json=update)
            wrong = await http.post(url, json=update, headers={SECRET_HEADER: "guess"})
            garbage = await http.post(url, content=b"{not json", headers={SECRET_HEADER: secret})
            assert harness.inbound == []
            headers = {SECRET_HEADER: secret}
            accepted = await http.post(url, content=json.dumps(update), headers=headers)
            edit = {"update_id": 9002, "edited_message": {**update["message"], "text": "edited"}}
            edited = await http.post(url, json=edit, headers=headers)
        assert (refused.status_code, wrong.status_code, garbage.status_code) == (401, 401, 400)
        assert (accepted.status_code, edited.status_code) == (200, 200)
        assert [m.text for m in harness.inbound] == ["via webhook"]
    stats = await telegram_peer.aio.stats()
    assert stats["webhook"]["url"]  # left set on stop: updates queue at Telegram meanwhile
    assert "setWebhook" in caplog.text and secret not in caplog.text
    assert "getUpdates" not in stats["calls"]


# -- through the engine ---------------------------------------------------------------------------


async def test_the_engine_answers_a_telegram_dm(telegram_peer, tmp_path):
    home = tmp_path / "home"
    write_config(
        home,
        "model:\n  provider: offline\n"
        "platforms:\n  telegram:\n    allow_all_users: true\n"
        f"    extra:\n      base_url: {telegram_peer.base_url}\n      long_poll_timeout: 1\n",
    )
    environ = {"TELEGRAM_BOT_TOKEN": telegram_peer.token}
    async with running_engine(home, environ) as (engine, _):
        assert engine.platform_state["telegram"] == "connected"
        await telegram_peer.aio.message(DM, "hello agent")
        (reply,) = await telegram_peer.aio.wait(1, method="sendMessage", chat_id=DM)
    assert "offline" in reply["text"].lower()
