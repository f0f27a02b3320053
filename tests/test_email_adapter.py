"""E-mail against real servers: dovecot (the bot's IMAP mailbox, started per test session) and an
aiosmtpd peer receiving the bot's replies, with the real engine and the scripted model.
Without dovecot (tests/setup/dovecot.sh installs it) these tests skip with the reason."""

from __future__ import annotations

import asyncio
import logging
import time
from email.message import EmailMessage

import pytest

from hermes_gateway.config import load_settings
from hermes_gateway.config.schema import PlatformSettings
from hermes_gateway.core.types import Attachment, InboundMessage, MessageKind, OutboundMessage
from hermes_gateway.home import HermesHome
from hermes_gateway.platforms.base import AdapterContext
from hermes_gateway.platforms.email import options_from_settings
from hermes_gateway.platforms.email.adapter import EmailAdapter, EmailAuthError
from hermes_gateway.platforms.email.convert import Ignored, Malformed, convert, strip_quoted
from tests.helpers import peer_config, running_engine, write_config
from tests.peers.email_fixtures import BOT, EmailWorld, mail
from tests.peers.email_server import free_port
from tests.peers.fixtures import start_peer

ALICE = "alice@example.com"
BOB = "Bob@Example.com"
STRANGER = "stranger@example.net"
QUIET = "display:\n  tool_progress: 'off'\n"
WAIT = 15.0  # an upper bound on a loaded machine, never a speed assertion


def settings_for(env: dict[str, str]) -> PlatformSettings:
    """The PlatformSettings those EMAIL_* variables make (the engine's own mapping)."""
    extra = {k[len("EMAIL_") :].lower(): v for k, v in env.items() if k != "EMAIL_ALLOWED_USERS"}
    return PlatformSettings("email", True, extra=extra)


@pytest.fixture(scope="session")
def email_world():
    try:
        world = EmailWorld.start()
    except RuntimeError as exc:
        pytest.skip(f"e-mail tests need a real IMAP server: {exc}")
    yield world
    world.stop()


@pytest.fixture
async def world(email_world: EmailWorld) -> EmailWorld:
    await email_world.clear()
    email_world.fail_smtp(None)
    return email_world


def home_for(tmp_path, openai_peer, extra: str = QUIET):
    home = tmp_path / "home"
    write_config(home, peer_config(openai_peer.base_url, extra))
    return home


async def test_a_mail_is_answered_in_its_thread_and_marked_seen(tmp_path, openai_peer, world):
    openai_peer.script([{"text": "Hello **Alice**"}])
    home = home_for(tmp_path, openai_peer)
    async with running_engine(home, world.env([ALICE])) as (engine, _):
        assert engine.platform_state["email"] == "connected"
        raw = mail(ALICE, "What is up?", subject="A question", message_id="<q1@example.com>")
        await world.deliver(raw)
        [reply] = await world.wait_sent(1, to=ALICE)
        await world.wait_all_seen(1)
    assert reply.mail_from == BOT and reply.login == BOT
    assert reply.subject == "Re: A question"
    assert reply.in_reply_to == "<q1@example.com>"
    assert reply.references == "<q1@example.com>"
    assert reply.text == "Hello Alice"
    assert "<b>Alice</b>" in reply.html
    assert reply.message["Auto-Submitted"] == "auto-replied"
    [request] = openai_peer.requests()
    assert "What is up?" in str(request["body"]["messages"][-1]["content"])


async def test_a_follow_up_threads_onto_the_whole_conversation(tmp_path, openai_peer, world):
    openai_peer.script([{"text": "first answer"}, {"text": "second answer"}])
    home = home_for(tmp_path, openai_peer)
    async with running_engine(home, world.env([ALICE])):
        await world.deliver(mail(ALICE, "one", subject="Plans", message_id="<p1@example.com>"))
        [first] = await world.wait_sent(1, to=ALICE)
        await world.deliver(mail(ALICE, "two", reply_to=first, message_id="<p2@example.com>"))
        second = (await world.wait_sent(2, to=ALICE))[1]
    assert second.subject == "Re: Plans", "no Re: Re:"
    assert second.in_reply_to == "<p2@example.com>"
    assert second.references.split() == ["<p1@example.com>", first.message_id, "<p2@example.com>"]
    # One session per sender: the second turn saw the first exchange.
    history = str(openai_peer.requests()[-1]["body"]["messages"])
    assert "first answer" in history


