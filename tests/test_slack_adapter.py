"""Slack: the real engine and adapter (slack-sdk's AsyncWebClient + aiohttp SocketModeClient)
against the loopback Slack peer and the scripted model — DMs, threads in channels, the mention
rule, mrkdwn, streaming by chat.update, approval buttons, acks and redelivery, reconnects,
token errors, malformed envelopes, options."""

import asyncio

from tests.helpers import peer_config, running_engine, write_config
from tests.peers.slack_fixtures import (  # noqa: F401
    ALICE,
    BOB,
    DMS,
    GENERAL,
    STRANGER,
    slack_peer_fixture,
)

QUIET = "display:\n  tool_progress: 'off'\n"
NO_STREAM = QUIET + "streaming:\n  enabled: false\n"


def home_for(tmp_path, openai_peer, extra: str = NO_STREAM):
    home = tmp_path / "home"
    write_config(home, peer_config(openai_peer.base_url, extra))
    return home


async def until(check, timeout: float = 10.0):
    """Poll an async check until it returns something truthy (bounded)."""
    for _ in range(int(timeout / 0.05)):
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.05)
    raise TimeoutError("condition not met")


async def connected(engine) -> None:
    async def ready():
        return engine.platform_state.get("slack") == "connected"

    await until(ready)


async def test_dm_is_answered_in_the_main_timeline_as_mrkdwn(tmp_path, openai_peer, slack_peer):
    home = home_for(tmp_path, openai_peer)
    openai_peer.script([{"text": "Here is **bold** and `a < b`"}])
    async with running_engine(home, slack_peer.env()) as (engine, _):
        await connected(engine)
        await slack_peer.message(ALICE, DMS[ALICE], "hello")
        [sent] = await slack_peer.wait(1, method="chat.postMessage")
    message = sent["message"]
    assert message["channel"] == DMS[ALICE] and message["thread_ts"] == ""
    assert message["text"] == "Here is *bold* and `a &lt; b`"
    assert (await slack_peer.stats())["pending"] == 0  # acknowledged
