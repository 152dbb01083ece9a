"""A shared worry reaches the other screens on the child live; nobody else hears of it."""

from __future__ import annotations

from feeds.models import Post, PostKind
from tests.conftest import Factory
from tests.live_server import call, receive, token_for, ws_connect


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
