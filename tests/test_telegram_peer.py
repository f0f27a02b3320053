"""The loopback Telegram Bot API peer, driven by python-telegram-bot's real ``telegram.Bot``."""

from __future__ import annotations

import asyncio
import datetime as dtm
from collections.abc import AsyncIterator

import httpx
import pytest
import telegram
from telegram.error import BadRequest, Conflict, InvalidToken, NetworkError, RetryAfter, TimedOut

from tests.peers.telegram_fixtures import PeerControlError, TelegramPeerHandle
from tests.peers.telegram_html import EntityParseError, parse_html, parse_markdown_v2, utf16_len

WAIT = 10.0  # an upper bound on a loaded machine, never a speed assertion


def make_bot(peer: TelegramPeerHandle, token: str | None = None) -> telegram.Bot:
    return telegram.Bot(token or peer.token, base_url=peer.base_url, base_file_url=peer.file_url)


@pytest.fixture
async def bot(telegram_peer: TelegramPeerHandle) -> AsyncIterator[telegram.Bot]:
    async with make_bot(telegram_peer) as b:
        yield b


async def until_polling(peer: TelegramPeerHandle, count: int = 1) -> None:
    """Bounded wait until ``count`` getUpdates requests are parked at the peer."""
    async with asyncio.timeout(WAIT):
        while (await peer.aio.stats())["in_flight_get_updates"] < count:
            await asyncio.sleep(0.01)


async def test_get_me_reports_the_configured_bot(bot: telegram.Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.first_name, me.username) == (
        1000,
        True,
        "Hermes",
        "hermes_test_bot",
    )


async def test_long_poll_returns_a_message_queued_while_waiting_and_offset_confirms_it(
    telegram_peer: TelegramPeerHandle, bot: telegram.Bot
) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=WAIT))
    await until_polling(telegram_peer)
    queued = await telegram_peer.aio.message(42, "hello", username="alice", first_name="Alice")
    updates = await poll
    assert [u.update_id for u in updates] == [queued["update_id"]]
    message = updates[0].message
    assert (message.text, message.message_id, message.chat.id) == (
        "hello",
        queued["message_id"],
        42,
    )
    assert (message.chat.type, message.from_user.username) == ("private", "alice")

    assert await bot.get_updates(offset=updates[0].update_id + 1, timeout=0) == ()
    assert (await telegram_peer.aio.stats())["pending_updates"] == 0


async def test_unconfirmed_updates_are_delivered_again(
    telegram_peer: TelegramPeerHandle, bot: telegram.Bot
) -> None:
    telegram_peer.message(42, "one")
    first = await bot.get_updates(timeout=0)
    again = await bot.get_updates(timeout=0)
    assert [u.update_id for u in first] == [u.update_id for u in again]


async def test_a_second_concurrent_get_updates_is_a_conflict(
    telegram_peer: TelegramPeerHandle, bot: telegram.Bot
) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=WAIT))
    await until_polling(telegram_peer)
    async with make_bot(telegram_peer) as other:
        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            await other.get_updates(timeout=1)
    await telegram_peer.aio.message(42, "release the first poll")
    assert len(await poll) == 1


async def test_a_wrong_or_revoked_token_is_an_invalid_token(
    telegram_peer: TelegramPeerHandle,
) -> None:
    with pytest.raises(InvalidToken):
        await make_bot(telegram_peer, "999:WRONG").get_me()
    old = telegram_peer.token
    telegram_peer.set_token("123456:NEW-TOKEN")
    with pytest.raises(InvalidToken):
        await make_bot(telegram_peer, old).send_message(42, "hi")
    assert (await make_bot(telegram_peer).get_me()).username == "hermes_test_bot"


async def test_send_and_edit_are_recorded_in_order(
    telegram_peer: TelegramPeerHandle, bot: telegram.Bot
) -> None:
    sent = await bot.send_message(42, "<b>draft</b>", parse_mode="HTML")
    assert (sent.text, sent.entities[0].type) == ("draft", "bold")
    edited = await bot.edit_message_text("final &amp; done", 42, sent.message_id, parse_mode="HTML")
    assert edited.text == "final & done"

    ops = telegram_peer.sent(chat_id=42)
    assert [(o["method"], o["message_id"], o["text"]) for o in ops] == [
        ("sendMessage", sent.message_id, "<b>draft</b>"),
        ("editMessageText", sent.message_id, "final &amp; done"),
    ]
    assert [o["seq"] for o in ops] == [1, 2]
    view = telegram_peer.messages(42)
    assert (view[sent.message_id]["text"], view[sent.message_id]["edits"]) == ("final & done", 1)


async def test_message_ids_increase_per_chat_across_user_and_bot_messages(
    telegram_peer: TelegramPeerHandle, bot: telegram.Bot
) -> None:
    assert telegram_peer.message(42, "hi")["message_id"] == 1
    assert (await bot.send_message(42, "a")).message_id == 2
    assert (await bot.send_message(43, "b")).message_id == 1


