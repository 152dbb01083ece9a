"""People's accounts (administrators): create one, change a role, deactivate and
reactivate. Deactivation ends every session, token and sign-in link at once; open sockets
close within a second (the live hub checks, woken by the event written here). Posts stay
attributed."""

from __future__ import annotations

from typing import Any

from feeds import audit, events
from feeds.accounts.credentials import end_credentials
from feeds.accounts.people import do_create_professional
from feeds.audit.actions import AuditAction
from feeds.audit.records import AuditContext
from feeds.errors import Conflict, Invalid, NotFound
from feeds.models import Agency, Professional, Role
from feeds.organisation.admin import Actor, check_admin, check_id, check_name


def check_role(value: object) -> Role:
    if not isinstance(value, str) or value not in Role.__members__.values():
        allowed = ", ".join(r.value for r in Role)
        raise Invalid(f"role must be one of: {allowed}.", field="role")
    return Role(value)


def _text(value: object, field: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise Invalid(f"{field} must be text of at most {limit} characters.", field=field)
    return value.strip()


async def do_create_person(actor: Actor, data: dict[str, Any], ctx: AuditContext) -> Professional:
    """A new professional in an existing agency, with a password they change later."""
    await check_admin(actor, AuditAction.PERSON_CREATE, ctx)
    name = check_name(data.get("name"))
    role = check_role(data.get("role", Role.PRACTITIONER.value))
    agency = await Agency.get_or_none(id=check_id(data.get("agency_id"), "agency_id"))
    if agency is None:
        raise Invalid("No such agency.", field="agency_id")
    email, password = _text(data.get("email"), "email", 254), data.get("password")
    if not isinstance(password, str) or len(password) > 1024:
        raise Invalid("password must be text of at most 1024 characters.", field="password")
    job_title = _text(data.get("job_title"), "job_title", 200)
    async with events.transaction():
        person = await do_create_professional(
            email, name, agency.name, agency.sector.value, role.value, job_title, password
        )
        detail = {"professional_id": person.id, "role": role.value, "agency_id": agency.id}
        await audit.record(AuditAction.PERSON_CREATE, ctx, actor=actor, detail=detail)
    return person


async def _person(professional_id: int) -> Professional:
    person = await Professional.get_or_none(id=professional_id)
    if person is None:
        raise NotFound("No such professional.")
    return person


def _not_yourself(actor: Actor, person: Professional, doing: str) -> None:
    if actor is not None and actor.id == person.id:
        raise Conflict(f"You cannot {doing} your own account: ask another administrator.")


ACCOUNT_CHANGED = "account.changed"


async def _account_changed(person: Professional, change: str) -> None:
    """An event for the person (ids only). Its commit wakes the live hub in every worker
    (NOTIFY on PostgreSQL), which then closes the sockets of deactivated people."""
    payload = {"change": change, "professional_id": person.id}
    await events.emit(ACCOUNT_CHANGED, payload, child_id=None, recipient_id=person.id)


async def do_deactivate(actor: Actor, professional_id: int, ctx: AuditContext) -> Professional:
    """Switch an account off: no sign-in, every session and token ended, sockets closed.
    Nothing they wrote changes."""
    await check_admin(actor, AuditAction.PERSON_DEACTIVATE, ctx)
    person = await _person(professional_id)
    _not_yourself(actor, person, "deactivate")
    async with events.transaction():
        person.is_active = False
        await person.save(update_fields=["is_active"])
        ended = await end_credentials(person)
        detail = {
            "professional_id": person.id,
            "sessions_ended": ended.sessions,
            "tokens_ended": ended.tokens,
            "links_ended": ended.links,
        }
        await audit.record(AuditAction.PERSON_DEACTIVATE, ctx, actor=actor, detail=detail)
        await _account_changed(person, "deactivated")
    return person


async def do_reactivate(actor: Actor, professional_id: int, ctx: AuditContext) -> Professional:
    """Switch an account back on (they sign in afresh: old sessions stay ended)."""
    await check_admin(actor, AuditAction.PERSON_REACTIVATE, ctx)
    person = await _person(professional_id)
    async with events.transaction():
        person.is_active = True
        await person.save(update_fields=["is_active"])
        await audit.record(
            AuditAction.PERSON_REACTIVATE, ctx, actor=actor, detail={"professional_id": person.id}
        )
    return person


async def do_change_role(
    actor: Actor, professional_id: int, role: object, ctx: AuditContext
) -> Professional:
    """Make someone a practitioner, manager or administrator (never yourself)."""
    await check_admin(actor, AuditAction.PERSON_ROLE, ctx)
    new = check_role(role)
    person = await _person(professional_id)
    _not_yourself(actor, person, "change the role of")
    old = person.role
    async with events.transaction():
        person.role = new
        await person.save(update_fields=["role"])
        detail = {"professional_id": person.id, "from": str(old), "to": new.value}
        await audit.record(AuditAction.PERSON_ROLE, ctx, actor=actor, detail=detail)
        await _account_changed(person, "role_changed")
    return person


async def people(actor: Actor, ctx: AuditContext) -> list[Professional]:
    """Everyone, active first, by name, with their agency (administrators)."""
    await check_admin(actor, AuditAction.PERSON_LIST, ctx)
    return await Professional.all().order_by("-is_active", "name").prefetch_related("agency")


async def person(actor: Actor, professional_id: int, ctx: AuditContext) -> Professional:
    """One professional with their agency (administrators)."""
    await check_admin(actor, AuditAction.PERSON_READ, ctx)
    found = await _person(professional_id)
    await found.fetch_related("agency")
    return found
