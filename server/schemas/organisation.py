"""Administrators' organisation: agencies, teams and their members, people's accounts."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta, Struct

from feeds.accounts.lockout import MAX_PASSWORD
from feeds.kinds import Role, Sector
from server.schemas.common import Id

Name = Annotated[str, Meta(max_length=200)]


class AgencyCreate(Struct):
    """A new agency; its name is unique whatever its case."""

    name: Name
    sector: Sector


class Agency(Struct):
    id: int
    name: str
    sector: Sector


class Agencies(Struct):
    agencies: list[Agency]


class TeamCreate(Struct):
    name: Name
    agency_id: Id


class MemberAdd(Struct):
    """Add a member, or set whether they manage the team."""

    professional_id: Id
    is_manager: bool = False


class Member(Struct):
    professional_id: int
    name: str
    email: str
    agency: str
    is_manager: bool
    active: bool


class Team(Struct):
    id: int
    name: str
    agency: str
    agency_id: int
    members: list[Member]


class Teams(Struct):
    teams: list[Team]


class PersonCreate(Struct):
    """A professional in an existing agency, with a password they change later."""

    email: Annotated[str, Meta(max_length=254)]
    name: Name
    agency_id: Id
    password: Annotated[str, Meta(max_length=MAX_PASSWORD)]
    role: Role = Role.PRACTITIONER
    job_title: Annotated[str, Meta(max_length=200)] | None = None


class Person(Struct):
    id: int
    name: str
    email: str
    handle: str
    job_title: str
    work_phone: str
    work_email: str
    agency: str
    agency_id: int
    role: Role
    active: bool
    locked: bool
    created_at: str | None


class People(Struct):
    people: list[Person]


class RoleChange(Struct):
    role: Role


def as_fields(person: PersonCreate) -> dict[str, object]:
    """The new person as feeds/organisation/people reads it."""
    return {**msgspec.structs.asdict(person), "role": person.role.value}
