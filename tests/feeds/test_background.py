"""BackgroundLoop (feeds/background.py): steps, wake-ups, failures, and the one way it stops."""

from __future__ import annotations

import asyncio
import logging

import pytest

from feeds.background import BackgroundLoop

NEVER = 3600.0  # an interval no test waits for: only wake() or start() runs a step
BOUND = 10.0  # generous bound for "soon"; no test asserts on timing


class Steps:
    """A step that counts its runs and lets a test wait for the n-th."""

    def __init__(self) -> None:
        self.runs = 0
        self.ran = asyncio.Event()

    async def __call__(self) -> None:
        self.runs += 1
        self.ran.set()

    async def wait_for(self, runs: int) -> None:
        async def reached() -> None:
            while self.runs < runs:
                self.ran.clear()
                await self.ran.wait()

        await asyncio.wait_for(reached(), BOUND)


async def test_the_first_step_runs_at_start_and_wake_runs_the_next_without_waiting() -> None:
    steps = Steps()
    loop = BackgroundLoop("test", steps, interval=NEVER)
    loop.start()
    await steps.wait_for(1)
    loop.wake()
    await steps.wait_for(2)
    assert steps.runs == 2
    assert await loop.stop(grace=BOUND) is True
    assert not loop.running


async def test_a_failing_step_is_logged_and_tried_again(caplog: pytest.LogCaptureFixture) -> None:
    steps = Steps()

    async def flaky() -> None:
        await steps()
        if steps.runs == 1:
            raise RuntimeError("database away")

    loop = BackgroundLoop("flaky", flaky, interval=0.01)
    with caplog.at_level(logging.ERROR, logger="jigsaw.background"):
        loop.start()
        await steps.wait_for(2)
        await loop.stop(grace=BOUND)
    failures = [r for r in caplog.records if "flaky: step failed" in r.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info is not None


async def test_stop_lets_the_step_in_progress_finish_and_starts_no_other() -> None:
    entered, release, finished = asyncio.Event(), asyncio.Event(), []

    async def slow() -> None:
        entered.set()
        await release.wait()
        finished.append(True)

    loop = BackgroundLoop("slow", slow, interval=0.0)
    loop.start()
    await asyncio.wait_for(entered.wait(), BOUND)
    stopping = asyncio.create_task(loop.stop(grace=BOUND))
    await asyncio.sleep(0)
    release.set()
    assert await stopping is True  # ended by itself, not cancelled
    assert finished == [True]


async def test_stop_cancels_a_step_that_overruns_the_grace_period() -> None:
    entered, outcome = asyncio.Event(), []

    async def stuck() -> None:
        entered.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise

    loop = BackgroundLoop("stuck", stuck, interval=NEVER)
    loop.start()
    await asyncio.wait_for(entered.wait(), BOUND)
    assert await loop.stop(grace=0.01) is False
    assert outcome == ["cancelled"] and not loop.running


async def test_stop_does_not_wait_out_the_interval() -> None:
    steps = Steps()
    loop = BackgroundLoop("idle", steps, interval=NEVER)
    loop.start()
    await steps.wait_for(1)
    # Waiting for an hour-long interval would overrun the grace and need a cancel.
    assert await loop.stop(grace=BOUND) is True
    assert steps.runs == 1


async def test_a_loop_starts_once_and_can_start_again_after_stopping() -> None:
    steps = Steps()
    loop = BackgroundLoop("twice", steps, interval=NEVER)
    loop.start()
    with pytest.raises(RuntimeError):
        loop.start()
    await loop.stop(grace=BOUND)
    assert await loop.stop(grace=BOUND) is True  # stopping a stopped loop is harmless
    loop.start()
    await steps.wait_for(2)
    await loop.stop(grace=BOUND)
