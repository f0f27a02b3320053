"""The outbox sender against an in-process recording adapter: ordering, limits, retries,
format fallback, edits of streamed replies, and MEDIA attachments."""

import asyncio
import sqlite3
from collections import defaultdict, deque

import pytest

from hermes_gateway.core.bus import EventBus
from hermes_gateway.core.events import MessageSent, SendFailed
from hermes_gateway.core.types import (
    Capabilities,
    MessageKind,
    OutboundMessage,
    Platform,
    SendResult,
)
from hermes_gateway.delivery.chunking import split_message
from hermes_gateway.delivery.formatting import utf16_len
from hermes_gateway.delivery.sender import Sender
from hermes_gateway.platforms.base import Adapter
from hermes_gateway.storage.records import NewOutbox, OutboxRow
from hermes_gateway.storage.sqlite import SQLiteStore
from tests.test_formatting import assert_telegram_html, visible

WAIT = 10.0  # an upper bound on a loaded machine, never a speed assertion

TELEGRAM_LIKE = Capabilities(
    max_length=4096,
    length_unit="utf16",
    markup="telegram_html",
    can_edit=True,
    images=True,
    files=True,
    voice=True,
    buttons=True,
)


class RecordingAdapter(Adapter):
    """Records every send and edit; can be told to fail the next calls for a chat, to hold a
    chat's sends until released, and to reject HTML like a platform that cannot parse it."""

    platform = Platform.TELEGRAM

    def __init__(self, capabilities: Capabilities = TELEGRAM_LIKE, reject_html: bool = False):
        super().__init__(settings=None, context=None)
        self.capabilities = capabilities
        self.reject_html = reject_html
        self.calls: list[tuple] = []  # ("send", chat, text, mode, message) | ("edit", chat, id, …)
        self.results: dict[str, deque[SendResult]] = defaultdict(deque)
        self.holds: dict[str, asyncio.Event] = {}
        self.recorded = asyncio.Event()
        self._ids = 0

    def fail_next(self, chat_id: str, *results: SendResult) -> None:
        self.results[chat_id].extend(results)

    async def connect(self) -> None: ...

    async def disconnect(self) -> None: ...

    async def send(self, message: OutboundMessage) -> SendResult:
        self.calls.append(("send", message.chat_id, message.text, message.parse_mode, message))
        self.recorded.set()
        if message.chat_id in self.holds:
            await self.holds[message.chat_id].wait()
        return self._result(message.chat_id, message.parse_mode)

    async def edit(self, chat_id, message_id, text, parse_mode=""):
        self.calls.append(("edit", chat_id, text, parse_mode, message_id))
        self.recorded.set()
        return self._result(chat_id, parse_mode, message_id)

    def _result(self, chat_id: str, parse_mode: str, message_id: str = "") -> SendResult:
        if self.results[chat_id]:
            return self.results[chat_id].popleft()
        if self.reject_html and parse_mode == "HTML":
            return SendResult(ok=False, error="can't parse entities", kind="format")
        if message_id:
            return SendResult(ok=True, message_id=message_id)
        self._ids += 1
        return SendResult(ok=True, message_id=f"m{self._ids}")

    def texts(self, chat_id: str | None = None) -> list[str]:
        return [c[2] for c in self.calls if chat_id is None or c[1] == chat_id]

    async def wait_calls(self, count: int) -> None:
        async def enough() -> None:
            while len(self.calls) < count:
                self.recorded.clear()
                await self.recorded.wait()

        await asyncio.wait_for(enough(), WAIT)


@pytest.fixture
def store(tmp_path):
    store = SQLiteStore(tmp_path / "state.db")
    yield store
    store.close()


def make_sender(store, adapter, **kwargs) -> tuple[Sender, list]:
    bus = EventBus()
    events: list = []
    bus.listen(events.append)
    adapters = {"telegram": adapter} if adapter else {}
    return Sender(store, bus, adapters.get, backoff=0, **kwargs), events


