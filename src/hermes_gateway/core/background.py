"""`/background <prompt>`: a separate agent run with its own history, reported back to the chat
that started it with "✅ Background task complete" or "❌ Background task failed: …"."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hermes_gateway.agent.tools.base import first_line
from hermes_gateway.core.events import TaskChanged
from hermes_gateway.core.types import SessionSource

if TYPE_CHECKING:
    from hermes_gateway.core.engine import Engine

KEEP_FINISHED = 50  # finished tasks listed by /status


@dataclass
class TaskInfo:
    id: str
    origin_key: str
    prompt: str
    started_at: float
    state: str = "running"  # running | done | failed
    finished_at: float | None = None
    error: str = ""

    @property
    def title(self) -> str:
        return first_line(self.prompt, 60)


def new_task_id(now: float) -> str:
    return time.strftime("bg_%H%M%S_", time.localtime(now)) + secrets.token_hex(3)


class BackgroundTasks:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.tasks: dict[str, TaskInfo] = {}
        self._running: dict[str, asyncio.Task] = {}

    def start(self, prompt: str, source: SessionSource, origin_key: str) -> TaskInfo:
        info = TaskInfo(new_task_id(self.engine.clock()), origin_key, prompt, self.engine.clock())
        self.tasks[info.id] = info
        self._running[info.id] = asyncio.create_task(self._run(info, source), name=info.id)
        self._publish(info)
        return info

    def list(self, origin_key: str | None = None) -> list[TaskInfo]:
        return [t for t in self.tasks.values() if origin_key in (None, t.origin_key)]

    async def _run(self, info: TaskInfo, source: SessionSource) -> None:
        engine = self.engine
        try:
            text = await engine.turns.run_isolated(
                info.prompt, prefix="bg", run_id=info.id, source=source, tool_key=info.origin_key
            )
        except asyncio.CancelledError:
            info.state, info.error = "failed", "the gateway stopped"
            raise
        except Exception as exc:
            info.state, info.error = "failed", engine.describe_error(exc)
            reply = f"❌ Background task failed: {info.error}\nTask ID: {info.id}"
        else:
            info.state = "done"
            reply = f"✅ Background task complete ({info.id})\n\n{text}"
        finally:
            info.finished_at = engine.clock()
            self._running.pop(info.id, None)
            self._publish(info)
            self._prune()
        engine.queue_reply(source, reply, info.origin_key)

    def _publish(self, info: TaskInfo) -> None:
        self.engine.bus.publish(
            TaskChanged(info.id, info.origin_key, info.state, info.title, info.error)
        )

    def _prune(self) -> None:
        finished = [t for t in self.tasks.values() if t.state != "running"]
        for old in finished[:-KEEP_FINISHED]:
            del self.tasks[old.id]

    async def shutdown(self) -> None:
        for task in list(self._running.values()):
            task.cancel()
        if self._running:
            await asyncio.wait(list(self._running.values()), timeout=2.0)
