"""The board over HTTP: GET /board, GET /api/v1/board, GET /api/v1/children/{id}/velocity."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import httpx
import pytest
from starlette.applications import Starlette

from feeds.clock import utcnow
from feeds.models import AuditRecord, Child, Event, Post, PostKind, Professional, Role
from feeds.velocity.tallies import rebuild_days
from feeds.velocity.verdicts import do_recompute_velocity
from tests.conftest import Factory, api_login


async def _post(child: Child, author: Professional, days_ago: float, kind: PostKind) -> None:
    at = utcnow() - timedelta(days=days_ago)
    await Post.create(child=child, author=author, kind=kind, body="seen", created_at=at)
    await rebuild_days([child.id])  # history written around posting: count its days


async def _authors(make: Factory, count: int) -> list[Professional]:
    return [await make.professional(agency=await make.agency()) for _ in range(count)]


async def _quiet_history(child: Child, author: Professional) -> None:
    for day in range(10, 91, 20):
        await _post(child, author, day + 0.1, PostKind.UPDATE)


async def _burst(child: Child, authors: list[Professional], posts: int = 6) -> None:
    for i in range(posts):
        kind = PostKind.HUNCH if i % 2 == 0 else PostKind.UPDATE
        await _post(child, authors[i % len(authors)], 0.1 + 0.4 * i, kind)


async def _setup(make: Factory) -> tuple[Professional, Child, Child, Child]:
    """A manager whose team sees a burst child and a quiet child; a hidden burst child."""
    authors = await _authors(make, 3)
    burst, quiet, hidden = await make.child(), await make.child(), await make.child()
    for child in (burst, quiet, hidden):
        await _quiet_history(child, authors[0])
    await _burst(burst, authors)
    await _burst(hidden, authors)
    manager = await make.professional(role=Role.MANAGER, email="boss@example.test")
    team = await make.team(managers=[manager])
    await make.grant(burst, team=team)
    await make.grant(quiet, team=team)
    return manager, burst, quiet, hidden


async def test_api_board_ranks_visible_children_without_leaking_hidden_ones(
    client: httpx.AsyncClient, make: Factory
) -> None:
    manager, burst, quiet, hidden = await _setup(make)
    await api_login(client, manager.email)

    response = await client.get("/api/v1/board")

    assert response.status_code == 200
    body = response.json()
    assert [row["child"]["id"] for row in body["rows"]] == [burst.id, quiet.id]
    assert (body["children"], body["flagged"]) == (2, 1)
    top = body["rows"][0]
    assert top["flagged"] and top["score"] >= 3 and top["posts_7d"] == 6
    assert any("3 agencies" in reason for reason in top["reasons"])
    assert len(top["sparkline"]) == 28 and sum(top["sparkline"]) == 7  # + the day-10 update
    assert hidden.display_name not in response.text and hidden.reference not in response.text
    assert await AuditRecord.filter(action="board.read", actor_id=manager.id).count() == 1


async def test_a_child_not_flagged_is_explained_in_plain_words(
    client: httpx.AsyncClient, make: Factory
) -> None:
    manager, burst, quiet, _hidden = await _setup(make)
    await do_recompute_velocity({burst.id, quiet.id})
    await api_login(client, manager.email)
    usual = "usual for this child: 0 posts this week, usually 0-1"

    rows = {row["child"]["id"]: row for row in (await client.get("/api/v1/board")).json()["rows"]}
    child = (await client.get(f"/api/v1/children/{quiet.id}/velocity")).json()
    page = (await client.get(f"/children/{quiet.id}")).text

    assert rows[quiet.id]["reasons"][-1] == usual
    assert not any(reason.startswith("usual for") for reason in rows[burst.id]["reasons"])
    assert child["velocity"]["reasons"][-1] == usual
    assert f"Attention board: {usual}" in page
    board = (await client.get("/board")).text
    assert f"<li>{usual}</li>" in board


async def test_api_board_flagged_filter_and_comparison(
    client: httpx.AsyncClient, make: Factory
) -> None:
    manager, burst, _quiet, _hidden = await _setup(make)
    await api_login(client, manager.email)
    today = utcnow().date()

    response = await client.get(
        "/api/v1/board", params={"status": "flagged", "from": str(today - timedelta(days=6))}
    )

    body = response.json()
    assert [row["child"]["id"] for row in body["rows"]] == [burst.id]
    comparison = body["comparison"]
    assert comparison["b"]["from"] == str(today - timedelta(days=6))
    assert comparison["a"]["to"] == str(today - timedelta(days=7))
    # The comparison covers the board as shown (flagged only): the burst child's posts.
    assert comparison["b"]["total_posts"] >= 6
    assert comparison["b"]["total_posts"] < 12


async def test_a_compared_board_gives_each_child_its_own_sortable_row(
    client: httpx.AsyncClient, make: Factory
) -> None:
    manager, burst, quiet, hidden = await _setup(make)
    await api_login(client, manager.email)
    week = str(utcnow().date() - timedelta(days=6))

    by_attention = (await client.get("/api/v1/board", params={"from": week})).json()
    by_name = (await client.get("/api/v1/board", params={"from": week, "sort": "name"})).json()
    bad = await client.get("/api/v1/board", params={"from": week, "sort": "loudest"})

    changes = by_attention["changes"]
    assert [c["child"]["id"] for c in changes] == [burst.id, quiet.id]
    rise = changes[0]["trend"]
    assert (rise["attention"], rise["worry"]) == ("rose", "rose")
    assert (changes[0]["b"]["total_posts"], rise["worries_later"]) == (6, 3)
    assert rise["words"][0].startswith("Attention rose: 6 posts against 1")
    assert changes[1]["trend"]["attention"] == "same"
    names = sorted([(burst.display_name, burst.id), (quiet.display_name, quiet.id)])
    assert [c["child"]["id"] for c in by_name["changes"]] == [i for _, i in names]
    assert hidden.reference not in str(by_attention) and hidden.display_name not in str(by_name)
    assert bad.status_code == 422 and "sort" in bad.text
    assert by_attention["comparison"]["trend"]["attention"] == "rose"


async def test_the_board_page_says_in_words_which_way_each_child_moved(
    client: httpx.AsyncClient, make: Factory
) -> None:
    manager, burst, _quiet, _hidden = await _setup(make)
    await api_login(client, manager.email)
    week = str(utcnow().date() - timedelta(days=6))

    page = await client.get("/board", params={"from": week, "sort": "worry"})

    assert page.status_code == 200
    assert "Attention rose: " in page.text and "Worry rose: " in page.text
    assert "(rose, +5)" in page.text  # the word and the number, not colour alone
    assert "Hunches and concerns (sorted by rise)" in page.text
    assert f'href="/children/{burst.id}"' in page.text


async def test_the_board_answers_its_top_rows_and_says_how_many_more(
    client: httpx.AsyncClient, make: Factory
) -> None:
    manager, burst, quiet, _hidden = await _setup(make)
    await api_login(client, manager.email)

    top = (await client.get("/api/v1/board", params={"limit": 1})).json()
    everything = (await client.get("/api/v1/board")).json()
    page = (await client.get("/board", params={"shown": 1})).text
    bad = await client.get("/api/v1/board", params={"limit": 0})

    assert [r["child"]["id"] for r in top["rows"]] == [burst.id] and top["more"] == 1
    assert (top["children"], top["flagged"]) == (2, 1)  # the counts are the whole board's
    assert len(everything["rows"]) == 2 and "more" not in everything
    assert burst.display_name in page and quiet.display_name not in page
    assert "Show 1 more" in page and "shown=51" in page
    assert bad.status_code == 422


@pytest.mark.parametrize("path", ["/api/v1/board", "/board"])
async def test_practitioners_get_403_from_the_board(
    client: httpx.AsyncClient, make: Factory, path: str
) -> None:
    person = await make.practitioner(grants=[await make.child()])
    await api_login(client, person.email)
    response = await client.get(path)
    assert response.status_code == 403
    assert await AuditRecord.filter(action="board.read", outcome="denied").count() == 1


async def test_board_page_renders_reasons_sparkline_and_comparison(
    client: httpx.AsyncClient, make: Factory
) -> None:
    manager, burst, _quiet, hidden = await _setup(make)
    await api_login(client, manager.email)

    response = await client.get("/board")

    assert response.status_code == 200
    html = response.text
    assert burst.display_name in html and hidden.display_name not in html
    assert "Flagged" in html and "3 agencies in the last 7 days" in html
    assert '<svg class="spark"' in html and "<rect" in html
    assert "style=" not in html and "<script>" not in html  # CSP: no inline style or script
    assert "not risk" in html
    assert '<table class="compare">' in html


async def test_board_sparklines_share_one_scale(client: httpx.AsyncClient, make: Factory) -> None:
    """A quiet child's single post must not draw as tall as a busy child's busiest day."""
    manager, burst, quiet, _hidden = await _setup(make)
    await api_login(client, manager.email)

    html = (await client.get("/board")).text

    rows = {
        child.id: html.split(f'href="/children/{child.id}"')[1].split("</li>")[0]
        for child in (burst, quiet)
    }
    tallest = {
        child_id: max(
            int(h) for h in re.findall(r'class="spark-bar[^"]*"[^>]* height="(\d+)"', row)
        )
        for child_id, row in rows.items()
    }
    busiest = max(max(r["sparkline"]) for r in (await client.get("/api/v1/board")).json()["rows"])
    assert tallest[quiet.id] < tallest[burst.id]
    assert f"a full-height bar is {busiest} posts in a day" in html


async def test_board_page_compares_one_child_and_rejects_bad_dates(
    client: httpx.AsyncClient, make: Factory
) -> None:
    manager, burst, _quiet, hidden = await _setup(make)
    await api_login(client, manager.email)
    today = utcnow().date()
    params = {"child": str(burst.id), "from": str(today - timedelta(days=6)), "to": str(today)}

    good = await client.get("/board", params=params)
    bad = await client.get("/board", params={"from": "2026-02-30"})
    hidden_child = await client.get("/board", params={"child": str(hidden.id)})

    assert good.status_code == 200 and "<td>6</td>" in good.text
    assert bad.status_code == 422 and "from must be a date" in bad.text
    assert hidden_child.status_code == 404 and hidden.display_name not in hidden_child.text


async def test_child_velocity_compares_two_periods(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await make.child()
    reader = await make.practitioner(grants=[child])
    school, police = await _authors(make, 2)
    today = utcnow().date()
    await _post(child, school, 15, PostKind.UPDATE)  # earlier period
    await _post(child, school, 12, PostKind.CONCERN)
    await _post(child, school, 3, PostKind.HUNCH)  # later period
    await _post(child, police, 2, PostKind.HUNCH)
    await _post(child, police, 1, PostKind.VISIT)
    await api_login(client, reader.email)

    response = await client.get(
        f"/api/v1/children/{child.id}/velocity",
        params={
            "from": str(today - timedelta(days=6)),
            "to": str(today),
            "compare_from": str(today - timedelta(days=20)),
            "compare_to": str(today - timedelta(days=7)),
        },
    )

    assert response.status_code == 200, response.text
    body = response.json()
    a, b, change = body["comparison"]["a"], body["comparison"]["b"], body["comparison"]["change"]
    assert (a["total_posts"], b["total_posts"], change["total_posts"]) == (2, 3, 1)
    assert a["posts_by_kind"]["concern"] == 1 and b["posts_by_kind"]["hunch"] == 2
    assert change["posts_by_kind"] == {
        "update": -1,
        "hunch": 2,
        "concern": -1,
        "visit": 1,
        "positive": 0,
    }
    assert (a["distinct_agencies"], b["distinct_agencies"], change["distinct_agencies"]) == (
        1,
        2,
        1,
    )
    assert body["velocity"]["reasons"] and len(body["velocity"]["sparkline"]) == 28
    assert await AuditRecord.filter(action="velocity.read", child_id=child.id).count() == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-13-01"}, "to"),
        ({"from": "2026-03-01", "to": "2026-02-01"}, "from"),
        ({"compare_from": "2026-03-01", "compare_to": "2026-02-01"}, "compare_from"),
        ({"from": "2024-01-01", "to": "2025-06-01"}, "from"),
        ({"from": "2001-01-01", "to": "2001-01-02"}, "from"),
        ({"compare_from": "2001-01-01"}, "compare_from"),
        ({"from": "0001-01-01", "to": "0001-01-02"}, "to"),
        ({"to": "9999-12-31"}, "to"),
    ],
)
async def test_bad_dates_get_a_clear_422(
    client: httpx.AsyncClient, make: Factory, params: dict[str, str], field: str
) -> None:
    child = await make.child()
    reader = await make.practitioner(grants=[child])
    await api_login(client, reader.email)
    response = await client.get(f"/api/v1/children/{child.id}/velocity", params=params)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field


async def test_bad_board_status_is_422(client: httpx.AsyncClient, make: Factory) -> None:
    manager = await make.professional(role=Role.MANAGER)
    await api_login(client, manager.email)
    response = await client.get("/api/v1/board", params={"status": "red"})
    assert response.status_code == 422 and response.json()["error"]["field"] == "status"


async def test_a_posted_burst_flips_the_flag_and_emits_velocity_changed(
    app: Starlette, client: httpx.AsyncClient, make: Factory
) -> None:
    child = await make.child()
    authors = await _authors(make, 3)
    await _quiet_history(child, authors[0])
    for person in authors:
        await make.grant(child, professional=person)
    for i in range(6):
        await api_login(client, authors[i % 3].email)
        kind = "hunch" if i % 2 == 0 else "update"
        response = await client.post(
            f"/api/v1/children/{child.id}/posts", json={"kind": kind, "body": f"note {i}"}
        )
        assert response.status_code == 201

    # The watcher recomputes on commit; catching up here as well must not emit twice.
    await app.state.velocity.catch_up()
    for _ in range(50):
        if await Event.filter(type="velocity.changed").exists():
            break
        await asyncio.sleep(0.1)

    changes = await Event.filter(type="velocity.changed", child_id=child.id)
    assert len(changes) == 1 and changes[0].payload["flagged"] is True


async def test_api_board_team_filter_and_bad_team(client: httpx.AsyncClient, make: Factory) -> None:
    manager, burst, quiet, _hidden = await _setup(make)
    other = await make.team(managers=[manager])
    solo = await make.child()
    await make.grant(solo, team=other)
    await api_login(client, manager.email)

    everything = (await client.get("/api/v1/board")).json()
    one_team = (await client.get(f"/api/v1/board?team={other.id}")).json()
    bad = await client.get("/api/v1/board?team=someone-elses")

    assert {r["child"]["id"] for r in everything["rows"]} == {burst.id, quiet.id, solo.id}
    assert [r["child"]["id"] for r in one_team["rows"]] == [solo.id]
    assert bad.status_code == 422 and "team" in bad.text
    page = await client.get(f"/board?team={other.id}")
    assert page.status_code == 200 and 'name="team"' in page.text


async def test_child_page_shows_an_activity_timeline_by_kind(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await make.child()
    author = await make.practitioner(grants=[child])
    await _post(child, author, 0.01, PostKind.HUNCH)
    await _post(child, author, 2.2, PostKind.UPDATE)
    await _post(child, author, 40, PostKind.CONCERN)  # older than the timeline
    await api_login(client, author.email)

    page = await client.get(f"/children/{child.id}")

    assert page.status_code == 200
    assert "Last 28 days: 1 update, 1 hunch." in page.text
    assert page.text.count('class="tl tl-') == 2
    assert "not risk" in page.text