def outbox(store, text: str, chat_id: str = "c1", **extra) -> OutboxRow:
    row = NewOutbox("telegram", chat_id, text, **extra)
    outbox_id = store.outbox_add(row, 0.0)
    return OutboxRow(
        outbox_id,
        row.platform,
        row.chat_id,
        row.text,
        row.thread_id,
        row.reply_to,
        edit_message_id=row.edit_message_id,
    )


def status(store, row: OutboxRow) -> tuple[str, str]:
    db = sqlite3.connect(store_path(store))
    try:
        return db.execute(
            "SELECT status, platform_message_id FROM outbox WHERE id = ?", (row.id,)
        ).fetchone()
    finally:
        db.close()


def store_path(store) -> str:
    return store._db.execute("PRAGMA database_list").fetchone()[2]


async def test_a_reply_is_rendered_sent_and_marked_sent_with_its_message_id(store):
    adapter = RecordingAdapter()
    sender, events = make_sender(store, adapter)
    row = outbox(store, "**Done**: `a < b`")
    assert await sender.deliver(row)
    assert adapter.calls[0][2:4] == ("<b>Done</b>: <code>a &lt; b</code>", "HTML")
    assert status(store, row) == ("sent", "m1")
    assert [e for e in events if isinstance(e, MessageSent)][0].message_id == "m1"


async def test_long_replies_are_chunked_in_utf16_units_and_marked_with_the_first_id(store):
    caps = Capabilities(max_length=120, length_unit="utf16", markup="telegram_html")
    adapter = RecordingAdapter(caps)
    sender, _ = make_sender(store, adapter)
    text = "😀 intro **bold**\n\n```js\n" + "\n".join(f"x{i} = '😀<&>';" for i in range(30))
    text += "\n```\n\ndone 🎉"
    row = outbox(store, text)
    assert await sender.deliver(row)
    assert len(adapter.calls) > 2
    for _, _, html, mode, _ in adapter.calls:
        assert mode == "HTML"
        assert_telegram_html(html)
        assert utf16_len(visible(html)) <= 120
    assert status(store, row) == ("sent", "m1")


async def test_a_rejected_format_is_resent_as_plain_text(store):
    adapter = RecordingAdapter(reject_html=True)
    sender, _ = make_sender(store, adapter)
    row = outbox(store, "**bold** and [link](https://e.com)")
    assert await sender.deliver(row)
    assert [(c[2], c[3]) for c in adapter.calls] == [
        ('<b>bold</b> and <a href="https://e.com">link</a>', "HTML"),
        ("bold and link (https://e.com)", ""),
    ]
    assert status(store, row) == ("sent", "m1")


async def test_retry_after_on_one_chat_does_not_delay_another_chat(store):
    adapter = RecordingAdapter()
    adapter.fail_next("a", SendResult(ok=False, error="flood", retry_after=600))
    sender, _ = make_sender(store, adapter)
    a = asyncio.create_task(sender.deliver(outbox(store, "to a", "a")))
    await adapter.wait_calls(1)
    assert await asyncio.wait_for(sender.deliver(outbox(store, "to b", "b")), WAIT)
    # Chat b's message went out while chat a is still waiting out its retry_after.
    assert [c[1] for c in adapter.calls] == ["a", "b"]
    assert not a.done()
    a.cancel()


async def test_retry_after_is_waited_out_then_the_message_is_sent(store):
    adapter = RecordingAdapter()
    adapter.fail_next("a", SendResult(ok=False, error="flood", retry_after=0.01))
    sender, _ = make_sender(store, adapter)
    row = outbox(store, "hello", "a")
    assert await asyncio.wait_for(sender.deliver(row), WAIT)
    assert adapter.texts() == ["hello", "hello"]
    assert status(store, row) == ("sent", "m1")


async def test_rows_for_one_chat_go_out_in_order(store):
    adapter = RecordingAdapter()
    adapter.holds["c1"] = asyncio.Event()
    sender, _ = make_sender(store, adapter)
    rows = [outbox(store, f"reply {n}") for n in range(4)]
    tasks = [asyncio.create_task(sender.deliver(row)) for row in rows]
    await adapter.wait_calls(1)
    for _ in range(20):
        await asyncio.sleep(0)
    assert adapter.texts() == ["reply 0"]  # the next row waits for the one in flight
    adapter.holds["c1"].set()
    assert all(await asyncio.wait_for(asyncio.gather(*tasks), WAIT))
    assert adapter.texts() == [f"reply {n}" for n in range(4)]
    assert sender._chats == {}  # per-chat state is dropped once the chat is idle


