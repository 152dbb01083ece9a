from __future__ import annotations

import httpx

from tests.conftest import Factory, api_login


async def test_healthz_says_database_reachable(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "search": "ok",
        "search_pending": 0,
    }


async def test_practitioner_posts_and_reads_newest_first(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await make.child()
    person = await make.practitioner(grants=[child])
    await api_login(client, person.email)
    for body in ("first", "second"):
        created = await client.post(
            f"/api/v1/children/{child.id}/posts", json={"kind": "update", "body": body}
        )
        assert created.status_code == 201, created.text
    feed = await client.get(f"/api/v1/children/{child.id}/posts")
    assert [p["body"] for p in feed.json()["posts"]] == ["second", "first"]
