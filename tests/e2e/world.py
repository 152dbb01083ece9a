"""A small, realistic world for the browser journeys: one team around three children."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, timedelta

from feeds.audit.records import AuditContext
from feeds.clock import utcnow
from feeds.feed.posting import do_create_post
from feeds.models import (
    Agency,
    Child,
    Grant,
    Post,
    PostKind,
    Professional,
    Role,
    SearchOutbox,
    Sector,
    Team,
    TeamMember,
)
from feeds.velocity.tallies import rebuild_days
from tests.conftest import PASSWORD_HASH, Factory

CTX = AuditContext(ip="127.0.0.1", request_id="e2e")
HISTORY = [
    ("visit", "Home visit. Flat warm and tidy, food in the fridge. Mum tired but engaged."),
    ("update", "Attended nursery every day this week; settling well with his key worker."),
    (
        "hunch",
        "Mum mentioned a 'friend' staying over again. Same car outside Tuesday and Thursday.",
    ),
    ("positive", "Growth check at clinic: back on his centile. Mum proud, asked good questions."),
    (
        "concern",
        "Bruise on left forearm; explanation changed between mum and nan. Told @sam.okoro.",
    ),
]


@dataclass
class World:
    phone_user: Professional  # posts from a phone: a health visitor
    teammate: Professional  # watches on a desktop: a social worker in the same team
    manager: Professional
    child: Child
    others: list[Child]
    team: Team  # the team around all three children; the manager manages it


async def build_world() -> World:
    make = Factory()
    health = await Agency.create(name="Northgate Community Health", sector=Sector.HEALTH)
    social = await Agency.create(name="Northgate Children's Services", sector=Sector.SOCIAL_CARE)
    phone_user = await make.professional(
        agency=health,
        name="Priya Shah",
        email="priya@northgate.test",
        handle="priya.shah",
        job_title="Health visitor",
    )
    teammate = await make.professional(
        agency=social,
        name="Sam Okoro",
        email="sam@northgate.test",
        handle="sam.okoro",
        job_title="Social worker",
    )
    manager = await make.professional(
        role=Role.MANAGER,
        agency=social,
        name="Helen Marsh",
        email="helen@northgate.test",
        handle="helen.marsh",
        job_title="Team manager",
    )
    names = [
        ("Leo Turner", date(2022, 3, 14)),
        ("Maya Hughes", date(2017, 9, 2)),
        ("Noah Bennett", date(2012, 6, 21)),
    ]
    children = [
        await Child.create(
            display_name=name,
            reference=f"NG-{1000 + n}",
            date_of_birth=born,
            lead_professional=teammate,
        )
        for n, (name, born) in enumerate(names)
    ]
    team = await Team.create(name="Northgate Family Support", agency=social)
    for person in (phone_user, teammate, manager):
        await TeamMember.create(team=team, professional=person, is_manager=person is manager)
    for child in children:
        await make.grant(child, team=team)
    for kind, body in HISTORY:
        await do_create_post(phone_user, children[0].id, kind, body, CTX)
    await do_create_post(teammate, children[1].id, "update", "School report: attendance 96%.", CTX)
    return World(phone_user, teammate, manager, children[0], children[1:], team)


async def search_index_caught_up(seconds: float = 30.0) -> None:
    """Wait (polling, not asserting on time) until the outbox drainer indexed every post."""
    for _ in range(int(seconds * 10)):
        if not await SearchOutbox.filter(processed_at__isnull=True).exists():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the search outbox was not drained")


async def person(agency: Agency, name: str, handle: str, job_title: str) -> Professional:
    return await Professional.create(
        agency=agency,
        name=name,
        email=f"{handle}@northgate.test",
        handle=handle,
        job_title=job_title,
        password_hash=PASSWORD_HASH,
    )


async def add_quiet_child(world: World) -> tuple[Child, Professional]:
    """A child whose feed has had one school update every 20 days for three months, seen by
    the team; the teacher joins the team (a third agency)."""
    school = await Agency.create(name="Northgate Primary School", sector=Sector.EDUCATION)
    teacher = await person(school, "Tom Reid", "tom.reid", "Class teacher")
    await TeamMember.create(team=world.team, professional=teacher)
    quiet = await Child.create(
        display_name="Ruby Carter",
        reference="NG-1010",
        date_of_birth=date(2016, 5, 3),
        lead_professional=world.teammate,
    )
    await Grant.create(child=quiet, team=world.team)
    now = utcnow()
    for day in range(10, 91, 20):
        await Post.create(
            child=quiet,
            author=teacher,
            kind=PostKind.UPDATE,
            body="Settled week in class; reading improving.",
            created_at=now - timedelta(days=day, hours=2),
        )
    await rebuild_days([quiet.id])  # history written around posting: count its days
    return quiet, teacher


BURST = [
    ("phone_user", "hunch", "Ruby very quiet at the clinic; flinched when mum raised her voice."),
    ("teacher", "concern", "Ruby arrived without a coat again and asked to stay in at lunch."),
    ("teammate", "update", "Call from nan: mum's new partner has moved in."),
    ("teacher", "hunch", "Ruby's drawings this week are all of a locked door."),
    ("phone_user", "visit", "Home visit: no answer, lights on, TV loud."),
    ("teammate", "concern", "Anonymous referral: shouting from the flat most nights."),
    ("teacher", "update", "Ruby absent Thursday and Friday, no call from home."),
]


async def post_burst_directly(world: World, child: Child, teacher: Professional) -> None:
    """The burst written through the domain action (for pictures; journeys use the API)."""
    people = {"phone_user": world.phone_user, "teammate": world.teammate, "teacher": teacher}
    for who, kind, body in BURST:
        await do_create_post(people[who], child.id, kind, body, CTX)
