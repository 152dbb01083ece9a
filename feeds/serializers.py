"""Plain, JSON-safe views of domain objects: what the API returns and templates render."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, TypedDict

from feeds.access.identity import Redactor, redactor
from feeds.models import ApiToken, Child, Grant, Post, Professional


class AuthorView(TypedDict):
    id: int
    name: str
    handle: str
    job_title: str
    agency: str


class PostView(TypedDict):
    id: int
    child_id: int
    kind: str
    body: str
    created_at: str
    edited_at: str | None
    author: AuthorView


def iso(moment: datetime | date | None) -> str | None:
    return moment.isoformat() if moment else None


def author_view(professional: Professional) -> AuthorView:
    """Needs professional.agency loaded."""
    return {
        "id": professional.id,
        "name": professional.name,
        "handle": professional.handle,
        "job_title": professional.job_title,
        "agency": professional.agency.name,
    }


def post_view(post: Post, redact: Redactor) -> PostView:
    """Needs post.author.agency loaded. A removed post shows no text; a shielded child's
    name in the text shows as `redact` says for the viewer (feeds/access/identity.py)."""
    return {
        "id": post.id,
        "child_id": post.child_id,
        "kind": str(post.kind),
        "body": "" if post.removed_at else redact(post.body),
        "created_at": iso(post.created_at) or "",
        "edited_at": iso(post.edited_at),
        "author": author_view(post.author),
    }


async def post_views_for(viewer: Professional, posts: Sequence[Post]) -> list[PostView]:
    """Posts as this viewer reads them (one query more: feeds/access/identity.redactor)."""
    redact = await redactor(viewer, {post.child_id for post in posts})
    return [post_view(post, redact) for post in posts]


def child_view(child: Child) -> dict[str, Any]:
    return {
        "id": child.id,
        "display_name": child.display_name,
        "reference": child.reference,
        "date_of_birth": iso(child.date_of_birth),
        "lead_professional_id": child.lead_professional_id,
        "school": child.school,
        "area": child.area,
        "status": "closed" if child.closed_at else "open",
        "closed_at": iso(child.closed_at),
        "shielded": child.shielded_at is not None,
    }


def me_view(professional: Professional) -> dict[str, Any]:
    """Needs professional.agency loaded."""
    return {
        **author_view(professional),
        "email": professional.email,
        "role": str(professional.role),
    }


def grant_view(grant: Grant) -> dict[str, Any]:
    """Needs grant.professional.agency, grant.team.agency and grant.granted_by loaded."""
    holder: dict[str, Any]
    if grant.professional is not None:
        person = grant.professional
        holder = {
            "type": "professional",
            "id": person.id,
            "name": person.name,
            "handle": person.handle,
            "job_title": person.job_title,
            "agency": person.agency.name,
        }
    else:
        assert grant.team is not None
        holder = {
            "type": "team",
            "id": grant.team.id,
            "name": grant.team.name,
            "handle": "",
            "job_title": "",
            "agency": grant.team.agency.name,
        }
    return {
        "id": grant.id,
        "child_id": grant.child_id,
        "holder": holder,
        "granted_by": grant.granted_by.name if grant.granted_by else None,
        "created_at": iso(grant.created_at),
        "expires_at": iso(grant.expires_at),
        "revoked_at": iso(grant.revoked_at),
    }


def token_view(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "prefix": token.prefix,
        "created_at": iso(token.created_at),
        "last_used_at": iso(token.last_used_at),
        "revoked_at": iso(token.revoked_at),
    }
