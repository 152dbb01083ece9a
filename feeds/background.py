"""BackgroundLoop: one asyncio task that runs a step, waits, and runs it again.

The shape every background worker in the app shares: the audit sealer, the live hub,
the velocity watcher and the search outbox drainer:

    loop = BackgroundLoop("jigsaw-sealer", sealer.step, interval=0.5)
    loop.start()          # from the app lifespan, after the database is initialised
    loop.wake()           # optional: run the next step now rather than after `interval`
    await loop.stop(grace=5.0)  # on shutdown

Stopping, the one strategy: set the stop flag and wake the loop, so a step in progress
finishes and no new one starts; wait at most `grace` seconds for that; only then cancel
the task and await it. A step is therefore cancelled only when it overruns the grace period
(cancelling mid-transaction can leave a connection's transaction open, so the graceful
path comes first).

A step that raises is logged with its traceback and tried again after `interval`; the
loop itself only ends through stop().
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("jigsaw.background")

Step = Callable[[], Awaitable[object]]


class BackgroundLoop:
    """Runs `step` every `interval` seconds (sooner when woken) until stopped."""

    def __init__(self, name: str, step: Step, interval: float) -> None:
        self.name = name
        self.step = step
        self.interval = interval
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def stopping(self) -> bool:
        """True once stop() was asked: a long step can end early."""
        return self._stopping

    def start(self) -> None:
        """Start the task (in the caller's context, so it sees the caller's database)."""
        if self.running:
            raise RuntimeError(f"{self.name} is already running")
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=self.name)

    def wake(self) -> None:
        """Run the next step without waiting for the rest of the interval."""
        self._wake.set()

    async def stop(self, grace: float = 5.0) -> bool:
        """Let the current step finish (up to `grace` seconds), then cancel. Returns
        True when the loop ended by itself, False when it had to be cancelled."""
        task, self._task = self._task, None
        if task is None:
            return True
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), grace)
            return True
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return False

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self.step()
            except Exception:
                log.exception("%s: step failed; trying again in %.1f s", self.name, self.interval)
            if self._stopping:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
