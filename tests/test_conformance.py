"""The conformance suite: every platform adapter, through its loopback peer, the real engine and
the scripted model, held to the same behaviour. A platform joins by adding a driver module to
tests/conformance/drivers/ (see tests/conformance/driver.py); what it lacks is skipped, saying so.

Each driver's peer starts once for this module and is reset before every test, so the whole
module runs on the session's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import pkgutil
import re
import time

import pytest
import pytest_asyncio

from hermes_gateway.core.events import TurnFinished
from hermes_gateway.core.types import Capabilities, Platform
from hermes_gateway.delivery.formatting import length_function
from hermes_gateway.platforms.registry import adapter_class
from tests.conformance import drivers
from tests.conformance.driver import WAIT, PlatformDriver
from tests.helpers import peer_config, running_engine, write_config
from tests.test_agent_runtime_e2e import call

pytestmark = pytest.mark.asyncio(loop_scope="session")

PLATFORMS = sorted(m.name for m in pkgutil.iter_modules(drivers.__path__))
QUIET = "display:\n  tool_progress: 'off'\n"


@pytest_asyncio.fixture(scope="module", loop_scope="session", params=PLATFORMS)
async def running_driver(request):
    driver: PlatformDriver = importlib.import_module(f"{drivers.__name__}.{request.param}").Driver()
    await driver.start()
    yield driver
    await driver.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def driver(running_driver: PlatformDriver) -> PlatformDriver:
    await running_driver.reset()
    return running_driver


def caps(driver: PlatformDriver) -> Capabilities:
    return adapter_class(Platform(driver.platform)).capabilities


@contextlib.asynccontextmanager
async def gateway(tmp_path, openai_peer, driver: PlatformDriver, config: str = "", env=None):
    """The engine with only this platform (and the console) on, connected to the peer."""
    home = tmp_path / "home"
    write_config(home, peer_config(openai_peer.base_url, QUIET + config))
    users = driver.users
    environ = env if env is not None else driver.env([users.alice, users.bob])
    async with running_engine(home, environ) as (engine, replies):
        yield engine, replies


def connected(engine, driver: PlatformDriver) -> None:
    state = engine.platform_state.get(driver.platform)
    reason = engine.platform_reason.get(driver.platform, "")
    assert state == "connected", f"{driver.platform} is {state}: {reason}"


async def turn_finished(engine, count: int = 1, timeout: float = WAIT) -> None:
    """Wait until `count` turns have finished (subscribe before the message is sent)."""
    seen = 0
    events = engine.bus.subscribe()
    deadline = time.monotonic() + timeout
    try:
        while seen < count:
            event = await asyncio.wait_for(events.get(), max(deadline - time.monotonic(), 0))
            seen += isinstance(event, TurnFinished)
    finally:
        events.close()


def containing(text: str):
    return lambda m: text in m.text


# -- messages ----------------------------------------------------------------------------------
async def test_dm_round_trip(tmp_path, openai_peer, driver):
    openai_peer.script([{"text": "pong from the model"}])
    async with gateway(tmp_path, openai_peer, driver) as (engine, _):
        connected(engine, driver)
        await driver.send(driver.users.alice, "ping")
        chat = driver.dm(driver.users.alice)
        [reply] = await driver.wait_messages(chat, 1, where=containing("pong from the model"))
    assert reply.chat == chat and reply.thread == ""
    [request] = openai_peer.requests()
    assert "ping" in str(request["body"]["messages"][-1]["content"])


async def test_group_answers_only_when_mentioned(tmp_path, openai_peer, driver):
    if not driver.features.groups:
        pytest.skip(f"{driver.platform} has no group conversations")
    openai_peer.script([{"text": "answered in the group"}])
    users = driver.users
    async with gateway(tmp_path, openai_peer, driver) as (engine, _):
        if driver.features.mentions:
            await driver.send(users.bob, "talking among ourselves", chat=driver.group)
        await driver.send(users.alice, "a question for the bot", chat=driver.group, mention=True)
        await driver.wait_messages(driver.group, 1, where=containing("answered in the group"))
        connected(engine, driver)
    requests = openai_peer.requests()
    assert len(requests) == 1, "only the message that mentions the bot reaches the model"
    assert "a question for the bot" in str(requests[0]["body"]["messages"][-1]["content"])


async def test_a_reply_stays_in_its_thread(tmp_path, openai_peer, driver):
    if not caps(driver).threads or not driver.features.groups:
        pytest.skip(f"{driver.platform} has no threads")
    openai_peer.script([{"text": "answered in the thread"}])
    async with gateway(tmp_path, openai_peer, driver):
        thread = await driver.new_thread(driver.users.alice)
        await driver.send(
            driver.users.alice, "inside a thread", chat=driver.group, mention=True, thread=thread
        )
        [reply] = await driver.wait_messages(
            driver.group, 1, where=containing("answered in the thread")
        )
    assert reply.thread == thread


async def test_a_long_reply_is_split_at_the_platform_limit(tmp_path, openai_peer, driver):
    limit = caps(driver)
    measure = length_function(limit.length_unit)
    words = [f"w{i}" for i in range(limit.max_length * 5 // 16)]  # about 2.5 messages' worth
    paragraphs = [" ".join(words[i : i + 40]) for i in range(0, len(words), 40)]
    openai_peer.script([{"text": "\n\n".join(paragraphs)}])
    chat = driver.dm(driver.users.alice)
    async with gateway(tmp_path, openai_peer, driver, "streaming:\n  enabled: false\n"):
        await driver.send(driver.users.alice, "say a lot")
        last = words[-1]
        await driver.wait_messages(chat, 1, where=lambda m: re.search(rf"\b{last}\b", m.text))
        sent = await driver.bot_messages(chat)
    assert len(sent) >= 2
    assert all(measure(m.text) <= limit.max_length for m in sent)
    said = [w for m in sent for w in re.findall(r"\bw\d+\b", m.text)]
    assert said == words, "every word arrives once, in order"


async def test_streaming_edits_one_message_or_sends_one_final_text(tmp_path, openai_peer, driver):
    text = "Streaming " + " ".join(f"piece{i}" for i in range(30)) + " the end."
    openai_peer.script([{"text": text, "chunks": 6, "chunk_delay": 0.3}])
    chat = driver.dm(driver.users.alice)
    config = "streaming:\n  enabled: true\n  edit_interval: 0.2\n"
    async with gateway(tmp_path, openai_peer, driver, config) as (engine, _):
        finished = asyncio.create_task(turn_finished(engine))
        await asyncio.sleep(0)  # subscribed before the message goes in
        await driver.send(driver.users.alice, "stream it")
        await driver.wait_messages(chat, 1, where=containing("the end."))
        await finished
        sent = await driver.bot_messages(chat)
    assert len(sent) == 1, [m.text for m in sent]
    assert "piece29 the end." in sent[0].text
    if caps(driver).can_edit:
        assert sent[0].edits >= 1, "the reply grew by editing one message"
    else:
        assert sent[0].edits == 0


async def test_typing_is_shown_while_the_model_thinks(tmp_path, openai_peer, driver):
    if not caps(driver).typing:
        pytest.skip(f"{driver.platform} shows no typing indicator")
    openai_peer.script([{"text": "thought about it", "delay": 1.0}])
    chat = driver.dm(driver.users.alice)
    async with gateway(tmp_path, openai_peer, driver):
        await driver.send(driver.users.alice, "think first")
        await driver.wait_messages(chat, 1, where=containing("thought about it"))
        assert await driver.typing_seen(chat)


# -- approvals and access ----------------------------------------------------------------------
async def test_approval_prompt_is_answered_in_the_chat(tmp_path, openai_peer, driver):
    openai_peer.script([call("terminal", command="rm -rf ./scratch"), {"text": "scratch removed"}])
    chat = driver.dm(driver.users.alice)
    async with gateway(tmp_path, openai_peer, driver) as (engine, _):
        await driver.send(driver.users.alice, "clean up")
        [prompt] = await driver.wait_messages(chat, 1, where=containing("rm -rf ./scratch"))
        if caps(driver).buttons:
            assert prompt.buttons, "platforms with buttons offer them on the prompt"
        await driver.resolve_approval(driver.users.alice, prompt, "once")
        await driver.wait_messages(chat, 1, where=containing("scratch removed"))
        [audit] = engine.store.approvals_recent()
    assert audit["status"] == "once" and audit["command"] == "rm -rf ./scratch"


async def test_a_stranger_is_offered_pairing(tmp_path, openai_peer, driver):
    chat = driver.dm(driver.users.stranger)
    async with gateway(tmp_path, openai_peer, driver):
        await driver.send(driver.users.stranger, "let me in")
        [offer] = await driver.wait_messages(chat, 1)
        assert re.search(r"pairing code is: [A-Z2-9]{8}", offer.text), offer.text
    assert openai_peer.requests() == [], "a stranger never reaches the model"


# -- failures ----------------------------------------------------------------------------------
async def test_a_peer_restart_loses_no_message(tmp_path, openai_peer, driver):
    if not driver.features.restart:
        pytest.skip(f"the {driver.platform} peer cannot restart keeping its state")
    openai_peer.script([{"text": "before the restart"}, {"text": "after the restart"}])
    chat = driver.dm(driver.users.alice)
    async with gateway(tmp_path, openai_peer, driver) as (engine, _):
        await driver.send(driver.users.alice, "first")
        await driver.wait_messages(chat, 1, where=containing("before the restart"))
        await driver.restart()
        await driver.send(driver.users.alice, "sent while it reconnects")
        await driver.wait_messages(chat, 1, where=containing("after the restart"), timeout=30)
        connected(engine, driver)
    assert "sent while it reconnects" in str(openai_peer.requests()[-1]["body"]["messages"])


async def test_bad_credentials_fail_the_platform_and_nothing_else(tmp_path, openai_peer, driver):
    bad = driver.bad_credentials_env()
    openai_peer.script([{"text": "the console still works"}])
    async with gateway(tmp_path, openai_peer, driver, env=bad) as (engine, replies):
        assert engine.platform_state[driver.platform] == "failed"
        reason = engine.platform_reason[driver.platform]
        await engine.console.inject("are you there?")
        assert await replies.next() == "the console still works"
    assert len(reason) > 20, f"a clear reason, not {reason!r}"
    for name, value in bad.items():
        if name.endswith(("TOKEN", "PASSWORD", "KEY", "SECRET")) and len(value) > 4:
            assert value not in reason, f"{name} leaked into the reason"


async def test_a_malformed_event_is_skipped(tmp_path, openai_peer, driver, caplog):
    openai_peer.script([{"text": "still here"}])
    chat = driver.dm(driver.users.alice)
    async with gateway(tmp_path, openai_peer, driver) as (engine, _):
        await driver.send_malformed()
        await driver.send(driver.users.alice, "after the junk")
        await driver.wait_messages(chat, 1, where=containing("still here"))
        connected(engine, driver)
    [request] = openai_peer.requests()
    assert "after the junk" in str(request["body"]["messages"][-1]["content"])


async def test_every_adapter_is_held_to_the_suite():
    from hermes_gateway.platforms.registry import ADAPTERS

    missing = set(ADAPTERS) - {Platform.CONSOLE} - {Platform(name) for name in PLATFORMS}
    assert not missing, f"add a driver in tests/conformance/drivers/ for {sorted(missing)}"
