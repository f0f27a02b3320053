"""How the app reaches an engine. `hermes_gateway.cli_tui` builds the embedded and attached
targets; `HandleTarget` wraps a handle someone already holds (screenshots, benchmarks)."""

from __future__ import annotations

from typing import Protocol

from hermes_gateway.control.handle import GatewayHandle


class Target(Protocol):
    mode: str  # embedded | attached
    title: str  # what the title bar says, e.g. "Hermes — embedded · ~/.hermes"

    async def connect(self) -> GatewayHandle:
        """A live handle (called again to reconnect after the service went away)."""

    async def start(self) -> None:
        """Embedded: start the engine (the app runs this as a worker). Attached: nothing."""

    async def close(self) -> None:
        """Stop what this process owns; called once when the app unmounts."""


class HandleTarget:
    """A handle that is already open; closing the app does not close it."""

    def __init__(self, handle: GatewayHandle, title: str = "Hermes") -> None:
        self.handle = handle
        self.mode = handle.mode
        self.title = title

    async def connect(self) -> GatewayHandle:
        return self.handle

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None
