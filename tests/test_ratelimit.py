"""Token-bucket limits per chat and per platform; a blocked chat holds only itself."""

import asyncio

from hermes_gateway.delivery.ratelimit import RateLimiter

WAIT = 10.0  # an upper bound on a loaded machine, never a speed assertion


async def settle(rounds: int = 20) -> None:
    """Let every task that can run, run."""
    for _ in range(rounds):
        await asyncio.sleep(0)


async def test_unlimited_never_waits():
    limiter = RateLimiter(0, 0)
    for _ in range(200):
        await asyncio.wait_for(limiter.acquire("chat"), WAIT)


async def test_a_burst_goes_at_once_then_waiters_queue():
    limiter = RateLimiter(
        per_chat=0.001, global_=0, burst=2
    )  # one token per 1000 s after the burst
    await limiter.acquire("a")
    await limiter.acquire("a")
    third = asyncio.create_task(limiter.acquire("a"))
    await settle()
    assert not third.done()
    third.cancel()


async def test_waiters_are_woken_in_arrival_order():
    limiter = RateLimiter(per_chat=500, global_=0, burst=1)
    order: list[int] = []

    async def take(n: int) -> None:
        await limiter.acquire("chat")
        order.append(n)

    await asyncio.wait_for(asyncio.gather(*(take(n) for n in range(8))), WAIT)
    assert order == list(range(8))


async def test_a_blocked_chat_does_not_hold_other_chats():
    limiter = RateLimiter(per_chat=0, global_=0)
    limiter.block("a", 600)
    blocked = asyncio.create_task(limiter.acquire("a"))
    await asyncio.wait_for(limiter.acquire("b"), WAIT)  # chat b goes while a is blocked
    await settle()
    assert not blocked.done()
    blocked.cancel()


async def test_a_block_ends():
    limiter = RateLimiter(per_chat=0, global_=0)
    limiter.block("a", 0.01)
    await asyncio.wait_for(limiter.acquire("a"), WAIT)


async def test_block_all_holds_every_chat():
    limiter = RateLimiter(per_chat=0, global_=0)
    limiter.block_all(600)
    waiting = [asyncio.create_task(limiter.acquire(chat)) for chat in ("a", "b")]
    await settle()
    assert not any(task.done() for task in waiting)
    for task in waiting:
        task.cancel()


async def test_a_cancelled_waiter_does_not_stall_the_queue():
    limiter = RateLimiter(per_chat=500, global_=0, burst=1)
    await limiter.acquire("c")  # spend the burst so the next ones queue
    order: list[str] = []

    async def take(name: str) -> None:
        await limiter.acquire("c")
        order.append(name)

    first = asyncio.create_task(take("first"))
    middle = asyncio.create_task(take("middle"))
    last = asyncio.create_task(take("last"))
    await asyncio.sleep(0)
    middle.cancel()
    await asyncio.wait_for(asyncio.gather(first, last), WAIT)
    assert order == ["first", "last"]


async def test_the_global_limit_is_shared_by_all_chats():
    limiter = RateLimiter(per_chat=0, global_=0.001, burst=1)  # one platform slot, then 1000 s
    await limiter.acquire("a")
    other = asyncio.create_task(limiter.acquire("b"))
    await settle()
    assert not other.done()
    other.cancel()


async def test_a_waiting_limiter_sleeps_instead_of_polling():
    calls = 0

    def clock() -> float:
        nonlocal calls
        calls += 1
        return 0.0  # time stands still: a polling limiter would read the clock endlessly

    limiter = RateLimiter(per_chat=0, global_=0, clock=clock)
    limiter.block("a", 600)
    waiting = asyncio.create_task(limiter.acquire("a"))
    await settle()
    reads = calls
    await settle(200)
    assert calls == reads and not waiting.done()
    waiting.cancel()


async def test_idle_chats_are_forgotten_beyond_the_bound():
    from hermes_gateway.delivery import ratelimit

    limiter = RateLimiter(per_chat=0, global_=0)
    for n in range(ratelimit.MAX_IDLE_CHATS + 10):
        await limiter.acquire(str(n))
    assert len(limiter._chats) <= ratelimit.MAX_IDLE_CHATS
