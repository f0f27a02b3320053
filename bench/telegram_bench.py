"""`hermes gateway --headless` on Telegram against a floor bot (bench/floor_bot.py), as ratios.

Both targets run as subprocesses against the same two loopback peers (the Telegram Bot API peer
and the OpenAI-compatible peer answering with the offline responder), reset between targets.
The gateway runs with its default settings (streaming on; the adapter's Telegram send limits,
1 message/s per chat with a small burst and 25/s overall) unless --no-streaming or
--no-rate-limits says otherwise; the floor never limits itself.
Per target and run:
  startup       process spawn → the peer's first getUpdates
  warm-up       3 messages in one chat (first_reply_ms is the first of them)
  sequential    50 messages in one chat, each sent when the previous final reply is visible
  concurrent    50 chats × 4 messages, closed loop: every chat's first message is injected at
                once, each chat's next one when its previous final reply is visible (so no
                message lands on a busy session); throughput = final replies / (last final
                reply − first inject)
  latency       inject (just before POST /_peer/message) → the first bot operation whose text
                is the final answer: complete, no streaming cursor (a sendMessage, or the edit
                that finished a streamed reply). *_first_visible_*: → the first operation
                quoting the message at all (a streamed reply's first version).
  CPU           utime+stime of the process tree over sequential + concurrent, per message
  peak RSS      summed VmRSS of the process tree, sampled every 50 ms from spawn to exit
  lost          no final answer within 30 s; duplicated: more than one bot message carrying
                the final answer; late: final answer after more than 5 s
  SIGTERM       time until the process exits, its exit code (SIGKILL after 15 s)
Times from the peer (`at`, `first_get_updates_at`) are CLOCK_MONOTONIC, which on Linux is one
clock for every process on the machine, so they are compared with this process's
time.monotonic() directly; that is checked against the peer's `started_at` at start, and if it
does not hold, the bench's own observation times are used instead (reported as "clock").

    .venv/bin/python bench/telegram_bench.py [--runs N] [--no-streaming] [--no-rate-limits]

With --runs N each figure is the median over N runs (lost/duplicated/late are summed); the order
of the two targets alternates between runs. Exits 1 only when something broke (a target did not
start, stopped answering, or a peer failed), never because a figure is poor."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from bench._procs import Child, RssSampler, terminate_timed, tree_cpu_seconds  # noqa: E402
from tests.peers.fixtures import Peer, start_peer  # noqa: E402

TOKEN = "123456:BENCH-TOKEN"
WARMUP, SEQUENTIAL, CHATS, PER_CHAT = 3, 50, 50, 4
WARM_CHAT, SEQ_CHAT, CHAT_BASE = 7_000_001, 7_000_002, 7_100_000
USERS = [WARM_CHAT, SEQ_CHAT, *(CHAT_BASE + i for i in range(CHATS))]
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
GRACE = 1.0  # after the load: time for a duplicate or a late edit to show up
MAX_LOST_IN_A_ROW = 3  # in the sequential phase: the target stopped answering
ADAPTER_DIR = REPO / "src" / "hermes_gateway" / "platforms" / "telegram"
MARK = re.compile(r"M(\d+)Z")  # "bench message M17Z": plain letters survive any escaping
# The offline responder's answer ends with this sentence. A streamed reply shows a cursor (or a
# partial text) after it until its final edit, so "ends with" tells the final version apart.
FINAL_END = "then restart the gateway."
MARKUP = re.compile(r"<[^>]*>|\\")  # HTML tags and MarkdownV2 escapes


def is_final(text: str) -> bool:
    return MARKUP.sub("", text).rstrip().endswith(FINAL_END)


class TargetFailed(RuntimeError):
    pass


def nearest_rank(values: list[float | None], q: float) -> float | None:
    """The q-quantile by nearest rank over the answered messages (p99 of 50 is the maximum)."""
    done = sorted(v for v in values if v is not None)
    return done[max(0, -(-int(q * 1000) * len(done) // 1000) - 1)] if done else None


class Replies:
    """Injects user messages through the Telegram peer and follows every bot operation it
    records (one long poll on /_peer/wait). Per message: when its answer first became visible
    (any sendMessage/edit quoting it) and when its final text did (the complete answer with
    no streaming cursor, by sendMessage or by the last edit)."""

    lost_after = 30.0
    late_after = 5.0

    def __init__(self, http: httpx.AsyncClient, peer_clock: bool) -> None:
        self.http = http
        self.peer_clock = peer_clock
        self.seq = 0
        self.injected: dict[int, float] = {}
        self.first: dict[int, float] = {}
        self.final: dict[int, float] = {}
        self.carriers: dict[int, set[tuple[str, str]]] = defaultdict(set)
        self.waiters: dict[int, asyncio.Future] = {}
        self.ops: Counter[str] = Counter()

    async def roundtrip(self, chat_id: int) -> int:
        """Inject one message and wait (up to lost_after) for its final answer; its mark."""
        mark = len(self.injected) + 1
        self.waiters[mark] = asyncio.get_running_loop().create_future()
        body = {
            "chat_id": chat_id,
            "user_id": chat_id,
            "chat_type": "private",
            "first_name": "Bench",
            "text": f"bench message M{mark}Z",
        }
        self.injected[mark] = time.monotonic()
        (await self.http.post("/_peer/message", json=body)).raise_for_status()
        try:
            await asyncio.wait_for(self.waiters[mark], self.lost_after)
        except TimeoutError:
            pass
        return mark

    def latency(self, mark: int, first: bool = False) -> float | None:
        """Seconds from inject to the (first visible or final) answer; None when lost."""
        at = (self.first if first else self.final).get(mark)
        value = None if at is None else at - self.injected[mark]
        return value if value is not None and value <= self.lost_after else None

    async def collect(self) -> None:
        while True:
            try:
                params = {"since": self.seq, "count": 1, "timeout": 1}
                response = await self.http.get("/_peer/wait", params=params)
                response.raise_for_status()
            except httpx.HTTPError:
                await asyncio.sleep(0.05)
                continue
            seen = time.monotonic()
            for op in sorted(response.json(), key=lambda o: o["seq"]):
                if op["seq"] > self.seq:
                    self.seq = op["seq"]
                    self._apply(op, seen)

    def _apply(self, op: dict, seen: float) -> None:
        method = str(op.get("method"))
        self.ops[method] += 1
        text = op.get("text") or ""
        found = MARK.search(text)
        if method not in ("sendMessage", "editMessageText") or not found:
            return
        mark = int(found.group(1))
        at = op.get("at")
        at = at if self.peer_clock and isinstance(at, (int, float)) else seen
        self.first.setdefault(mark, at)
        if not is_final(text):
            return
        self.carriers[mark].add((str(op.get("chat_id")), str(op.get("message_id"))))
        self.final.setdefault(mark, at)
        waiter = self.waiters.get(mark)
        if waiter is not None and not waiter.done():
            waiter.set_result(at)

    def verdicts(self) -> dict[str, int]:
        final = [self.latency(m) for m in self.injected]
        return {
            "lost": sum(1 for v in final if v is None),
            "duplicated": sum(1 for c in self.carriers.values() if len(c) > 1),
            "late": sum(1 for v in final if v is not None and v > self.late_after),
        }

    def ops_per_message(self) -> dict[str, float]:
        n = max(1, len(self.injected))
        return {method: round(count / n, 2) for method, count in sorted(self.ops.items())}


def _clean_env() -> dict[str, str]:
    """The caller's environment minus anything that would override the bench's settings
    (the process environment wins over .env) or route loopback traffic through a proxy."""
    drop = ("TELEGRAM_", "HERMES_", "GATEWAY_", "OPENAI_", "OPENROUTER_", "ANTHROPIC_", "NOUS_")
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(drop) and "PROXY" not in k.upper()
    }
    env.update(PYTHONUNBUFFERED="1", NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    return env


def gateway_child(
    home: Path,
    telegram: Peer,
    openai: Peer,
    streaming: bool,
    limits: bool,
    embedded_tui: bool = False,
) -> Child:
    if not ADAPTER_DIR.is_dir():
        raise TargetFailed(
            "the Telegram adapter is not there yet (src/hermes_gateway/platforms/telegram/ is "
            "missing), so the gateway cannot poll Telegram; only the floor was measured."
        )
    home.mkdir(parents=True)
    bot = f"{telegram.url}/bot"
    (home / "config.yaml").write_text(
        f"model:\n  provider: custom\n  base_url: {openai.url}/v1\n  default: bench-model\n"
        'display:\n  tool_progress: "off"\n'
        # Until TELEGRAM_BASE_URL is wired into the adapter settings, the adapter reads these.
        f"platforms:\n  telegram:\n    extra:\n      base_url: {bot}\n"
        f"      base_file_url: {telegram.url}/file/bot\n"
        + ("" if limits else "      per_chat_rate: 0\n      global_rate: 0\n")
        + ("" if streaming else "streaming:\n  enabled: false\n")
    )
    (home / ".env").write_text(
        f"TELEGRAM_BOT_TOKEN={TOKEN}\nTELEGRAM_ALLOWED_USERS={','.join(map(str, USERS))}\n"
        f"TELEGRAM_BASE_URL={bot}\n"
    )
    argv = [sys.executable, "-m", "hermes_gateway", "gateway", "--headless"]
    if embedded_tui:  # the same engine inside a running TUI (headless Textual driver)
        argv = [sys.executable, str(REPO / "bench" / "tui_embedded.py")]
    return Child(
        "the TUI with an embedded engine" if embedded_tui else "the gateway",
        argv,
        {**_clean_env(), "HERMES_HOME": str(home)},
        REPO,
        hint="Check that the Telegram adapter connects (its status line below).",
    )


def floor_child(telegram: Peer, openai: Peer) -> Child:
    argv = [
        sys.executable,
        str(REPO / "bench" / "floor_bot.py"),
        "--telegram",
        telegram.url,
        "--openai",
        f"{openai.url}/v1",
        "--model",
        "bench-model",
    ]
    return Child("the floor bot", argv, {**_clean_env(), "FLOOR_BOT_TOKEN": TOKEN}, REPO)


async def _first_poll(http: httpx.AsyncClient, target: Child, t_spawn: float, peer_clock: bool):
    """Seconds from spawn to the target's first getUpdates, and which clock measured it."""
    deadline = t_spawn + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        stats = (await http.get("/_peer/stats")).raise_for_status().json()
        seen = time.monotonic()
        if stats.get("get_updates_calls", 0) > 0:
            at = stats.get("first_get_updates_at")
            if peer_clock and isinstance(at, (int, float)) and at >= t_spawn:
                return at - t_spawn, "peer"
            return seen - t_spawn, "observed"
        if target.proc.poll() is not None:
            raise TargetFailed(
                f"{target.name} exited with code {target.proc.returncode} before "
                f"its first getUpdates.\n{target.log_tail()}"
            )
        await asyncio.sleep(0.005)
    raise TargetFailed(
        f"{target.name} made no getUpdates call within {STARTUP_TIMEOUT:g} s of "
        f"starting. {target.hint}\n{target.log_tail()}"
    )


