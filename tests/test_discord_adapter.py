"""Discord: the real engine and adapter (discord.py) against the loopback gateway + REST peer."""

from __future__ import annotations

from tests.helpers import peer_config, running_engine, write_config
from tests.peers.discord_fixtures import ALICE, discord_peer  # noqa: F401

QUIET = "display:\n  tool_progress: 'off'\n"


def home_for(tmp_path, openai_peer, extra: str = ""):
    home = tmp_path / "home"
    write_config(home, peer_config(openai_peer.base_url, QUIET + extra))
    return home


async def test_dm_round_trip(tmp_path, openai_peer, discord_peer):
    openai_peer.script([{"text": "pong"}])
    async with running_engine(home_for(tmp_path, openai_peer), discord_peer.env()) as (engine, _):
        assert engine.platform_state["discord"] == "connected", engine.platform_reason
        await discord_peer.message(ALICE, discord_peer.dm(ALICE), "ping")
        [reply] = await discord_peer.wait_messages(discord_peer.dm(ALICE), 1)
    assert reply["content"] == "pong"
