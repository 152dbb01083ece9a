"""Every authorisation decision that touches a child, allowed or denied, leaves exactly one
audit record (TRUST "Audit"; NHS DSPT).

Generated from the access matrix (tests/server/test_access_matrix.py: its actors, its
world and its child-scoped routes) plus the routes that reach a child through a query
parameter: search, the board's comparison, the audit log and its CSV export. Each actor
calls each route once; the records that actor gained in that request must be exactly
one, and it must name the child. The websocket is checked per connection.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from feeds.clock import utcnow
from feeds.models import ApiToken, AuditRecord
from server.auth import digest
from tests.conftest import Factory
from tests.live_server import receive, ws_connect
from tests.server.test_access_matrix import (
    ACTORS,
    ROUTES,
    Case,
    World,
    _close,
    _fill,
    _reopen,
    build_world,
)

# Child-scoped through the query string. Expected statuses are the matrix's business.
BY_QUERY: list[object] = [
    Case("GET", "/api/v1/search?q=seen&child={child}", {}),
    Case("GET", "/search?q=seen&child={child}", {}),
    Case("GET", "/board?child={child}", {}),
    Case("GET", "/api/v1/audit?child={child}", {}),
    Case("GET", "/api/v1/audit.csv?child={child}", {}),
    Case("GET", "/admin/audit?child={child}", {}),
]
PEOPLE = [actor for actor in ACTORS if actor != "anonymous"]  # no actor, no decision


async def actor_ids(world: World) -> dict[str, int]:
    ids = {}
    for name, token in world.tokens.items():
        row = await ApiToken.get(token_hash=digest(token))
        ids[name] = row.professional_id
    return ids


async def last_record_id() -> int:
    last = await AuditRecord.all().order_by("-id").first()
    return last.id if last else 0


def case_id(case: object) -> str:
    return f"{case.method} {case.path}" if isinstance(case, Case) else str(case)


@pytest.mark.parametrize("case", [*ROUTES, *BY_QUERY], ids=case_id)
async def test_each_decision_about_a_child_leaves_exactly_one_audit_record(
    case: Case, client: httpx.AsyncClient, make: Factory
) -> None:
    world = await build_world(make)
    people = await actor_ids(world)
    wrong = []
    for actor in PEOPLE:
        path, kwargs = await _fill(case, world, make, actor)
        since = await last_record_id()
        headers = {"authorization": f"Bearer {world.tokens[actor]}"}
        await _close(case, world)  # the keeper's records are not the actor's
        response = await client.request(case.method, path, headers=headers, **kwargs)
        await _reopen(world)
        assert response.status_code < 500, (actor, response.text)
        new = await AuditRecord.filter(id__gt=since, actor_id=people[actor]).values(
            "action", "child_id", "outcome"
        )
        named = [r for r in new if r["child_id"] == world.child_of(actor, case).id]
        if len(new) != _records_expected(case, response.status_code) or len(named) != 1:
            wrong.append(f"{actor} -> {response.status_code}: {new}")
    assert not wrong, "\n".join([f"{case.method} {case.path}", *wrong])


def _records_expected(case: Case, status: int) -> int:
    """One, except a merge done: one on each of the two records (each one's audit shows it)."""
    merged = case.method == "POST" and case.path.endswith("/merge") and status in {201, 303}
    return 2 if merged else 1


async def test_a_board_read_with_its_comparison_is_one_audit_record(
    client: httpx.AsyncClient, make: Factory
) -> None:
    """The board and its period comparison are one view: one record (it used to be two)."""
    world = await build_world(make)
    manager = (await actor_ids(world))["manager"]
    headers = {"authorization": f"Bearer {world.tokens['manager']}"}
    week_ago = (utcnow() - timedelta(days=6)).date().isoformat()
    for path in (
        "/board",  # the page always compares the last 28 days with the 28 before
        f"/board?from={week_ago}",
        "/board?from=2020-01-01",  # an invalid comparison: the board, its error, one record
        f"/api/v1/board?from={week_ago}",
        "/api/v1/board",
    ):
        since = await last_record_id()
        response = await client.get(path, headers=headers)
        assert response.status_code in {200, 422}, response.text
        new: list[Any] = await AuditRecord.filter(id__gt=since, actor_id=manager).values_list(
            "action", flat=True
        )
        assert new == ["board.read"], path


# --- the websocket: one record per connection, with what it may receive ---------------


async def test_each_websocket_subscription_leaves_exactly_one_audit_record(live: str) -> None:
    make = Factory()
    world = await build_world(make)
    people = await actor_ids(world)
    for actor in PEOPLE:
        since = await last_record_id()
        async with ws_connect(live, world.tokens[actor], after=0) as socket:
            assert (await receive(socket))["type"] == "hello"
            await asyncio.sleep(0.05)
        records = await AuditRecord.filter(id__gt=since, actor_id=people[actor]).values(
            "action", "outcome", "detail"
        )
        assert [(r["action"], r["outcome"]) for r in records] == [("live.subscribe", "ok")]
        sees_child = world.child_of(actor).id in records[0]["detail"]["children"]
        assert sees_child == (
            actor not in {"no_grant", "expired", "revoked", "admin"} | {"glass_expired"}
        ), actor
    since = await last_record_id()
    with pytest.raises(InvalidStatus):
        async with ws_connect(live, world.tokens["direct"], origin="https://evil.example"):
            pass
    refused = await AuditRecord.filter(id__gt=since, actor_id=people["direct"]).values(
        "action", "outcome"
    )
    assert refused == [{"action": "live.subscribe", "outcome": "denied"}]
