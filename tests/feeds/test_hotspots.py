"""Hotspots: worries per week grouped by team, agency, school and area, over exactly the
children a manager may see."""

from __future__ import annotations

from datetime import timedelta

import pytest

from feeds.access import identity
from feeds.audit.records import AuditContext
from feeds.clock import utcnow
from feeds.errors import Forbidden, Invalid
from feeds.models import AuditRecord, Child, Post, PostKind, Professional, VelocityState
from feeds.network.models import Household, HouseholdMember
from feeds.velocity.hotspots import NOT_SHOWN, WEEKS, read_hotspots
from feeds.velocity.tallies import rebuild_days
from tests.conftest import Factory

CTX = AuditContext(ip="203.0.113.7", request_id="req-hot")


async def _worry(child: Child, author: Professional, days_ago: float, kind: PostKind) -> None:
    at = utcnow() - timedelta(days=days_ago)
    await Post.create(child=child, author=author, kind=kind, body="worried", created_at=at)


async def _scene(make: Factory) -> tuple[Professional, list[Child], Child, Professional]:
    """Two children at Oak School (one flagged), one at Elm; a hidden child at Oak with
    many worries; a school nurse and a police officer raising worries."""
    oak1, oak2, elm, hidden = [await make.child() for _ in range(4)]
    for child, school, area in (
        (oak1, "Oak", "North"),
        (oak2, "Oak", "North"),
        (elm, "Elm", "South"),
        (hidden, "Oak", "North"),
    ):
        child.school, child.area = school, area
        await child.save()
    nurse = await make.professional(agency=await make.agency())
    police = await make.professional(agency=await make.agency())
    await _worry(oak1, nurse, 1, PostKind.HUNCH)
    await _worry(oak1, police, 2, PostKind.CONCERN)
    await _worry(oak2, nurse, 20, PostKind.HUNCH)
    await _worry(oak2, nurse, 3, PostKind.UPDATE)  # not a worry
    await _worry(elm, police, 40, PostKind.CONCERN)
    await _worry(elm, police, 200, PostKind.CONCERN)  # older than 12 weeks
    for day in range(6):
        await _worry(hidden, police, day + 0.5, PostKind.CONCERN)
    await rebuild_days([c.id for c in (oak1, oak2, elm, hidden)])
    await VelocityState.create(child_id=oak1.id, flagged=True, assessment={})
    manager = await make.manager_of(oak1, oak2, elm)
    return manager, [oak1, oak2, elm], hidden, police


async def test_by_school_counts_worries_per_week_of_visible_children_only(make: Factory) -> None:
    manager, _, _hidden, _ = await _scene(make)

    found = await read_hotspots(manager, "school", CTX)

    assert found.children == 3 and len(found.week_starts) == WEEKS
    oak, elm = found.rows
    assert (oak.label, oak.children, oak.flagged, oak.worries) == ("Oak", 2, 1, 3)
    assert oak.weeks[-1] == 2 and oak.weeks[-3] == 1  # this week; 20 days ago
    assert (elm.label, elm.children, elm.worries) == ("Elm", 1, 1)
    assert oak.trend == "rose"  # 3 in the last four weeks against 0 before
    assert await AuditRecord.filter(action="hotspots.read", actor_id=manager.id).count() == 1


async def test_by_agency_counts_the_worries_each_agency_raised(make: Factory) -> None:
    manager, _children, _hidden, police = await _scene(make)
    await police.fetch_related("agency")

    found = await read_hotspots(manager, "agency", CTX)

    rows = {row.label: row for row in found.rows}
    police_row = rows[police.agency.name]
    assert (police_row.worries, police_row.children) == (2, 2)  # not the hidden child's 6
    assert sum(row.worries for row in found.rows) == 4


async def test_by_team_and_area(make: Factory) -> None:
    manager, _, _, _ = await _scene(make)
    by_team = await read_hotspots(manager, "team", CTX)
    by_area = await read_hotspots(manager, "area", CTX)
    assert [(r.children, r.worries) for r in by_team.rows] == [(3, 4)]
    assert [(r.label, r.worries) for r in by_area.rows] == [("North", 3), ("South", 1)]


async def test_practitioners_are_refused_and_bad_dimensions_are_invalid(make: Factory) -> None:
    person = await make.practitioner(grants=[await make.child()])
    with pytest.raises(Forbidden):
        await read_hotspots(person, "school", CTX)
    manager = await make.manager_of(await make.child())
    with pytest.raises(Invalid):
        await read_hotspots(manager, "postcode", CTX)
    assert await AuditRecord.filter(action="hotspots.read", outcome="denied").count() == 1


async def test_by_household_names_only_the_children_the_reader_may_see(make: Factory) -> None:
    manager, (oak1, oak2, elm), hidden, _ = await _scene(make)
    household = await Household.create(created_at=utcnow())
    for child in (oak1, oak2, hidden):
        await HouseholdMember.create(
            household=household, child=child, relationship="sibling", linked_at=utcnow()
        )

    found = await read_hotspots(manager, "household", CTX)

    assert [(r.label, r.children, r.worries) for r in found.rows] == [
        (f"Household: {', '.join(sorted([oak1.display_name, oak2.display_name]))}", 2, 3)
    ]
    assert elm.display_name not in str(found) and hidden.display_name not in str(found)


async def test_by_household_places_a_shielded_child_under_not_shown(make: Factory) -> None:
    """Its label in its family's row would still say whose family it is in."""
    manager, (oak1, oak2, _elm), _hidden, _ = await _scene(make)
    oak2.shielded_at = utcnow()
    await oak2.save()
    household = await Household.create(created_at=utcnow())
    for child in (oak1, oak2):
        await HouseholdMember.create(
            household=household, child=child, relationship="sibling", linked_at=utcnow()
        )

    found = await read_hotspots(manager, "household", CTX)

    assert oak2.display_name not in str(found) and identity.label(oak2.id) not in str(found)
    rows = {row.label: row.children for row in found.rows}
    assert rows == {f"Household: {oak1.display_name}": 1, NOT_SHOWN: 1}
