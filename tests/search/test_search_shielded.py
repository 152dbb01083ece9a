"""Search hits of a shielded child, on every backend: the post (which the searcher may
see) with the child's label, never its name or reference; the direct grant sees the name;
the search's audit record is marked."""

from __future__ import annotations

import httpx

from feeds.audit.actions import AuditAction
from feeds.audit.records import SYSTEM
from feeds.models import AuditRecord
from feeds.records.shielding import do_shield_child
from search.base import SearchIndex
from tests.search.conftest import World, api_search, drain_all, post


async def test_a_shielded_childs_hits_show_its_label_to_all_but_direct_grants(
    client: httpx.AsyncClient, world: World, index: SearchIndex
) -> None:
    child = world.child
    await post(world.author, child, "Saw the bicycle shed again")
    await drain_all(index)
    await do_shield_child(world.allowed["lead"], child.id, "Family moved to a refuge", SYSTEM)
    label = f"Shielded child #{child.id}"
    for actor in ("team", "manager"):
        found = await api_search(client, world, actor, q="bicycle")
        assert [r["child"]["display_name"] for r in found.json()["results"]] == [label], actor
        assert child.display_name not in found.text and child.reference not in found.text
        page = await client.get("/search", params={"q": "bicycle"}, headers=world.auth(actor))
        assert child.display_name not in page.text and child.reference not in page.text
        assert label in page.text
    named = await api_search(client, world, "direct", q="bicycle")
    assert named.json()["results"][0]["child"]["display_name"] == child.display_name
    hidden = await api_search(client, world, "no_grant", q="bicycle")
    assert hidden.json()["results"] == []
    searches = await AuditRecord.filter(action=AuditAction.SEARCH, outcome="ok").order_by("id")
    marked = [r.detail.get("shielded_child_ids") for r in searches]
    assert marked[-1] is None  # no_grant found nothing
    assert marked[0] == [child.id]
