"""The first administrator of a new installation (`jigsaw init`)."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from feeds import audit
from feeds.accounts.people import do_create_professional
from feeds.errors import Conflict
from feeds.models import Professional, Role


async def check_no_admin() -> None:
    """Refuse once any administrator exists: init sets up a new installation only."""
    if await Professional.filter(role=Role.ADMIN).exists():
        raise Conflict(
            "An administrator already exists: init only sets up a new installation."
            " An administrator creates further accounts (jigsaw create-user)."
        )


async def do_create_first_admin(
    email: str, name: str, agency: str, sector: str, job_title: str, password: str
) -> Professional:
    """Create the installation's first administrator, audited as a system action."""
    async with in_transaction():
        await check_no_admin()
        admin = await do_create_professional(
            email, name, agency, sector, Role.ADMIN, job_title, password
        )
        await audit.record(
            audit.AuditAction.ACCOUNT_CREATE,
            audit.SYSTEM,
            actor_email=admin.email,
            detail={"professional_id": admin.id, "role": Role.ADMIN.value, "first_admin": True},
        )
    return admin
