"""Administrators set up the organisation through the JSON API: agencies, teams and their
members, people's accounts (create, role, deactivate). Everyone else is refused."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from feeds.models import (
    Agency,
    ApiToken,
    AuditRecord,
    Post,
    PostKind,
    Professional,
    Role,
    Session,
    TeamMember,
)
from server.auth import issue_token
from tests.conftest import PASSWORD, Factory
from tests.live_server import receive, ws_connect

ADMIN = "/api/v1/admin"


async def bearer(person: Professional) -> dict[str, str]:
    return {"authorization": f"Bearer {(await issue_token(person, 'test'))[1]}"}


async def test_an_administrator_sets_up_an_agency_a_team_and_a_person(
    client: httpx.AsyncClient, make: Factory
) -> None:
    auth = await bearer(await make.professional(role=Role.ADMIN))
    agency = await client.post(
        f"{ADMIN}/agencies", json={"name": " Northgate Health ", "sector": "health"}, headers=auth
    )
    assert agency.status_code == 201, agency.text
    assert agency.json()["name"] == "Northgate Health"
    agency_id = agency.json()["id"]
    team = await client.post(
        f"{ADMIN}/teams", json={"name": "Health visiting", "agency_id": agency_id}, headers=auth
    )
    assert team.status_code == 201 and team.json()["members"] == []
    person = await client.post(
        f"{ADMIN}/people",
        json={
            "email": "Ann.Okafor@example.test",
            "name": "Ann Okafor",
            "agency_id": agency_id,
            "role": "manager",
            "job_title": "Team leader",
            "password": "a long enough password",
        },
        headers=auth,
    )
    assert person.status_code == 201, person.text
    assert person.json()["email"] == "ann.okafor@example.test"
    assert person.json()["role"] == "manager" and person.json()["agency"] == "Northgate Health"
    joined = await client.post(
        f"{ADMIN}/teams/{team.json()['id']}/members",
        json={"professional_id": person.json()["id"], "is_manager": True},
        headers=auth,
    )
    assert joined.status_code == 201
    assert joined.json()["members"][0]["is_manager"] is True
    listed = await client.get(f"{ADMIN}/teams", headers=auth)
    assert [t["name"] for t in listed.json()["teams"]] == ["Health visiting"]
    login = await client.post(
        "/api/v1/auth/login",
        json={"email": "ann.okafor@example.test", "password": "a long enough password"},
    )
    assert login.status_code == 200
    actions: list[Any] = await AuditRecord.filter(outcome="ok").values_list("action", flat=True)
    for action in ("agency.create", "team.create", "person.create", "team.member.add"):
        assert action in actions


async def test_names_are_unique_and_bad_input_says_what_is_wrong(
    client: httpx.AsyncClient, make: Factory
) -> None:
    auth = await bearer(await make.professional(role=Role.ADMIN))
    first = await client.post(
        f"{ADMIN}/agencies", json={"name": "Police", "sector": "police"}, headers=auth
    )
    assert first.status_code == 201
    again = await client.post(
        f"{ADMIN}/agencies", json={"name": "POLICE", "sector": "police"}, headers=auth
    )
    assert again.status_code == 409 and "already an agency" in again.json()["error"]["message"]
    cases = [
        (f"{ADMIN}/agencies", {"name": "X", "sector": "astrology"}, "sector"),
        (f"{ADMIN}/agencies", {"name": "  ", "sector": "health"}, "name"),
        (f"{ADMIN}/teams", {"name": "T", "agency_id": 999_999}, "agency_id"),
        (f"{ADMIN}/teams", {"name": "T", "agency_id": "1"}, "agency_id"),
        (f"{ADMIN}/people", {"name": "P", "agency_id": first.json()["id"], "role": "boss"}, "role"),
        (
            f"{ADMIN}/people",
            {
                "name": "P",
                "email": "p@x.test",
                "agency_id": first.json()["id"],
                "password": "short",
            },
            "password",
        ),
    ]
    for path, body, field in cases:
        answer = await client.post(path, json=body, headers=auth)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["error"]["field"] == field, (body, answer.json())


ROUTES = [
    ("GET", f"{ADMIN}/agencies", None),
    ("POST", f"{ADMIN}/agencies", {"name": "A", "sector": "health"}),
    ("GET", f"{ADMIN}/teams", None),
    ("POST", f"{ADMIN}/teams", {"name": "T", "agency_id": 1}),
    ("POST", f"{ADMIN}/teams/1/members", {"professional_id": 1}),
    ("DELETE", f"{ADMIN}/teams/1/members/1", None),
    ("GET", f"{ADMIN}/people", None),
    ("POST", f"{ADMIN}/people", {"name": "P", "agency_id": 1, "password": "x" * 12}),
    ("POST", f"{ADMIN}/people/1/deactivate", None),
    ("POST", f"{ADMIN}/people/1/reactivate", None),
    ("PUT", f"{ADMIN}/people/1/role", {"role": "admin"}),
]


@pytest.mark.parametrize("role", [Role.PRACTITIONER, Role.MANAGER])
async def test_only_administrators_may_use_the_admin_api(
    client: httpx.AsyncClient, make: Factory, role: Role
) -> None:
    caller = await make.professional(role=role)
    await make.team(members=[caller])
    auth = await bearer(caller)
    for method, path, body in ROUTES:
        answer = await client.request(method, path, json=body, headers=auth)
        assert answer.status_code == 403, (method, path, answer.text)
        assert "Only administrators" in answer.json()["error"]["message"]
    assert (await Professional.get(id=caller.id)).role == role
    assert await TeamMember.filter(professional_id=caller.id).count() == 1
    assert await Agency.filter(name="A").count() == 0


async def test_leaving_a_team_ends_access_through_its_grants(
    client: httpx.AsyncClient, make: Factory
) -> None:
    auth = await bearer(await make.professional(role=Role.ADMIN))
    child = await make.child()
    member = await make.practitioner()
    team = await make.team()
    await make.grant(child, team=team)
    member_auth = await bearer(member)
    await client.post(
        f"{ADMIN}/teams/{team.id}/members", json={"professional_id": member.id}, headers=auth
    )
    seen = await client.get(f"/api/v1/children/{child.id}", headers=member_auth)
    assert seen.status_code == 200
    promoted = await client.post(
        f"{ADMIN}/teams/{team.id}/members",
        json={"professional_id": member.id, "is_manager": True},
        headers=auth,
    )
    assert promoted.status_code == 200 and promoted.json()["members"][0]["is_manager"]
    removed = await client.delete(f"{ADMIN}/teams/{team.id}/members/{member.id}", headers=auth)
    assert removed.status_code == 204
    gone = await client.get(f"/api/v1/children/{child.id}", headers=member_auth)
    assert gone.status_code == 404
    twice = await client.delete(f"{ADMIN}/teams/{team.id}/members/{member.id}", headers=auth)
    assert twice.status_code == 404
    assert await AuditRecord.filter(action="team.member.remove", outcome="ok").count() == 1


async def test_changing_a_role(client: httpx.AsyncClient, make: Factory) -> None:
    admin = await make.professional(role=Role.ADMIN)
    auth = await bearer(admin)
    person = await make.practitioner()
    changed = await client.put(
        f"{ADMIN}/people/{person.id}/role", json={"role": "manager"}, headers=auth
    )
    assert changed.status_code == 200 and changed.json()["role"] == "manager"
    record = await AuditRecord.get(action="person.role", outcome="ok")
    assert record.detail == {"professional_id": person.id, "from": "practitioner", "to": "manager"}
    own = await client.put(
        f"{ADMIN}/people/{admin.id}/role", json={"role": "manager"}, headers=auth
    )
    assert own.status_code == 409 and "your own account" in own.json()["error"]["message"]
    bad = await client.put(f"{ADMIN}/people/{person.id}/role", json={"role": "chief"}, headers=auth)
    assert bad.status_code == 422
    missing = await client.put(f"{ADMIN}/people/999999/role", json={"role": "admin"}, headers=auth)
    assert missing.status_code == 404


async def test_deactivation_ends_sessions_and_tokens_and_keeps_posts_attributed(
    client: httpx.AsyncClient, make: Factory
) -> None:
    admin = await make.professional(role=Role.ADMIN)
    child = await make.child()
    person = await make.practitioner(grants=[child])
    colleague = await make.practitioner(grants=[child])
    await Post.create(child=child, author=person, kind=PostKind.UPDATE, body="seen at school")
    login = await client.post(
        "/api/v1/auth/login", json={"email": person.email, "password": PASSWORD}
    )
    assert login.status_code == 200
    client.cookies.clear()
    token = await bearer(person)
    done = await client.post(f"{ADMIN}/people/{person.id}/deactivate", headers=await bearer(admin))
    assert done.status_code == 200 and done.json()["active"] is False
    assert await Session.filter(professional_id=person.id, revoked_at__isnull=True).count() == 0
    assert await ApiToken.filter(professional_id=person.id, revoked_at__isnull=True).count() == 0
    assert (await client.get("/api/v1/me", headers=token)).status_code == 401
    again = await client.post(
        "/api/v1/auth/login", json={"email": person.email, "password": PASSWORD}
    )
    assert again.status_code == 401
    feed = await client.get(f"/api/v1/children/{child.id}/posts", headers=await bearer(colleague))
    assert [p["author"]["name"] for p in feed.json()["posts"]] == [person.name]
    record = await AuditRecord.get(action="person.deactivate", outcome="ok")
    assert record.detail["sessions_ended"] == 1 and record.detail["tokens_ended"] == 1
    own = await client.post(f"{ADMIN}/people/{admin.id}/deactivate", headers=await bearer(admin))
    assert own.status_code == 409


async def test_deactivation_closes_an_open_socket_within_a_second(live: str) -> None:
    make = Factory()
    admin = await make.professional(role=Role.ADMIN)
    person = await make.practitioner()
    async with httpx.AsyncClient(base_url=f"http://{live}") as http:
        login = await http.post(
            "/api/v1/auth/login", json={"email": person.email, "password": PASSWORD}
        )
        cookie = f"jigsaw_session={login.cookies['jigsaw_session']}"
    async with ws_connect(live, cookie=cookie, origin=f"http://{live}") as socket:
        assert (await receive(socket))["type"] == "hello"
        async with httpx.AsyncClient(base_url=f"http://{live}") as http:
            done = await http.post(
                f"{ADMIN}/people/{person.id}/deactivate", headers=await bearer(admin)
            )
            assert done.status_code == 200
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(1.0):
                while True:  # the account.changed event may come first, then the close
                    await socket.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
