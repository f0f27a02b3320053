"""The event bus: bounded per-subscriber queues that drop only progress lines."""

import asyncio

from hermes_gateway.core.bus import EventBus
from hermes_gateway.core.events import EngineError, ToolProgress


def progress(i: int) -> ToolProgress:
    return ToolProgress("k", "terminal", "💻", f"step {i}", "started")


async def test_subscriber_receives_events_in_order():
    bus = EventBus()
    sub = bus.subscribe()
    for i in range(3):
        bus.publish(progress(i))
    got = [await asyncio.wait_for(sub.get(), 1) for _ in range(3)]
    assert [e.preview for e in got] == ["step 0", "step 1", "step 2"]


def test_lagging_subscriber_drops_oldest_progress_but_keeps_errors():
    bus = EventBus()
    sub = bus.subscribe(maxsize=3)
    bus.publish(EngineError("first error"))
    for i in range(10):
        bus.publish(progress(i))
    bus.publish(EngineError("second error"))
    items = []
    while (event := sub.get_nowait()) is not None:
        items.append(event)
    errors = [e.message for e in items if isinstance(e, EngineError)]
    assert errors == ["first error", "second error"]
    assert len(items) <= 4 and sub.dropped >= 8
    assert items[-2].preview == "step 9"  # the newest progress survives


def test_queue_stays_bounded_however_many_progress_lines_arrive():
    bus = EventBus()
    sub = bus.subscribe(maxsize=100)
    for i in range(100_000):
        bus.publish(progress(i))
    assert len(sub._items) == 100


def test_closed_subscription_stops_receiving():
    bus = EventBus()
    sub = bus.subscribe()
    sub.close()
    bus.publish(EngineError("x"))
    assert sub.get_nowait() is None


def test_listener_failure_does_not_break_publishing():
    bus = EventBus()
    seen = []

    def broken(event):
        raise RuntimeError("boom")

    bus.listen(broken)
    bus.listen(seen.append)
    bus.publish(EngineError("x"))
    assert len(seen) == 1
