"""The periodic velocity sweep is shared between workers, shard by shard: every child is
swept, no shard twice at once, a shard swept recently waits its turn, and a dead
worker's claim lapses."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from feeds.clock import utcnow
from feeds.models import Child, VelocityState, VelocitySweepShard
from feeds.velocity import sweep
from feeds.velocity.verdicts import VelocityWatcher
from tests.conftest import Factory


async def _children(n: int) -> list[int]:
    await Child.bulk_create(
        [Child(display_name=f"S {i}", reference=f"S-{i:05d}") for i in range(n)]
    )
    found: list[Any] = await Child.all().values_list("id", flat=True)
    return [int(i) for i in found]


async def test_two_workers_share_one_sweep_and_every_child_is_assessed(make: Factory) -> None:
    ids = await _children(40)
    first, second = VelocityWatcher(), VelocityWatcher()

    await asyncio.gather(first.sweep(), second.sweep())

    assessed = await VelocityState.filter(child_id__in=ids, assessed_at__isnull=False).count()
    assert assessed == len(ids)
    shards = await VelocitySweepShard.all()
    assert len(shards) == sweep.SHARDS
    assert all(s.swept_at is not None and s.claimed_at is None for s in shards)


async def test_a_claimed_shard_cannot_be_claimed_again_until_released(make: Factory) -> None:
    await sweep.ensure_shards()
    now = utcnow()
    assert await sweep.claim(3, "worker-a", now)
    assert not await sweep.claim(3, "worker-b", now)
    await sweep.release(3, "worker-a", swept=True)
    # Swept just now: not due again for anyone asking about sweeps due before `now`.
    assert not await sweep.claim(3, "worker-b", now)
    assert await sweep.claim(3, "worker-b", utcnow() + timedelta(seconds=1))


async def test_a_dead_workers_claim_lapses(make: Factory) -> None:
    await sweep.ensure_shards()
    long_ago = utcnow() - sweep.LEASE - timedelta(minutes=1)
    await VelocitySweepShard.filter(shard=5).update(claimed_by="dead", claimed_at=long_ago)

    assert await sweep.claim(5, "alive", utcnow())
    # The dead worker waking up later cannot release (or mark swept) what it lost.
    await sweep.release(5, "dead", swept=True)
    shard = await VelocitySweepShard.get(shard=5)
    assert shard.claimed_by == "alive" and shard.swept_at is None


async def test_a_recently_swept_shard_waits_for_its_turn(make: Factory) -> None:
    ids = await _children(5)
    watcher = VelocityWatcher()
    await watcher.sweep()
    before = {s.child_id: s.assessed_at for s in await VelocityState.filter(child_id__in=ids)}

    # Due only if last swept more than ten minutes ago: nothing is.
    await watcher.sweep(due_before=utcnow() - timedelta(minutes=10))
    after = {s.child_id: s.assessed_at for s in await VelocityState.filter(child_id__in=ids)}
    assert after == before
    assert {s.shard for s in await VelocitySweepShard.filter(swept_at__isnull=True)} == set()


async def test_a_failed_shard_is_released_and_stays_due(
    make: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _children(3)

    async def broken(child_ids: object, *args: object, **kwargs: object) -> list[object]:
        raise RuntimeError("database went away")

    monkeypatch.setattr("feeds.velocity.verdicts.do_recompute_velocity", broken)
    with pytest.raises(RuntimeError):
        await VelocityWatcher().sweep()

    shards = await VelocitySweepShard.all()
    assert all(s.claimed_at is None for s in shards)
    assert any(s.swept_at is None for s in shards)  # the failed one is still due
