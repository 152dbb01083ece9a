"""Work phone and email on a professional's profile: their own account page and API, and
the administrators' people page and API. Each calls feeds.organisation.contact."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from feeds.errors import Invalid
from feeds.models import Professional
from feeds.organisation.contact import WorkContact, check_contact_editor, do_set_work_contact
from feeds.organisation.views import person_view
from feeds.serializers import me_view
from server.endpoints import audit_context, authenticated, path_id, read_form
from server.page_context import header_context
from server.routes.admin_pages import people_page
from server.routes.api_admin import CHANGES
from server.routes.page_render import render
from server.schemas import organisation as people_schema
from server.schemas import team as schema
from server.schemas.codec import build, decode, reply
from server.schemas.operation import api


def _change(data: schema.ContactChange) -> WorkContact:
    return WorkContact(work_phone=data.work_phone, work_email=data.work_email)


def _form_change(form: Any) -> WorkContact:
    """Both fields from a form: a missing one stays as it is."""
    phone, email = form.get("work_phone"), form.get("work_email")
    return WorkContact(
        work_phone=phone if isinstance(phone, str) else None,
        work_email=email if isinstance(email, str) else None,
    )


@api(schema.Contact, "Set your own work phone and email", body=schema.ContactChange)
@authenticated
async def change_my_contact(request: Request, user: Professional) -> Response:
    data = await decode(request, schema.ContactChange)
    person = await do_set_work_contact(user, user.id, _change(data), audit_context(request))
    return reply(schema.Contact(person.id, person.work_phone, person.work_email))


@api(
    people_schema.Person,
    "Administrators: set someone's work phone and email",
    body=schema.ContactChange,
    errors=CHANGES,
)
@authenticated
async def change_contact(request: Request, user: Professional) -> Response:
    professional_id = path_id(request, "professional_id")
    await check_contact_editor(user, professional_id, audit_context(request))  # before input
    data = await decode(request, schema.ContactChange)
    person = await do_set_work_contact(user, professional_id, _change(data), audit_context(request))
    await person.fetch_related("agency")
    return reply(build(people_schema.Person, person_view(person)))


async def account_page(
    request: Request, user: Professional, status: int = 200, **extra: Any
) -> Response:
    await header_context(request)
    return render(request, "account.html", status, user=me_view(user), me=user, **extra)


@authenticated
async def show_account(request: Request, user: Professional) -> Response:
    saved = request.query_params.get("saved") == "1"
    return await account_page(request, user, saved=saved)


@authenticated
async def save_account(request: Request, user: Professional) -> Response:
    change = _form_change(await read_form(request))
    try:
        await do_set_work_contact(user, user.id, change, audit_context(request))
    except Invalid as error:
        draft = {
            "work_phone": (change.work_phone or "")[:80],
            "work_email": (change.work_email or "")[:300],
        }
        return await account_page(request, user, 422, error=error.message, form=draft)
    return RedirectResponse("/account?saved=1", status_code=303)


@authenticated
async def save_person_contact(request: Request, user: Professional) -> Response:
    change = _form_change(await read_form(request))
    professional_id = path_id(request, "professional_id")
    try:
        await do_set_work_contact(user, professional_id, change, audit_context(request))
    except Invalid as error:
        return await people_page(request, user, 422, error=error.message)
    return RedirectResponse(f"/admin/people#person-{professional_id}", status_code=303)


routes = [
    Route("/api/v1/me/contact", change_my_contact, methods=["PATCH"]),
    Route("/api/v1/admin/people/{professional_id}/contact", change_contact, methods=["PATCH"]),
    Route("/account", show_account, methods=["GET"]),
    Route("/account", save_account, methods=["POST"]),
    Route("/admin/people/{professional_id}/contact", save_person_contact, methods=["POST"]),
]
