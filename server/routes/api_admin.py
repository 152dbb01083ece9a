"""JSON API for administrators: agencies, teams and their members, people's accounts.
Everyone else gets 403 (these routes are no secret), as for /api/v1/audit."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from feeds.models import Professional
from feeds.organisation import agencies, people, teams
from feeds.organisation.views import agency_view, person_view, team_view
from server.endpoints import audit_context, authenticated, path_id, read_json


@authenticated
async def list_agencies(request: Request, user: Professional) -> Response:
    found = await agencies.agencies(user, audit_context(request))
    return JSONResponse({"agencies": [agency_view(a) for a in found]})


@authenticated
async def create_agency(request: Request, user: Professional) -> Response:
    data = await read_json(request)
    agency = await agencies.do_create_agency(
        user, data.get("name"), data.get("sector"), audit_context(request)
    )
    return JSONResponse(agency_view(agency), status_code=201)


async def _team_view(team_id: int, status: int = 200) -> Response:
    return JSONResponse(team_view(await teams.team_detail(team_id)), status_code=status)


@authenticated
async def list_teams(request: Request, user: Professional) -> Response:
    found = await teams.teams(user, audit_context(request))
    return JSONResponse({"teams": [team_view(t) for t in found]})


@authenticated
async def create_team(request: Request, user: Professional) -> Response:
    data = await read_json(request)
    team = await teams.do_create_team(
        user, data.get("name"), data.get("agency_id"), audit_context(request)
    )
    return await _team_view(team.id, 201)


@authenticated
async def add_member(request: Request, user: Professional) -> Response:
    team_id = path_id(request, "team_id")
    data = await read_json(request)
    joined = await teams.do_add_member(
        user,
        team_id,
        data.get("professional_id"),
        data.get("is_manager", False),
        audit_context(request),
    )
    return await _team_view(team_id, 201 if joined.added else 200)


@authenticated
async def remove_member(request: Request, user: Professional) -> Response:
    await teams.do_remove_member(
        user,
        path_id(request, "team_id"),
        path_id(request, "professional_id"),
        audit_context(request),
    )
    return Response(status_code=204)


@authenticated
async def list_people(request: Request, user: Professional) -> Response:
    found = await people.people(user, audit_context(request))
    return JSONResponse({"people": [person_view(p) for p in found]})


async def _person_response(person: Professional, status: int = 200) -> Response:
    await person.fetch_related("agency")
    return JSONResponse(person_view(person), status_code=status)


@authenticated
async def create_person(request: Request, user: Professional) -> Response:
    data = await read_json(request)
    person = await people.do_create_person(user, data, audit_context(request))
    return await _person_response(person, 201)


@authenticated
async def deactivate(request: Request, user: Professional) -> Response:
    person = await people.do_deactivate(
        user, path_id(request, "professional_id"), audit_context(request)
    )
    return await _person_response(person)


@authenticated
async def reactivate(request: Request, user: Professional) -> Response:
    person = await people.do_reactivate(
        user, path_id(request, "professional_id"), audit_context(request)
    )
    return await _person_response(person)


@authenticated
async def change_role(request: Request, user: Professional) -> Response:
    professional_id = path_id(request, "professional_id")
    data = await read_json(request)
    person = await people.do_change_role(
        user, professional_id, data.get("role"), audit_context(request)
    )
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