@pytest.mark.parametrize(
    "text", ["<foo>x</foo>", "<b>unclosed", "<b>x</i>", "fish & chips", "1 < 2", "line<br>break"]
)
async def test_malformed_html_cannot_be_parsed(
    telegram_peer: TelegramPeerHandle, bot: telegram.Bot, text: str
) -> None:
    with pytest.raises(BadRequest, match="(?i)can't parse entities"):
        await bot.send_message(42, text, parse_mode="HTML")
    assert telegram_peer.sent() == []


async def test_unescaped_markdown_v2_reserved_character_cannot_be_parsed(bot: telegram.Bot) -> None:
    with pytest.raises(BadRequest, match="(?i)can't parse entities: character '.' is reserved"):
        await bot.send_message(42, "Done.", parse_mode="MarkdownV2")
    assert (await bot.send_message(42, "*Done*\\.", parse_mode="MarkdownV2")).text == "Done."


async def test_editing_to_the_same_content_is_not_modified(bot: telegram.Bot) -> None:
    sent = await bot.send_message(42, "<i>same</i>", parse_mode="HTML")
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_text("<em>same</em>", 42, sent.message_id, parse_mode="HTML")


async def test_text_over_4096_utf16_units_is_too_long(bot: telegram.Bot) -> None:
    assert utf16_len("😀" * 2049) == 4098
    with pytest.raises(BadRequest, match="(?i)message is too long"):
        await bot.send_message(42, "😀" * 2049)
    assert (await bot.send_message(42, "😀" * 2048)).text == "😀" * 2048


async def test_injected_429_raises_retry_after_then_the_call_succeeds(
    telegram_peer: TelegramPeerHandle, bot: telegram.Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB 22 warns about int time periods otherwise
    telegram_peer.fail("sendMessage", status=429, retry_after=3)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(42, "too fast")
    assert caught.value.retry_after == dtm.timedelta(seconds=3)
    await bot.send_message(42, "later")
    assert [o["text"] for o in telegram_peer.sent()] == ["later"]


async def test_an_injected_failure_can_target_one_chat_or_drop_the_connection(
    telegram_peer: TelegramPeerHandle, bot: telegram.Bot
) -> None:
    telegram_peer.fail("sendMessage", status=403, chat_id=7)
    await bot.send_message(8, "other chat is fine")
    with pytest.raises(telegram.error.Forbidden, match="blocked"):
        await bot.send_message(7, "blocked")
    telegram_peer.fail("sendMessage", status=0)
    with pytest.raises(NetworkError):
        await bot.send_message(8, "dropped")


async def test_an_uploaded_document_downloads_back_through_get_file(
    telegram_peer: TelegramPeerHandle, bot: telegram.Bot
) -> None:
    payload = bytes(range(256)) * 4
    sent = await bot.send_document(42, payload, filename="data.bin", caption="<b>file</b>",
                                   parse_mode="HTML")  # fmt: skip
    assert (sent.caption, sent.document.file_name, sent.document.file_size) == (
        "file",
        "data.bin",
        len(payload),
    )
    file = await bot.get_file(sent.document.file_id)
    assert bytes(await file.download_as_bytearray()) == payload
    op = telegram_peer.sent()[-1]
    assert (op["method"], op["file_id"]) == ("sendDocument", sent.document.file_id)


async def test_a_users_photo_can_be_fetched_by_the_bot(
    telegram_peer: TelegramPeerHandle, bot: telegram.Bot
) -> None:
    telegram_peer.message(42, photo=b"\x89PNG fake", caption="look")
    (update,) = await bot.get_updates(timeout=0)
    assert update.message.caption == "look"
    file = await bot.get_file(update.message.photo[-1].file_id)
    assert bytes(await file.download_as_bytearray()) == b"\x89PNG fake"


async def test_a_button_press_arrives_and_its_answer_is_recorded(
    telegram_peer: TelegramPeerHandle, bot: telegram.Bot
) -> None:
    markup = telegram.InlineKeyboardMarkup(
        [[telegram.InlineKeyboardButton("Approve", callback_data="approve:1")]]
    )
    sent = await bot.send_message(42, "Run it?", reply_markup=markup)
    pressed = telegram_peer.callback(42, sent.message_id, "approve:1")
    (update,) = await bot.get_updates(timeout=0)
    query = update.callback_query
    assert (query.id, query.data, query.message.message_id) == (
        pressed["callback_query_id"],
        "approve:1",
        sent.message_id,
    )
    assert query.message.reply_markup == markup
    await bot.answer_callback_query(query.id, text="Approved")
    op = telegram_peer.sent()[-1]
    assert (op["method"], op["text"], op["callback_query_id"]) == (
        "answerCallbackQuery",
        "Approved",
        query.id,
    )
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await bot.answer_callback_query(query.id)


async def test_a_group_mention_and_a_reply_carry_entities_and_the_replied_message(
    telegram_peer: TelegramPeerHandle, bot: telegram.Bot
) -> None:
    sent = await bot.send_message(-100, "I am here")
    telegram_peer.message(-100, "@hermes_test_bot /help@hermes_test_bot", user_id=5,
                          chat_type="supergroup", reply_to_bot_message_id=sent.message_id,
                          message_thread_id=9)  # fmt: skip
    (update,) = await bot.get_updates(timeout=0)
    message = update.message
    assert message.chat.type == "supergroup" and message.chat.is_forum
    assert [e.type for e in message.entities] == ["mention", "bot_command"]
    assert message.parse_entities(["mention"]).popitem()[1] == "@hermes_test_bot"
    assert message.reply_to_message.message_id == sent.message_id
    assert message.reply_to_message.from_user.id == 1000
    assert (message.message_thread_id, message.is_topic_message) == (9, True)


async def test_a_stalled_get_updates_times_out_and_the_next_poll_works(
    telegram_peer: TelegramPeerHandle, bot: telegram.Bot
) -> None:
    telegram_peer.stall(WAIT * 3)
    with pytest.raises(TimedOut):
        await bot.get_updates(timeout=0, read_timeout=0.3)
    telegram_peer.message(42, "after the stall")
    (update,) = await bot.get_updates(timeout=0)
    assert update.message.text == "after the stall"


async def test_wait_returns_operations_as_they_happen(
    telegram_peer: TelegramPeerHandle, bot: telegram.Bot
) -> None:
    since = await telegram_peer.aio.last_seq()
    waiting = asyncio.create_task(telegram_peer.aio.wait(3, since=since, method="sendMessage"))
    await bot.send_chat_action(1, "typing")
    for chat_id in (1, 2, 3):
        await bot.send_message(chat_id, f"to {chat_id}")
    ops = await waiting
    assert [(o["method"], o["chat_id"]) for o in ops] == [("sendMessage", c) for c in (1, 2, 3)]
    with pytest.raises(TimeoutError, match="1 of 2"):
        await telegram_peer.aio.wait(2, since=since, method="sendChatAction", timeout=0.2)


async def test_an_active_webhook_blocks_get_updates_until_deleted(
    telegram_peer: TelegramPeerHandle, bot: telegram.Bot
) -> None:
    await bot.set_webhook("https://example.invalid/hook", secret_token="s3cret")
    assert (await bot.get_webhook_info()).url == "https://example.invalid/hook"
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates(timeout=0)
    await bot.delete_webhook()
    assert await bot.get_updates(timeout=0) == ()


async def test_deleted_messages_leave_the_visible_state(
    telegram_peer: TelegramPeerHandle, bot: telegram.Bot
) -> None:
    sent = await bot.send_message(42, "oops")
    assert await bot.delete_message(42, sent.message_id)
    assert telegram_peer.messages(42) == {}
    with pytest.raises(BadRequest, match="(?i)message to delete not found"):
        await bot.delete_message(42, sent.message_id)


def test_html_parser_produces_utf16_entities() -> None:
    text, entities = parse_html('😀 <b>bold <a href="https://x.y/?a=1&amp;b=2">link</a></b>')
    assert text == "😀 bold link"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 9},
        {"type": "text_link", "offset": 8, "length": 4, "url": "https://x.y/?a=1&b=2"},
    ]
    assert parse_html('<pre><code class="language-py">x = 1</code></pre>')[1] == [
        {"type": "pre", "offset": 0, "length": 5, "language": "py"}
    ]
    with pytest.raises(EntityParseError, match='must have class "tg-spoiler"'):
        parse_html("<span>x</span>")


