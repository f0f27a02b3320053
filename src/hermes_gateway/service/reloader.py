"""SIGHUP (`systemctl reload`, `kill -HUP`): re-read the configuration and apply platform
credentials and allowlists to the running engine, one reload at a time. A broken file is
reported and the running configuration kept: a typo never takes the gateway down."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from hermes_gateway.config import ConfigError, load_settings
from hermes_gateway.core.reload import reload_engine
from hermes_gateway.service.logfile import Redactor, secrets_of
from hermes_gateway.service.notify import Notifier

log = logging.getLogger("hermes.service")


class Reloader:
    def __init__(
        self, engine, redactor: Redactor, notifier: Notifier, status: Callable[[], str]
    ) -> None:
        self.engine = engine
        self.redactor = redactor
        self.notifier = notifier
        self.status = status
        self._lock = asyncio.Lock()
        self.started = asyncio.Event()  # a SIGHUP during start-up waits for it to finish
        self._tasks: set[asyncio.Task] = set()

    def trigger(self) -> None:
        """The signal handler: schedule a reload (a second SIGHUP waits for the first)."""
        task = asyncio.create_task(self.reload(), name="hermes-reload")
        self._tasks.add(task)
        task.add_done_callback(self._done)

    async def reload(self) -> bool:
        await self.started.wait()
        async with self._lock:
            self.notifier.reloading()
            try:
                fresh = await asyncio.to_thread(load_settings, self.engine.settings.home)
            except ConfigError as exc:
                log.error("reload refused, still running the previous configuration: %s", exc)
                self.notifier.ready(self.status())
                return False
            self.redactor.add(secrets_of(fresh))  # before anything can log the new values
            await reload_engine(self.engine, fresh)
            self.notifier.ready(self.status())
            return True

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error("reload failed: %s", str(exc) or type(exc).__name__)

    def cancel(self) -> None:
        for task in self._tasks:
            task.cancel()
