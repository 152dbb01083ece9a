"""Search index work for posts written in bulk (demo data, imports, benchmarks).

posting.py writes one outbox row with each post; a bulk insert bypasses it, so whoever
inserts posts in bulk queues their index work here, in the same transaction. search/
drains the rows; feeds never talks to a search engine.
"""

from __future__ import annotations

from collections.abc import Collection

from feeds.models import Post, SearchOutbox

CHUNK = 500  # children per query, well inside SQLite's bound-variable limit


async def do_queue_posts_for_search(child_ids: Collection[int]) -> int:
    """Queue indexing of every post of these children; returns how many rows were queued."""
    ids = sorted(set(child_ids))
    queued = 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        posts = await Post.filter(child_id__in=chunk).order_by("id").values_list("id", "child_id")
        rows = [SearchOutbox(post_id=post, child_id=child, op="index") for post, child in posts]
        await SearchOutbox.bulk_create(rows, batch_size=CHUNK)
        queued += len(rows)
    return queued
