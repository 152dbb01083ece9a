"""The board in feeds/: ranking, access, audit, persisted hysteresis, flips and comparisons."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tortoise import connections

from feeds.audit.records import AuditContext
from feeds.clock import utcnow
from feeds.errors import Forbidden, Invalid
from feeds.models import (
    Agency,
    AuditRecord,
    Child,
    Event,
    Notification,
    Post,
    PostKind,
    Professional,
    Role,
    VelocityState,
)
from feeds.velocity import board
from feeds.velocity.board import Period
from feeds.velocity.board_rows import VERDICTS
from feeds.velocity.detector import ActivityEvent, Assessment, compare_periods
from feeds.velocity.tallies import rebuild_days
from feeds.velocity.verdicts import do_recompute_velocity
from tests.conftest import Factory

CTX = AuditContext(ip="203.0.113.9", request_id="req-board")


class History:
    """Writes back-dated posts on a child, each from a professional of a given agency."""

    def __init__(self, make: Factory, now: datetime) -> None:
        self.make = make
        self.now = now
        self.people: dict[str, Professional] = {}

    async def author(self, agency: str) -> Professional:
        if agency not in self.people:
            found = await Agency.get_or_none(name=agency) or await Agency.create(
                name=agency, sector="social_care"
            )
            self.people[agency] = await self.make.professional(agency=found)
        return self.people[agency]

    async def post(
        self, child: Child, ago: timedelta, agency: str, kind: PostKind = PostKind.UPDATE
    ) -> Post:
        post = await Post.create(
            child=child,
            author=await self.author(agency),
            kind=kind,
            body="seen",
            created_at=self.now - ago,
        )
        await rebuild_days([child.id])  # history written around posting: count its days
        return post

    async def quiet(self, child: Child) -> None:
        """One school update every 20 days for the last three months."""
        for day in range(10, 91, 20):
            await self.post(child, timedelta(days=day, hours=2), "School")

    async def burst(self, child: Child, agencies: int, posts: int) -> None:
        """`posts` posts over the last ~2 days from `agencies` agencies, half of them hunches."""
        for i in range(posts):
            kind = PostKind.HUNCH if i % 2 == 0 else PostKind.UPDATE
            await self.post(child, timedelta(hours=3 + 10 * i), f"Agency {i % agencies}", kind)


NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # a Wednesday afternoon


async def _manager_with(make: Factory, children: list[Child]) -> Professional:
    manager = await make.professional(role=Role.MANAGER)
    team = await make.team(managers=[manager])
    for child in children:
        await make.grant(child, team=team)
    return manager


async def test_multi_agency_burst_ranks_above_quiet_and_busy_children(make: Factory) -> None:
    history = History(make, NOW)
    burst, quiet, busy = await make.child(), await make.child(), await make.child()
    for child in (burst, quiet, busy):
        await history.quiet(child)
    await history.burst(burst, agencies=3, posts=6)
    for day in range(0, 60):  # a steady busy child: a post every day from one agency
        await history.post(busy, timedelta(days=day, hours=5), "Health")
    manager = await _manager_with(make, [quiet, busy, burst])

    found = await board.read_board(manager, CTX, now=NOW)

    assert found.rows[0].child.id == burst.id
    top = found.rows[0]
    assert top.assessment.flagged and top.assessment.score >= 3
    assert any("agencies" in reason for reason in top.assessment.reasons)
    assert any("hunch" in reason for reason in top.assessment.reasons)
    assert top.posts_7d == 6 and len(top.assessment.sparkline) == 28
    assert top.last_post_at is not None
    assert not any(row.assessment.flagged for row in found.rows[1:])
    assert (found.children, found.flagged) == (3, 1)


async def test_board_shows_only_children_the_manager_may_see(make: Factory) -> None:
    history = History(make, NOW)
    mine, hidden, revoked = await make.child(), await make.child(), await make.child()
    await history.burst(hidden, agencies=3, posts=6)
    await history.burst(revoked, agencies=3, posts=6)
    manager = await _manager_with(make, [mine])
    await make.grant(revoked, professional=manager, revoked=True)
    await make.grant(hidden, professional=await make.professional())

    found = await board.read_board(manager, CTX, now=NOW)

    assert [row.child.id for row in found.rows] == [mine.id]
    assert (found.children, found.flagged) == (1, 0)


async def test_board_read_is_audited(make: Factory) -> None:
    manager = await _manager_with(make, [await make.child()])
    await board.read_board(manager, CTX, now=NOW, status="flagged")
    record = await AuditRecord.filter(action="board.read").get()
    assert (record.actor_id, record.outcome, record.ip) == (manager.id, "ok", CTX.ip)
    assert record.detail == {"children": 1, "flagged": 0, "status": "flagged", "team": None}


@pytest.mark.parametrize("role", [Role.PRACTITIONER, Role.ADMIN])
async def test_non_managers_are_refused_and_the_refusal_is_audited(
    make: Factory, role: Role
) -> None:
    person = await make.professional(role=role)
    await make.grant(await make.child(), professional=person)
    with pytest.raises(Forbidden):
        await board.read_board(person, CTX)
    record = await AuditRecord.filter(action="board.read").get()
    assert (record.actor_id, record.outcome) == (person.id, "denied")


async def test_flagged_filter_keeps_only_flagged_rows(make: Factory) -> None:
    history = History(make, NOW)
    burst, quiet = await make.child(), await make.child()
    await history.quiet(burst)
    await history.burst(burst, agencies=3, posts=6)
    manager = await _manager_with(make, [burst, quiet])
    found = await board.read_board(manager, CTX, now=NOW, status="flagged")
    assert [row.child.id for row in found.rows] == [burst.id]
    assert found.children == 2
    with pytest.raises(Invalid):
        await board.read_board(manager, CTX, status="everything")


async def test_hysteresis_uses_the_persisted_flag(make: Factory) -> None:
    """Three posts from three agencies score between the release (2) and flag (3) lines:
    not enough to become flagged, enough to stay flagged."""
    history = History(make, NOW)
    child = await make.child()
    await history.quiet(child)
    await history.burst(child, agencies=3, posts=3)
    manager = await _manager_with(make, [child])

    first = (await board.read_board(manager, CTX, now=NOW)).rows[0].assessment
    assert 2 <= first.score < 3 and not first.flagged
    assert await do_recompute_velocity([child.id], NOW) == []
    assert not (await VelocityState.get(child_id=child.id)).flagged

    await VelocityState.filter(child_id=child.id).update(flagged=True)
    assert (await board.read_board(manager, CTX, now=NOW)).rows[0].assessment.flagged
    assert await do_recompute_velocity([child.id], NOW) == []  # stays flagged: no flip
    assert (await VelocityState.get(child_id=child.id)).flagged


async def test_a_burst_flips_the_flag_once_and_emits_velocity_changed(make: Factory) -> None:
    history = History(make, NOW)
    child = await make.child()
    await history.quiet(child)
    await history.burst(child, agencies=3, posts=6)

    flips = await do_recompute_velocity([child.id], NOW)
    again = await do_recompute_velocity([child.id], NOW + timedelta(minutes=1))

    assert [(f.child_id, f.flagged) for f in flips] == [(child.id, True)]
    assert again == []
    state = await VelocityState.get(child_id=child.id)
    assert state.flagged and state.score >= 3 and state.flagged_at == NOW
    event = await Event.filter(type="velocity.changed").get()
    assert event.child_id == child.id
    assert event.payload["flagged"] is True and event.payload["reasons"]
    audit = await AuditRecord.filter(action="velocity.changed").get()
    assert audit.child_id == child.id and audit.actor_id is None


async def test_flag_is_released_when_the_burst_ages_out(make: Factory) -> None:
    history = History(make, NOW)
    child = await make.child()
    await history.quiet(child)
    await history.burst(child, agencies=3, posts=6)
    await do_recompute_velocity([child.id], NOW)

    flips = await do_recompute_velocity([child.id], NOW + timedelta(days=20))

    assert [(f.child_id, f.flagged) for f in flips] == [(child.id, False)]
    changes = await Event.filter(type="velocity.changed").order_by("id")
    assert [e.payload["flagged"] for e in changes] == [True, False]
    assert (await VelocityState.get(child_id=child.id)).flagged_at is None


async def test_compare_periods_counts_by_kind_authors_and_agencies(make: Factory) -> None:
    history = History(make, NOW)
    child, other = await make.child(), await make.child()
    midnight = NOW.replace(hour=0)  # the board compares whole UTC days
    a = Period(midnight - timedelta(days=14), midnight - timedelta(days=7))
    b = Period(midnight - timedelta(days=7), midnight + timedelta(days=1))
    await history.post(child, timedelta(days=10), "School")
    await history.post(child, timedelta(days=3), "School", PostKind.CONCERN)
    await history.post(child, timedelta(days=2), "Police", PostKind.HUNCH)
    await history.post(child, timedelta(days=1), "Health", PostKind.HUNCH)
    await history.post(other, timedelta(days=1), "Health", PostKind.VISIT)
    removed = await history.post(child, timedelta(days=1), "Health")
    await Post.filter(id=removed.id).update(removed_at=utcnow())
    await rebuild_days([child.id])

    one = await board.compare({child.id}, a, b)
    both = await board.compare({child.id, other.id}, a, b)

    assert (one.a.total_posts, one.b.total_posts, one.change.total_posts) == (1, 3, 2)
    assert one.b.posts_by_kind == {
        "update": 0,
        "hunch": 2,
        "concern": 1,
        "visit": 0,
        "positive": 0,
    }
    assert (one.b.distinct_agencies, one.change.distinct_agencies) == (3, 2)
    assert (one.b.distinct_authors, one.change.distinct_authors) == (3, 2)
    assert (both.b.total_posts, both.b.distinct_agencies) == (4, 3)
    assert both.change.posts_by_kind["visit"] == 1


async def test_compared_tallies_agree_with_the_posts_they_count(make: Factory) -> None:
    """The board sums daily tallies in SQL; `period_stats` over the posts is the
    definition. Random posts on three children, two periods: both give the same numbers."""
    rng = random.Random(7)
    history = History(make, NOW)
    children = [await make.child() for _ in range(3)]
    posts = []
    for _ in range(40):
        ago = timedelta(days=rng.randint(0, 29), hours=rng.randint(0, 14))
        kind = rng.choice(list(PostKind))
        agency = rng.choice(["School", "Police", "Health", "Housing"])
        posts.append(await history.post(rng.choice(children), ago, agency, kind))
    removed = posts[::9]
    await Post.filter(id__in=[p.id for p in removed]).update(removed_at=utcnow())
    await rebuild_days([c.id for c in children])
    midnight = NOW.replace(hour=0)
    a = Period(midnight - timedelta(days=30), midnight - timedelta(days=9))
    b = Period(midnight - timedelta(days=9), midnight + timedelta(days=1))
    kept = await Post.filter(removed_at=None).prefetch_related("author__agency")
    events = [
        ActivityEvent(p.created_at, p.kind.value, str(p.author_id), p.author.agency.name)
        for p in kept
    ]

    compared = await board.compare({c.id for c in children}, a, b)

    assert compared == compare_periods(events, a.start, a.end, b.start, b.end)
    assert compared.a.total_posts + compared.b.total_posts == len(kept)


async def test_each_childs_comparison_agrees_with_its_posts_even_when_periods_overlap(
    make: Factory,
) -> None:
    """A compared board reads both periods for every child in one statement: each child's
    row, and the board's totals, equal `period_stats` over the posts, also when the periods
    overlap (a day in both counts in both)."""
    rng = random.Random(11)
    history = History(make, NOW)
    children = [await make.child() for _ in range(4)]
    posts = []
    for _ in range(50):
        ago = timedelta(days=rng.randint(0, 20), hours=rng.randint(0, 14))
        kind = rng.choice(list(PostKind))
        agency = rng.choice(["School", "Police", "Health", "Housing"])
        posts.append(await history.post(rng.choice(children[:3]), ago, agency, kind))
    await rebuild_days([c.id for c in children])
    midnight = NOW.replace(hour=0)
    a = Period(midnight - timedelta(days=21), midnight - timedelta(days=5))
    b = Period(midnight - timedelta(days=9), midnight + timedelta(days=1))
    kept = await Post.all().prefetch_related("author__agency")

    def events_of(child_ids: set[int]) -> list[ActivityEvent]:
        return [
            ActivityEvent(p.created_at, p.kind.value, str(p.author_id), p.author.agency.name)
            for p in kept
            if p.child_id in child_ids
        ]

    rows = [_plain_row(child.id) for child in children]
    ids = {c.id for c in children}
    overall, changes = await board.compare_board(rows, ids, a, b, each=True)

    assert overall == compare_periods(events_of(ids), a.start, a.end, b.start, b.end)
    for change in changes:
        mine = events_of({change.child.id})
        assert change.comparison == compare_periods(mine, a.start, a.end, b.start, b.end)
    nobody = next(c for c in changes if c.child.id == children[3].id)  # nobody posted
    assert nobody.comparison.a.total_posts == nobody.comparison.b.total_posts == 0
    assert [c.trend.attention_change for c in changes] == sorted(
        (c.trend.attention_change for c in changes), reverse=True
    )


def _plain_row(child_id: int) -> board.BoardRow:
    quiet = Assessment(score=0.0, flagged=False, reasons=[])
    return board.BoardRow(board.ChildRef(child_id, "C", "R"), quiet, 0, 0, None)


async def test_bad_periods_are_invalid(make: Factory) -> None:
    person = await make.practitioner(grants=[child := await make.child()])
    now = utcnow()
    ok = Period(now - timedelta(days=28), now)
    for bad in (
        Period(now, now - timedelta(days=1)),
        Period(now - timedelta(days=400), now),
        Period(now - timedelta(days=4000), now - timedelta(days=3990)),
    ):
        with pytest.raises(Invalid):
            await board.read_child_velocity(person, child.id, bad, ok, CTX)


async def _queries_for_board(make: Factory, monkeypatch: pytest.MonkeyPatch, n: int) -> int:
    history = History(make, NOW)
    children = [await make.child() for _ in range(n)]
    for child in children:
        await history.burst(child, agencies=2, posts=2)
    manager = await _manager_with(make, children)
    connection = connections.get("default")
    calls, counting = 0, asyncio.current_task()
    for name in ("execute_query", "execute_query_dict"):
        original = getattr(connection, name)

        async def counted(*args: Any, _original: Any = original) -> Any:
            nonlocal calls
            # Only this task's queries: background loops (the hub's housekeeping, the
            # velocity watcher) share the counted connection (CI counted 11 against 9).
            calls += asyncio.current_task() is counting
            return await _original(*args)

        monkeypatch.setattr(connection, name, counted)
    VERDICTS.clear()  # a cold read: every verdict decoded (a warm one skips that query)
    await board.read_board(manager, CTX, now=NOW)
    monkeypatch.undo()
    return calls


async def test_board_query_count_does_not_grow_with_children(
    make: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    few = await _queries_for_board(make, monkeypatch, 2)
    many = await _queries_for_board(make, monkeypatch, 12)
    assert 0 < few == many <= 12


async def test_team_filter_shows_one_of_the_managers_own_teams(make: Factory) -> None:
    manager = await make.professional(role=Role.MANAGER)
    north, south = await make.team(managers=[manager]), await make.team(managers=[manager])
    elsewhere = await make.team()
    a, b, c = await make.child(), await make.child(), await make.child()
    await make.grant(a, team=north)
    await make.grant(b, team=south)
    await make.grant(c, team=elsewhere)

    everything = await board.read_board(manager, CTX, now=NOW)
    only_north = await board.read_board(manager, CTX, now=NOW, team=str(north.id))

    assert {row.child.id for row in everything.rows} == {a.id, b.id}
    assert [row.child.id for row in only_north.rows] == [a.id]
    assert [t.id for t in await board.manager_teams(manager)] == sorted([north.id, south.id])
    for bad in (str(elsewhere.id), "north", "-1"):
        with pytest.raises(Invalid):
            await board.read_board(manager, CTX, now=NOW, team=bad)


async def test_a_flag_notifies_the_lead_and_the_team_managers_once(make: Factory) -> None:
    history = History(make, NOW)
    lead = await make.practitioner()
    child = await make.child(lead=lead)
    await make.grant(child, professional=lead)
    manager, bystander = (
        await make.professional(role=Role.MANAGER),
        await make.professional(role=Role.MANAGER),
    )
    team = await make.team(managers=[manager])
    await make.team(managers=[bystander])  # no grant for this child
    await make.grant(child, team=team)
    await history.quiet(child)
    await history.burst(child, agencies=3, posts=6)

    await do_recompute_velocity([child.id], NOW)
    await do_recompute_velocity([child.id], NOW + timedelta(hours=1))  # still flagged

    notes = await Notification.filter(kind="attention").order_by("recipient_id")
    assert [(n.recipient_id, n.child_id) for n in notes] == sorted(
        [(lead.id, child.id), (manager.id, child.id)]
    )
    live = await Event.filter(type="notification", child_id=child.id)
    assert Counter(e.recipient_id for e in live) == Counter([lead.id, manager.id])
