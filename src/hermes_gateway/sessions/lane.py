"""The session lane: one turn at a time per session.

A message that arrives while a turn runs interrupts it (busy_input_mode "interrupt", the default)
or waits (busy_input_mode "queue"); either way everything that arrived meanwhile is merged into
one follow-up turn. `/stop` interrupts and drops what was waiting."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Item = TypeVar("Item")


@dataclass
class TurnControl:
    """Shared with a running turn so it can tell an interrupt from a shutdown."""

    reason: str = ""  # "" while running; "interrupt" | "stop" once the lane cancels the turn

    @property
    def cancelled_by_lane(self) -> bool:
        return bool(self.reason)


RunTurn = Callable[[list, TurnControl], Awaitable[None]]


@dataclass
class Lane(Generic[Item]):
    key: str
    run_turn: RunTurn
    busy_mode: str = "interrupt"
    pending: list[Item] = field(default_factory=list)
    _drain: asyncio.Task | None = None
    _turn: asyncio.Task | None = None
    _control: TurnControl | None = None

    @property
    def busy(self) -> bool:
        return self._drain is not None and not self._drain.done()

    @property
    def running_turn(self) -> bool:
        return self._turn is not None and not self._turn.done()

    def submit(self, item: Item) -> str:
        """Queue an item. Returns what happened: "started" | "interrupting" | "queued"."""
        self.pending.append(item)
        if not self.busy:
            self._drain = asyncio.create_task(self._run(), name=f"lane:{self.key}")
            return "started"
        if self.busy_mode == "interrupt" and self.running_turn:
            return "interrupting" if self._cancel("interrupt") else "queued"
        return "queued"

    def stop(self) -> list[Item]:
        """Interrupt the running turn without a follow-up; returns the dropped waiting items."""
        dropped, self.pending = self.pending, []
        self._cancel("stop")
        return dropped

    def _cancel(self, reason: str) -> bool:
        """Cancel the running turn once; False if it was already being cancelled."""
        if not self.running_turn or self._control is None or self._control.reason:
            return False
        self._control.reason = reason
        self._turn.cancel()
        return True

    async def _run(self) -> None:
        while self.pending:
            batch, self.pending = self.pending, []
            self._control = TurnControl()
            self._turn = asyncio.create_task(self.run_turn(batch, self._control))
            try:
                await self._turn
            except asyncio.CancelledError:
                if not self._control.cancelled_by_lane:
                    raise  # the engine is shutting down
            finally:
                self._control = None

    async def wait_idle(self) -> None:
        if self._drain is not None:
            await asyncio.shield(self._drain)

    def cancel(self) -> None:
        """Shutdown: cancel everything; waiting items stay unanswered in the inbox."""
        if self._drain is not None:
            self._drain.cancel()