async def test_auto_replies_lists_no_reply_and_own_mail_are_never_answered(
    tmp_path, openai_peer, world
):
    openai_peer.script([{"text": "only this one"}])
    home = home_for(tmp_path, openai_peer)
    ignored = [
        mail(ALICE, "I am on vacation", headers={"Auto-Submitted": "auto-replied"}),
        mail(ALICE, "newsletter", headers={"Precedence": "bulk"}),
        mail(ALICE, "list traffic", headers={"List-Id": "<team.lists.example.com>"}),
        mail("no-reply@example.com", "your receipt"),
        mail("Mailer-Daemon@example.com", "undeliverable"),
        mail(BOT, "my own sent mail"),
    ]
    async with running_engine(home, world.env([ALICE, "no-reply@example.com", BOT])):
        for raw in ignored:
            await world.deliver(raw)
        await world.deliver(mail(ALICE, "a real question"))
        [reply] = await world.wait_sent(1, to=ALICE)
        await world.wait_all_seen(len(ignored) + 1)
    assert reply.text == "only this one"
    assert [m.message_id for m in world.sent()] == [reply.message_id]
    [request] = openai_peer.requests()
    assert "a real question" in str(request["body"]["messages"][-1]["content"])


async def test_unknown_senders_are_ignored_unless_pairing_is_on(tmp_path, openai_peer, world):
    openai_peer.script([{"text": "for alice"}])
    home = home_for(tmp_path, openai_peer)
    async with running_engine(home, world.env([ALICE])):
        await world.deliver(mail(STRANGER, "let me in"))
        await world.deliver(mail(ALICE, "hi"))
        await world.wait_sent(1, to=ALICE)
        await world.wait_all_seen(2)
    assert world.sent(STRANGER) == [], "no pairing code to strangers by default (backscatter)"
    assert len(openai_peer.requests()) == 1

    async with running_engine(home, world.env([ALICE], pairing="true")):
        await world.deliver(mail(STRANGER, "let me in, again"))
        [offer] = await world.wait_sent(1, to=STRANGER)
    assert "pairing code" in offer.text


async def test_allowed_users_match_addresses_without_case(tmp_path, openai_peer, world):
    openai_peer.script([{"text": "hi bob"}])
    home = home_for(tmp_path, openai_peer)
    async with running_engine(home, world.env([BOB])):  # "Bob@Example.com"
        await world.deliver(mail("BOB@example.COM", "hello"))
        [reply] = await world.wait_sent(1, to="bob@example.com")
    assert reply.text == "hi bob"


async def test_attachments_arrive_in_the_cache_and_go_out_with_a_reply(
    tmp_path, openai_peer, world
):
    openai_peer.script([{"text": "got your files"}])
    home = home_for(tmp_path, openai_peer)
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    files = [("notes.txt", "text/plain", b"line one\nline two\n"), ("a b.png", "image/png", png)]
    async with running_engine(home, world.env([ALICE])) as (engine, _):
        await world.deliver(mail(ALICE, "see attached", attachments=files))
        await world.wait_sent(1, to=ALICE)
        prompt = str(openai_peer.requests()[0]["body"]["messages"][-1]["content"])
        saved = sorted((home / "cache" / "email").glob("*_*"))
        assert [p.read_bytes() for p in saved] == [b"line one\nline two\n", png]
        assert all(str(p) in prompt for p in saved), prompt
        assert "attached photo: " in prompt and "image/png" in prompt

        outgoing = tmp_path / "report.csv"
        outgoing.write_text("a,b\n1,2\n")
        attachment = Attachment(str(outgoing), MessageKind.DOCUMENT, "text/csv")
        result = await engine.adapter("email").send(
            OutboundMessage(ALICE, "here is the report", attachments=(attachment,))
        )
        assert result.ok, result
        last = (await world.wait_sent(2, to=ALICE))[-1]
    assert last.text == "here is the report"
    assert last.attachments() == [("report.csv", b"a,b\n1,2\n")]
    assert last.subject.startswith("Re: "), "a message without reply_to threads onto the last mail"


