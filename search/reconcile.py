"""Periodic reconciliation: compare the database with the index and queue repairs.

Repairs go through the outbox, so the drainer's retries and "current state" rule apply;
posts with outbox work still pending are left to the drainer.
"""

from __future__ import annotations

from dataclasses import dataclass

from feeds.models import Post, SearchOutbox
from search.base import SearchIndex

RECONCILE_EVERY = 3600.0  # seconds


@dataclass(frozen=True)
class Reconciliation:
    missing: int  # live posts the index lacks: queued for indexing
    stale: int  # index entries for removed or unknown posts: queued for removal


async def reconcile(index: SearchIndex) -> Reconciliation:
    indexed = await index.indexed_ids()
    live_rows = await Post.filter(removed_at__isnull=True).values("id", "child_id")
    live = {int(row["id"]): int(row["child_id"]) for row in live_rows}
    pending_rows = await SearchOutbox.filter(processed_at__isnull=True).values("post_id")
    pending = {int(row["post_id"]) for row in pending_rows if row["post_id"] is not None}
    missing = sorted(set(live) - indexed - pending)
    stale = sorted(indexed - set(live) - pending)
    rows = [SearchOutbox(post_id=p, child_id=live[p], op="index") for p in missing]
    rows += [SearchOutbox(post_id=p, child_id=None, op="remove") for p in stale]
    if rows:
        await SearchOutbox.bulk_create(rows, batch_size=500)
    return Reconciliation(len(missing), len(stale))
