"""Plain, JSON-safe views of agencies, teams and people for administrators."""

from __future__ import annotations

from typing import Any

from feeds.models import Agency, Professional, Team, TeamMember
from feeds.serializers import iso


def agency_view(agency: Agency) -> dict[str, Any]:
    return {"id": agency.id, "name": agency.name, "sector": str(agency.sector)}


def person_view(person: Professional) -> dict[str, Any]:
    """Needs person.agency loaded."""
    return {
        "id": person.id,
        "name": person.name,
        "email": person.email,
        "handle": person.handle,
        "job_title": person.job_title,
        "work_phone": person.work_phone,
        "work_email": person.work_email,
        "agency": person.agency.name,
        "agency_id": person.agency_id,
        "role": str(person.role),
        "active": person.is_active,
        "locked": person.locked_at is not None,
        "created_at": iso(person.created_at),
    }


def member_view(member: TeamMember) -> dict[str, Any]:
    """Needs member.professional.agency loaded."""
    person = member.professional
    return {
        "professional_id": person.id,
        "name": person.name,
        "email": person.email,
        "agency": person.agency.name,
        "is_manager": member.is_manager,
        "active": person.is_active,
    }


def team_view(team: Team) -> dict[str, Any]:
    """Needs team.agency and team.members (with professional.agency) loaded."""
    members = sorted(team.members, key=lambda m: (not m.is_manager, m.professional.name))
    return {
        "id": team.id,
        "name": team.name,
        "agency": team.agency.name,
        "agency_id": team.agency_id,
        "members": [member_view(m) for m in members],
    }
