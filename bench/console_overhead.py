"""Per-message engine overhead through the console platform with the offline agent.

200 sequential messages on a fresh HERMES_HOME. For each: the time from the console inject to
the reply reaching the console output (end to end), and the time spent inside the agent runtime
(the offline provider through the real HTTP client code path). Overhead = end to end − agent.
Prints one JSON line."""

from __future__ import annotations

import asyncio
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hermes_gateway.config import load_settings
from hermes_gateway.core.engine import Engine
from hermes_gateway.home import HermesHome
from hermes_gateway.storage.sqlite import SQLiteStore

MESSAGES = 200
WARMUP = 10


async def main() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        home = HermesHome(Path(tmp) / "home").ensure()
        settings = load_settings(home, {})
        store = SQLiteStore(home.state_db)
        engine = Engine(settings, store)
        agent_ms: list[float] = []
        original_run = engine.runtime.run

        async def timed_run(*args, **kwargs):
            started = time.perf_counter()
            try:
                return await original_run(*args, **kwargs)
            finally:
                agent_ms.append((time.perf_counter() - started) * 1000)

        engine.runtime.run = timed_run
        await engine.start()
        arrived = asyncio.Event()
        engine.console.add_output(lambda message: arrived.set())
        total_ms: list[float] = []
        for i in range(WARMUP + MESSAGES):
            arrived.clear()
            started = time.perf_counter()
            await engine.console.inject(f"message number {i}")
            await arrived.wait()
            total_ms.append((time.perf_counter() - started) * 1000)
        await engine.stop("bench")
        store.close()
    total, agent = total_ms[WARMUP:], agent_ms[WARMUP:]
    overhead = [t - a for t, a in zip(total, agent, strict=True)]
    return {
        "bench": "console_overhead",
        "messages": MESSAGES,
        "end_to_end_ms_p50": round(statistics.median(total), 3),
        "end_to_end_ms_p95": round(sorted(total)[int(len(total) * 0.95)], 3),
        "agent_ms_p50": round(statistics.median(agent), 3),
        "engine_overhead_ms_p50": round(statistics.median(overhead), 3),
        "engine_overhead_ms_p95": round(sorted(overhead)[int(len(overhead) * 0.95)], 3),
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {platform.node()}",
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
