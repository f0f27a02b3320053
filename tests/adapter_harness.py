"""The engine's side of an AdapterContext for adapter tests: records what the adapter hands
over (inbound messages, status reports) and who listens to engine events."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hermes_gateway.core.types import InboundMessage
from hermes_gateway.home import HermesHome
from hermes_gateway.platforms.base import AdapterContext

WAIT = 10.0  # an upper bound on a loaded machine, never a speed assertion


class Harness:
    def __init__(self, home: Path) -> None:
        self.inbound: list[InboundMessage] = []
        self.statuses: list[tuple[str, str]] = []
        self.listeners: list = []
        self.context = AdapterContext(
            HermesHome(home), self.deliver, self.report, listen=self.listen
        )

    async def deliver(self, message: InboundMessage) -> bool:
        self.inbound.append(message)
        return True

    def report(self, state: str, detail: str) -> None:
        self.statuses.append((state, detail))

    def listen(self, callback):
        self.listeners.append(callback)
        return lambda: self.listeners.remove(callback)

    async def wait_inbound(self, count: int) -> list[InboundMessage]:
        for _ in range(int(WAIT / 0.02)):
            if len(self.inbound) >= count:
                return self.inbound
            await asyncio.sleep(0.02)
        raise TimeoutError(f"{len(self.inbound)} of {count} inbound messages")


async def until(predicate, what: str):
    """The first truthy result of awaiting predicate(), polled within WAIT; else TimeoutError."""
    for _ in range(int(WAIT / 0.02)):
        found = await predicate()
        if found:
            return found
        await asyncio.sleep(0.02)
    raise TimeoutError(what)
