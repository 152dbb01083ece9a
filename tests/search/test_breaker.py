"""The search circuit breaker: opens after repeated failures, lets one trial through
after the cool-down, closes on success."""

from __future__ import annotations

import pytest

from search.breaker import CircuitBreaker, CircuitOpen


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def fail() -> int:
    raise ConnectionError("engine hangs")


async def succeed() -> int:
    return 7


async def test_the_breaker_opens_then_tries_once_after_the_cool_down() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures_to_open=2, cool_down=10, clock=clock)
    for _ in range(2):
        with pytest.raises(ConnectionError):
            await breaker.call(fail)
    with pytest.raises(CircuitOpen):
        await breaker.call(succeed)  # not even tried
    clock.now = 11
    with pytest.raises(ConnectionError):
        await breaker.call(fail)  # the trial fails: open again at once
    with pytest.raises(CircuitOpen):
        await breaker.call(succeed)
    clock.now = 22
    assert await breaker.call(succeed) == 7
    assert not breaker.is_open
    with pytest.raises(ConnectionError):
        await breaker.call(fail)  # one failure after recovery does not open it
    assert await breaker.call(succeed) == 7
