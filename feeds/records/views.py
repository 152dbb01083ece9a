"""Plain, JSON-safe views of a child's record and its history, as one viewer may see them.

Those who change records without access to the child's feed (administrators; a manager
once the case is closed) see the case reference, never the child's name or date of birth,
as on the break-glass review: identity goes with access. A shielded child's name and
reference go with a direct grant only (feeds/access/identity.py): everyone else sees its
label, and no reference, school or area, in the record and in its history.
"""

from __future__ import annotations

from typing import Any

from feeds.access import identity
from feeds.access.policy import child_and_standings
from feeds.access.rules import Action, allows, sees_identity
from feeds.models import Child, ChildRevision, Professional
from feeds.serializers import child_view, iso

HIDDEN_IDENTITY = {"display_name": "", "date_of_birth": None}


async def identified(viewer: Professional | None, child: Child) -> bool:
    """True when the viewer may see this child's feed and, if it is shielded, who it is
    (None: the shell's operator)."""
    if viewer is None:
        return True
    _, standings = await child_and_standings(viewer, child.id)
    shielded = identity.is_shielded(child)
    return allows(standings, Action.VIEW) and sees_identity(standings, shielded)


def record_view(child: Child, show_identity: bool) -> dict[str, Any]:
    if show_identity:
        return child_view(child)
    if identity.is_shielded(child):
        return child_view(identity.disguised(child))
    return {**child_view(child), **HIDDEN_IDENTITY}


SHIELDED_BEFORE = {**HIDDEN_IDENTITY, "reference": "", "school": "", "area": ""}


def revision_view(
    revision: ChildRevision, show_identity: bool, shielded: bool = False
) -> dict[str, Any]:
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
        "before": before if show_identity else {**before, **_hidden(shielded)},
    }


def _hidden(shielded: bool) -> dict[str, Any]:
    return SHIELDED_BEFORE if shielded else HIDDEN_IDENTITY


async def history_view(
    viewer: Professional, child: Child, revisions: list[ChildRevision]
) -> dict[str, Any]:
    shown = await identified(viewer, child)
    return {
        "child": record_view(child, shown),
        "revisions": [revision_view(r, shown, identity.is_shielded(child)) for r in revisions],
    }
