"""How to reach a professional at work: a work phone and a work email on their profile,
set by the person themselves or by an administrator, and shown in the team around the
child as tel: and mailto: links (issue 16 part 3)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from feeds import audit, events
from feeds.audit.actions import AuditAction
from feeds.audit.records import AuditContext
from feeds.errors import Invalid, NotFound
from feeds.models import Professional
from feeds.organisation.admin import check_admin

MAX_PHONE = 40
MAX_EMAIL = 254
MIN_DIGITS, MAX_DIGITS = 7, 15  # E.164 allows at most 15 digits
PHONE_RULE = (
    f"work_phone must be a phone number of {MIN_DIGITS} to {MAX_DIGITS} digits (spaces, "
    "brackets, hyphens and a leading + are fine), e.g. 01632 960 123; leave it empty to remove it."
)
EMAIL_RULE = (
    "work_email must be an email address such as name@example.org; leave it empty to remove it."
)
_PHONE = re.compile(r"\+?[0-9 ()\-.]+")
# No '?', '%' or '&': the address goes into a mailto: link as it is.
_EMAIL = re.compile(r"[A-Za-z0-9.!#$'*+/=^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")


@dataclass(frozen=True)
class WorkContact:
    """A change of contact details: None leaves a field as it is, "" removes it."""

    work_phone: str | None = None
    work_email: str | None = None


def check_work_phone(value: str) -> str:
    """The phone as typed (spaces tidied), or "" to remove it; Invalid with the rule."""
    phone = " ".join(value.split())
    if not phone:
        return ""
    digits = sum(ch.isdigit() for ch in phone)
    if len(phone) > MAX_PHONE or not _PHONE.fullmatch(phone):
        raise Invalid(PHONE_RULE, field="work_phone")
    if not MIN_DIGITS <= digits <= MAX_DIGITS:
        raise Invalid(PHONE_RULE, field="work_phone")
    return phone


def check_work_email(value: str) -> str:
    """The address lower-cased, or "" to remove it; Invalid with the rule."""
    email = value.strip().lower()
    if not email:
        return ""
    if len(email) > MAX_EMAIL or not _EMAIL.fullmatch(email):
        raise Invalid(EMAIL_RULE, field="work_email")
    return email


def tel_uri(phone: str) -> str:
    """tel:+441632960123 from '+44 1632 960 123'; '' without a phone."""
    if not phone:
        return ""
    plus = "+" if phone.startswith("+") else ""
    return "tel:" + plus + "".join(ch for ch in phone if ch.isdigit())


def mailto_uri(email: str) -> str:
    return f"mailto:{email}" if email else ""


async def check_contact_editor(
    actor: Professional, professional_id: int, ctx: AuditContext
) -> Professional:
    """The person whose contact details the actor may set: themselves, or (administrators
    only) anyone; Forbidden (audited) or NotFound otherwise."""
    if professional_id == actor.id:
        return actor
    await check_admin(actor, AuditAction.PERSON_CONTACT, ctx)
    person = await Professional.get_or_none(id=professional_id)
    if person is None:
        raise NotFound("No such professional.")
    return person


async def do_set_work_contact(
    actor: Professional, professional_id: int, change: WorkContact, ctx: AuditContext
) -> Professional:
    """Set someone's work phone and email (their own, or anyone's for an administrator),
    audited with which fields changed (not their values)."""
    person = await check_contact_editor(actor, professional_id, ctx)
    new = {
        "work_phone": person.work_phone
        if change.work_phone is None
        else check_work_phone(change.work_phone),
        "work_email": person.work_email
        if change.work_email is None
        else check_work_email(change.work_email),
    }
    changed = sorted(name for name, value in new.items() if getattr(person, name) != value)
    async with events.transaction():
        person.work_phone, person.work_email = new["work_phone"], new["work_email"]
        if changed:
            await person.save(update_fields=changed)
        detail = {"professional_id": person.id, "changed": changed}
        await audit.record(AuditAction.PERSON_CONTACT, ctx, actor=actor, detail=detail)
    return person
