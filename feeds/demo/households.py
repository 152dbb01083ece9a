"""Demo households: a few of the generated families linked, so a newcomer sees family pages,
including one where the demo practitioner sees one sibling and not another."""

from __future__ import annotations

from feeds.access.policy import visible_child_ids
from feeds.audit.records import AuditContext
from feeds.models import Child, Professional, Role
from feeds.network.households import do_link
from feeds.network.models import Relationship

HOUSEHOLDS = 3


def _choose(families: list[list[int]], seen: set[int]) -> list[list[int]]:
    """Up to HOUSEHOLDS families of two or more: first one the viewer sees only part of,
    then one they see whole, then any other."""
    larger = [family for family in families if len(family) > 1]
    part = [f for f in larger if 0 < len(seen & set(f)) < len(f)]
    whole = [f for f in larger if set(f) <= seen]
    chosen: list[list[int]] = []
    for family in [*part[:1], *whole[:1], *larger]:
        if family not in chosen and len(chosen) < HOUSEHOLDS:
            chosen.append(family)
    return chosen


async def link_demo_households(families: list[list[str]], viewer_email: str) -> None:
    """Link chosen families (given by their children's references) into households, as
    the demo administrator would: audited, with an entry in each child's feed."""
    admin = await Professional.filter(role=Role.ADMIN).order_by("id").first()
    viewer = await Professional.get_or_none(email=viewer_email)
    if admin is None or viewer is None:
        return
    ids = dict(await Child.all().values_list("reference", "id"))
    by_id = [[int(ids[ref]) for ref in family if ref in ids] for family in families]
    ctx = AuditContext(request_id="demo")
    for number, family in enumerate(_choose(by_id, await visible_child_ids(viewer))):
        how = Relationship.SHARES_HOME if number == 2 else Relationship.SIBLING
        for child_id in family[1:]:
            await do_link(admin, child_id, family[0], how, ctx)
