"""A shared worry reaches the other screens on the child live; nobody else hears of it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from feeds.models import Post, PostKind, Professional
from server.auth import issue_token
from server.settings import Settings
from tests.conftest import Factory
from tests.live_server import receive, running_server, ws_connect


@pytest.fixture
async def live(settings: Settings) -> AsyncIterator[str]:
    async with running_server(settings) as address:
        yield address


async def token_for(person: Professional) -> str:
    return (await issue_token(person, "test"))[1]


async def call(address: str, person: Professional, path: str, body: dict[str, object]) -> int:
    async with httpx.AsyncClient(base_url=f"http://{address}") as http:
        response = await http.post(
            path, json=body, headers={"authorization": f"Bearer {await token_for(person)}"}
        )
    return response.status_code


async def test_a_share_updates_the_count_live_and_only_for_those_who_see_the_child(
    live: str,
) -> None:
    make = Factory()
    child, elsewhere = await make.child(), await make.child()
    author = await make.practitioner(grants=[child])
    sharer = await make.practitioner(grants=[child])
    outsider = await make.practitioner(grants=[elsewhere])
    hunch = await Post.create(child=child, author=author, kind=PostKind.HUNCH, body="quiet")
    async with (
        ws_connect(live, await token_for(author)) as watching,
        ws_connect(live, await token_for(outsider)) as other,
    ):
        assert (await receive(watching))["type"] == "hello"
        assert (await receive(other))["type"] == "hello"
        path = f"/api/v1/posts/{hunch.id}/worry-shares"
        assert await call(live, sharer, path, {"note": "me too"}) == 201
        while (message := await receive(watching))["type"] != "post.worry_shared":
            pass  # the author's own notification of it may come first
        assert message["child_id"] == child.id
        assert message["data"]["post_id"] == hunch.id
        assert message["data"]["count"] == 1
        assert message["data"]["by"]["name"] == sharer.name
        assert "me too" not in str(message)  # ids and counts, not the note
        # The outsider's next message is about their own child: nothing came before it.
        body = {"kind": "update", "body": "seen at home"}
        assert await call(live, outsider, f"/api/v1/children/{elsewhere.id}/posts", body) == 201
        first = await receive(other)
        assert (first["type"], first["child_id"]) == ("post.created", elsewhere.id)
