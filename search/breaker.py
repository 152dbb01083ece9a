"""A circuit breaker for an external search engine.

A hanging engine would make every search wait for the client's timeout. After a few
failures in a row the breaker opens: searches fail at once (the service answers 503 with
Retry-After) until a cool-down has passed, when one trial call is let through.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class CircuitOpen(RuntimeError):
    """The engine failed repeatedly just now; not tried again until the cool-down ends."""


class CircuitBreaker:
    def __init__(
        self,
        failures_to_open: int = 3,
        cool_down: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failures_to_open = failures_to_open
        self.cool_down = cool_down
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None

    @property
    def is_open(self) -> bool:
        if self._opened_at is None:
            return False
        return self._clock() - self._opened_at < self.cool_down

    async def call(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run `attempt` unless the circuit is open; count its failures."""
        if self.is_open:
            raise CircuitOpen("the search engine failed repeatedly; waiting before retrying")
        try:
            result = await attempt()
        except Exception:
            self._failures += 1
            if self._failures >= self.failures_to_open or self._opened_at is not None:
                self._opened_at = self._clock()  # (re)open: a failed trial waits again
            raise
        self._failures, self._opened_at = 0, None
        return result
