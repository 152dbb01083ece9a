"""The one access policy, held equal in all its forms.

Hypothesis builds random states (grants to people and teams, live, expired, revoked and
not yet ended; team members and managers; break-glass live and lapsed; leads; inactive
people) and checks that the Python rules (`rules.standings_of` + `rules.allows` over the
state as plain data), the single-child SQL (`check_child_access`, `may`), the many-child
SQL of every action (`child_ids_sql`; `visible_child_ids` is what boards, search and the
websocket filter by), the ORM's active-grant filter and `responsible_for` all agree.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds import raw_sql
from feeds.access import policy
from feeds.access.rules import (
    PERMISSIONS,
    RESPONSIBLE,
    Action,
    GrantState,
    Standing,
    allows,
    standings_of,
)
from feeds.clock import utcnow
from feeds.errors import Forbidden, NotFound
from feeds.models import BreakGlass, Child, Grant, Professional, Team, TeamMember
from tests.conftest import Factory

PEOPLE, CHILDREN, TEAMS = 4, 3, 2
GRANT_STATES = ("live", "expired", "revoked", "ends_later")


@dataclass(frozen=True)
class State:
    membership: tuple[tuple[int, int, bool], ...]  # (person, team, is_manager)
    grants: tuple[tuple[int, str, int, str], ...]  # (child, "person"|"team", holder, state)
    glass: tuple[tuple[int, int, bool], ...]  # (person, child, live)
    leads: tuple[int | None, ...]  # per child
    inactive: frozenset[int]


STATES = st.builds(
    State,
    membership=st.lists(
        st.tuples(st.integers(0, PEOPLE - 1), st.integers(0, TEAMS - 1), st.booleans()),
        max_size=5,
        unique_by=lambda m: (m[0], m[1]),
    ).map(tuple),
    grants=st.lists(
        st.one_of(
            st.tuples(
                st.integers(0, CHILDREN - 1),
                st.just("person"),
                st.integers(0, PEOPLE - 1),
                st.sampled_from(GRANT_STATES),
            ),
            st.tuples(
                st.integers(0, CHILDREN - 1),
                st.just("team"),
                st.integers(0, TEAMS - 1),
                st.sampled_from(GRANT_STATES),
            ),
        ),
        max_size=7,
    ).map(tuple),
    glass=st.lists(
        st.tuples(st.integers(0, PEOPLE - 1), st.integers(0, CHILDREN - 1), st.booleans()),
        max_size=3,
    ).map(tuple),
    leads=st.tuples(*[st.one_of(st.none(), st.integers(0, PEOPLE - 1))] * CHILDREN),
    inactive=st.frozensets(st.integers(0, PEOPLE - 1), max_size=1),
)


def grant_times(state: str, now: datetime) -> GrantState:
    return {
        "live": GrantState(None, None),
        "expired": GrantState(None, now - timedelta(hours=1)),
        "revoked": GrantState(now - timedelta(minutes=5), None),
        "ends_later": GrantState(None, now + timedelta(days=2)),
    }[state]


def expected_standings(state: State, person: int, child: int, now: datetime) -> frozenset[Standing]:
    """The rules applied to the state as plain data: no database involved."""
    if person in state.inactive:
        return frozenset()
    teams = {team for p, team, _ in state.membership if p == person}
    managed = {team for p, team, manager in state.membership if p == person and manager}
    live = [
        (kind, holder)
        for c, kind, holder, times in state.grants
        if c == child and grant_times(times, now).is_active(now)
    ]
    return standings_of(
        lead=state.leads[child] == person,
        direct=("person", person) in live,
        team=any(kind == "team" and holder in teams for kind, holder in live),
        team_manager=any(kind == "team" and holder in managed for kind, holder in live),
        break_glass=(person, child, True) in state.glass,
    )


@dataclass
class Universe:
    people: list[Professional]
    children: list[Child]
    grants: list[tuple[Grant, GrantState]]


async def build(make: Factory, state: State, now: datetime) -> Universe:
    people = [await make.professional() for _ in range(PEOPLE)]
    children = [await make.child() for _ in range(CHILDREN)]
    teams = [await Team.create(name=f"Team {make._next()}", agency=people[0].agency) for _ in "ab"]
    for person, team, manager in state.membership:
        await TeamMember.create(team=teams[team], professional=people[person], is_manager=manager)
    grants = []
    for child, kind, holder, times in state.grants:
        wanted = grant_times(times, now)
        to = {"professional": people[holder]} if kind == "person" else {"team": teams[holder]}
        grant = await Grant.create(
            child=children[child], expires_at=wanted.expires_at, revoked_at=wanted.revoked_at, **to
        )
        grants.append((grant, wanted))
    for person, child, live in state.glass:
        ends = now + (timedelta(hours=2) if live else -timedelta(minutes=1))
        await BreakGlass.create(
            child=children[child],
            professional=people[person],
            reason="property",
            started_at=now - timedelta(hours=3),
            expires_at=ends,
        )
    for kid, lead in zip(children, state.leads, strict=True):
        if lead is not None:
            kid.lead_professional_id = people[lead].id
            await kid.save(update_fields=["lead_professional_id"])
    for person in state.inactive:
        people[person].is_active = False
        await people[person].save(update_fields=["is_active"])
    return Universe(people, children, grants)


async def check_state(make: Factory, state: State) -> None:
    now = utcnow()
    world = await build(make, state, now)
    ours = {c.id for c in world.children}
    for p, person in enumerate(world.people):
        for c, child in enumerate(world.children):
            expected = expected_standings(state, p, c, now)
            _, found = await policy.child_and_standings(person, child.id)
            assert found == expected, (p, c, state)
            for action in Action:
                assert await policy.may(person, action, child) is allows(expected, action)
            await _check_child_access(person, child, expected)
        visible = await policy.visible_child_ids(person, now)
        assert visible & ours == {
            child.id
            for c, child in enumerate(world.children)
            if allows(expected_standings(state, p, c, now), Action.VIEW)
        }
        for action in Action:
            if person.is_active:
                rows = await raw_sql.fetch(policy.child_ids_sql(action), now, person.id)
                assert {int(r[0]) for r in rows} & ours == {
                    child.id
                    for c, child in enumerate(world.children)
                    if allows(expected_standings(state, p, c, now), action)
                }, (p, action, state)
    active = await Grant.filter(policy.active_grant_q(now), id__in=[g.id for g, _ in world.grants])
    assert {g.id for g in active} == {g.id for g, wanted in world.grants if wanted.is_active(now)}
    for c, child in enumerate(world.children):
        answerable = await policy.responsible_for(child.id, now)
        assert set(answerable) == {
            world.people[p].id
            for p in range(PEOPLE)
            if expected_standings(state, p, c, now) & RESPONSIBLE
        }
        for action in Action:  # the inverse: who may act on this child (mentions use it)
            holders = await policy.holder_ids(child.id, action, now=now)
            assert holders == {
                world.people[p].id
                for p in range(PEOPLE)
                if allows(expected_standings(state, p, c, now), action)  # none when inactive
            }, (c, action, state)
        granted = await policy.holder_ids(child.id, Action.VIEW, emergency=False, now=now)
        assert granted == {
            world.people[p].id
            for p in range(PEOPLE)
            if allows(expected_standings(state, p, c, now) - {Standing.BREAK_GLASS}, Action.VIEW)
        }


async def _check_child_access(person: Professional, child: Child, expected: Any) -> None:
    for action in Action:
        try:
            await policy.check_child_access(person, child.id, action)
            outcome = "allowed"
        except NotFound:
            outcome = "hidden"
        except Forbidden:
            outcome = "refused"
        if not allows(expected, Action.VIEW):
            assert outcome == "hidden"
        else:
            assert outcome == ("allowed" if allows(expected, action) else "refused")


def test_break_glass_gives_view_and_post_and_nothing_more() -> None:
    assert PERMISSIONS[Standing.BREAK_GLASS] == {Action.VIEW, Action.POST}
    assert not allows({Standing.BREAK_GLASS}, Action.EDIT_OWN_POST)
    # Whatever else is true of a person, break-glass alone adds nothing beyond that.
    lead_without_grant = standings_of(
        lead=True, direct=False, team=False, team_manager=False, break_glass=True
    )
    assert lead_without_grant == {Standing.BREAK_GLASS}


@pytest.mark.usefixtures("app")
async def test_every_form_of_the_policy_agrees_on_random_states(make: Factory) -> None:
    loop = asyncio.get_running_loop()

    @settings(
        max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(state=STATES)
    def check(state: State) -> None:
        asyncio.run_coroutine_threadsafe(check_state(make, state), loop).result(60)

    await asyncio.to_thread(check)
