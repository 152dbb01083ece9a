"""The administrators' pages: agencies, teams and their members, people's accounts.
Plain forms (no JavaScript needed), each calling one feeds/organisation action."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from feeds.audit.actions import AuditAction
from feeds.errors import Conflict, Invalid
from feeds.models import Professional, Role, Sector
from feeds.organisation import agencies, people, teams
from feeds.organisation.admin import check_admin
from feeds.organisation.views import agency_view, person_view, team_view
from feeds.serializers import me_view
from server.endpoints import MAX_ID, audit_context, authenticated, is_number, path_id, read_form
from server.routes.page_render import render

FormError = (Invalid, Conflict)


def _done(target: str) -> Response:
    return RedirectResponse(target, status_code=303)


def _form_id(form: FormData, name: str) -> int | None:
    """A number from a select or hidden field; anything else is left for the action to refuse."""
    raw = str(form.get(name) or "")
    return int(raw) if is_number(raw) and int(raw) <= MAX_ID else None


def _status(error: Exception) -> int:
    return 409 if isinstance(error, Conflict) else 422


async def admin_home(request: Request, user: Professional) -> Response:
    """An administrator's home page (they have no caseload): where to run the service."""
    await check_admin(user, AuditAction.ADMIN_HOME, audit_context(request))
    return render(request, "admin_home.html", user=me_view(user))


async def agencies_page(
    request: Request, user: Professional, status: int = 200, **extra: Any
) -> Response:
    found = await agencies.agencies(user, audit_context(request))
    return render(
        request,
        "admin_agencies.html",
        status,
        user=me_view(user),
        agencies=[agency_view(a) for a in found],
        sectors=[s.value for s in Sector],
        **extra,
    )


@authenticated
async def show_agencies(request: Request, user: Professional) -> Response:
    return await agencies_page(request, user)


@authenticated
async def add_agency(request: Request, user: Professional) -> Response:
    form = await read_form(request)
    try:
        await agencies.do_create_agency(
            user, form.get("name"), form.get("sector"), audit_context(request)
        )
    except FormError as error:
        draft = {"name": str(form.get("name", ""))[:200], "sector": str(form.get("sector", ""))}
        return await agencies_page(request, user, _status(error), error=error.message, form=draft)
    return _done("/admin/agencies")


async def teams_page(
    request: Request, user: Professional, status: int = 200, **extra: Any
) -> Response:
    ctx = audit_context(request)
    found = await teams.teams(user, ctx)
    return render(
        request,
        "admin_teams.html",
        status,
        user=me_view(user),
        teams=[team_view(t) for t in found],
        agencies=[agency_view(a) for a in await agencies.agencies(user, ctx)],
        **extra,
    )


@authenticated
async def show_teams(request: Request, user: Professional) -> Response:
    return await teams_page(request, user)


@authenticated
async def add_team(request: Request, user: Professional) -> Response:
    form = await read_form(request)
    try:
        await teams.do_create_team(
            user, form.get("name"), _form_id(form, "agency_id"), audit_context(request)
        )
    except FormError as error:
        return await teams_page(request, user, _status(error), error=error.message)
    return _done("/admin/teams")


@authenticated
async def add_member(request: Request, user: Professional) -> Response:
    team_id = path_id(request, "team_id")
    form = await read_form(request)
    email = str(form.get("email") or "").strip().lower()
    try:
        person = await Professional.get_or_none(email=email, is_active=True) if email else None
        if person is None:
            raise Invalid("Nobody active with that email address.", field="email")
        manager = form.get("is_manager") == "on"
        await teams.do_add_member(user, team_id, person.id, manager, audit_context(request))
    except FormError as error:
        return await teams_page(request, user, _status(error), error=error.message)
    return _done(f"/admin/teams#team-{team_id}")


@authenticated
async def remove_member(request: Request, user: Professional) -> Response:
    team_id = path_id(request, "team_id")
    await teams.do_remove_member(
        user, team_id, path_id(request, "professional_id"), audit_context(request)
    )
    return _done(f"/admin/teams#team-{team_id}")


async def people_page(
    request: Request, user: Professional, status: int = 200, **extra: Any
) -> Response:
    ctx = audit_context(request)
    found = await people.people(user, ctx)
    return render(
        request,
        "admin_people.html",
        status,
        user=me_view(user),
        people=[person_view(p) for p in found],
        agencies=[agency_view(a) for a in await agencies.agencies(user, ctx)],
        roles=[r.value for r in Role],
        **extra,
    )


@authenticated
async def show_people(request: Request, user: Professional) -> Response:
    return await people_page(request, user)


@authenticated
async def add_person(request: Request, user: Professional) -> Response:
    form = await read_form(request)
    fields = ("email", "name", "role", "job_title", "password")
    data: dict[str, Any] = {name: str(form.get(name) or "") for name in fields}
    data["agency_id"] = _form_id(form, "agency_id")
    try:
        await people.do_create_person(user, data, audit_context(request))
    except FormError as error:
        draft = {k: v[:254] for k, v in data.items() if k != "password" and isinstance(v, str)}
        return await people_page(request, user, _status(error), error=error.message, form=draft)
    return _done("/admin/people")


@authenticated
async def confirm_deactivate(request: Request, user: Professional) -> Response:
    """Deactivation ends someone's work at once: say so, and ask first."""
    person = await people.person(user, path_id(request, "professional_id"), audit_context(request))
    return render(request, "admin_deactivate.html", user=me_view(user), person=person_view(person))


async def _account_action(request: Request, user: Professional, action: Any) -> Response:
    try:
        await action(user, path_id(request, "professional_id"), audit_context(request))
    except FormError as error:
        return await people_page(request, user, _status(error), error=error.message)
    return _done("/admin/people")


@authenticated
async def deactivate(request: Request, user: Professional) -> Response:
    return await _account_action(request, user, people.do_deactivate)


@authenticated
async def reactivate(request: Request, user: Professional) -> Response:
    return await _account_action(request, user, people.do_reactivate)


@authenticated
async def change_role(request: Request, user: Professional) -> Response:
    form = await read_form(request)
    role = form.get("role")

    async def action(actor: Professional, person_id: int, ctx: Any) -> Professional:
        return await people.do_change_role(actor, person_id, role, ctx)

    return await _account_action(request, user, action)


PEOPLE = "/admin/people/{professional_id}"
routes = [
    Route("/admin/agencies", show_agencies, methods=["GET"]),
    Route("/admin/agencies", add_agency, methods=["POST"]),
    Route("/admin/teams", show_teams, methods=["GET"]),
    Route("/admin/teams", add_team, methods=["POST"]),
    Route("/admin/teams/{team_id}/members", add_member, methods=["POST"]),
    Route(
        "/admin/teams/{team_id}/members/{professional_id}/remove", remove_member, methods=["POST"]
    ),
    Route("/admin/people", show_people, methods=["GET"]),
    Route("/admin/people", add_person, methods=["POST"]),
    Route(f"{PEOPLE}/deactivate", confirm_deactivate, methods=["GET"]),
    Route(f"{PEOPLE}/deactivate", deactivate, methods=["POST"]),
    Route(f"{PEOPLE}/reactivate", reactivate, methods=["POST"]),
    Route(f"{PEOPLE}/role", change_role, methods=["POST"]),
]
