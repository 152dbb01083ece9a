"""Every route x every kind of actor -> the status it must get (TRUST: deny by default).

Adding a route without adding it to ROUTES (child-scoped) or OPEN_ROUTES fails
test_every_route_is_in_the_matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from feeds.clock import utcnow
from feeds.models import BreakGlass, Child, Post, PostKind, Professional, Role
from server.auth import issue_token
from tests.conftest import Factory, client_for
from tests.mfa_helpers import enrolled, password_step

ACTORS = [
    "anonymous",
    "no_grant",
    "expired",
    "revoked",
    "team",
    "direct",
    "lead",
    "manager",
    "admin",
    "break_glass",
    "glass_expired",
]
HIDDEN = {"no_grant": 404, "expired": 404, "revoked": 404, "admin": 404, "glass_expired": 404}


def expect(
    anonymous: int, allowed: int, *, practitioner: int | None = None, lead: int | None = None
) -> dict[str, int]:
    """Hidden actors get 404; `practitioner` overrides team/direct, `lead` the lead."""
    plain = allowed if practitioner is None else practitioner
    return {
        "anonymous": anonymous,
        **HIDDEN,
        "team": plain,
        "direct": plain,
        "break_glass": plain,  # emergency access: like a practitioner, never managing access
        "lead": plain if lead is None else lead,
        "manager": allowed,
    }


@dataclass(frozen=True)
class Case:
    method: str
    path: str  # {child}, {grant}, {post} are filled per call
    expected: dict[str, int]
    body: dict[str, Any] | None = None
    form: dict[str, str] | None = None


ROUTES = [
    Case("GET", "/api/v1/children/{child}", expect(401, 200)),
    Case("GET", "/api/v1/children/{child}/posts", expect(401, 200)),
    Case(
        "POST",
        "/api/v1/children/{child}/posts",
        expect(401, 201),
        body={"kind": "update", "body": "seen at school"},
    ),
    Case("GET", "/api/v1/children/{child}/grants", expect(401, 200)),
    Case(
        "POST",
        "/api/v1/children/{child}/grants",
        expect(401, 201, practitioner=403, lead=201),
        body={"professional_id": "{other}"},
    ),
    Case("DELETE", "/api/v1/grants/{grant}", expect(401, 200, practitioner=403, lead=200)),
    Case("PATCH", "/api/v1/posts/{post}", expect(401, 403), body={"kind": "update", "body": "x"}),
    Case("DELETE", "/api/v1/posts/{post}", expect(401, 204, practitioner=403)),
    Case("POST", "/api/v1/children/{child}/follow", expect(401, 200)),
    Case("DELETE", "/api/v1/children/{child}/follow", expect(401, 200)),
    Case("POST", "/api/v1/posts/{post}/acknowledge", expect(401, 200)),
    Case("GET", "/api/v1/children/{child}/velocity", expect(401, 200)),
    Case("GET", "/children/{child}", expect(303, 200)),
    Case("GET", "/children/{child}/activity", expect(303, 200)),
    Case(
        "POST",
        "/children/{child}/posts",
        expect(303, 303),
        form={"kind": "hunch", "body": "dad's car outside again"},
    ),
    Case(
        "POST",
        "/children/{child}/grants",
        expect(303, 303, practitioner=403, lead=303),
        form={"email": "{other_email}"},
    ),
    Case("POST", "/grants/{grant}/revoke", expect(303, 303, practitioner=403, lead=303)),
    Case("POST", "/children/{child}/follow", expect(303, 303)),
    Case("POST", "/children/{child}/unfollow", expect(303, 303)),
    Case("POST", "/posts/{post}/acknowledge", expect(303, 303)),
    Case("GET", "/api/v1/children/{child}/audit", expect(401, 200, practitioner=403, lead=200)),
    Case("GET", "/children/{child}/audit", expect(303, 200, practitioner=403, lead=200)),
    # Break-glass is for those without access (it reveals that the child exists, by design);
    # those with access are told so, administrators may not.
    Case(
        "POST",
        "/api/v1/children/{child}/break-glass",
        {**dict.fromkeys(ACTORS, 422), "anonymous": 401, "admin": 403}
        | dict.fromkeys(("no_grant", "expired", "revoked", "glass_expired"), 201),
        body={"reason": "missing overnight, police asking for contacts"},
    ),
    Case(
        "POST",
        "/children/{child}/break-glass",
        {**dict.fromkeys(ACTORS, 422), "anonymous": 303, "admin": 403}
        | dict.fromkeys(("no_grant", "expired", "revoked", "glass_expired"), 303),
        form={"reason": "missing overnight, police asking for contacts"},
    ),
]

# Routes that touch no particular child: (method, path) -> policy they must declare.
OPEN_ROUTES = {
    ("GET", "/healthz"): "public",
    ("GET", "/api/v1/openapi.json"): "public",
    ("POST", "/api/v1/auth/login"): "public",
    ("POST", "/api/v1/auth/logout"): "public",
    ("POST", "/api/v1/auth/logout-everywhere"): "authenticated",
    ("POST", "/api/v1/auth/tokens"): "public",
    ("GET", "/api/v1/auth/tokens"): "authenticated",
    ("DELETE", "/api/v1/auth/tokens/{token_id}"): "authenticated",
    ("GET", "/api/v1/me"): "authenticated",
    ("GET", "/api/v1/children"): "authenticated",
    ("GET", "/api/v1/board"): "authenticated",
    ("GET", "/board"): "authenticated",
    ("GET", "/api/v1/home"): "authenticated",
    ("GET", "/api/v1/notifications"): "authenticated",
    ("POST", "/api/v1/notifications/read-all"): "authenticated",
    ("POST", "/api/v1/notifications/{notification_id}/read"): "authenticated",
    ("GET", "/api/v1/search"): "authenticated",
    ("GET", "/search"): "authenticated",
    ("GET", "/"): "authenticated",
    ("GET", "/login"): "public",
    ("POST", "/login"): "public",
    ("POST", "/logout"): "public",
    ("GET", "/notifications"): "authenticated",
    ("POST", "/notifications/read-all"): "authenticated",
    ("POST", "/notifications/{notification_id}/read"): "authenticated",
    ("GET", "/sw.js"): "public",
    ("GET", "/api/v1/break-glass"): "authenticated",
    ("POST", "/api/v1/break-glass/{break_glass_id}/review"): "authenticated",
    ("GET", "/admin/break-glass"): "authenticated",
    ("POST", "/admin/break-glass/{break_glass_id}/review"): "authenticated",
    ("GET", "/api/v1/audit"): "authenticated",
    ("GET", "/api/v1/audit.csv"): "authenticated",
    ("GET", "/admin/audit"): "authenticated",
    ("POST", "/api/v1/auth/password"): "authenticated",
    ("POST", "/api/v1/professionals/{professional_id}/unlock"): "authenticated",
    # Two-step sign-in: "mfa_step" routes also take a session that is part-way through
    # signing in (MFA pending), and nothing else does.
    ("GET", "/login/mfa"): "mfa_step",
    ("POST", "/login/mfa"): "mfa_step",
    ("GET", "/account/mfa"): "mfa_step",
    ("POST", "/account/mfa/start"): "mfa_step",
    ("POST", "/account/mfa/confirm"): "mfa_step",
    ("POST", "/account/mfa/recovery-codes"): "authenticated",
    ("POST", "/account/mfa/disable"): "authenticated",
    ("GET", "/admin/mfa"): "authenticated",
    ("POST", "/admin/mfa/require"): "authenticated",
    ("POST", "/admin/mfa/reset"): "authenticated",
    ("GET", "/api/v1/auth/mfa"): "mfa_step",
    ("POST", "/api/v1/auth/mfa/enrol"): "mfa_step",
    ("POST", "/api/v1/auth/mfa/confirm"): "mfa_step",
    ("POST", "/api/v1/auth/mfa/recovery-codes"): "authenticated",
    ("POST", "/api/v1/auth/mfa/disable"): "authenticated",
    ("POST", "/api/v1/professionals/{professional_id}/mfa/reset"): "authenticated",
    ("GET", "/api/v1/settings/mfa"): "authenticated",
    ("PUT", "/api/v1/settings/mfa"): "authenticated",
}
POLICIES = {"public", "authenticated", "mfa_step"}

PLACEHOLDERS = {"{child}": "{child_id}", "{grant}": "{grant_id}", "{post}": "{post_id}"}


def _route_key(case: Case) -> tuple[str, str]:
    path = case.path
    for short, name in PLACEHOLDERS.items():
        path = path.replace(short, name)
    return case.method, path


def test_every_route_is_in_the_matrix_and_declares_a_policy(app: Starlette) -> None:
    declared = {_route_key(case) for case in ROUTES} | set(OPEN_ROUTES)
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        if not isinstance(route, Route):
            continue
        for method in (route.methods or set()) - {"HEAD"}:
            found.add((method, route.path))
            assert getattr(route.endpoint, "policy", None) in POLICIES, route
            expected_policy = OPEN_ROUTES.get((method, route.path), "authenticated")
            assert route.endpoint.policy == expected_policy, (method, route.path)
    assert found == declared


@dataclass
class World:
    child: Child
    author: Professional  # wrote the posts the actors try to change
    other: Professional  # someone an actor may try to grant access to
    tokens: dict[str, str]
    half_signed_in: Professional  # granted, but has given only the password (MFA pending)


async def build_world(make: Factory) -> World:
    child_lead = await make.professional()
    child = await make.child(lead=child_lead)
    author = await make.practitioner(grants=[child])
    other = await make.professional()
    actors: dict[str, Professional] = {"lead": child_lead}
    await make.grant(child, professional=child_lead)
    for name in (
        "no_grant",
        "expired",
        "revoked",
        "team",
        "direct",
        "break_glass",
        "glass_expired",
    ):
        actors[name] = await make.professional()
    now = utcnow()
    for name, ends in (("break_glass", now + timedelta(hours=4)), ("glass_expired", now)):
        await BreakGlass.create(
            child=child, professional=actors[name], reason="matrix", started_at=now, expires_at=ends
        )
    actors["manager"] = await make.professional(role=Role.MANAGER)
    actors["admin"] = await make.professional(role=Role.ADMIN)
    await make.grant(child, professional=actors["expired"], expired=True)
    await make.grant(child, professional=actors["revoked"], revoked=True)
    await make.grant(child, professional=actors["direct"])
    team = await make.team(members=[actors["team"]], managers=[actors["manager"]])
    await make.grant(child, team=team)
    tokens = {name: (await issue_token(person, "matrix"))[1] for name, person in actors.items()}
    half_signed_in = await make.practitioner(grants=[child])
    await enrolled(half_signed_in)
    return World(child, author, other, tokens, half_signed_in)


async def _fill(case: Case, world: World, make: Factory) -> tuple[str, dict[str, Any]]:
    """The concrete URL and body for one call, with fresh targets so calls don't interfere."""
    values = {
        "child": str(world.child.id),
        "other": str(world.other.id),
        "other_email": world.other.email,
    }
    if "{grant}" in case.path:
        values["grant"] = str((await make.grant(world.child, professional=world.other)).id)
    if "{post}" in case.path:
        post = await Post.create(
            child=world.child, author=world.author, kind=PostKind.UPDATE, body="original"
        )
        values["post"] = str(post.id)
    path = case.path.format(**values)
    kwargs: dict[str, Any] = {}
    if case.body is not None:
        kwargs["json"] = {
            k: (int(v.format(**values)) if isinstance(v, str) and v.startswith("{") else v)
            for k, v in case.body.items()
        }
    if case.form is not None:
        kwargs["data"] = {k: v.format(**values) for k, v in case.form.items()}
    return path, kwargs


