"""Wall time of `hermes --help` (median of 20 runs) and which heavy modules it imports.
Prints one JSON line."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

RUNS = 20
HEAVY = ("httpx", "rich", "ruamel", "textual", "questionary", "aiohttp", "sqlite3")


def main() -> dict:
    hermes = os.path.join(os.path.dirname(sys.executable), "hermes")
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run([hermes, "--help"], check=True, stdout=subprocess.DEVNULL)
        times.append((time.perf_counter() - started) * 1000)
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from hermes_gateway.cli import build_parser; build_parser().format_help();"
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    baseline = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        baseline.append((time.perf_counter() - started) * 1000)
    return {
        "bench": "cli_startup",
        "runs": RUNS,
        "hermes_help_ms_p50": round(statistics.median(times), 1),
        "python_startup_ms_p50": round(statistics.median(baseline), 1),
        "heavy_modules_imported": probe.stdout.strip().split(",") if probe.stdout.strip() else [],
    }


if __name__ == "__main__":
    print(json.dumps(main()))
