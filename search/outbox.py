"""The outbox relay: send each changed post's current state to the index, with retries.

feeds/feed/posting.py writes a SearchOutbox row in the same transaction as the change. Here
rows are claimed (FOR UPDATE SKIP LOCKED on PostgreSQL, so several workers can drain),
the post's state *now* is sent (indexed if visible, removed otherwise) and the row is
marked processed only when the engine accepted it; failures count attempts and keep
the last error. A search engine outage therefore loses nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from feeds.background import BackgroundLoop
from feeds.clock import utcnow
from feeds.db import PLAIN_INDEX_SCAN
from feeds.models import Post, SearchOutbox
from search.base import PostDoc, SearchIndex
from search.reconcile import RECONCILE_EVERY, reconcile

log = logging.getLogger("jigsaw.search")
BATCH = 200
MAX_ERROR = 500


async def _claim(conn: BaseDBAsyncClient, batch: int) -> list[SearchOutbox]:
    rows = SearchOutbox.filter(processed_at__isnull=True).order_by("attempts", "id").limit(batch)
    if conn.capabilities.dialect == "postgres":
        # Each row processed leaves its old version in the processed_at index.
        await conn.execute_query(PLAIN_INDEX_SCAN)
        rows = rows.select_for_update(skip_locked=True)
    return await rows.using_db(conn)


async def current_docs(post_ids: Sequence[int]) -> tuple[list[PostDoc], list[int]]:
    """(documents to index, ids to remove) from the posts' state in the database now."""
    posts = await Post.filter(id__in=list(post_ids)).prefetch_related("author")
    live = [PostDoc.of(p) for p in posts if p.removed_at is None]
    kept = {doc.post_id for doc in live}
    return live, [pid for pid in post_ids if pid not in kept]


async def send(index: SearchIndex, post_ids: Sequence[int]) -> None:
    """Make the index agree with the database for these posts."""
    live, gone = await current_docs(post_ids)
    await index.index_posts(live)
    await index.remove_posts(gone)


async def _mark(conn: BaseDBAsyncClient, rows: list[SearchOutbox], error: str | None) -> None:
    ids = [row.id for row in rows]
    query = SearchOutbox.filter(id__in=ids).using_db(conn)
    if error is None:
        await query.update(processed_at=utcnow(), attempts=F("attempts") + 1)
    else:
        await query.update(attempts=F("attempts") + 1, last_error=error[:MAX_ERROR])


async def _process(conn: BaseDBAsyncClient, index: SearchIndex, rows: list[SearchOutbox]) -> int:
    post_ids = sorted({row.post_id for row in rows if row.post_id is not None})
    try:
        await send(index, post_ids)
    except Exception as error:  # the engine is down or refused: retry later
        log.warning("search index %s failed: %s", index.name, type(error).__name__)
        await _mark(conn, rows, f"{type(error).__name__}: {error}")
        return 0
    await _mark(conn, rows, None)
    return len(rows)


async def drain_once(index: SearchIndex, batch: int = BATCH) -> int:
    """Claim up to `batch` pending rows and send them; returns how many were processed."""
    async with in_transaction() as conn:
        rows = await _claim(conn, batch)
        return await _process(conn, index, rows) if rows else 0


async def pending() -> int:
    return await SearchOutbox.filter(processed_at__isnull=True).count()


Progress = Callable[[int, int], None]


async def reindex(index: SearchIndex, progress: Progress | None = None, batch: int = 1000) -> int:
    """Rebuild the index from the database (visible posts only); returns how many."""
    await index.clear()
    total = await Post.filter(removed_at__isnull=True).count()
    done, after = 0, 0
    while True:
        posts = await (
            Post.filter(removed_at__isnull=True, id__gt=after)
            .order_by("id")
            .limit(batch)
            .prefetch_related("author")
        )
        if not posts:
            return done
        await index.index_posts([PostDoc.of(p) for p in posts])
        done, after = done + len(posts), posts[-1].id
        if progress:
            progress(done, total)


async def catch_up(index: SearchIndex, progress: Progress | None = None, batch: int = BATCH) -> int:
    """Queue whatever the index lacks (reconcile), then drain the outbox until it is empty,
    here and now; returns the rows processed. Stops early when the engine refuses a batch:
    the rows stay queued and the app's drainer retries them."""
    await reconcile(index)
    total, done = await pending(), 0
    while processed := await drain_once(index, batch):
        done += processed
        if progress:
            progress(done, total)
    return done


async def failing() -> bool:
    """True when work is waiting after a failed attempt: the engine is down or refusing."""
    return await SearchOutbox.filter(processed_at__isnull=True, attempts__gt=0).exists()


class Drainer:
    """A background task that drains the outbox every `interval` seconds and on kick().

    A search engine that is down at startup does not stop the app: `prepare` notes it,
    and the task keeps trying to prepare the index before it drains.
    """

    def __init__(self, index: SearchIndex, interval: float = 0.5, batch: int = BATCH) -> None:
        self.index = index
        self.interval = interval
        self.batch = batch
        self.ready = False  # index.ensure_ready() has succeeded
        self.loop = BackgroundLoop("search-outbox-drainer", self._step, interval)
        self._next_reconcile = 0.0

    async def prepare(self) -> bool:
        """Make the index ready; False (logged, not raised) when the engine is unreachable."""
        try:
            await self.index.ensure_ready()
        except Exception as error:
            log.warning("search index %s unavailable: %s", self.index.name, type(error).__name__)
            return False
        self.ready = True
        return True

    @property
    def running(self) -> bool:
        return self.loop.running

    def kick(self) -> None:
        """Drain now rather than at the next tick."""
        self.loop.wake()

    def start(self) -> None:
        self._next_reconcile = time.monotonic() + RECONCILE_EVERY
        self.loop.start()

    async def stop(self, grace: float = 10.0) -> None:
        """Finish the batch in hand, then stop (cancelling mid-transaction could leave
        the SQLite connection locked)."""
        if not await self.loop.stop(grace):
            log.warning("search outbox drainer did not stop in %.0f s: cancelled", grace)

    async def _tick(self, next_reconcile: float) -> tuple[int, float]:
        """One round: prepare the index if needed, reconcile when due, drain one batch;
        returns (rows processed, when to reconcile next)."""
        if not self.ready and not await self.prepare():
            return 0, next_reconcile  # the engine is still down: posts wait in the outbox
        if time.monotonic() >= next_reconcile:
            next_reconcile = time.monotonic() + RECONCILE_EVERY
            await reconcile(self.index)
        return await drain_once(self.index, self.batch), next_reconcile

    async def _step(self) -> None:
        try:
            done, self._next_reconcile = await self._tick(self._next_reconcile)
        except Exception:  # the database is down: keep the worker alive
            log.warning("search outbox drain failed", exc_info=True)
            return
        if done == self.batch:
            self.loop.wake()  # more is waiting: no pause