async def test_a_large_attachment_is_noted_not_saved(tmp_path, openai_peer, world):
    openai_peer.script([{"text": "too big"}])
    home = home_for(tmp_path, openai_peer)
    big = [("big.bin", "application/octet-stream", b"x" * 300_000)]
    async with running_engine(home, world.env([ALICE], max_attachment_mb="0.1")):
        await world.deliver(mail(ALICE, "huge file", attachments=big))
        await world.wait_sent(1, to=ALICE)
    prompt = str(openai_peer.requests()[0]["body"]["messages"][-1]["content"])
    assert "file too large: big.bin" in prompt
    assert not list((home / "cache" / "email").glob("*big.bin"))


async def test_malformed_mail_is_logged_marked_seen_and_skipped(
    tmp_path, openai_peer, world, caplog
):
    openai_peer.script([{"text": "still answering"}])
    home = home_for(tmp_path, openai_peer)
    unknown_charset = (
        f"From: {ALICE}\r\nTo: {BOT}\r\nSubject: odd\r\nMessage-ID: <odd@example.com>\r\n"
        "Content-Type: text/plain; charset=x-no-such-charset\r\n\r\nhello\r\n"
    ).encode()
    async with running_engine(home, world.env([ALICE])):
        await world.deliver(mail(None, "no sender at all"))
        await world.deliver(unknown_charset)
        await world.deliver(mail(ALICE, "a good one"))
        [reply] = await world.wait_sent(1, to=ALICE)
        await world.wait_all_seen(3)
    assert reply.text == "still answering"
    [request] = openai_peer.requests()
    assert "a good one" in str(request["body"]["messages"][-1]["content"])
    skipped = [r.getMessage() for r in caplog.records if "malformed" in r.getMessage()]
    assert len(skipped) == 2 and "no From address" in skipped[0], skipped
    assert "charset" in skipped[1] or "x-no-such-charset" in skipped[1], skipped


async def test_a_wrong_password_fails_the_platform_with_a_clear_reason(
    tmp_path, openai_peer, world
):
    openai_peer.script([{"text": "console works"}])
    home = home_for(tmp_path, openai_peer)
    env = world.env([ALICE], password="wrong-pass-123")
    async with running_engine(home, env) as (engine, replies):
        assert engine.platform_state["email"] == "failed"
        reason = engine.platform_reason["email"]
        await engine.console.inject("hello?")
        assert await replies.next() == "console works"
    assert reason.startswith(
        f"EMAIL_PASSWORD was rejected by the IMAP server 127.0.0.1:{world.dovecot.port} ("
    ), reason
    assert "wrong-pass-123" not in reason


async def test_an_smtp_login_failure_is_caught_at_connect(tmp_path, openai_peer, world):
    other = start_peer(
        "tests.peers.email_peer", "--spool", str(tmp_path / "spool"), "--user", BOT,
        "--password", "the-smtp-password",
    )  # fmt: skip
    try:
        env = {**world.env([ALICE]), "EMAIL_SMTP_PORT": str(other.port)}
        home = home_for(tmp_path, openai_peer)
        async with running_engine(home, env) as (engine, _):
            state, reason = engine.platform_state["email"], engine.platform_reason["email"]
    finally:
        other.stop()
    assert state == "failed"
    assert reason.startswith(
        f"EMAIL_PASSWORD was rejected by the SMTP server 127.0.0.1:{other.port}"
    )


async def test_polling_works_where_idle_is_off(tmp_path, openai_peer, world):
    openai_peer.script([{"text": "polled"}])
    home = home_for(tmp_path, openai_peer)
    async with running_engine(home, world.env([ALICE], idle="false", poll_interval="0.2")):
        await world.deliver(mail(ALICE, "anyone?"))
        [reply] = await world.wait_sent(1, to=ALICE)
    assert reply.text == "polled"


