"""A sweep later the same day skips the children whose velocity verdict cannot have moved
(same day, same days' tallies, same flag, same record): what it leaves stored is what a
full reassessment gives, and a post, an edit, a removal, a flip or a new day makes the
child reassessed.

A skipped child is recognised by a stored verdict made wrong on purpose (its digest and
JSON): a reassessment rewrites it, a skip leaves it."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from starlette.applications import Starlette

from feeds.audit.records import AuditContext
from feeds.clock import utcnow
from feeds.feed import posting
from feeds.feed.posting import do_create_post, do_edit_post, do_remove_post
from feeds.models import Child, VelocityState
from feeds.velocity import sweep, verdicts
from feeds.velocity.tallies import count_post, utc_day
from feeds.velocity.verdicts import (
    VelocityWatcher,
    assess_children,
    do_recompute_velocity,
    stored_assessment,
)
from tests.conftest import Factory

CTX = AuditContext(ip="198.51.100.7", request_id="req-skip")
NINE = datetime.combine(utc_day(utcnow()), time(9), UTC)
AGENCIES = ("Oak School", "Health visiting", "GP", "Police", "Housing")
TAMPERED = "tampered"


def _clock(monkeypatch: pytest.MonkeyPatch, at: datetime) -> None:
    """The sweep's and posting's clock, `at` instead of now."""
    for module in (verdicts, sweep, posting):
        monkeypatch.setattr(module, "utcnow", lambda: at)


async def _quiet(app: Starlette) -> None:
    """No watcher of the app's own: only the sweeps of the test assess anyone."""
    await app.state.velocity.stop()


async def _history(child: Child, rng: random.Random, burst: bool = False) -> None:
    """Some weeks of posts before NINE's day; with `burst`, five agencies worried on each
    of the last three days (a child the sweep flags)."""
    for age in rng.sample(range(1, 80), rng.randint(3, 14)):
        kind = rng.choice(("update", "visit", "hunch"))
        at = NINE - timedelta(days=age, hours=rng.randint(0, 8))
        await count_post(child.id, at, kind, rng.randint(1, 9), rng.choice(AGENCIES))
    for age in range(3) if burst else ():
        for n, agency in enumerate(AGENCIES):
            at = NINE - timedelta(days=age, hours=n + 1)
            await count_post(child.id, at, "concern", 20 + n, agency)


async def _tamper(*child_ids: int) -> None:
    await VelocityState.filter(child_id__in=child_ids).update(
        shown_digest=TAMPERED, assessment={"tampered": True}
    )


async def _stored() -> dict[int, tuple[Any, ...]]:
    return {
        v.child_id: (v.flagged, v.assessment, v.shown_digest, v.last_post_at)
        for v in await VelocityState.all()
    }


