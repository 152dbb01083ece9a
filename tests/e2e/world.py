"""A small, realistic world for the browser journeys: one team around three children."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from feeds.audit import AuditContext
from feeds.models import Agency, Child, Professional, Role, Sector, Team
from feeds.posting import do_create_post
from tests.conftest import Factory

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
    team = await make.team(members=[phone_user, teammate], managers=[manager])
    for child in children:
        await make.grant(child, team=team)
    for kind, body in HISTORY:
        await do_create_post(phone_user, children[0].id, kind, body, CTX)
    await do_create_post(teammate, children[1].id, "update", "School report: attendance 96%.", CTX)
    return World(phone_user, teammate, manager, children[0], children[1:], team)