async def wait_state(engine, state: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while engine.platform_state.get("email") != state:
        if time.monotonic() > deadline:
            current = engine.platform_state.get("email"), engine.platform_reason.get("email")
            raise TimeoutError(f"email never became {state}: {current}")
        await asyncio.sleep(0.05)


async def test_mail_delivered_while_the_server_is_down_is_answered_when_it_is_back(
    tmp_path, openai_peer, world
):
    openai_peer.script([{"text": "before"}, {"text": "after the outage"}])
    home = home_for(tmp_path, openai_peer)
    async with running_engine(home, world.env([ALICE])) as (engine, _):
        await world.deliver(mail(ALICE, "first"))
        await world.wait_sent(1, to=ALICE)
        await asyncio.to_thread(world.dovecot.stop)
        await wait_state(engine, "connecting")
        assert "127.0.0.1" in engine.platform_reason["email"]
        world.drop(mail(ALICE, "written while IMAP was down"))
        await asyncio.to_thread(world.dovecot.start)
        [_, reply] = await world.wait_sent(2, to=ALICE, timeout=30)
        await wait_state(engine, "connected")
        await world.wait_all_seen(2)
    assert reply.text == "after the outage"
    assert "written while IMAP was down" in str(openai_peer.requests()[-1]["body"]["messages"])


async def test_a_mail_stays_unseen_until_the_inbox_has_it(tmp_path, world):
    """deliver_inbound fails once (a full disk): the mail is not marked seen, and is handed
    over again; only after a successful delivery is it \\Seen."""
    world_checked = asyncio.Event()
    delivered: list[InboundMessage] = []

    async def deliver(message: InboundMessage) -> bool:
        delivered.append(message)
        if len(delivered) == 1:
            await world_checked.wait()  # the test looks at the flags while we hold the mail
            raise OSError("disk full")
        return True

    states: list[tuple[str, str]] = []
    context = AdapterContext(
        home=HermesHome(tmp_path / "home").ensure(),
        deliver_inbound=deliver,
        report_status=lambda state, reason: states.append((state, reason)),
    )
    adapter = EmailAdapter(settings_for(world.env([ALICE])), context)
    await adapter.connect()
    try:
        await world.deliver(mail(ALICE, "keep me", message_id="<keep@example.com>"))
        while not delivered:
            await asyncio.sleep(0.02)
        assert await world.flags() == [""], "not seen while the inbox write is pending"
        world_checked.set()
        await world.wait_all_seen(1)
    finally:
        await adapter.disconnect()
    assert [m.message_id for m in delivered] == ["<keep@example.com>"] * 2
    assert states[0] == ("connected", "") and states[-1] == ("stopped", "")


async def test_smtp_errors_say_whether_to_retry(tmp_path, openai_peer, world):
    home = home_for(tmp_path, openai_peer)
    async with running_engine(home, world.env([ALICE])) as (engine, _):
        adapter = engine.adapter("email")
        world.fail_smtp("451 4.3.0 greylisted, try again later")
        later = await adapter.send(OutboundMessage(ALICE, "one"))
        world.fail_smtp("550 5.1.1 no such mailbox")
        never = await adapter.send(OutboundMessage(ALICE, "two"))
        world.fail_smtp(None)
        fine = await adapter.send(OutboundMessage(ALICE, "three"))
    assert not later.ok and later.retryable and "451" in later.error
    assert not never.ok and not never.retryable and "550" in never.error
    assert fine.ok and fine.message_id.startswith("<") and fine.message_id.endswith("@bot.test>")
    assert [m.text for m in world.sent(ALICE)] == ["three"]
    assert [m.subject for m in world.sent(ALICE)] == ["Message from Hermes"]


# -- options and conversion (no server needed) ------------------------------------------------
def test_options_name_what_is_missing_and_default_to_the_real_ports():
    with pytest.raises(ValueError) as missing:
        options_from_settings(PlatformSettings("email", True, extra={"address": BOT}))
    assert "EMAIL_PASSWORD, EMAIL_IMAP_HOST, EMAIL_SMTP_HOST" in str(missing.value)
    base = {"address": BOT, "password": "pw", "imap_host": "imap.x", "smtp_host": "smtp.x"}
    options = options_from_settings(PlatformSettings("email", True, extra=base))
    assert (options.imap_port, options.imap_ssl) == (993, True)
    assert (options.smtp_port, options.smtp_starttls, options.smtp_ssl) == (587, True, False)
    assert options.pairing is False and options.username == BOT
    assert "pw" not in repr(options)
    implicit = options_from_settings(
        PlatformSettings("email", True, extra={**base, "smtp_ssl": "1"})
    )
    assert (implicit.smtp_port, implicit.smtp_starttls) == (465, False)
    for bad, named in [
        ({"smtp_ssl": "true", "smtp_starttls": "true"}, "EMAIL_SMTP_STARTTLS"),
        ({"imap_port": "99999"}, "EMAIL_IMAP_PORT"),
        ({"poll_interval": "soon"}, "EMAIL_POLL_INTERVAL"),
        ({"address": "hermes"}, "EMAIL_ADDRESS"),
    ]:
        with pytest.raises(ValueError, match=named):
            options_from_settings(PlatformSettings("email", True, extra={**base, **bad}))


def test_email_home_address_is_the_home_channel(tmp_path):
    settings = load_settings(HermesHome(tmp_path).ensure(), {"EMAIL_HOME_ADDRESS": ALICE})
    assert settings.platforms["email"].home_channel == ALICE


def test_a_reply_keeps_only_the_new_text_and_html_only_mail_is_read():
    quoted = "Sounds good.\n\nOn Mon, 1 Jan 2024 Hermes wrote:\n> the old answer\n> more\n"
    assert strip_quoted(quoted) == "Sounds good."
    assert strip_quoted("Thanks\n-- \nAlice Example\nCEO") == "Thanks"
    assert strip_quoted("> inline quote\nmy answer") == "> inline quote\nmy answer"
    html = EmailMessage()
    html["From"], html["Subject"] = ALICE, "html"
    html.set_content("<html><style>p{}</style><p>Hello&nbsp;<b>there</b></p><p>Bye</p></html>",
                     subtype="html")  # fmt: skip
    converted = convert(bytes(html), BOT, "fallback-id")
    assert converted.message.text == "Hello there\n\nBye"
    assert converted.message.message_id == "fallback-id"  # no Message-ID header


def test_subject_only_mail_and_bounces():
    converted = convert(mail(ALICE, None, subject="What time is it?"), BOT, "x")
    assert converted.message.text == "What time is it?"
    assert converted.message.source.chat_id == ALICE and converted.message.source.user_id == ALICE
    bounce = convert(mail(ALICE, "undeliverable", headers={"Return-Path": "<>"}), BOT, "x")
    assert isinstance(bounce, Ignored) and "bounce" in bounce.reason
    report = EmailMessage()
    report["From"] = ALICE
    report.set_content("x")
    report.make_mixed()
    report.replace_header("Content-Type", "multipart/report; report-type=delivery-status")
    assert convert(bytes(report), BOT, "x") == Ignored("delivery report")
    with pytest.raises(Malformed):
        convert(mail(None, "who am i"), BOT, "x")


async def test_an_unreachable_server_at_boot_is_retried_not_failed(tmp_path, openai_peer, world):
    home = home_for(tmp_path, openai_peer)
    env = {**world.env([ALICE]), "EMAIL_IMAP_PORT": str(free_port())}
    async with running_engine(home, env) as (engine, _):
        await wait_state(engine, "connecting")
        assert f"IMAP 127.0.0.1:{env['EMAIL_IMAP_PORT']}" in engine.platform_reason["email"]


async def test_replies_after_a_gateway_restart_still_thread(tmp_path, openai_peer, world):
    openai_peer.script([{"text": "first"}])
    home = home_for(tmp_path, openai_peer)
    async with running_engine(home, world.env([ALICE])):
        await world.deliver(mail(ALICE, "hi", subject="Trip", message_id="<t1@example.com>"))
        await world.wait_sent(1, to=ALICE)
    async with running_engine(home, world.env([ALICE])) as (engine, _):
        result = await engine.adapter("email").send(OutboundMessage(ALICE, "a reminder"))
    assert result.ok
    later = world.sent(ALICE)[-1]
    assert (later.subject, later.in_reply_to) == ("Re: Trip", "<t1@example.com>")


async def test_a_password_never_reaches_the_imap_debug_log(tmp_path, world, caplog):
    password = 'pa"ss\\wörd'  # needs IMAP quoting: aioimaplib's own starring misses it
    context = AdapterContext(
        home=HermesHome(tmp_path / "home").ensure(),
        deliver_inbound=None,
        report_status=lambda state, reason: None,
    )
    adapter = EmailAdapter(settings_for(world.env([ALICE], password=password)), context)
    with caplog.at_level(logging.DEBUG, logger="aioimaplib"), pytest.raises(EmailAuthError) as no:
        await adapter.connect()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "LOGIN" in logged, "the login line was logged (starred)"
    assert "wörd" not in logged and "w\\xc3\\xb6rd" not in logged, logged
    assert "LOGIN failed" in str(no.value) and password not in str(no.value)
