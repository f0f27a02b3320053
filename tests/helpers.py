"""Test helpers: a real engine on a temporary HERMES_HOME, driven through the console platform."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from hermes_gateway.config import load_settings
from hermes_gateway.core.engine import Engine
from hermes_gateway.core.types import OutboundMessage
from hermes_gateway.home import HermesHome
from hermes_gateway.storage.sqlite import SQLiteStore

WAIT = 10.0  # seconds: an upper bound for a reply on a loaded machine, never a speed assertion


class Replies:
    """Collects what the engine sends to the console."""

    def __init__(self) -> None:
        self.items: list[OutboundMessage] = []
        self._changed = asyncio.Event()

    def __call__(self, message: OutboundMessage) -> None:
        self.items.append(message)
        self._changed.set()

    async def wait_for(self, count: int, timeout: float = WAIT) -> list[str]:
        async def enough() -> None:
            while len(self.items) < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(enough(), timeout)
        return self.texts

    async def next(self, timeout: float = WAIT) -> str:
        return (await self.wait_for(len(self.items) + 1, timeout))[-1]

    @property
    def texts(self) -> list[str]:
        return [m.text for m in self.items]


def write_config(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.yaml").write_text(text)


def peer_config(base_url: str, extra: str = "") -> str:
    return (
        f"model:\n  provider: custom\n  base_url: {base_url}\n  default: test-model\n"
        f"  max_retries: 1\n{extra}"
    )


@contextlib.asynccontextmanager
async def running_engine(
    home: Path, environ: dict[str, str] | None = None, **engine_kwargs
) -> AsyncIterator[tuple[Engine, Replies]]:
    settings = load_settings(HermesHome(home).ensure(), environ or {})
    store = SQLiteStore(home / "state.db")
    engine = Engine(settings, store, **engine_kwargs)
    replies = Replies()
    await engine.start()
    engine.console.add_output(replies)
    try:
        yield engine, replies
    finally:
        await engine.stop("test")
        store.close()
