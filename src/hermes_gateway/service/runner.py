"""Runs one engine until SIGTERM/SIGINT: `hermes gateway` (foreground) and `--headless`.

Under a service manager: READY=1 once the platforms were tried and the control socket listens,
STATUS= as platforms change, WATCHDOG=1 while the loop is healthy, STOPPING=1 on SIGTERM and a
drain that ends with exit 0 within the stop timeout. SIGHUP reloads credentials and allowlists.
A fatal error exits 1 (the manager restarts it); a bad configuration exits 78 (it would not)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
from typing import TextIO

from hermes_gateway.core.events import ConsoleReply, Event, PlatformStatusChanged
from hermes_gateway.home import HermesHome
from hermes_gateway.service.lock import EngineLock

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 78  # EX_CONFIG: a service manager should not restart into the same bad config
SHUTDOWN_BUDGET = 20.0  # seconds for the whole drain; the unit's TimeoutStopSec is 30

log = logging.getLogger("hermes.service")


def run_gateway(home: HermesHome, headless: bool, settings) -> int:
    """Blocks until the engine stops. Returns the process exit code."""
    from hermes_gateway.config import ConfigError
    from hermes_gateway.service.logfile import Redactor, log_sinks, route_logging, secrets_of
    from hermes_gateway.service.notify import Notifier
    from hermes_gateway.storage import open_store

    home.ensure()
    notifier = Notifier.from_environ()
    redactor = Redactor(secrets_of(settings))
    try:
        sinks, file_log = log_sinks(home, headless, settings, redactor)
    except ConfigError as exc:
        print(f"hermes: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    route_logging(sinks)
    try:
        with EngineLock(home.lock_file):
            try:
                store = open_store(home.state_db)
            except Exception as exc:  # a corrupt or unreadable state.db: nothing can run
                return _fatal(notifier, f"cannot open {home.state_db}: {_describe(exc)}", exc)
            try:
                gateway = _Gateway(home, headless, settings, store, sinks, redactor, notifier)
                return asyncio.run(gateway.serve())
            except Exception as exc:
                return _fatal(notifier, f"the gateway crashed: {_describe(exc)}", exc)
            finally:
                store.close()
    finally:
        notifier.close()
        file_log.close()


class _Gateway:
    def __init__(self, home, headless, settings, store, sinks, redactor, notifier) -> None:
        self.home = home
        self.headless = headless
        self.settings = settings
        self.store = store
        self.sinks = sinks
        self.redactor = redactor
        self.notifier = notifier
        self.engine = None

    async def serve(self) -> int:
        from hermes_gateway.agent.client import ProviderError
        from hermes_gateway.control.server import ControlServer
        from hermes_gateway.core.engine import Engine
        from hermes_gateway.platforms.console import pump_lines
        from hermes_gateway.service.notify import watchdog_loop
        from hermes_gateway.service.reloader import Reloader
        from hermes_gateway.service.runlog import event_printer

        try:
            engine = self.engine = Engine(self.settings, self.store)
        except ProviderError as exc:
            print(f"hermes: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        for sink in self.sinks:
            engine.bus.listen(event_printer(sink))
        # Console replies as events, not an adapter callback: they survive a console reconnect
        # and include replies recovered at start-up.
        engine.bus.listen(_reply_printer(sys.stdout, self.headless))

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        reloader = Reloader(engine, self.redactor, self.notifier, self.status_line)
        loop.add_signal_handler(signal.SIGHUP, reloader.trigger)

        control = ControlServer(engine, self.home.control_socket)  # before start: counts events
        self.notifier.status("starting: connecting platforms")
        try:
            await engine.start()
        except Exception as exc:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(engine.stop("failed"), SHUTDOWN_BUDGET)
            return _fatal(self.notifier, f"the engine failed to start: {_describe(exc)}", exc)
        await _start_control(control)
        self.notifier.ready(self.status_line())
        reloader.started.set()
        engine.bus.listen(self._on_event)
        watchdog = asyncio.create_task(watchdog_loop(self.notifier, lambda: not stop.is_set()))
        pump = None
        if engine.console is not None:
            pump = asyncio.create_task(pump_lines(engine.console))
        await stop.wait()

        self.notifier.stopping()
        loop.remove_signal_handler(signal.SIGHUP)
        reloader.cancel()
        watchdog.cancel()
        await control.stop()  # first: attached clients see the gateway go, not a half-stopped one
        try:
            await asyncio.wait_for(engine.stop("signal"), SHUTDOWN_BUDGET)
        except TimeoutError:
            log.warning("stopping took longer than %.0f s; exiting anyway", SHUTDOWN_BUDGET)
        if pump is not None:
            pump.cancel()
        return EXIT_OK

    def status_line(self) -> str:
        """`serving: telegram connected, discord failed` for `systemctl status`."""
        states = (self.engine.platform_state if self.engine else {}) or {}
        shown = ", ".join(f"{name} {state}" for name, state in sorted(states.items()))
        return f"serving: {shown}" if shown else "serving"

    def _on_event(self, event: Event) -> None:
        if isinstance(event, PlatformStatusChanged):
            self.notifier.status(self.status_line())


def _fatal(notifier, message: str, exc: BaseException) -> int:
    """One ERROR line (no traceback, no secret: it goes through the redacting sinks), the
    reason in STATUS= for `systemctl status`, and exit 1 so the manager restarts us."""
    log.error("%s", message)
    notifier.failed(f"failed: {message}", getattr(exc, "errno", 0) or 0)
    return EXIT_FAILURE


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def _start_control(control) -> None:
    """The control socket is how a TUI attaches; without it the gateway still serves its chats,
    so a failure is logged, not fatal."""
    try:
        await control.start()
    except (OSError, RuntimeError) as exc:
        logging.getLogger("hermes.control").error(
            "no control socket (the TUI cannot attach to this gateway): %s", exc
        )


def _reply_printer(stream: TextIO, headless: bool):
    if headless:  # one JSON line per reply: easy for scripts, safe for any text

        def print_reply(event: Event) -> None:
            if isinstance(event, ConsoleReply):
                line = json.dumps({"chat": event.chat_id, "text": event.text}, ensure_ascii=False)
                stream.write(line + "\n")
                stream.flush()

        return print_reply

    from rich.console import Console
    from rich.text import Text

    console = Console(file=stream, highlight=False)

    def print_reply(event: Event) -> None:
        if isinstance(event, ConsoleReply):
            console.print(Text("◆ ", style="bold magenta") + Text(event.text), end="\n\n")

    return print_reply
