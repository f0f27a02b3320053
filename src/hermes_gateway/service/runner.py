"""Runs one engine until SIGTERM/SIGINT: `hermes gateway` (foreground) and `--headless`."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from typing import TextIO

from hermes_gateway.core.events import ConsoleReply, Event
from hermes_gateway.home import HermesHome
from hermes_gateway.service.lock import EngineLock
from hermes_gateway.service.runlog import PlainLog, RichLog, SinkHandler, event_printer

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 78  # EX_CONFIG: a service manager should not restart into the same bad config


def run_gateway(home: HermesHome, headless: bool, settings) -> int:
    """Blocks until the engine stops. Returns the process exit code."""
    from hermes_gateway.storage import open_store

    home.ensure()
    with EngineLock(home.lock_file):
        store = open_store(home.state_db)
        try:
            return asyncio.run(_serve(home, headless, settings, store))
        finally:
            store.close()


async def _serve(home: HermesHome, headless: bool, settings, store) -> int:
    from hermes_gateway.agent.client import ProviderError
    from hermes_gateway.control.server import ControlServer
    from hermes_gateway.core.engine import Engine
    from hermes_gateway.platforms.console import pump_lines

    sink = PlainLog() if headless else RichLog()
    _route_logging(sink)
    try:
        engine = Engine(settings, store)
    except ProviderError as exc:
        print(f"hermes: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    engine.bus.listen(event_printer(sink))
    # Console replies as events, not an adapter callback: they survive a console reconnect and
    # include replies recovered at start-up.
    engine.bus.listen(_reply_printer(sys.stdout, headless))

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    control = ControlServer(engine, home.control_socket)  # made before start: it counts events
    await engine.start()
    await _start_control(control)
    pump = None
    if engine.console is not None:
        pump = asyncio.create_task(pump_lines(engine.console))
    await stop.wait()
    await control.stop()  # first: attached clients see the gateway go, not a half-stopped one
    await engine.stop("signal")
    if pump is not None:
        pump.cancel()
    return EXIT_OK


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


def _route_logging(sink) -> None:
    root = logging.getLogger("hermes")
    root.handlers[:] = [SinkHandler(sink)]
    root.setLevel(logging.INFO)
    root.propagate = False
