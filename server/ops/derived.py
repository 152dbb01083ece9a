"""What a restore rebuilds from the restored rows: velocity tallies and verdicts, and the
search index (an external engine such as Meilisearch never saw this database)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from feeds.models import Child, VelocityState
from feeds.velocity.tallies import chunked, rebuild_days
from feeds.velocity.verdicts import do_recompute_velocity
from search.outbox import catch_up, reindex
from server.ops.manifest import Progress
from server.routes.search import index_from_env
from server.settings import Settings


@dataclass(frozen=True)
class Rebuilt:
    tally_days: int
    flagged_children: int
    indexed_posts: int
    index_name: str
    search_error: str = ""  # the engine was unavailable: run `jigsaw reindex` later


async def rebuild_velocity(progress: Progress) -> tuple[int, int]:
    """Recount every child's daily tallies from its posts and reassess its verdict as of
    now (days have passed since the backup); returns (tally rows, children flagged)."""
    found: list[Any] = await Child.all().order_by("id").values_list("id", flat=True)
    ids = [int(i) for i in found]
    days, done = 0, 0
    for chunk in chunked(ids):
        days += await rebuild_days(chunk)
        await do_recompute_velocity(chunk)
        done += len(chunk)
        progress("Rebuilding velocity tallies and verdicts", done, len(ids))
    flagged = await VelocityState.filter(flagged=True).count()
    return days, flagged


async def rebuild_search(settings: Settings, progress: Progress) -> tuple[int, str]:
    """Rebuild the configured search index from the posts, then settle the outbox."""
    index = index_from_env(settings)
    await index.ensure_ready()
    label = f"Indexing posts for search ({index.name})"
    count = await reindex(index, lambda done, total: progress(label, done, total))
    await catch_up(index)
    return count, index.name


async def rebuild_derived(settings: Settings, progress: Progress) -> Rebuilt:
    """Everything derived, in the order a server would need it (needs Tortoise up)."""
    days, flagged = await rebuild_velocity(progress)
    try:
        indexed, name = await rebuild_search(settings, progress)
    except Exception as error:  # an engine that is down must not undo a verified restore
        return Rebuilt(days, flagged, 0, index_from_env(settings).name, type(error).__name__)
    return Rebuilt(days, flagged, indexed, name)
