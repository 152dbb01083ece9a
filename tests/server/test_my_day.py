"""What changed since I last looked (issue 15 items 10 and 12): the last-visit marker and
its divider, "My children" with new posts, since yesterday, and team follows."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from tortoise import connections

from feeds.audit.records import SYSTEM, AuditContext
from feeds.clock import utcnow
from feeds.feed import visits
from feeds.feed.following import home_stream
from feeds.feed.posting import do_create_post
from feeds.feed.since import start_of_yesterday
from feeds.models import AuditRecord, Child, Post, PostKind, Professional
from feeds.silence.verdicts import do_recompute_silence
from feeds.velocity.tallies import rebuild_days
from feeds.velocity.verdicts import do_recompute_velocity
from tests.conftest import Factory, api_login
from tests.feeds.test_silence_verdicts import contact_every
from tests.server.test_pages import logged_in, submit

CTX = AuditContext(ip="127.0.0.1", request_id="test")


async def post(author: Professional, child: Child, body: str, kind: str = "update") -> Post:
    return (await do_create_post(author, child.id, kind, body, CTX)).post


async def dated(author: Professional, child: Child, body: str, at: Any) -> Post:
    made = await post(author, child, body)
    await Post.filter(id=made.id).update(created_at=at)
    return made


# --- the child page: unread markers and the divider -------------------------------------


async def test_the_child_page_marks_posts_new_since_the_last_visit(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await make.child()
    reader, colleague = await make.practitioner(grants=[child]), await make.practitioner()
    await make.grant(child, professional=colleague)
    seen = await post(colleague, child, "Seen at school, settled.")
    await logged_in(client, reader)
    first = await client.get(f"/children/{child.id}")
    assert "New since your last visit" not in first.text  # a first visit marks nothing
    assert 'class="post kind-update unseen"' not in first.text
    new_one = await post(colleague, child, "Mum called about the housing letter.")
    new_two = await post(colleague, child, "Missed the dentist.", "hunch")
    mine = await post(reader, child, "I will chase the dentist.")

    second = (await client.get(f"/children/{child.id}")).text
    assert "New since your last visit: 2 posts" in second
    assert f'class="post kind-update unseen" id="post-{new_one.id}"' in second
    assert f'class="post kind-hunch unseen" id="post-{new_two.id}"' in second
    assert f'class="post kind-update" id="post-{mine.id}"' in second  # one's own is not new
    assert f'class="post kind-update" id="post-{seen.id}"' in second
    assert second.count('<span class="sr-only"> since your last visit</span>') == 2
    # The divider sits above the newest new post; "seen" starts above the first old one.
    assert second.index('id="new-since"') < second.index(f'id="post-{new_two.id}"')
    assert second.index(f'id="post-{new_one.id}"') < second.index('id="seen-before"')
    assert second.index('id="seen-before"') < second.index(f'id="post-{seen.id}"')

    third = (await client.get(f"/children/{child.id}")).text
    assert "New since your last visit" not in third
    assert "unseen" not in third
    assert await AuditRecord.filter(action="feed.read", actor_id=reader.id).count() == 3


async def test_an_older_page_does_not_move_the_marker(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await make.child()
    reader, colleague = await make.practitioner(grants=[child]), await make.practitioner()
    await make.grant(child, professional=colleague)
    first = await post(colleague, child, "one")
    await logged_in(client, reader)
    await client.get(f"/children/{child.id}")
    later = await post(colleague, child, "two")
    await client.get(f"/children/{child.id}?before={later.id}")
    assert await visits.last_seen(reader.id, child.id) == first.id
    page = (await client.get(f"/children/{child.id}")).text
    assert f'class="post kind-update unseen" id="post-{later.id}"' in page


async def test_live_posts_marked_seen_through_the_api(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child, other = await make.child(), await make.child()
    reader, colleague = await make.practitioner(grants=[child, other]), await make.practitioner()
    await make.grant(child, professional=colleague)
    await make.grant(other, professional=colleague)
    older = await post(colleague, child, "before")
    newest = await post(colleague, child, "while the page was open")
    elsewhere = await post(colleague, other, "another child")
    await api_login(client, reader.email)
    marked = await client.post(f"/api/v1/children/{child.id}/seen", json={"post_id": newest.id})
    assert marked.json() == {"child_id": child.id, "last_seen_post_id": newest.id}
    back = await client.post(f"/api/v1/children/{child.id}/seen", json={"post_id": older.id})
    assert back.json()["last_seen_post_id"] == newest.id  # never moves back
    wrong = await client.post(f"/api/v1/children/{child.id}/seen", json={"post_id": elsewhere.id})
    assert wrong.status_code == 404
    bad = await client.post(f"/api/v1/children/{child.id}/seen", json={"post_id": "7"})
    assert bad.status_code == 422
    assert (await client.post(f"/api/v1/children/{other.id}/seen")).json()[
        "last_seen_post_id"
    ] == elsewhere.id  # no body: the newest post
    hidden = await make.child()
    assert (await client.post(f"/api/v1/children/{hidden.id}/seen")).status_code == 404


# --- "My children" on the home page ---------------------------------------------------


async def test_my_children_counts_new_posts_and_shows_flags(
    client: httpx.AsyncClient, make: Factory
) -> None:
    person, colleague = await make.practitioner(), await make.practitioner()
    led, granted, followed = await make.child(lead=person), await make.child(), await make.child()
    team_only, hidden, watched = await make.child(), await make.child(), await make.child()
    quiet = await make.child()
    team = await make.team(members=[person])
    for child in (led, granted, watched, quiet):
        await make.grant(child, professional=person)
    for child in (followed, team_only):
        await make.grant(child, team=team)
    for child in (led, granted, followed, team_only, hidden):
        await make.grant(child, professional=colleague)
    await api_login(client, person.email)
    await client.post(f"/api/v1/children/{followed.id}/follow")
    await client.post(f"/api/v1/children/{granted.id}/seen")
    for n in range(3):
        await post(colleague, granted, f"granted {n}")
    await post(colleague, led, "led")
    await post(person, followed, "my own post is not new to me")
    await flagged(make, watched)
    await gone_quiet(quiet)

    found = (await client.get("/api/v1/my-children")).json()["children"]
    # New activity first (by last post), then the rest by last post; never a hidden child.
    assert [c["child_id"] for c in found] == [led.id, granted.id, watched.id, followed.id, quiet.id]
    by_id = {c["child_id"]: c for c in found}
    assert by_id[granted.id]["new_posts"] == 3
    assert by_id[led.id]["new_posts"] == 1 and by_id[led.id]["last_visit_at"] is None
    assert by_id[watched.id]["new_posts"] == 11  # never opened: every post by others
    assert by_id[watched.id]["flagged"] and not by_id[watched.id]["gone_quiet"]
    assert by_id[quiet.id]["gone_quiet"] and not by_id[quiet.id]["flagged"]
    assert by_id[quiet.id]["last_post_at"] is None
    assert by_id[followed.id] | {"last_post_at": None} == {
        "child_id": followed.id,
        "display_name": followed.display_name,
        "reference": followed.reference,
        "last_post_at": None,
        "new_posts": 0,
        "last_visit_at": None,
        "flagged": False,
        "gone_quiet": False,
        "following": True,
    }
    page = (await client.get("/")).text
    my_list = page[page.index('id="my-children"') : page.index("</ul>", page.index("my-children"))]
    assert "3 new" in my_list and "Flagged" in my_list and "Gone quiet" in my_list
    assert team_only.display_name not in my_list
    assert team_only.display_name in page  # still listed, among the others one can see
    assert hidden.display_name not in page


async def flagged(make: Factory, child: Child) -> None:
    """Through the real detector: a burst of worry after a quiet history."""
    now = utcnow()
    authors = [await make.professional() for _ in range(3)]
    for days_ago in (10.1, 30.1, 50.1, 70.1, 90.1):
        await Post.create(
            child=child,
            author=authors[0],
            kind=PostKind.UPDATE,
            body="seen",
            created_at=now - timedelta(days=days_ago),
        )
    for i in range(6):
        kind = PostKind.HUNCH if i % 2 == 0 else PostKind.UPDATE
        await Post.create(
            child=child,
            author=authors[i % 3],
            kind=kind,
            body="worry",
            created_at=now - timedelta(days=0.1 + 0.4 * i),
        )
    await rebuild_days([child.id])
    await do_recompute_velocity([child.id], now)


async def gone_quiet(child: Child) -> None:
    """Through the real detector: a school that posted weekly and stopped."""
    now = utcnow()
    await contact_every(child, "Oak School", 7, 14, silent=23, now=now)
    await do_recompute_silence([child.id], now)


async def test_my_children_forgets_a_child_when_access_ends(
    client: httpx.AsyncClient, make: Factory
) -> None:
    person = await make.practitioner()
    child = await make.child()
    grant = await make.grant(child, professional=person)
    await api_login(client, person.email)
    await client.post(f"/api/v1/children/{child.id}/follow")
    assert len((await client.get("/api/v1/my-children")).json()["children"]) == 1
    grant.revoked_at = utcnow()
    await grant.save()
    assert (await client.get("/api/v1/my-children")).json()["children"] == []
    assert child.display_name not in (await client.get("/")).text


async def _queries_for_my_children(
    make: Factory, monkeypatch: pytest.MonkeyPatch, n: int
) -> tuple[int, int]:
    person, colleague = await make.practitioner(), await make.practitioner()
    for _ in range(n):
        child = await make.child()
        await make.grant(child, professional=person)
        # Written directly: no events, so no background work shares the counted connection.
        await Post.create(child=child, author=colleague, kind=PostKind.UPDATE, body="update")
    connection = connections.get("default")
    calls, counting = 0, asyncio.current_task()
    for name in ("execute_query", "execute_query_dict"):
        original = getattr(connection, name)

        async def counted(*args: Any, _original: Any = original) -> Any:
            nonlocal calls
            # Only this task's queries: background loops share the connection.
            calls += asyncio.current_task() is counting
            return await _original(*args)

        monkeypatch.setattr(connection, name, counted)
    found = await visits.my_children(person)
    monkeypatch.undo()
    assert [c.new_posts for c in found] == [1] * n
    return calls, len(found)


async def test_my_children_is_one_query_for_fifty_children(
    make: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    few, _ = await _queries_for_my_children(make, monkeypatch, 2)
    many, shown = await _queries_for_my_children(make, monkeypatch, 50)
    assert shown == 50
    assert few == many == 1


# --- since yesterday ------------------------------------------------------------------


async def test_since_yesterday_groups_followed_posts_since_midnight_utc(
    client: httpx.AsyncClient, make: Factory
) -> None:
    person, colleague = await make.practitioner(), await make.practitioner()
    first, second, unfollowed = await make.child(), await make.child(), await make.child()
    for child in (first, second, unfollowed):
        await make.grant(child, professional=person)
        await make.grant(child, professional=colleague)
    await api_login(client, person.email)
    for child in (first, second):
        await client.post(f"/api/v1/children/{child.id}/follow")
    start = start_of_yesterday(utcnow())
    await dated(colleague, first, "before yesterday", start - timedelta(minutes=1))
    early = await dated(colleague, first, "just after midnight", start + timedelta(minutes=1))
    other = await post(colleague, second, "this morning")
    late = await post(colleague, first, "just now")
    await post(colleague, unfollowed, "not followed")

    got = (await client.get("/api/v1/since-yesterday")).json()
    assert got["since"].startswith(f"{start.date().isoformat()}T00:00:00")
    assert [(g["child_id"], [p["id"] for p in g["posts"]]) for g in got["groups"]] == [
        (first.id, [late.id, early.id]),
        (second.id, [other.id]),
    ]
    assert got["count"] == 3 and got["next_before"] is None
    paged = (await client.get("/api/v1/since-yesterday?limit=2")).json()
    assert [p["id"] for g in paged["groups"] for p in g["posts"]] == [late.id, other.id]
    rest = (await client.get(f"/api/v1/since-yesterday?before={paged['next_before']}")).json()
    assert [p["id"] for g in rest["groups"] for p in g["posts"]] == [early.id]
    assert (await client.get("/api/v1/since-yesterday?limit=0")).status_code == 422
    audited = await AuditRecord.filter(action="feed.since_yesterday", actor_id=person.id).order_by(
        "id"
    )
    # One record per child shown, in each child's own log: 2 + 2 + 1 over the three reads.
    assert [(a.child_id, a.detail["post_ids"]) for a in audited] == [
        (first.id, [late.id, early.id]),
        (second.id, [other.id]),
        (first.id, [late.id]),
        (second.id, [other.id]),
        (first.id, [early.id]),
    ]

    page = (await client.get("/since-yesterday")).text
    assert "00:00 UTC" in page
    assert page.index(first.display_name) < page.index(second.display_name)
    assert "not followed" not in page and "before yesterday" not in page


# --- team follows ---------------------------------------------------------------------


async def test_a_team_manager_makes_the_team_follow_and_only_members_with_access_see_it(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await make.child()
    manager, member = await make.practitioner(grants=[child]), await make.practitioner()
    outsider_member = await make.practitioner()  # in the team, but no access to the child
    team = await make.team(members=[member, outsider_member], managers=[manager])
    member_grant = await make.grant(child, professional=member)
    await api_login(client, member.email)
    refused = await client.post(f"/api/v1/children/{child.id}/follow", json={"team_id": team.id})
    assert refused.status_code == 403
    assert "manager" in refused.json()["error"]["message"]

    await logged_in(client, manager)
    page = (await client.get(f"/children/{child.id}")).text
    assert f"Make {team.name} follow" in page
    done = await submit(
        client,
        f"/children/{child.id}",
        f"/children/{child.id}/team-follow",
        team_id=str(team.id),
        follow="1",
    )
    assert done.status_code == 303
    assert f"Stop {team.name} following" in (await client.get(f"/children/{child.id}")).text
    news = await post(manager, child, "Home visit done; all well.", "visit")

    assert [p.id for p in await home_stream(member, SYSTEM)] == [news.id]
    assert await home_stream(outsider_member, SYSTEM) == []
    await api_login(client, outsider_member.email)
    assert (await client.get("/api/v1/home")).json()["posts"] == []
    assert (await client.get("/api/v1/since-yesterday")).json()["groups"] == []
    assert (await client.get("/api/v1/my-children")).json()["children"] == []
    assert child.display_name not in (await client.get("/")).text
    hidden = await client.get(f"/api/v1/children/{child.id}/team-follows")
    assert hidden.status_code == 404

    await api_login(client, member.email)
    follows = (await client.get(f"/api/v1/children/{child.id}/team-follows")).json()
    assert follows["teams"] == [
        {"team_id": team.id, "name": team.name, "following": True, "may_change": False}
    ]
    mine = (await client.get("/api/v1/my-children")).json()["children"]
    assert [(c["child_id"], c["following"], c["new_posts"]) for c in mine] == [(child.id, True, 1)]
    member_grant.revoked_at = utcnow()  # losing access hides it again
    await member_grant.save()
    assert await home_stream(member, SYSTEM) == []
    assert (await client.get("/api/v1/since-yesterday")).json()["groups"] == []

    await logged_in(client, manager)
    await submit(
        client,
        f"/children/{child.id}",
        f"/children/{child.id}/team-follow",
        team_id=str(team.id),
        follow="0",
    )
    assert f"Make {team.name} follow" in (await client.get(f"/children/{child.id}")).text
    actions = await AuditRecord.filter(actor_id=manager.id, action__startswith="follow.")
    assert [a.action for a in actions] == ["follow.create", "follow.delete"]


async def test_a_team_follow_form_with_no_team_is_a_clear_422(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await make.child()
    manager = await make.practitioner(grants=[child])
    await make.team(managers=[manager])
    await logged_in(client, manager)
    bad = await submit(
        client, f"/children/{child.id}", f"/children/{child.id}/team-follow", team_id="x"
    )
    assert bad.status_code == 422
    assert "Choose one of your teams." in bad.text
