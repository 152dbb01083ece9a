"""Reconciliation finds what the index missed or kept by mistake, and repairs it through
the outbox, on every backend available to the run."""

from __future__ import annotations

from feeds.models import Post, SearchOutbox
from search.base import SearchIndex
from search.reconcile import reconcile
from tests.conftest import Factory
from tests.search.conftest import drain_all, post


async def test_reconcile_repairs_missing_and_stale_entries(
    index: SearchIndex, make: Factory
) -> None:
    child = await make.child()
    author = await make.practitioner(grants=[child])
    kept = await post(author, child, "kept in the index")
    lost = await post(author, child, "lost by the engine")
    removed = await post(author, child, "removed but still indexed")
    await drain_all(index)
    await index.remove_posts([lost.id])  # as if the engine lost a document
    await Post.filter(id=removed.id).update(removed_at=kept.created_at)  # behind the outbox
    report = await reconcile(index)
    assert (report.missing, report.stale) == (1, 1)
    assert await SearchOutbox.filter(processed_at__isnull=True).count() == 2
    await drain_all(index)
    assert await index.indexed_ids() == {kept.id, lost.id}
    assert await reconcile(index) == type(report)(0, 0)


async def test_reconcile_leaves_pending_outbox_work_to_the_drainer(
    index: SearchIndex, make: Factory
) -> None:
    child = await make.child()
    author = await make.practitioner(grants=[child])
    fresh = await post(author, child, "not drained yet")
    report = await reconcile(index)
    assert (report.missing, report.stale) == (0, 0)
    assert await SearchOutbox.filter(post_id=fresh.id).count() == 1