async def _wait_idle(http: httpx.AsyncClient) -> None:
    """The previous target's long poll may still be open in the peer; a new poller would get
    409 Conflict until it ends, which is not the new target's startup cost."""
    deadline = time.monotonic() + 40.0
    while time.monotonic() < deadline:
        stats = (await http.get("/_peer/stats")).raise_for_status().json()
        if not stats.get("in_flight_get_updates"):
            return
        await asyncio.sleep(0.05)
    raise TargetFailed("the Telegram peer still holds a getUpdates from the previous target.")


def _percentiles(replies: Replies, marks: list[int], prefix: str) -> dict[str, Any]:
    final = [replies.latency(m) for m in marks]
    return {
        f"{prefix}_p50_ms": _ms(nearest_rank(final, 0.50)),
        f"{prefix}_p95_ms": _ms(nearest_rank(final, 0.95)),
        f"{prefix}_p99_ms": _ms(nearest_rank(final, 0.99)),
        f"{prefix}_first_visible_p50_ms": _ms(
            nearest_rank([replies.latency(m, first=True) for m in marks], 0.50)
        ),
    }


async def _load(replies: Replies, target: Child) -> dict[str, Any]:
    warm = [await replies.roundtrip(WARM_CHAT) for _ in range(WARMUP)]
    cpu0 = tree_cpu_seconds(target.proc.pid)
    sequential: list[int] = []
    for _ in range(SEQUENTIAL):
        sequential.append(await replies.roundtrip(SEQ_CHAT))
        recent = sequential[-MAX_LOST_IN_A_ROW:]
        if len(recent) == MAX_LOST_IN_A_ROW and all(replies.latency(m) is None for m in recent):
            raise TargetFailed(
                f"{target.name} stopped answering: {MAX_LOST_IN_A_ROW} messages in a row got "
                f"no final reply within {replies.lost_after:g} s.\n{target.log_tail()}"
            )

    async def chat(chat_id: int) -> list[int]:
        return [await replies.roundtrip(chat_id) for _ in range(PER_CHAT)]

    first_inject = time.monotonic()
    concurrent = [
        m for ms in await asyncio.gather(*(chat(CHAT_BASE + i) for i in range(CHATS))) for m in ms
    ]
    cpu1 = tree_cpu_seconds(target.proc.pid)
    answered = [replies.final[m] for m in concurrent if replies.latency(m) is not None]
    span = max(answered, default=first_inject) - first_inject
    return {
        "first_reply_ms": _ms(replies.latency(warm[0])),
        **_percentiles(replies, sequential, "seq"),
        **_percentiles(replies, concurrent, "conc"),
        "throughput_msg_s": round(len(answered) / span, 1) if span > 0 else None,
        "cpu_ms_per_msg": round((cpu1 - cpu0) * 1000 / (len(sequential) + len(concurrent)), 2),
    }