async def _as_mfa_pending(app: Starlette, case: Case, world: World, make: Factory) -> int:
    """The status for a session that gave the right password but no code yet."""
    async with client_for(app) as browser:
        assert (await password_step(browser, world.half_signed_in.email)).startswith("/login/mfa")
        path, kwargs = await _fill(case, world, make)
        response = await browser.request(case.method, path, **kwargs)
    assert world.child.display_name not in response.text
    return response.status_code


@pytest.mark.parametrize("case", ROUTES, ids=lambda c: f"{c.method} {c.path}")
async def test_route_answers_each_actor_as_the_policy_says(
    case: Case, client: httpx.AsyncClient, make: Factory, app: Starlette
) -> None:
    world = await build_world(make)
    got: dict[str, int] = {}
    for actor in ACTORS:
        path, kwargs = await _fill(case, world, make)
        headers = {} if actor == "anonymous" else {"authorization": f"Bearer {world.tokens[actor]}"}
        response = await client.request(case.method, path, headers=headers, **kwargs)
        got[actor] = response.status_code
        if response.status_code == 404:
            assert world.child.display_name not in response.text
    # Half-way through signing in is treated exactly like not signed in.
    got["mfa_pending"] = await _as_mfa_pending(app, case, world, make)
    assert got == {**case.expected, "mfa_pending": case.expected["anonymous"]}
