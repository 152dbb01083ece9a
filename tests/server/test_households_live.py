"""Households over the websocket: linking puts an entry in each linked child's feed live,
and a viewer who sees one sibling receives nothing about the other (issue 16, part 4)."""

from __future__ import annotations

import json
from typing import Any

from feeds.models import Child, Role
from tests.conftest import Factory
from tests.live_server import call, receive, token_for, ws_connect


async def everything(socket: Any, quiet: float = 1.5) -> list[dict[str, Any]]:
    """Every message until none has come for `quiet` seconds."""
    found = []
    while True:
        try:
            found.append(await receive(socket, timeout=quiet))
        except TimeoutError:
            return found


async def test_a_viewer_of_one_sibling_receives_nothing_about_the_other(live: str) -> None:
    make = Factory()
    lead_a, lead_b = await make.professional(), await make.professional()
    a = await Child.create(
        display_name="Ava Quill", reference="HH-A-1001", lead_professional=lead_a
    )
    b = await Child.create(
        display_name="Zed Hiddensworth", reference="HH-B-2002", lead_professional=lead_b
    )
    await make.grant(a, professional=lead_a)
    await make.grant(b, professional=lead_b)
    viewer = await make.practitioner(grants=[a])
    admin = await make.professional(role=Role.ADMIN)
    async with ws_connect(live, await token_for(viewer), after=0) as socket:
        assert (await receive(socket))["type"] == "hello"
        link = {"with_child_id": a.id, "relationship": "sibling"}
        assert await call(live, admin, f"/api/v1/children/{b.id}/household", link) == 201
        canary = {"kind": "concern", "body": "CANARY-B-9913 bruising seen"}
        assert await call(live, lead_b, f"/api/v1/children/{b.id}/posts", canary) == 201
        update = {"kind": "update", "body": "Ava settled well"}
        assert await call(live, lead_a, f"/api/v1/children/{a.id}/posts", update) == 201
        got = await everything(socket)
    kinds = [(m["type"], m.get("child_id")) for m in got]
    assert ("child.entry", a.id) in kinds and ("post.created", a.id) in kinds
    entry = next(m for m in got if m["type"] == "child.entry")
    assert entry["data"]["text"] and entry["data"]["kind"].startswith("household")
    assert all(m.get("child_id") in (a.id, None) for m in got), kinds
    text = json.dumps(got)
    for secret in ("Zed Hiddensworth", "HH-B-2002", "CANARY-B"):
        assert secret not in text
    # The lead of the other child hears of the link on its own feed.
    async with ws_connect(live, await token_for(lead_b), after=0) as socket:
        assert (await receive(socket))["type"] == "hello"
        replayed = await everything(socket, quiet=1.0)
    assert ("child.entry", b.id) in [(m["type"], m.get("child_id")) for m in replayed]
    assert "Ava Quill" not in json.dumps(replayed)