def test_markdown_v2_parser_reports_unclosed_entities() -> None:
    assert parse_markdown_v2("*a* _b_ ~c~ ||d|| `e.f`")[0] == "a b c d e.f"
    with pytest.raises(EntityParseError, match="can't find end of Bold entity"):
        parse_markdown_v2("*open")


def test_an_impossible_control_request_says_what_is_wrong(
    telegram_peer: TelegramPeerHandle,
) -> None:
    with pytest.raises(PeerControlError, match="no bot message 99"):
        telegram_peer.callback(42, 99, "data")
    with pytest.raises(PeerControlError, match="message to reply to not found"):
        telegram_peer.message(42, "hi", reply_to_bot_message_id=99)


def test_raw_json_and_query_calls_get_bot_api_shaped_answers(
    telegram_peer: TelegramPeerHandle,
) -> None:
    api = f"{telegram_peer.base_url}{telegram_peer.token}"
    with httpx.Client(trust_env=False, timeout=WAIT) as http:
        sent = http.post(f"{api}/sendMessage", json={"chat_id": 42, "text": "raw"}).json()
        assert sent["ok"] and sent["result"]["text"] == "raw"
        assert http.get(f"{api}/getUpdates", params={"timeout": 0}).json() == {
            "ok": True,
            "result": [],
        }
        bad = http.post(f"{telegram_peer.base_url}1:BAD/getMe")
        assert (bad.status_code, bad.json()) == (
            401,
            {"ok": False, "error_code": 401, "description": "Unauthorized"},
        )
        telegram_peer.fail("sendMessage", status=429, retry_after=2)
        limited = http.post(f"{api}/sendMessage", json={"chat_id": 42, "text": "x"}).json()
        assert limited["parameters"] == {"retry_after": 2} and limited["error_code"] == 429