async def test_a_failure_that_may_have_delivered_is_never_retried(store):
    adapter = RecordingAdapter()
    adapter.fail_next("c1", SendResult(ok=False, error="read timed out", retryable=False))
    sender, events = make_sender(store, adapter)
    row = outbox(store, "once")
    assert not await sender.deliver(row)
    assert adapter.texts() == ["once"]
    assert status(store, row)[0] == "failed"
    assert [e.error for e in events if isinstance(e, SendFailed)] == ["read timed out"]


async def test_an_adapter_timeout_exception_is_not_retried(store):
    class TimingOut(RecordingAdapter):
        async def send(self, message):
            await super().send(message)
            raise TimeoutError("read timeout")

    adapter = TimingOut()
    sender, _ = make_sender(store, adapter)
    assert not await sender.deliver(outbox(store, "once"))
    assert len(adapter.calls) == 1


async def test_transient_errors_are_retried_a_bounded_number_of_times(store):
    adapter = RecordingAdapter()
    adapter.fail_next("c1", *[SendResult(ok=False, error="502") for _ in range(10)])
    sender, _ = make_sender(store, adapter, max_attempts=3)
    row = outbox(store, "hi")
    assert not await sender.deliver(row)
    assert len(adapter.calls) == 3
    assert status(store, row)[0] == "failed"


async def test_a_transient_error_then_success_delivers(store):
    adapter = RecordingAdapter()
    adapter.fail_next("c1", SendResult(ok=False, error="502"))
    sender, _ = make_sender(store, adapter)
    assert await sender.deliver(outbox(store, "hi"))
    assert adapter.texts() == ["hi", "hi"]


async def test_an_edit_row_edits_the_streamed_message(store):
    adapter = RecordingAdapter()
    sender, events = make_sender(store, adapter)
    row = outbox(store, "final **answer**", edit_message_id="m42")
    assert await sender.deliver(row)
    assert adapter.calls == [("edit", "c1", "final <b>answer</b>", "HTML", "m42")]
    assert status(store, row) == ("sent", "m42")
    assert [e.message_id for e in events if isinstance(e, MessageSent)] == ["m42"]


async def test_a_long_edit_row_edits_the_first_chunk_and_sends_the_rest(store):
    caps = Capabilities(max_length=60, markup="plain", can_edit=True)
    adapter = RecordingAdapter(caps)
    sender, _ = make_sender(store, adapter)
    text = "\n\n".join(f"paragraph {n} " + "x" * 30 for n in range(4))
    row = outbox(store, text, edit_message_id="m9")
    assert await sender.deliver(row)
    chunks = split_message(text, 60)
    assert [c[0] for c in adapter.calls] == ["edit"] + ["send"] * (len(chunks) - 1)
    assert adapter.texts() == chunks
    assert status(store, row) == ("sent", "m9")


async def test_an_edit_that_changes_nothing_counts_as_sent(store):
    adapter = RecordingAdapter()
    adapter.fail_next("c1", SendResult(ok=False, error="not modified", kind="not_modified"))
    sender, _ = make_sender(store, adapter)
    row = outbox(store, "same", edit_message_id="m5")
    assert await sender.deliver(row)
    assert [c[0] for c in adapter.calls] == ["edit"]
    assert status(store, row) == ("sent", "m5")


async def test_an_edit_of_a_deleted_message_sends_a_new_one(store):
    adapter = RecordingAdapter()
    adapter.fail_next(
        "c1", SendResult(ok=False, error="message gone", retryable=False, kind="not_found")
    )
    sender, _ = make_sender(store, adapter)
    row = outbox(store, "final", edit_message_id="m5")
    assert await sender.deliver(row)
    assert [c[0] for c in adapter.calls] == ["edit", "send"]
    assert status(store, row) == ("sent", "m1")


