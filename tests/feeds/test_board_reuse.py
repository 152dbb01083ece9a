"""What the board reuses between reads, and what it never does: decoded verdicts are
remembered by digest (a rewritten verdict shows at once); a compared board's numbers are
kept until an event for the child, but access, names and shield labels are the request's
own. Here the hub is played by hand: `caught_up` says the event log was heard to its end."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, cast

from feeds import events, replica
from feeds.access.grants import do_revoke_grant
from feeds.models import Child, Grant, Professional, Role
from feeds.records.shielding import do_shield_child
from feeds.replica import Router
from feeds.velocity import board
from feeds.velocity.board import Board, Period
from feeds.velocity.comparisons import ChildCompared, Comparisons, Compute, Spans
from feeds.velocity.detector import side_by_side
from feeds.velocity.periods import NOTHING
from feeds.velocity.trends import describe
from feeds.velocity.verdicts import do_recompute_velocity
from tests.conftest import Factory
from tests.feeds.test_board import CTX, NOW, History

MIDNIGHT = NOW.replace(hour=0)
A = Period(MIDNIGHT - timedelta(days=13), MIDNIGHT - timedelta(days=6))
B = Period(MIDNIGHT - timedelta(days=6), MIDNIGHT + timedelta(days=1))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class World:
    """A manager whose team sees a burst child and a quiet child; the lead of both."""

    def __init__(self, manager: Professional, lead: Professional, burst: Child, quiet: Child):
        self.manager, self.lead, self.burst, self.quiet = manager, lead, burst, quiet


async def _world(make: Factory) -> World:
    history = History(make, NOW)
    lead = await make.professional()
    burst, quiet = await make.child(lead=lead), await make.child(lead=lead)
    for child in (burst, quiet):
        await make.grant(child, professional=lead)
        await history.quiet(child)
    await history.burst(burst, agencies=3, posts=6)
    manager = await make.professional(role=Role.MANAGER)
    team = await make.team(managers=[manager])
    for child in (burst, quiet):
        await make.grant(child, team=team)
    return World(manager, lead, burst, quiet)


async def _compared(world: World, recent: Comparisons) -> Board:
    recent.caught_up(recent.clock())  # nothing unheard: what is kept may be served
    return await board.read_board(world.manager, CTX, now=NOW, periods=(A, B), recent=recent)


def _names(found: Board) -> list[str]:
    return [change.child.display_name for change in found.changes]


async def test_a_rewritten_verdict_shows_on_the_next_board_read(make: Factory) -> None:
    history = History(make, NOW)
    calm, other = await make.child(), await make.child()
    for child in (calm, other):
        await history.quiet(child)
    manager = await make.professional(role=Role.MANAGER)
    team = await make.team(managers=[manager])
    for child in (calm, other):
        await make.grant(child, team=team)
    before = await board.read_board(manager, CTX, now=NOW)

    await history.burst(calm, agencies=3, posts=6)
    await do_recompute_velocity({calm.id}, NOW)
    after = await board.read_board(manager, CTX, now=NOW)

    assert not any(row.assessment.flagged for row in before.rows)
    top = after.rows[0]
    assert (top.child.id, top.assessment.flagged, top.posts_7d) == (calm.id, True, 6)
    assert after.flagged == 1


async def test_a_kept_comparison_drops_a_revoked_child_at_once(make: Factory) -> None:
    world = await _world(make)
    recent = Comparisons(clock=Clock())
    first = await _compared(world, recent)
    grant = await Grant.filter(child_id=world.burst.id, team_id__isnull=False).first()
    assert grant is not None

    await do_revoke_grant(world.lead, grant.id, CTX)
    second = await _compared(world, recent)

    assert {c.child.id for c in first.changes} == {world.burst.id, world.quiet.id}
    assert [c.child.id for c in second.changes] == [world.quiet.id]
    assert [r.child.id for r in second.rows] == [world.quiet.id]
    quiet_only = next(c for c in first.changes if c.child.id == world.quiet.id).comparison
    assert second.comparison == quiet_only  # the board's totals without the revoked child


async def test_a_kept_comparison_names_a_newly_shielded_child_by_its_label(
    make: Factory,
) -> None:
    world = await _world(make)
    recent = Comparisons(clock=Clock())
    first = await _compared(world, recent)

    await do_shield_child(world.lead, world.burst.id, "Moved to a refuge", CTX)
    second = await _compared(world, recent)

    assert world.burst.display_name in _names(first)
    assert world.burst.display_name not in _names(second)
    assert world.burst.reference not in [c.child.reference for c in second.changes]
    assert first.comparison == second.comparison  # the same children: the kept numbers


async def test_a_comparison_whose_event_went_unheard_expires_after_its_ttl(make: Factory) -> None:
    world = await _world(make)
    clock = Clock()
    recent = Comparisons(ttl=30, clock=clock)
    first = await _compared(world, recent)
    await History(make, NOW).post(world.quiet, timedelta(hours=1), "Police")

    clock.now = 19.0  # (from 20 s a kept comparison is also read again in the background)
    kept = await _compared(world, recent)
    clock.now = 30.0
    fresh = await _compared(world, recent)

    assert first.comparison is not None and fresh.comparison is not None
    assert kept.comparison == first.comparison
    assert fresh.comparison.b.total_posts == first.comparison.b.total_posts + 1


SPANS = (A.start, A.end, B.start, B.end)


class Computed:
    """A stand-in for reading the tallies: records which children it was asked for."""

    def __init__(self) -> None:
        self.asked: list[set[int]] = []

    async def __call__(self, ids: set[int]) -> dict[int, ChildCompared]:
        self.asked.append(set(ids))
        nothing = (NOTHING, NOTHING)
        comparison = side_by_side(NOTHING.stats(), NOTHING.stats())
        return {c: ChildCompared(nothing, comparison, describe(comparison)) for c in ids}


async def read(
    recent: Comparisons, ids: set[int], spans: Spans, computed: Compute
) -> dict[int, ChildCompared]:
    """A read after the hub has heard the log to its end."""
    recent.caught_up(recent.clock())
    return await recent.get(ids, spans, computed)


async def test_only_children_missing_or_expired_are_read_again() -> None:
    clock, computed = Clock(), Computed()
    recent = Comparisons(ttl=30, clock=clock)

    await read(recent, {1, 2}, SPANS, computed)
    clock.now = 12.0
    await read(recent, {1, 2, 3}, SPANS, computed)  # a wider board: only the new child
    await read(recent, {3, 4}, (A.start, A.end, B.start, B.end + timedelta(days=1)), computed)
    clock.now = 31.0
    found = await read(recent, {1, 2, 3}, SPANS, computed)  # 1, 2 expired; 3 still fresh

    assert computed.asked == [{1, 2}, {3}, {3, 4}, {1, 2}]
    assert set(found) == {1, 2, 3}


async def test_an_aging_comparison_is_served_at_once_and_read_again_behind() -> None:
    clock, computed = Clock(), Computed()
    recent = Comparisons(ttl=30, clock=clock)
    await read(recent, {1, 2}, SPANS, computed)

    clock.now = 21.0
    found = await read(recent, {1, 2}, SPANS, computed)  # served from what is kept
    served_before_refresh = list(computed.asked)
    for _ in range(3):
        await asyncio.sleep(0)  # the background read runs
    clock.now = 35.0
    await read(recent, {1, 2}, SPANS, computed)  # kept since 21: nobody waits

    assert set(found) == {1, 2} and served_before_refresh == [{1, 2}]
    assert computed.asked == [{1, 2}, {1, 2}]


async def test_kept_comparisons_stay_within_their_bound() -> None:
    computed = Computed()
    recent = Comparisons(max_kept=3, clock=Clock())

    await read(recent, {1, 2}, SPANS, computed)
    await read(recent, {3, 4}, SPANS, computed)  # over the bound: the kept ones go
    await read(recent, {3, 4}, SPANS, computed)
    await read(recent, {1}, SPANS, computed)

    assert computed.asked == [{1, 2}, {3, 4}, {1}]
    assert recent.size() == 3


async def test_an_event_drops_its_childs_comparisons_of_every_period() -> None:
    clock, computed = Clock(), Computed()
    recent = Comparisons(clock=clock)
    later = (A.start, A.end, B.start, B.end + timedelta(days=1))
    await read(recent, {1, 2}, SPANS, computed)
    await read(recent, {1, 2}, later, computed)

    recent.event(events.POST_CREATED, 1)
    recent.event(events.VELOCITY_UPDATED, 2)  # its verdict moved: its tallies did not
    recent.event(events.NOTIFICATION, None)
    await read(recent, {1, 2}, SPANS, computed)
    await read(recent, {1, 2}, later, computed)

    assert computed.asked == [{1, 2}, {1, 2}, {1}, {1}]


async def test_nothing_kept_is_served_unless_the_log_was_heard_lately_and_since_a_commit() -> None:
    clock, computed = Clock(), Computed()
    recent = Comparisons(clock=clock, bound=5.0)  # no hub to wake: it reads afresh at once
    await recent.get({1}, SPANS, computed)
    await recent.get({1}, SPANS, computed)  # never heard: read again
    recent.caught_up(clock.now)
    await recent.get({1}, SPANS, computed)  # kept
    clock.now = 6.0
    await recent.get({1}, SPANS, computed)  # last heard 6 s ago, past the bound: read again
    recent.caught_up(5.5)
    recent.committed()  # at 6.0, after the hub last read the log
    await recent.get({1}, SPANS, computed)  # read again
    recent.caught_up(6.0)
    await recent.get({1}, SPANS, computed)  # kept

    assert computed.asked == [{1}, {1}, {1}, {1}]


async def test_a_read_after_a_commit_waits_for_the_hub_then_serves_what_is_kept() -> None:
    clock, computed = Clock(), Computed()
    recent = Comparisons(clock=clock)
    woken: list[float] = []

    def wake() -> None:  # the hub reads the log to its end, soon
        woken.append(clock.now)
        asyncio.get_running_loop().call_soon(recent.caught_up, clock.now)

    recent.wake_hub = wake
    await read(recent, {1}, SPANS, computed)
    clock.now = 1.0
    recent.committed()
    await recent.get({1}, SPANS, computed)

    assert computed.asked == [{1}] and woken == [1.0]


async def test_a_comparison_dropped_while_it_was_read_is_not_kept() -> None:
    recent, computed = Comparisons(clock=Clock()), Computed()

    async def racing(ids: set[int]) -> dict[int, ChildCompared]:
        found = await computed(ids)
        recent.event(events.POST_CREATED, 1)  # a post committed while the tallies were read
        return found

    await read(recent, {1, 2}, SPANS, racing)
    await read(recent, {1, 2}, SPANS, computed)

    assert computed.asked == [{1, 2}, {1}]


def _router(max_lag: float) -> Router:
    return Router(cast(Any, None), max_lag)  # only its bound is read here


async def test_a_standbys_answer_is_not_kept_past_a_drop_within_its_lag() -> None:
    clock, computed = Clock(), Computed()
    recent = Comparisons(clock=clock)
    clock.now = 10.0
    recent.event(events.POST_CREATED, 1)
    clock.now = 11.0
    with replica.bind(_router(2.0), 0):  # its answer may predate the post: not kept
        await read(recent, {1, 2}, SPANS, computed)
        await read(recent, {1, 2}, SPANS, computed)
    clock.now = 12.5
    with replica.bind(_router(2.0), 0):  # at most 2 s old: after the post, kept
        await read(recent, {1}, SPANS, computed)
        await read(recent, {1}, SPANS, computed)

    assert computed.asked == [{1, 2}, {1}, {1}]


async def test_a_reader_who_wrote_lately_reads_afresh() -> None:
    recent, computed = Comparisons(clock=Clock()), Computed()
    await read(recent, {1}, SPANS, computed)
    with replica.bind(_router(2.0), 1):  # floor 1: the WAL position of their own write
        await read(recent, {1}, SPANS, computed)
    await read(recent, {1}, SPANS, computed)

    assert computed.asked == [{1}, {1}]


class Gated(Computed):
    """A tally read that waits until `release` is set: two boards read at once."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def __call__(self, ids: set[int]) -> dict[int, ChildCompared]:
        self.asked.append(set(ids))
        await self.release.wait()
        return await Computed.__call__(Computed(), ids)


