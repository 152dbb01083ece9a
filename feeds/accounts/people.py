"""Creating professionals (the CLI and the demo seeder use this)."""

from __future__ import annotations

import asyncio
import re

from feeds.accounts.passwords import hash_password
from feeds.errors import Conflict, Invalid
from feeds.models import Agency, Professional, Role, Sector

MIN_PASSWORD = 12


def handle_base(name: str) -> str:
    """The @handle a name suggests (before a number makes it unique)."""
    return re.sub(r"[^a-z0-9]+", ".", name.lower()).strip(".")[:50] or "user"


async def unique_handle(name: str) -> str:
    """A @handle from the name, made unique with a number when taken."""
    base = handle_base(name)
    handle, n = base, 1
    while await Professional.filter(handle=handle).exists():
        n += 1
        handle = f"{base}{n}"
    return handle


async def do_create_professional(
    email: str,
    name: str,
    agency_name: str,
    sector: str,
    role: str,
    job_title: str,
    password: str,
) -> Professional:
    """A new active professional; the agency is created when it does not exist yet."""
    address = email.strip().lower()
    if "@" not in address:
        raise Invalid("That email is malformed.", field="email")
    if await Professional.filter(email=address).exists():  # a duplicate, as for agencies
        raise Conflict(f"There is already an account with the email {address}.", field="email")
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"Passwords are at least {MIN_PASSWORD} characters.", field="password")
    if sector not in Sector.__members__.values():
        raise Invalid("Unknown sector.", field="sector")
    agency, _ = await Agency.get_or_create(
        name=agency_name.strip(), defaults={"sector": Sector(sector)}
    )
    return await Professional.create(
        email=address,
        name=name.strip(),
        handle=await unique_handle(name),
        job_title=job_title,
        agency=agency,
        role=Role(role),
        password_hash=await asyncio.to_thread(hash_password, password),
    )
