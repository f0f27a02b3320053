"""Runs a peer on 127.0.0.1 until SIGTERM/SIGINT, or until the process that started it is gone
(an interrupted test run never leaves a peer behind)."""

from __future__ import annotations

import asyncio
import os
import signal

from aiohttp import web


async def serve_app(app: web.Application, port: int, **runner_options) -> None:
    runner = web.AppRunner(app, access_log=None, handle_signals=False, **runner_options)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    print(f"PORT {runner.addresses[0][1]}", flush=True)  # the first line: how fixtures find us
    try:
        await until_stopped()
    finally:
        await runner.cleanup()


async def until_stopped() -> None:
    """Return on SIGTERM / SIGINT, or once the parent process (the test run) is gone."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    parent = os.getppid()
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=1.0)
        except TimeoutError:
            if os.getppid() != parent:  # orphaned: the test run died without stopping us
                return
