"""Agencies: the organisations professionals work for (administrators create them)."""

from __future__ import annotations

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from feeds import audit
from feeds.audit.actions import AuditAction
from feeds.audit.records import AuditContext
from feeds.errors import Conflict, Invalid
from feeds.models import Agency, Sector
from feeds.organisation.admin import Actor, check_admin, check_name


def check_sector(value: object) -> Sector:
    if not isinstance(value, str) or value not in Sector.__members__.values():
        allowed = ", ".join(s.value for s in Sector)
        raise Invalid(f"sector must be one of: {allowed}.", field="sector")
    return Sector(value)


async def do_create_agency(actor: Actor, name: object, sector: object, ctx: AuditContext) -> Agency:
    """A new agency; its name is unique (whatever its case)."""
    await check_admin(actor, AuditAction.AGENCY_CREATE, ctx)
    checked, kind = check_name(name), check_sector(sector)
    taken = Conflict(f"There is already an agency called {checked}.", field="name")
    if await Agency.filter(name__iexact=checked).exists():
        raise taken
    try:
        async with in_transaction():
            agency = await Agency.create(name=checked, sector=kind)
            detail = {"agency_id": agency.id, "sector": kind.value}
            await audit.record(AuditAction.AGENCY_CREATE, ctx, actor=actor, detail=detail)
    except IntegrityError:
        raise taken from None
    return agency


async def agencies(actor: Actor, ctx: AuditContext) -> list[Agency]:
    """Every agency by name (administrators)."""
    await check_admin(actor, AuditAction.AGENCY_LIST, ctx)
    return await Agency.all().order_by("name")