async def test_an_edit_with_a_format_error_is_redone_plain(store):
    adapter = RecordingAdapter(reject_html=True)
    sender, _ = make_sender(store, adapter)
    assert await sender.deliver(outbox(store, "**x**", edit_message_id="m5"))
    assert [(c[0], c[2], c[3]) for c in adapter.calls] == [
        ("edit", "<b>x</b>", "HTML"),
        ("edit", "x", ""),
    ]


async def test_a_disconnected_platform_leaves_the_row_pending(store):
    sender, _ = make_sender(store, None)
    row = outbox(store, "later")
    assert not await sender.deliver(row)
    assert status(store, row)[0] == "pending"


async def test_buttons_go_on_the_last_chunk(store):
    caps = Capabilities(max_length=40, markup="plain", buttons=True)
    adapter = RecordingAdapter(caps)
    sender, _ = make_sender(store, adapter)
    buttons = (("Allow", "approve:1"), ("Deny", "deny:1"))
    assert await sender.deliver(outbox(store, "word " * 30), buttons=buttons)
    sent = [c[4] for c in adapter.calls]
    assert len(sent) > 1
    assert [m.buttons for m in sent] == [()] * (len(sent) - 1) + [buttons]


async def test_media_lines_become_attachments(store, tmp_path):
    files = {}
    for name in ("chart.png", "note.ogg", "report.pdf"):
        files[name] = tmp_path / name
        files[name].write_bytes(b"data")
    text = (
        "Here is the chart.\n"
        f"MEDIA: {files['chart.png']}\n"
        f"MEDIA: {files['note.ogg']}\n"
        "And the report:\n"
        f"  MEDIA: {files['report.pdf']}\n"
    )
    adapter = RecordingAdapter()
    sender, _ = make_sender(store, adapter)
    row = outbox(store, text)
    assert await sender.deliver(row)
    messages = [c[4] for c in adapter.calls]
    assert messages[0].text == "Here is the chart.\nAnd the report:"
    assert [(m.attachments[0].path, m.attachments[0].kind) for m in messages[1:]] == [
        (str(files["chart.png"]), MessageKind.PHOTO),
        (str(files["note.ogg"]), MessageKind.VOICE),
        (str(files["report.pdf"]), MessageKind.DOCUMENT),
    ]
    assert messages[1].attachments[0].mime_type == "image/png"
    assert status(store, row) == ("sent", "m1")


async def test_media_lines_stay_as_paths_where_the_platform_takes_no_files(store, tmp_path):
    image = tmp_path / "chart.png"
    image.write_bytes(b"png")
    adapter = RecordingAdapter(Capabilities(markup="plain"))
    sender, _ = make_sender(store, adapter)
    assert await sender.deliver(outbox(store, f"See:\nMEDIA: {image}"))
    assert adapter.texts() == [f"See:\n{image}"]
    assert adapter.calls[0][4].attachments == ()


async def test_a_reply_that_is_only_media_sends_only_the_attachment(store, tmp_path):
    image = tmp_path / "a.jpg"
    image.write_bytes(b"jpg")
    adapter = RecordingAdapter()
    sender, _ = make_sender(store, adapter)
    row = outbox(store, f"MEDIA: {image}", reply_to="u7")
    assert await sender.deliver(row)
    (message,) = [c[4] for c in adapter.calls]
    assert message.attachments[0].kind == MessageKind.PHOTO and message.reply_to == "u7"


async def test_a_streamed_reply_becomes_final_through_the_outbox_with_one_message(store):
    adapter = RecordingAdapter()
    sender, _ = make_sender(store, adapter)
    recorded: list[str] = []
    stream = sender.stream("telegram", "c1", interval=0, on_message_id=recorded.append)
    stream.feed("The answer is **forty")
    await adapter.wait_calls(1)
    stream.feed(" two**")
    await stream.abort()
    row = outbox(store, "The answer is **forty two**.", edit_message_id=stream.message_id)
    assert await sender.deliver(row)
    assert recorded == ["m1"]
    assert [c[0] for c in adapter.calls].count("send") == 1
    assert adapter.calls[-1][:4] == ("edit", "c1", "The answer is <b>forty two</b>.", "HTML")
