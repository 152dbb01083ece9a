"""Who sweeps which children: the periodic velocity sweep, shared between workers.

Every child's verdict must be recomputed now and then even without posts (a burst ages out
of the window, the day rolls over). Each worker used to sweep every child; now the
children are split into `SHARDS` slices (child id modulo SHARDS) and a worker claims a due
slice with a compare-and-set on its `velocity_sweep_shard` row, sweeps it and marks it
swept. Several workers therefore share one sweep (on separate cores), and a slice whose
worker died is claimed again once its claim is older than `LEASE`.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from tortoise.connection import get_connection
from tortoise.expressions import Q

from feeds.clock import utcnow
from feeds.models import VelocitySweepShard

SHARDS = 16
LEASE = timedelta(minutes=10)  # a claim older than this is taken to be a dead worker's


async def ensure_shards() -> None:
    """The shard rows (never swept), if missing."""
    if await VelocitySweepShard.all().count() < SHARDS:
        rows = [VelocitySweepShard(shard=n) for n in range(SHARDS)]
        await VelocitySweepShard.bulk_create(rows, ignore_conflicts=True)


def _due(due_before: datetime) -> Q:
    return Q(swept_at=None) | Q(swept_at__lt=due_before)


async def due_shards(due_before: datetime) -> list[int]:
    """Shards last swept before `due_before` (or never), from a random one on, so workers
    starting together rarely race for the same row."""
    rows: list[Any] = await VelocitySweepShard.filter(_due(due_before)).values_list(
        "shard", flat=True
    )
    due = {int(shard) for shard in rows}
    start = random.randrange(SHARDS)  # noqa: S311 - spreading load, not security
    return [n for n in ((start + k) % SHARDS for k in range(SHARDS)) if n in due]


async def claim(shard: int, worker: str, due_before: datetime) -> bool:
    """Claim this shard for `worker` if it is due and nobody (alive) holds it."""
    now = utcnow()
    unclaimed = Q(claimed_at=None) | Q(claimed_at__lt=now - LEASE)
    taken = await VelocitySweepShard.filter(Q(shard=shard), unclaimed, _due(due_before)).update(
        claimed_by=worker, claimed_at=now
    )
    return taken == 1


async def release(shard: int, worker: str, swept: bool, as_of: datetime | None = None) -> None:
    """Give the shard back; `swept` marks it done as of `as_of` (default: now), the moment
    its verdicts were computed for (otherwise it stays due)."""
    changes: dict[str, object] = {"claimed_by": None, "claimed_at": None}
    if swept:
        changes["swept_at"] = as_of or utcnow()
    await VelocitySweepShard.filter(shard=shard, claimed_by=worker).update(**changes)


async def swept_on(shard: int) -> datetime | None:
    """When this shard was last swept whole (None: never): the sweep assesses silence on
    the first sweep of a UTC day only, since a silence verdict moves with the date."""
    found: list[Any] = await VelocitySweepShard.filter(shard=shard).values_list(
        "swept_at", flat=True
    )
    return found[0] if found else None


async def shard_children(shard: int) -> list[int]:
    """The ids of the children in this shard."""
    sql = "SELECT id FROM child WHERE id % {shards} = {shard}"
    _, rows = await get_connection("default").execute_query(
        sql.format(shards=SHARDS, shard=int(shard))
    )
    return [int(row[0]) for row in rows]
