"""E-mail against real servers: dovecot (the bot's IMAP mailbox, started per test session) and an
aiosmtpd peer receiving the bot's replies, with the real engine and the scripted model.
Without dovecot (tests/setup/dovecot.sh installs it) these tests skip with the reason."""

from __future__ import annotations

import pytest

from tests.helpers import peer_config, running_engine, write_config
from tests.peers.email_fixtures import BOT, EmailWorld, mail

ALICE = "alice@example.com"
BOB = "Bob@Example.com"
STRANGER = "stranger@example.net"
QUIET = "display:\n  tool_progress: 'off'\n"


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
