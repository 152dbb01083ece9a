"""Housekeeping every worker runs beside the app: time partitions (feeds/partitions.py).

`ensure` runs at start and then daily; it is idempotent and serialised across workers by
an advisory lock, so every worker may run it. On SQLite it does nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from feeds import partitions
from feeds.background import BackgroundLoop

DAILY = 24 * 3600.0


async def _ensure() -> None:
    await partitions.ensure()


@asynccontextmanager
async def partitions_lifespan() -> AsyncIterator[BackgroundLoop]:
    """Create the coming months' partitions now and once a day while the app runs."""
    loop = BackgroundLoop("jigsaw-partitions", _ensure, DAILY)
    loop.start()
    try:
        yield loop
    finally:
        await loop.stop()
