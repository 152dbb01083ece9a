"""A database uniqueness rule hit by a user action answers 409 with a plain message that
names no table, column, constraint or value, on the API and on pages.

Every action checks for a duplicate before writing and says what is wrong; the database's
rule is met only when another request writes the same row between that check and the
insert (two tabs, a double click). That race is made certain here with a trigger that
writes the same row just before the action's own insert (on PostgreSQL a row trigger, on
SQLite a BEFORE INSERT trigger; nothing of ours is mocked). The race used to answer 503
"The database is unavailable" (IntegrityError is an OperationalError to the ORM)."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import httpx
from tortoise import connections

from feeds.models import Follow, Professional, Role, TeamMember
from server.auth import issue_token
from server.errors import CLASHED
from tests.conftest import Factory
from tests.mfa_helpers import post_form
from tests.server.test_admin_pages import signed_in

ADMIN = "/api/v1/admin"
# What the database's own message would show: none of it may reach the caller.
LEAKS = ("unique", "constraint", "duplicate", "integrity", "insert", "key (", "sql")


@asynccontextmanager
async def racing(table: str, columns: Sequence[str]) -> AsyncIterator[None]:
    """While inside: every insert into `table` finds the same row written a moment before."""
    db = connections.get("default")
    names = ", ".join(columns)
    values = ", ".join(f"NEW.{c}" for c in columns)
    if db.capabilities.dialect == "sqlite":  # a trigger's own insert fires no trigger
        up = [
            f"CREATE TRIGGER race BEFORE INSERT ON {table} BEGIN "  # noqa: S608 - test constants
            f"INSERT INTO {table} ({names}) VALUES ({values}); END"
        ]
        down = ["DROP TRIGGER IF EXISTS race"]
    else:
        up = [
            "CREATE FUNCTION race() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "  # noqa: S608
            f"IF pg_trigger_depth() = 1 THEN INSERT INTO {table} ({names}) VALUES ({values}); "
            "END IF; RETURN NEW; END $$",
            f"CREATE TRIGGER race BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION race()",
        ]
        down = [f"DROP TRIGGER IF EXISTS race ON {table}", "DROP FUNCTION IF EXISTS race()"]
    for sql in up:
        await db.execute_script(sql)
    try:
        yield
    finally:
        for sql in down:
            await db.execute_script(sql)


def assert_plain_clash(answer: httpx.Response) -> None:
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"] == {"code": "conflict", "message": CLASHED, "field": None}
    assert not any(word in answer.text.lower() for word in LEAKS), answer.text
    assert "retry-after" not in answer.headers  # not an outage


async def bearer(person: Professional) -> dict[str, str]:
    return {"authorization": f"Bearer {(await issue_token(person, 'test'))[1]}"}


async def test_a_follow_that_races_another_is_a_plain_409(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await make.child()
    auth = await bearer(await make.practitioner(grants=[child]))
    path = f"/api/v1/children/{child.id}/follow"
    async with racing("follow", ("child_id", "professional_id", "team_id", "created_at")):
        assert_plain_clash(await client.post(path, headers=auth))
    assert await Follow.filter(child_id=child.id).count() == 0  # nothing half-written
    assert (await client.post(path, headers=auth)).status_code == 200  # trying again works


async def test_an_acknowledgement_that_races_another_is_a_plain_409(
    client: httpx.AsyncClient, make: Factory
) -> None:
    child = await make.child()
    author = await make.practitioner(grants=[child])
    reader = await make.practitioner(grants=[child])
    posted = await client.post(
        f"/api/v1/children/{child.id}/posts",
        json={"kind": "concern", "body": "Bruising seen again"},
        headers=await bearer(author),
    )
    assert posted.status_code == 201, posted.text
    path = f"/api/v1/posts/{posted.json()['id']}/acknowledge"
    auth = await bearer(reader)
    async with racing("acknowledgement", ("post_id", "professional_id", "created_at")):
        assert_plain_clash(await client.post(path, headers=auth))
    assert (await client.post(path, headers=auth)).status_code == 200


async def test_a_person_created_twice_at_once_is_a_plain_409(
    client: httpx.AsyncClient, make: Factory
) -> None:
    auth = await bearer(await make.professional(role=Role.ADMIN))
    agency = await make.agency()
    body = {
        "email": "ann.okafor@example.test",
        "name": "Ann Okafor",
        "agency_id": agency.id,
        "password": "a long enough password",
    }
    columns = ("email", "name", "handle", "job_title", "agency_id", "role", "password_hash")
    async with racing("professional", (*columns, "is_active", "failed_logins", "created_at")):
        assert_plain_clash(await client.post(f"{ADMIN}/people", json=body, headers=auth))
    assert not await Professional.exists(email=body["email"])
    assert (await client.post(f"{ADMIN}/people", json=body, headers=auth)).status_code == 201


async def test_a_team_member_added_twice_at_once_is_a_plain_409(
    client: httpx.AsyncClient, make: Factory
) -> None:
    auth = await bearer(await make.professional(role=Role.ADMIN))
    team, person = await make.team(), await make.practitioner()
    path, body = f"{ADMIN}/teams/{team.id}/members", {"professional_id": person.id}
    async with racing("team_member", ("team_id", "professional_id", "is_manager")):
        assert_plain_clash(await client.post(path, json=body, headers=auth))
    assert await TeamMember.filter(team_id=team.id).count() == 0
    assert (await client.post(path, json=body, headers=auth)).status_code == 201


async def test_a_page_gets_the_same_plain_409(client: httpx.AsyncClient, make: Factory) -> None:
    """The same clash from a page's form: the error page, 409, the same words."""
    child = await make.child()
    await signed_in(client, await make.practitioner(grants=[child]))
    async with racing("follow", ("child_id", "professional_id", "team_id", "created_at")):
        answer = await post_form(client, f"/children/{child.id}", f"/children/{child.id}/follow")
    assert answer.status_code == 409 and html.escape(CLASHED) in answer.text
    assert not any(word in answer.text.lower() for word in ("unique", "constraint", "key ("))


async def test_a_second_agency_team_or_account_of_the_same_name_is_a_409(
    client: httpx.AsyncClient, make: Factory
) -> None:
    """Without a race the action's own check answers, 409 too, saying what clashes."""
    auth = await bearer(await make.professional(role=Role.ADMIN))
    agency = await make.agency()
    person = {"name": "Ann", "agency_id": agency.id, "password": "a long enough password"}
    cases: list[tuple[str, dict[str, object], dict[str, str]]] = [
        ("agencies", {"name": "Police", "sector": "police"}, {"name": "POLICE"}),
        ("teams", {"name": "Early help", "agency_id": agency.id}, {"name": "early help"}),
        ("people", {**person, "email": "ann@example.test"}, {"email": " ANN@example.test"}),
    ]
    for kind, body, again in cases:
        assert (await client.post(f"{ADMIN}/{kind}", json=body, headers=auth)).status_code == 201
        clash = await client.post(f"{ADMIN}/{kind}", json=body | again, headers=auth)
        assert clash.status_code == 409, (kind, clash.text)
        assert clash.json()["error"]["field"] in ("name", "email")
        assert "already" in clash.json()["error"]["message"]
    refused = await client.post(f"{ADMIN}/people", json={**person, "email": "no-at"}, headers=auth)
    assert refused.status_code == 422  # a malformed email is still bad input
