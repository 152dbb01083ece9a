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
from tests.conftest import Factory
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


async def test_a_search_for_a_shielded_childs_name_finds_nothing_for_those_who_see_its_label(
    client: httpx.AsyncClient, world: World, index: SearchIndex
) -> None:
    """Finding a post by the child's name would confirm who the child is; a hit found by
    other words shows the name withheld. The direct grant finds it by name."""
    child = world.child
    child.display_name, child.reference = "Juniper Shieldwell", "SHLD-4417"
    await child.save(update_fields=["display_name", "reference"])
    await post(world.author, child, "Saw Juniper Shieldwell (SHLD-4417) by the bicycle shed")
    await post(world.author, world.other_child, "Juniper tree planted by the bicycle shed")
    await drain_all(index)
    await do_shield_child(world.allowed["lead"], child.id, "Family moved to a refuge", SYSTEM)
    for actor in ("team", "manager"):
        for q in ("juniper", "Shieldwell", "junip", "shld-4417", '"juniper shieldwell"'):
            found = await api_search(client, world, actor, q=q)
            assert found.status_code == 200, found.text
            assert [r["child"]["id"] for r in found.json()["results"]] == [], (actor, q)
        found = await api_search(client, world, actor, q="bicycle")
        results = found.json()["results"]
        assert [r["child"]["id"] for r in results] == [child.id], actor
        assert "juniper" not in found.text.lower() and "shld" not in found.text.lower()
        assert "[name withheld]" in results[0]["snippet"]
        page = await client.get("/search", params={"q": "bicycle"}, headers=world.auth(actor))
        assert "Juniper" not in page.text and "[name withheld]" in page.text
    for q in ("juniper", "bicycle"):  # the author sees both children, the name included
        named = await api_search(client, world, "author", q=q)
        assert {r["child"]["id"] for r in named.json()["results"]} == {
            child.id,
            world.other_child.id,
        }
        assert "Juniper Shieldwell" in named.text


async def test_a_shielded_childs_name_in_another_childs_post_is_withheld_and_not_searchable(
    client: httpx.AsyncClient, world: World, index: SearchIndex, make: Factory
) -> None:
    """The team sees the other child but identifies the shielded one nowhere: a hit on the
    other child's post shows the name withheld, and searching the name finds nothing (it
    would confirm that the post names that child)."""
    child, other = world.child, world.other_child
    child.display_name, child.reference = "Juniper Shieldwell", "SHLD-4417"
    await child.save(update_fields=["display_name", "reference"])
    await make.grant(other, professional=world.allowed["team"])
    await post(world.author, other, "Juniper Shieldwell (SHLD-4417) slept over by the bicycle shed")
    await drain_all(index)
    await do_shield_child(world.allowed["lead"], child.id, "Family moved to a refuge", SYSTEM)
    for q in ("juniper", "Shieldwell", "junip", "shld-4417"):
        found = await api_search(client, world, "team", q=q)
        assert found.status_code == 200, found.text
        assert found.json()["results"] == [], q
    found = await api_search(client, world, "team", q="bicycle")
    (result,) = found.json()["results"]
    assert result["child"]["id"] == other.id
    assert "juniper" not in found.text.lower() and "shld" not in found.text.lower()
    assert "[name withheld]" in result["snippet"] and "[name withheld]" in result["post"]["body"]
    page = await client.get("/search", params={"q": "bicycle"}, headers=world.auth("team"))
    assert "Juniper" not in page.text and "[name withheld]" in page.text
    named = await api_search(client, world, "author", q="juniper")  # a direct grant on both
    assert [r["child"]["id"] for r in named.json()["results"]] == [other.id]
    assert "Juniper Shieldwell" in named.text