async def measure(target: Child, telegram: Peer, openai: Peer, peer_clock: bool) -> dict:
    async with (
        httpx.AsyncClient(base_url=telegram.url, timeout=10.0, trust_env=False) as http,
        httpx.AsyncClient(base_url=openai.url, timeout=10.0, trust_env=False) as model,
    ):
        (await http.post("/_peer/reset")).raise_for_status()
        (await model.post("/_peer/reset")).raise_for_status()
        await _wait_idle(http)
        t_spawn = time.monotonic()
        proc = target.start()
        sampler = RssSampler(proc.pid).start()
        replies = Replies(http, peer_clock)
        collector = None
        try:
            startup, clock = await _first_poll(http, target, t_spawn, peer_clock)
            collector = asyncio.create_task(replies.collect())
            figures = await _load(replies, target)
            await asyncio.sleep(GRACE)
            collector.cancel()
            stop_s, code, killed = await asyncio.to_thread(terminate_timed, proc, STOP_TIMEOUT)
            peak = sampler.stop()
        finally:
            if collector is not None:
                collector.cancel()
            sampler.stop()
            target.close()
    return {
        "startup_ms": _ms(startup),
        "startup_clock": clock,
        **figures,
        "peak_rss_mib": round(peak / 1024, 1),
        **replies.verdicts(),
        "ops_per_message": replies.ops_per_message(),
        "sigterm_exit_ms": _ms(stop_s),
        "sigterm_exit_code": code,
        "sigterm_killed": killed,
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def _median(runs: list[dict]) -> dict:
    """Figures of N runs: medians of numbers, sums of counts, lists of exit codes."""
    out: dict[str, Any] = {}
    for key, first in runs[0].items():
        values = [r[key] for r in runs if r.get(key) is not None]
        if key in ("lost", "duplicated", "late"):
            out[key] = sum(values)
        elif key in ("sigterm_exit_code", "startup_clock", "sigterm_killed"):
            out[key] = sorted(set(values), key=str) if len(runs) > 1 else first
        elif isinstance(first, dict):
            out[key] = _median([r[key] for r in runs])
        elif values and all(isinstance(v, (int, float)) for v in values):
            out[key] = round(statistics.median(values), 2)
        else:
            out[key] = first
    return out


RATIOS = (
    "startup_ms",
    "first_reply_ms",
    "seq_p50_ms",
    "seq_p99_ms",
    "conc_p50_ms",
    "conc_p99_ms",
    "cpu_ms_per_msg",
    "peak_rss_mib",
)


def _ratios(ours: dict, floor: dict) -> dict:
    """ours / floor (lower is better) for times, CPU and memory; throughput the other way
    round, ours / floor, so that higher is better for every figure named *_over_floor."""
    out: dict[str, float | None] = {}
    for key in RATIOS:
        a, b = ours.get(key), floor.get(key)
        out[f"{key.removesuffix('_ms')}_ours_over_floor"] = (
            round(a / b, 2) if isinstance(a, (int, float)) and b else None
        )
    a, b = ours.get("throughput_msg_s"), floor.get("throughput_msg_s")
    out["throughput_ours_over_floor_higher_is_better"] = (
        round(a / b, 2) if isinstance(a, (int, float)) and b else None
    )
    return out


async def bench(
    runs: int, streaming: bool, limits: bool, compare: str = "floor"
) -> tuple[dict, bool]:
    """`ours` (hermes gateway --headless) against `compare`: the floor bot, or "tui" — the same
    engine embedded in a running TUI (the ratio issue 5 asks for)."""
    t0 = time.monotonic()
    telegram = start_peer("tests.peers.telegram_peer", "--token", TOKEN)
    t1 = time.monotonic()
    openai = None
    results: dict[str, list[dict]] = {"ours": [], "floor": []}
    errors: list[str] = []
    try:
        openai = start_peer("tests.peers.openai_peer")
        started = httpx.get(f"{telegram.url}/_peer/stats", trust_env=False).json().get("started_at")
        peer_clock = isinstance(started, (int, float)) and t0 - 0.5 <= started <= t1 + 0.5
        for run in range(runs):
            order = ["ours", "floor"] if run % 2 == 0 else ["floor", "ours"]
            for name in order:
                try:
                    with tempfile.TemporaryDirectory(prefix="hermes-bench-") as tmp:
                        home = Path(tmp) / "home"
                        if name == "ours":
                            target = gateway_child(home, telegram, openai, streaming, limits)
                        elif compare == "tui":
                            target = gateway_child(
                                home, telegram, openai, streaming, limits, embedded_tui=True
                            )
                        else:
                            target = floor_child(telegram, openai)
                        figures = await measure(target, telegram, openai, peer_clock)
                    results[name].append(figures)
                except TargetFailed as exc:
                    errors.append(f"run {run + 1}, {name}: {exc}")
    finally:
        for peer in (openai, telegram):
            if peer is not None:
                peer.stop()
    ours = _median(results["ours"]) if results["ours"] else {}
    floor = _median(results["floor"]) if results["floor"] else {}
    report = {
        "bench": "telegram",
        "runs": runs,
        "load": {
            "warmup": WARMUP,
            "sequential": SEQUENTIAL,
            "concurrent_chats": CHATS,
            "per_chat": PER_CHAT,
            "concurrent_mode": "closed loop per chat",
            "lost_after_s": Replies.lost_after,
            "late_after_s": Replies.late_after,
        },
        "gateway_streaming": "on (default)" if streaming else "off (--no-streaming)",
        "gateway_rate_limits": "on (default)" if limits else "off (--no-rate-limits)",
        "floor_is": "the TUI with the engine embedded" if compare == "tui" else "floor_bot.py",
        "clock": "CLOCK_MONOTONIC shared with the peer" if peer_clock else "bench observation",
        "ours": ours,
        "floor": floor,
        "ratios": _ratios(ours, floor) if ours and floor else {},
        "errors": errors,
    }
    return report, not errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="repeat N times, report medians")
    parser.add_argument(
        "--no-streaming", action="store_true", help="run the gateway with streaming.enabled false"
    )
    parser.add_argument(
        "--no-rate-limits",
        action="store_true",
        help="run the gateway with the Telegram adapter's send limits off (as the floor)",
    )
    parser.add_argument(
        "--compare",
        choices=("floor", "tui"),
        default="floor",
        help="what 'floor' is: the python-telegram-bot floor bot, or the engine embedded in "
        "a running TUI (then the throughput ratio is headless / embedded inverted: higher is "
        "better for the TUI)",
    )
    args = parser.parse_args(argv)
    try:
        report, ok = asyncio.run(
            bench(max(1, args.runs), not args.no_streaming, not args.no_rate_limits, args.compare)
        )
    except Exception as exc:  # a peer failed: still one JSON line, and a non-zero exit
        report, ok = {"bench": "telegram", "errors": [f"{type(exc).__name__}: {exc}"]}, False
    print(json.dumps(report, ensure_ascii=False))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
