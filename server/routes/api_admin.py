"""JSON API for administrators: agencies, teams and their members, people's accounts.
Everyone else gets 403 (these routes are no secret), as for /api/v1/audit."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from feeds.audit.actions import AuditAction
from feeds.models import Professional
from feeds.organisation import agencies, people, teams
from feeds.organisation.admin import check_admin
from feeds.organisation.views import agency_view, person_view, team_view
from server.endpoints import audit_context, authenticated, path_id
from server.schemas import organisation as schema
from server.schemas.codec import build, decode, reply
from server.schemas.operation import api

ADMIN_ONLY = {403}


async def _admin_first(request: Request, user: Professional, action: AuditAction) -> None:
    """Permission before input: anyone else gets the 403 whatever they sent."""
    await check_admin(user, action, audit_context(request))


# Names are unique whatever their case; you cannot change your own account (409).
CHANGES = {403, 409}


@api(schema.Agencies, "Administrators: every agency", errors=ADMIN_ONLY)
@authenticated
async def list_agencies(request: Request, user: Professional) -> Response:
    found = await agencies.agencies(user, audit_context(request))
    return reply(build(schema.Agencies, {"agencies": [agency_view(a) for a in found]}))


@api(
    schema.Agency,
    "Administrators: add an agency (name unique whatever its case)",
    status=201,
    body=schema.AgencyCreate,
    errors=CHANGES,
)
@authenticated
async def create_agency(request: Request, user: Professional) -> Response:
    await _admin_first(request, user, AuditAction.AGENCY_CREATE)
    data = await decode(request, schema.AgencyCreate)
    agency = await agencies.do_create_agency(user, data.name, data.sector, audit_context(request))
    return reply(build(schema.Agency, agency_view(agency)), 201)


async def _team_view(team_id: int, status: int = 200) -> Response:
    return reply(build(schema.Team, team_view(await teams.team_detail(team_id))), status)


@api(schema.Teams, "Administrators: every team and its members", errors=ADMIN_ONLY)
@authenticated
async def list_teams(request: Request, user: Professional) -> Response:
    found = await teams.teams(user, audit_context(request))
    return reply(build(schema.Teams, {"teams": [team_view(t) for t in found]}))


@api(
    schema.Team,
    "Administrators: add a team to an agency",
    status=201,
    body=schema.TeamCreate,
    errors=CHANGES,
)
@authenticated
async def create_team(request: Request, user: Professional) -> Response:
    await _admin_first(request, user, AuditAction.TEAM_CREATE)
    data = await decode(request, schema.TeamCreate)
    team = await teams.do_create_team(user, data.name, data.agency_id, audit_context(request))
    return await _team_view(team.id, 201)


@api(
    schema.Team,
    "Administrators: add a member (201), or set whether they manage the team (200)",
    status=201,
    also={200},
    body=schema.MemberAdd,
    errors=CHANGES,
)
@authenticated
async def add_member(request: Request, user: Professional) -> Response:
    team_id = path_id(request, "team_id")
    await _admin_first(request, user, AuditAction.TEAM_MEMBER_ADD)
    data = await decode(request, schema.MemberAdd)
    joined = await teams.do_add_member(
        user, team_id, data.professional_id, data.is_manager, audit_context(request)
    )
    return await _team_view(team_id, 201 if joined.added else 200)


@api(
    None,
    "Administrators: take someone out of a team (its grants stop at once)",
    status=204,
    errors=CHANGES,
)
@authenticated
async def remove_member(request: Request, user: Professional) -> Response:
    await teams.do_remove_member(
        user,
        path_id(request, "team_id"),
        path_id(request, "professional_id"),
        audit_context(request),
    )
    return Response(status_code=204)


@api(schema.People, "Administrators: everyone, active first", errors=ADMIN_ONLY)
@authenticated
async def list_people(request: Request, user: Professional) -> Response:
    found = await people.people(user, audit_context(request))
    return reply(build(schema.People, {"people": [person_view(p) for p in found]}))


async def _person_response(person: Professional, status: int = 200) -> Response:
    await person.fetch_related("agency")
    return reply(build(schema.Person, person_view(person)), status)


@api(
    schema.Person,
    "Administrators: add a professional to an agency",
    status=201,
    body=schema.PersonCreate,
    errors=CHANGES,
)
@authenticated
async def create_person(request: Request, user: Professional) -> Response:
    await _admin_first(request, user, AuditAction.PERSON_CREATE)
    data = await decode(request, schema.PersonCreate)
    person = await people.do_create_person(user, schema.as_fields(data), audit_context(request))
    return await _person_response(person, 201)


@api(
    schema.Person,
    "Administrators: switch an account off; sessions, tokens, sockets end",
    errors=CHANGES,
)
@authenticated
async def deactivate(request: Request, user: Professional) -> Response:
    person = await people.do_deactivate(
        user, path_id(request, "professional_id"), audit_context(request)
    )
    return await _person_response(person)


@api(schema.Person, "Administrators: switch an account back on", errors=CHANGES)
@authenticated
async def reactivate(request: Request, user: Professional) -> Response:
    person = await people.do_reactivate(
        user, path_id(request, "professional_id"), audit_context(request)
    )
    return await _person_response(person)


@api(
    schema.Person,
    "Administrators: make someone a practitioner, manager or admin",
    body=schema.RoleChange,
    errors=CHANGES,
)
@authenticated
async def change_role(request: Request, user: Professional) -> Response:
    professional_id = path_id(request, "professional_id")
    await _admin_first(request, user, AuditAction.PERSON_ROLE)
    data = await decode(request, schema.RoleChange)
    person = await people.do_change_role(user, professional_id, data.role, audit_context(request))
    return await _person_response(person)


ADMIN = "/api/v1/admin"
routes = [
    Route(f"{ADMIN}/agencies", list_agencies, methods=["GET"]),
    Route(f"{ADMIN}/agencies", create_agency, methods=["POST"]),
    Route(f"{ADMIN}/teams", list_teams, methods=["GET"]),
    Route(f"{ADMIN}/teams", create_team, methods=["POST"]),
    Route(f"{ADMIN}/teams/{{team_id}}/members", add_member, methods=["POST"]),
    Route(
        f"{ADMIN}/teams/{{team_id}}/members/{{professional_id}}",
        remove_member,
        methods=["DELETE"],
    ),
    Route(f"{ADMIN}/people", list_people, methods=["GET"]),
    Route(f"{ADMIN}/people", create_person, methods=["POST"]),
    Route(f"{ADMIN}/people/{{professional_id}}/deactivate", deactivate, methods=["POST"]),
    Route(f"{ADMIN}/people/{{professional_id}}/reactivate", reactivate, methods=["POST"]),
    Route(f"{ADMIN}/people/{{professional_id}}/role", change_role, methods=["PUT"]),
]
