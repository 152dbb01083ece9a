"""Shared worry through the API (issue 16, part 5): "I share this worry" on a hunch or
concern, and the prompt to the lead and managers when several agencies are worried."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from feeds.audit.records import SYSTEM
from feeds.clock import utcnow
from feeds.models import Agency, AuditRecord, Child, Notification, Post, PostKind, Professional
from feeds.network.models import WorryEpisode, WorryShare
from feeds.network.worry import ALREADY, NOT_A_WORRY, OWN_WORRY
from feeds.network.worry_episodes import PROMPT, do_assess_worry, load_worries
from feeds.network.worry_rule import MAX_NOTE
from server.auth import issue_token
from tests.conftest import Factory


async def bearer(person: Professional) -> dict[str, str]:
    return {"authorization": f"Bearer {(await issue_token(person, 'test'))[1]}"}


async def share(
    client: httpx.AsyncClient, person: Professional, post_id: int, **body: object
) -> httpx.Response:
    path = f"/api/v1/posts/{post_id}/worry-shares"
    return await client.post(path, json=body or None, headers=await bearer(person))


async def post(
    client: httpx.AsyncClient, author: Professional, child: Child, kind: str = "hunch"
) -> int:
    body = {"kind": kind, "body": f"{kind} from {author.name}"}
    response = await client.post(
        f"/api/v1/children/{child.id}/posts", json=body, headers=await bearer(author)
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


class Around:
    """A child, its lead (with a grant), a manager of a team holding a grant, and
    practitioners with grants: each from an agency of their own unless told."""

    def __init__(self, make: Factory) -> None:
        self.make = make

    async def build(self) -> Around:
        self.lead = await self.make.professional()
        self.child = await self.make.child(lead=self.lead)
        await self.make.grant(self.child, professional=self.lead)
        self.manager = await self.make.manager_of(self.child)
        return self

    async def practitioner(self, agency: Agency | None = None) -> Professional:
        return await self.make.practitioner(grants=[self.child], agency=agency)


async def prompts(person: Professional) -> int:
    return await Notification.filter(recipient_id=person.id, kind=PROMPT).count()


async def test_sharing_a_worry_shows_who_shares_it_in_the_feed(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await Around(make).build()
    author, colleague = await world.practitioner(), await world.practitioner()
    hunch = await post(client, author, world.child)
    update = await post(client, author, world.child, "update")
    shared = await share(client, colleague, hunch, note="  Same at school: very quiet  ")
    assert shared.status_code == 201, shared.text
    body = shared.json()
    assert (body["post_id"], body["count"]) == (hunch, 1)
    [entry] = body["shared_by"]
    assert entry["professional"]["name"] == colleague.name
    assert entry["note"] == "Same at school: very quiet"
    path = f"/api/v1/children/{world.child.id}/posts"
    feed = await client.get(path, headers=await bearer(author))
    by_id = {p["id"]: p for p in feed.json()["posts"]}
    assert by_id[hunch]["worry"]["count"] == 1
    assert by_id[hunch]["worry"]["shared_by"][0]["professional"]["id"] == colleague.id
    assert "worry" not in by_id[update]
    told = await Notification.filter(recipient_id=author.id, kind="worry_shared").count()
    assert told == 1
    record = await AuditRecord.get(actor_id=colleague.id, action="worry.share")
    assert (record.child_id, record.outcome, record.detail["post_id"]) == (
        world.child.id,
        "ok",
        hunch,
    )


async def test_each_person_shares_once_and_never_their_own_worry(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await Around(make).build()
    author, colleague = await world.practitioner(), await world.practitioner()
    hunch = await post(client, author, world.child, "concern")
    update = await post(client, author, world.child, "update")
    assert (await share(client, colleague, hunch)).status_code == 201  # no body: no note
    answers = {
        ALREADY: await share(client, colleague, hunch, note="again"),
        OWN_WORRY: await share(client, author, hunch),
        NOT_A_WORRY: await share(client, colleague, update),
    }
    for message, response in answers.items():
        assert response.status_code == 409
        assert response.json()["error"]["message"] == message
    too_long = await share(client, world.lead, hunch, note="x" * (MAX_NOTE + 1))
    assert too_long.status_code == 422
    assert too_long.json()["error"]["field"] == "note"
    assert await WorryShare.filter(post_id=hunch).count() == 1
    denied = await AuditRecord.filter(action="worry.share", outcome="denied").count()
    assert denied == 3


async def test_a_hidden_child_gives_404_and_nothing_leaks(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await Around(make).build()
    author = await world.practitioner()
    hunch = await post(client, author, world.child)
    outsider = await make.professional()
    expired = await make.professional()
    await make.grant(world.child, professional=expired, expired=True)
    missing = await share(client, outsider, hunch + 1000)
    for person in (outsider, expired):
        hidden = await share(client, person, hunch, note="me too")
        assert hidden.status_code == 404
        assert hidden.json() == missing.json()
        assert world.child.display_name not in hidden.text
    removed = await post(client, author, world.child)
    await Post.filter(id=removed).update(removed_at=utcnow())
    assert (await share(client, world.lead, removed)).status_code == 404
    assert await WorryShare.all().count() == 0
    assert await Notification.filter(recipient_id__in=[outsider.id, expired.id]).count() == 0
    denied = (
        await AuditRecord.filter(actor_id=outsider.id, action="worry.share")
        .order_by("id")  # without it PostgreSQL may answer in any order (CI did)
        .values("child_id", "outcome")
    )
    assert denied == [
        {"child_id": None, "outcome": "denied"},
        {"child_id": world.child.id, "outcome": "denied"},
    ]


async def test_a_closed_case_takes_no_more_shares(client: httpx.AsyncClient, make: Factory) -> None:
    world = await Around(make).build()
    author = await world.practitioner()
    hunch = await post(client, author, world.child)
    colleague = await world.practitioner()
    await Child.filter(id=world.child.id).update(closed_at=utcnow())  # grants kept: they see it
    closed = await share(client, colleague, hunch)
    assert closed.status_code == 409
    assert "closed" in closed.json()["error"]["message"]


async def test_one_agency_is_not_enough_and_a_second_agency_prompts_the_lead_and_managers(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await Around(make).build()
    school = await make.agency()
    teacher, head, nurse = [await world.practitioner(school) for _ in range(3)]
    colleague = await world.practitioner()  # sees the child, is not answerable for it
    hunch = await post(client, teacher, world.child)
    await share(client, head, hunch)
    await share(client, nurse, hunch)  # three professionals, one agency
    assert await WorryEpisode.all().count() == 0
    assert await prompts(world.lead) == 0
    await post(client, colleague, world.child, "concern")  # a second agency raises one
    assert [await prompts(p) for p in (world.lead, world.manager, colleague, teacher)] == [
        1,
        1,
        0,
        0,
    ]
    record = await AuditRecord.get(action="worry.prompt")
    assert record.child_id == world.child.id
    assert (record.detail["professionals"], record.detail["agencies"]) == (4, 2)
    assert sorted(record.detail["told"]) == sorted([world.lead.id, world.manager.id])


async def test_two_agencies_need_three_professionals(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await Around(make).build()
    first, second = await world.practitioner(), await world.practitioner()
    hunch = await post(client, first, world.child)
    await share(client, second, hunch)
    await post(client, second, world.child, "concern")  # the same two people again
    assert await prompts(world.lead) == 0
    await share(client, world.lead, hunch)  # a third professional
    assert await prompts(world.lead) == 1


async def test_only_standing_worries_count_not_removed_ones_their_shares_or_updates(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await Around(make).build()
    first, second, third = [await world.practitioner() for _ in range(3)]
    removed = await post(client, first, world.child)
    await share(client, second, removed)
    gone = await client.delete(f"/api/v1/posts/{removed}", headers=await bearer(first))
    assert gone.status_code == 204, gone.text
    await post(client, third, world.child, "update")
    await post(client, third, world.child, "concern")  # the only standing worry
    assert await prompts(world.lead) == 0
    hunch = await post(client, first, world.child)
    await share(client, second, hunch)  # now three professionals from three agencies
    assert await prompts(world.lead) == 1


async def test_one_childs_worries_read_alone_are_those_read_with_others(
    client: httpx.AsyncClient, make: Factory
) -> None:
    """A posted worry reads its one child with a bound parameter, the board many children
    inlined: both statements give the same worries (removed posts and updates left out)."""
    world, other = await Around(make).build(), await Around(make).build()
    first, second = await world.practitioner(), await world.practitioner()
    hunch = await post(client, first, world.child)
    await share(client, second, hunch, note="Same at school")
    await post(client, second, world.child, "update")
    removed = await post(client, second, world.child, "concern")
    gone = await client.delete(f"/api/v1/posts/{removed}", headers=await bearer(second))
    assert gone.status_code == 204, gone.text
    await post(client, await other.practitioner(), other.child, "concern")
    now = utcnow()
    alone = await load_worries([world.child.id], now)
    together = await load_worries([world.child.id, other.child.id], now)
    assert set(alone[world.child.id]) == set(together[world.child.id])
    assert {w.professional_id for w in alone[world.child.id]} == {first.id, second.id}
    assert len(alone[world.child.id]) == 2 and len(together[other.child.id]) == 1


async def test_worries_older_than_fourteen_days_do_not_count(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await Around(make).build()
    first, second, third = [await world.practitioner() for _ in range(3)]
    old = [await post(client, first, world.child), await post(client, second, world.child)]
    await Post.filter(id__in=old).update(created_at=utcnow() - timedelta(days=14, minutes=1))
    await post(client, third, world.child)
    assert await prompts(world.lead) == 0
    await Post.filter(id__in=old).update(created_at=utcnow() - timedelta(days=13, hours=23))
    await post(client, third, world.child, "concern")
    assert await prompts(world.lead) == 1


async def test_the_prompt_is_sent_once_per_episode(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await Around(make).build()
    people = [await world.practitioner() for _ in range(5)]
    hunch = await post(client, people[0], world.child)
    for person in people[1:]:
        assert (await share(client, person, hunch)).status_code == 201
    await post(client, people[1], world.child, "concern")
    assert (await prompts(world.lead), await prompts(world.manager)) == (1, 1)
    [episode] = await WorryEpisode.all()
    assert (episode.professionals, episode.agencies, episode.closed_at) == (5, 5, None)


async def test_a_new_episode_prompts_again_after_the_last_one_lapsed(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await Around(make).build()
    people = [await world.practitioner() for _ in range(3)]
    then = utcnow() - timedelta(days=20)
    for person in people:
        await Post.create(
            child=world.child, author=person, kind=PostKind.HUNCH, body="then", created_at=then
        )
    first = await do_assess_worry(world.child.id, SYSTEM, now=then + timedelta(hours=1))
    assert first is not None
    assert await prompts(world.lead) == 1
    headers = await bearer(world.manager)
    board = (await client.get("/api/v1/board", headers=headers)).json()
    assert board["rows"][0]["shared_worry"] is None  # lapsed six days ago
    hunch = await post(client, people[0], world.child)
    for person in people[1:]:
        await share(client, person, hunch)
    assert await prompts(world.lead) == 2
    episodes = await WorryEpisode.filter(child_id=world.child.id).order_by("id")
    assert [e.closed_at for e in episodes] == [then + timedelta(days=14), None]
    board = (await client.get("/api/v1/board", headers=headers)).json()
    assert board["rows"][0]["shared_worry"] == "Shared worry: 3 professionals from 3 agencies"


async def test_the_child_page_prompts_those_answerable_and_shows_who_is_worried(
    client: httpx.AsyncClient, make: Factory
) -> None:
    world = await Around(make).build()
    people = [await world.practitioner() for _ in range(3)]
    hunch = await post(client, people[0], world.child)
    for person in people[1:]:
        await share(client, person, hunch, note="seen it too")
    lead_page = await client.get(f"/children/{world.child.id}", headers=await bearer(world.lead))
    assert "3 professionals from 3 agencies are worried about" in lead_page.text
    assert "Consider a strategy discussion." in lead_page.text
    assert all(person.name in lead_page.text for person in people)
    author_page = await client.get(f"/children/{world.child.id}", headers=await bearer(people[0]))
    assert "have been asked to consider a strategy discussion" in author_page.text
    assert f'action="/posts/{hunch}/worry-shares"' not in author_page.text  # their own
    assert f'action="/posts/{hunch}/worry-shares"' in lead_page.text
    board = await client.get("/board", headers=await bearer(world.manager))
    assert "Shared worry: 3 professionals from 3 agencies" in board.text


@pytest.mark.parametrize("note", [["a list"], 7])
async def test_a_note_that_is_not_text_is_a_422(
    client: httpx.AsyncClient, make: Factory, note: object
) -> None:
    world = await Around(make).build()
    hunch = await post(client, await world.practitioner(), world.child)
    response = await share(client, world.lead, hunch, note=note)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "note"
