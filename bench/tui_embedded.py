"""`hermes tui` with its engine embedded, under Textual's headless driver: what the Telegram bench
drives to compare the embedded engine with `hermes gateway --headless` (same home, same load).
Runs until SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hermes_gateway.cli_tui import EmbeddedTarget, open_target  # noqa: E402
from hermes_gateway.home import HermesHome  # noqa: E402


async def main() -> int:
    from hermes_tui.app import HermesApp

    target = open_target(HermesHome.from_env())
    if not isinstance(target, EmbeddedTarget):
        print("a gateway already runs on this HERMES_HOME; the bench needs a fresh one")
        return 1
    app = HermesApp(target)
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, app.exit)
    try:
        await app.run_async(headless=True, size=(160, 48))
    finally:
        target.release()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
