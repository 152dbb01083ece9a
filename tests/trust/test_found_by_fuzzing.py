"""Regressions for what the fuzzer and the fault runs found: each answered 500 before."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from server.auth import issue_token
from tests.conftest import Factory

BIG = 2**31  # one past PostgreSQL's integer: asyncpg refused to send it (500)


@pytest.fixture
async def bearer(app: Starlette, make: Factory) -> dict[str, str]:
    child = await make.child()
    user = await make.practitioner(grants=[child])
    user_child = child.id
    token = (await issue_token(user, "t"))[1]
    return {"authorization": f"Bearer {token}", "x-child": str(user_child)}


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/children/{BIG}",
        f"/api/v1/children/{BIG}/posts",
        "/api/v1/children/%C2%B2",  # "²": str.isdigit() said yes, int() said no
        f"/children/{BIG}",
        "/children/%C2%B2",
    ],
)
async def test_out_of_range_or_odd_ids_name_nothing(
    client: httpx.AsyncClient, bearer: dict[str, str], path: str
) -> None:
    assert (await client.get(path, headers=bearer)).status_code == 404


@pytest.mark.parametrize("query", [f"before={BIG}", "before=%C2%B2", f"limit={BIG}"])
async def test_out_of_range_query_numbers_are_invalid(
    client: httpx.AsyncClient, bearer: dict[str, str], query: str
) -> None:
    path = f"/api/v1/children/{bearer['x-child']}/posts?{query}"
    assert (await client.get(path, headers=bearer)).status_code == 422


@pytest.mark.parametrize("field", ["professional_id", "team_id"])
async def test_out_of_range_body_ids_are_invalid(
    client: httpx.AsyncClient, bearer: dict[str, str], field: str
) -> None:
    path = f"/api/v1/children/{bearer['x-child']}/grants"
    response = await client.post(path, json={field: BIG}, headers=bearer)
    assert response.status_code in {403, 422}  # a practitioner may not grant: either is fine
    assert response.status_code < 500


async def test_board_dates_at_the_edge_of_the_calendar_are_invalid(
    client: httpx.AsyncClient, bearer: dict[str, str]
) -> None:
    for day in ("0001-01-01", "9999-12-31"):
        path = f"/api/v1/children/{bearer['x-child']}/velocity?from={day}&to={day}"
        assert (await client.get(path, headers=bearer)).status_code == 422
