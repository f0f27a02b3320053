"""The session lane: one turn at a time; interrupts merge, queue mode waits, /stop drops."""

import asyncio

from hermes_gateway.sessions.lane import Lane, TurnControl


class Recorder:
    """A turn that runs until released, recording its batch and how it ended."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.endings: list[str] = []
        self.release = asyncio.Event()
        self.started = asyncio.Event()

    async def __call__(self, batch, control: TurnControl) -> None:
        self.batches.append(list(batch))
        self.started.set()
        try:
            await self.release.wait()
            self.endings.append("done")
        except asyncio.CancelledError:
            if not control.cancelled_by_lane:
                raise
            self.endings.append(control.reason)


async def test_idle_lane_starts_a_turn_at_once():
    turn = Recorder()
    lane = Lane("k", turn)
    assert lane.submit("a") == "started"
    await turn.started.wait()
    turn.release.set()
    await lane.wait_idle()
    assert turn.batches == [["a"]] and turn.endings == ["done"]


async def test_second_message_during_turn_interrupts_and_merges():
    turn = Recorder()
    lane = Lane("k", turn)
    lane.submit("a")
    await turn.started.wait()
    assert lane.submit("b") == "interrupting"
    assert lane.submit("c") == "queued"  # already interrupting: merged, not a second interrupt
    turn.release.set()
    await lane.wait_idle()
    assert turn.batches == [["a"], ["b", "c"]]
    assert turn.endings == ["interrupt", "done"]


async def test_queue_mode_keeps_the_running_turn_and_merges_what_waited():
    turn = Recorder()
    lane = Lane("k", turn, busy_mode="queue")
    lane.submit("a")
    await turn.started.wait()
    assert lane.submit("b") == "queued"
    assert lane.submit("c") == "queued"
    turn.release.set()
    await lane.wait_idle()
    assert turn.batches == [["a"], ["b", "c"]]
    assert turn.endings == ["done", "done"]


async def test_stop_interrupts_without_a_follow_up_and_returns_dropped_items():
    turn = Recorder()
    lane = Lane("k", turn, busy_mode="queue")
    lane.submit("a")
    await turn.started.wait()
    lane.submit("b")
    assert lane.stop() == ["b"]
    await lane.wait_idle()
    assert turn.batches == [["a"]] and turn.endings == ["stop"]
    assert not lane.busy


async def test_shutdown_cancel_is_not_mistaken_for_an_interrupt():
    turn = Recorder()
    lane = Lane("k", turn)
    lane.submit("a")
    await turn.started.wait()
    lane.cancel()
    await asyncio.sleep(0.01)
    assert turn.endings == [] and not lane.busy