async def test_two_boards_read_at_once_read_shared_children_once() -> None:
    recent, gated = Comparisons(clock=Clock()), Gated()
    first = asyncio.ensure_future(read(recent, {1, 2, 3}, SPANS, gated))
    await asyncio.sleep(0)  # the first read is under way
    second = asyncio.ensure_future(read(recent, {2, 3, 4}, SPANS, gated))
    await asyncio.sleep(0)
    gated.release.set()

    assert set(await first) == {1, 2, 3} and set(await second) == {2, 3, 4}
    assert gated.asked == [{1, 2, 3}, {4}]  # the second read only what the first was not


async def test_a_child_dropped_during_a_shared_read_is_read_again_by_the_later_board() -> None:
    recent, gated = Comparisons(clock=Clock()), Gated()
    first = asyncio.ensure_future(read(recent, {1, 2}, SPANS, gated))
    await asyncio.sleep(0)
    recent.event(events.POST_CREATED, 2)  # a post: the read under way may predate it
    second = asyncio.ensure_future(read(recent, {1, 2}, SPANS, gated))
    await asyncio.sleep(0)
    gated.release.set()
    await asyncio.gather(first, second)

    assert gated.asked == [{1, 2}, {2}]


async def test_a_writer_does_not_share_a_read_begun_before_its_commit() -> None:
    recent, gated = Comparisons(clock=Clock()), Gated()
    first = asyncio.ensure_future(read(recent, {1}, SPANS, gated))
    await asyncio.sleep(0)
    recent.clock.now = 1.0  # type: ignore[attr-defined]
    recent.committed()  # this worker committed a post after the first read began
    second = asyncio.ensure_future(read(recent, {1}, SPANS, gated))
    await asyncio.sleep(0)
    gated.release.set()
    await asyncio.gather(first, second)

    assert gated.asked == [{1}, {1}]


async def test_a_failed_shared_read_is_read_again_by_the_board_waiting_on_it() -> None:
    recent, computed = Comparisons(clock=Clock()), Computed()
    started = asyncio.Event()

    async def failing(ids: set[int]) -> dict[int, ChildCompared]:
        started.set()
        await asyncio.sleep(0.01)
        raise ConnectionError("the database went away")

    first = asyncio.ensure_future(read(recent, {1}, SPANS, failing))
    await started.wait()
    second = await read(recent, {1}, SPANS, computed)

    (failure,) = await asyncio.gather(first, return_exceptions=True)
    assert set(second) == {1} and computed.asked == [{1}]
    assert isinstance(failure, ConnectionError)
