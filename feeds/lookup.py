"""What an administrator types into a filter, resolved to ids: a person by email address
or part of a name, a child by case reference (a merged record's reference: its survivor).
For administrators' pages only: callers check the role first, so no lookup here can reveal
an email or a reference to anyone else.
"""

from __future__ import annotations

from feeds.access import identity
from feeds.errors import Invalid
from feeds.models import Child, Professional

MAX_PEOPLE = 50  # a name fragment that matches more than this is too vague to filter by
MAX_TEXT = 254


def _cleaned(text: str | None) -> str:
    return (text or "").strip()[:MAX_TEXT]


async def people_named(text: str | None) -> tuple[int, ...] | None:
    """Ids of the people an email address (exactly) or a name fragment names; None when no
    filter was given; Invalid when nobody, or too many, match."""
    wanted = _cleaned(text)
    if not wanted:
        return None
    if "@" in wanted:
        query = Professional.filter(email=wanted.lower())
    else:
        query = Professional.filter(name__icontains=wanted)
    ids = [row["id"] for row in await query.order_by("id").limit(MAX_PEOPLE + 1).values("id")]
    if not ids:
        raise Invalid(
            f"Nobody matches “{wanted}”: give an email address or part of a name.", field="person"
        )
    if len(ids) > MAX_PEOPLE:
        raise Invalid(
            f"More than {MAX_PEOPLE} people match “{wanted}”: be more precise.", field="person"
        )
    return tuple(int(i) for i in ids)


async def child_by_reference(reference: str | None) -> int | None:
    """The id of the child with this case reference (any case); None when no filter was
    given; Invalid when no child has it."""
    wanted = _cleaned(reference)
    if not wanted:
        return None
    child = await Child.filter(reference__iexact=wanted).only("id", "merged_into_id").first()
    if child is None:
        raise Invalid(f"No child has the reference “{wanted}”.", field="child_ref")
    return int(child.merged_into_id or child.id)  # a merged record's finds its survivor


async def references_of(child_ids: set[int]) -> dict[int, str]:
    """Case references by child id (administrators see references, never names; a
    shielded child's is its label: they hold no direct grant)."""
    rows = await Child.filter(id__in=sorted(child_ids)).values("id", "reference", "shielded_at")
    return {
        int(row["id"]): identity.label(row["id"]) if row["shielded_at"] else str(row["reference"])
        for row in rows
    }
