"""The team around the child as a picture, and people's work contact details. The rules
for a phone number and an address are the domain's (feeds.organisation.contact); these
types bound the raw text and shape the answers."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, Struct

from feeds.organisation.contact import MAX_EMAIL, MAX_PHONE

Phone = Annotated[
    str,
    Meta(
        max_length=2 * MAX_PHONE,
        description="7 to 15 digits; spaces, brackets, hyphens and a leading + allowed; "
        '"" removes it',
    ),
]
Email = Annotated[str, Meta(max_length=2 * MAX_EMAIL, description='an address; "" removes it')]


class ContactChange(Struct, forbid_unknown_fields=True):
    """A field left out stays as it is; an empty string removes it."""

    work_phone: Phone | None = None
    work_email: Email | None = None


class Contact(Struct):
    professional_id: int
    work_phone: str
    work_email: str


class TeamPerson(Struct):
    id: int
    name: str
    job_title: str
    work_phone: str
    work_email: str
    tel: str  # tel: link from work_phone ("" without one)
    mailto: str  # mailto: link from work_email ("" without one)
    last_post_at: str | None  # their last post about this child


class TeamHolder(Struct):
    """Who holds access: a professional (people is just them) or a team (its members)."""

    grant_id: int
    type: Literal["professional", "team"]
    id: int
    name: str
    job_title: str
    since: str | None
    expires_at: str | None
    access: Literal["active", "ending_soon", "expired"]
    last_post_at: str | None
    people: list[TeamPerson]


class TeamAgency(Struct):
    name: str
    sector: str
    gone_quiet: bool  # the child's silence verdict names this agency
    quiet_reason: str
    last_post_at: str | None  # the agency's last post about this child
    holders: list[TeamHolder]


class TeamPicture(Struct):
    """Agencies around the child, those gone quiet first; expired access shown for 30 days."""

    child_id: int
    at: str
    agencies: list[TeamAgency]