async def test_a_same_day_sweep_leaves_what_a_full_reassessment_gives(
    app: Starlette, make: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _quiet(app)
    rng = random.Random(18)
    children = [await make.child() for _ in range(30)]
    for n, child in enumerate(children):
        await _history(child, rng, burst=n % 10 == 0)
    ids = [c.id for c in children]
    _clock(monkeypatch, NINE)
    await VelocityWatcher().sweep()
    witness = children[1].id
    await _tamper(witness)
    before = await _stored()

    later = NINE + timedelta(hours=3)
    _clock(monkeypatch, later)
    assert await VelocityWatcher().sweep() == []

    stored = await _stored()
    assert stored == before  # nothing rewritten: the witness was skipped too
    flags = {c: s[0] for c, s in stored.items()}
    assert any(flags.values())  # the bursts are flagged: the flag is part of the check
    fresh = await assess_children(ids, later, flags)
    for child_id in ids:
        if child_id != witness:
            assert stored[child_id][1] == stored_assessment(fresh[child_id]), child_id
            assert stored[child_id][0] == fresh[child_id].flagged
    # The full reassessment rewrites only the witness and flips nobody.
    assert await do_recompute_velocity(ids, later) == []
    after = await _stored()
    assert after[witness][1] == stored_assessment(fresh[witness])
    assert {c: s for c, s in after.items() if c != witness} == {
        c: s for c, s in before.items() if c != witness
    }


async def test_a_post_an_edit_or_a_removal_makes_the_child_reassessed_the_same_day(
    app: Starlette, make: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _quiet(app)
    rng = random.Random(5)
    posted, edited, removed, untouched = [await make.child() for _ in range(4)]
    author = await make.practitioner(grants=[posted, edited, removed, untouched])
    _clock(monkeypatch, NINE - timedelta(hours=1))
    for child in (posted, edited, removed, untouched):
        await _history(child, rng)
    first = (await do_create_post(author, edited.id, "update", "Visit done.", CTX)).post
    second = (await do_create_post(author, removed.id, "update", "Called.", CTX)).post
    _clock(monkeypatch, NINE)
    await VelocityWatcher().sweep()
    was = {v.child_id: v.assessment for v in await VelocityState.all()}
    await _tamper(posted.id, edited.id, removed.id, untouched.id)

    _clock(monkeypatch, NINE + timedelta(hours=1))
    await do_create_post(author, posted.id, "hunch", "Not himself.", CTX)
    await do_edit_post(author, first.id, "concern", "Visit done: no food in.", CTX)
    await do_remove_post(author, second.id, CTX)
    _clock(monkeypatch, NINE + timedelta(hours=2))
    await VelocityWatcher().sweep()

    stored = {v.child_id: v for v in await VelocityState.all()}
    assert stored[untouched.id].shown_digest == TAMPERED  # skipped: nothing changed
    for child in (posted, edited, removed):
        assert stored[child.id].shown_digest != TAMPERED, child.id
    assert stored[posted.id].assessment["sparkline"][-1] == 1
    assert stored[edited.id].assessment["concerns"] == was[edited.id]["concerns"] + 1
    assert stored[removed.id].assessment["sparkline"][-1] == 0
    assert was[removed.id]["sparkline"][-1] == 1
    flags = {c: v.flagged for c, v in stored.items()}
    fresh = await assess_children(list(flags), NINE + timedelta(hours=2), flags)
    for child in (posted, edited, removed):
        assert stored[child.id].assessment == stored_assessment(fresh[child.id])


async def test_a_flip_or_a_new_day_makes_the_child_reassessed(
    app: Starlette, make: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _quiet(app)
    rng = random.Random(9)
    steady, burst = await make.child(), await make.child()
    await _history(steady, rng)
    await _history(burst, rng, burst=True)
    _clock(monkeypatch, NINE)
    flips = await VelocityWatcher().sweep()
    assert [(f.child_id, f.flagged) for f in flips] == [(burst.id, True)]
    await _tamper(steady.id, burst.id)

    # Flipped, the burst's verdict was taken with the flag it had before: reassessed.
    _clock(monkeypatch, NINE + timedelta(hours=2))
    assert await VelocityWatcher().sweep() == []
    stored = {v.child_id: v for v in await VelocityState.all()}
    assert stored[steady.id].shown_digest == TAMPERED
    fresh = await assess_children([burst.id], NINE + timedelta(hours=2), {burst.id: True})
    assert stored[burst.id].assessment == stored_assessment(fresh[burst.id])
    assert stored[burst.id].flagged

    # The next day everyone is reassessed (the sparkline moves on a day).
    tomorrow = NINE + timedelta(days=1)
    _clock(monkeypatch, tomorrow)
    await VelocityWatcher().sweep()
    stored = {v.child_id: v for v in await VelocityState.all()}
    flags = {c: v.flagged for c, v in stored.items()}
    fresh = await assess_children([steady.id, burst.id], tomorrow, flags)
    for child in (steady, burst):
        assert stored[child.id].assessment == stored_assessment(fresh[child.id])
