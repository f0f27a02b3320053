"""Engine start-up: what an adapter delivers while it connects is answered once, even though
start() also replays what an earlier run left unanswered."""

from __future__ import annotations

import asyncio

from hermes_gateway.core.types import (
    Capabilities,
    InboundMessage,
    OutboundMessage,
    Platform,
    SendResult,
    SessionSource,
)
from hermes_gateway.platforms.base import Adapter
from hermes_gateway.platforms.registry import adapter_class
from tests.helpers import peer_config, running_engine, write_config


class EagerAdapter(Adapter):
    """Delivers a message from inside connect(), as an adapter with a backlog may."""

    platform = Platform.SIGNAL
    capabilities = Capabilities()
    sent: list[str] = []

    async def connect(self) -> None:
        source = SessionSource(Platform.SIGNAL, "+100", user_id="+100")
        await self.context.deliver_inbound(InboundMessage(source, "m1", "hello while connecting"))
        self.context.report_status("connected", "")

    async def disconnect(self) -> None:
        pass

    async def send(self, message: OutboundMessage) -> SendResult:
        EagerAdapter.sent.append(message.text)
        return SendResult(True, message_id=str(len(EagerAdapter.sent)))


async def test_a_message_delivered_while_connecting_is_answered_once(
    tmp_path, openai_peer, monkeypatch
):
    real = adapter_class
    monkeypatch.setattr(
        "hermes_gateway.core.engine.adapter_class",
        lambda platform: EagerAdapter if platform is Platform.SIGNAL else real(platform),
    )
    EagerAdapter.sent = []
    home = tmp_path / "home"
    write_config(home, peer_config(openai_peer.base_url, "display:\n  tool_progress: 'off'\n"))
    openai_peer.script([{"text": "answered once", "delay": 0.3}, {"text": "answered twice"}])
    environ = {"SIGNAL_ACCOUNT": "+1555", "SIGNAL_ALLOWED_USERS": "+100"}
    async with running_engine(home, environ):
        for _ in range(200):  # bounded: 10 s
            if "answered once" in EagerAdapter.sent:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # room for a second, duplicate turn to show itself
    assert EagerAdapter.sent == ["answered once"]
    assert len(openai_peer.requests()) == 1
