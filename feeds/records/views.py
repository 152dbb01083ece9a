"""Plain, JSON-safe views of a child's record and its history, as one viewer may see them.

Those who change records without access to the child's feed (administrators; a manager
once the case is closed) see the case reference, never the child's name or date of birth,
as on the break-glass review: identity goes with access.
"""

from __future__ import annotations

from typing import Any

from feeds.access.policy import may_view
from feeds.models import Child, ChildRevision, Professional
from feeds.serializers import child_view, iso

HIDDEN_IDENTITY = {"display_name": "", "date_of_birth": None}


async def identified(viewer: Professional | None, child: Child) -> bool:
    """True when the viewer may see this child's feed (None: the shell's operator)."""
    return viewer is None or await may_view(viewer, child.id)


def record_view(child: Child, show_identity: bool) -> dict[str, Any]:
    view = child_view(child)
    return view if show_identity else {**view, **HIDDEN_IDENTITY}


def revision_view(revision: ChildRevision, show_identity: bool) -> dict[str, Any]:
    """One earlier version: what changed it, who, when, and the values before it."""
    before: dict[str, Any] = {
        "display_name": revision.display_name,
        "reference": revision.reference,
        "date_of_birth": iso(revision.date_of_birth),
        "school": revision.school,
        "area": revision.area,
        "lead_professional_id": revision.lead_professional_id,
        "status": "closed" if revision.closed_at else "open",
    }
    return {
        "id": revision.id,
        "change": revision.change,
        "changed_at": iso(revision.changed_at),
        "changed_by_id": revision.changed_by_id,
        "before": before if show_identity else {**before, **HIDDEN_IDENTITY},
    }


async def history_view(
    viewer: Professional, child: Child, revisions: list[ChildRevision]
) -> dict[str, Any]:
    shown = await identified(viewer, child)
    return {
        "child": record_view(child, shown),
        "revisions": [revision_view(r, shown) for r in revisions],
    }
