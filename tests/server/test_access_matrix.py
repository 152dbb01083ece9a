"""Every route x every kind of actor -> the status it must get (TRUST: deny by default).

Adding a route without adding it to ROUTES (child-scoped) or OPEN_ROUTES fails
test_every_route_is_in_the_matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from feeds.audit.records import SYSTEM
from feeds.clock import utcnow
from feeds.models import BreakGlass, Child, Grant, Post, PostKind, Professional, Role, Team
from feeds.network.models import AccessRequest, Household, HouseholdMember
from feeds.records.children import do_close_child, do_reopen_child
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
    "glass_manager",  # a manager whose only access is break-glass
    "glass_lead",  # the child's lead professional, whose only access is break-glass
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
        # Break-glass gives view and post only, whatever the holder's role: never removal
        # of others' posts, granting, revoking or reading the audit.
        "break_glass": plain,
        "glass_manager": plain,
        "glass_lead": plain,
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
    closed: bool = False  # the case is closed before each call (and reopened after)
    household: bool = False  # the child is in a household with a sibling nobody here sees
    shielded: bool = False  # the child is shielded before each call (and unshielded after)


def record(allowed: int, anonymous: int = 401) -> dict[str, int]:
    """Changing a child's record: managers with a grant and administrators; others who
    see the child are refused, the rest get the hidden 404."""
    return {
        "anonymous": anonymous,
        **HIDDEN,
        **dict.fromkeys(
            ("team", "direct", "lead", "break_glass", "glass_manager", "glass_lead"), 403
        ),
        "manager": allowed,
        "admin": allowed,
    }


# Once closed, nobody has a grant: a manager who held one at closure and administrators.
CLOSED = {
    **record(200),
    **dict.fromkeys(("team", "direct", "lead", "break_glass", "glass_manager", "glass_lead"), 404),
}

ROUTES = [
    # School and area alone: the lead professional too (a whole-record edit: record(200)).
    Case("PATCH", "/api/v1/children/{child}", {**record(200), "lead": 200}, body={"area": "N"}),
    Case(
        "PATCH",
        "/api/v1/children/{child}",
        record(200),
        body={"area": "N", "display_name": "Child"},
    ),
    Case(
        "POST",
        "/children/{child}/whereabouts",
        {**record(303, anonymous=303), "lead": 303},
        form={"school": "Oak", "area": "N"},
    ),
    Case("GET", "/api/v1/children/{child}/history", record(200)),
    Case("POST", "/api/v1/children/{child}/close", record(200)),
    Case("POST", "/api/v1/children/{child}/reopen", CLOSED, closed=True),
    Case("GET", "/children/{child}/record", record(200, anonymous=303)),
    Case(
        "POST",
        "/children/{child}/record",
        record(303, anonymous=303),
        form={
            "display_name": "Child",
            "reference": "R-1",
            "date_of_birth": "2015-01-01",
            "lead_email": "{lead_email}",
        },
    ),
    Case("POST", "/children/{child}/close", record(303, anonymous=303)),
    Case(
        "POST",
        "/children/{child}/reopen",
        {**CLOSED, "anonymous": 303, "manager": 303, "admin": 303},
        closed=True,
    ),
    Case("GET", "/api/v1/children/{child}", expect(401, 200)),
    # Shielding (issue 17 part 3): the lead, or an administrator who does not see the child.
    Case(
        "POST",
        "/api/v1/children/{child}/shield",
        {**expect(401, 403, lead=200), "admin": 200},
        body={"reason": "family moved to a refuge"},
    ),
    Case(
        "POST",
        "/api/v1/children/{child}/unshield",
        {**expect(401, 403, lead=200), "admin": 200},
        body={"reason": "adoption order made"},
        shielded=True,
    ),
    Case(
        "POST",
        "/children/{child}/shield",
        {**expect(303, 403, lead=303), "admin": 303},
        form={"reason": "family moved to a refuge", "confirm": "yes"},
    ),
    Case(
        "POST",
        "/children/{child}/unshield",
        {**expect(303, 403, lead=303), "admin": 303},
        form={"reason": "adoption order made", "confirm": "yes"},
        shielded=True,
    ),
    Case("GET", "/api/v1/children/{child}/posts", expect(401, 200)),
    Case(
        "POST",
        "/api/v1/children/{child}/posts",
        expect(401, 201),
        body={"kind": "update", "body": "seen at school"},
    ),
    Case("GET", "/api/v1/children/{child}/grants", expect(401, 200)),
    Case("GET", "/api/v1/children/{child}/team", expect(401, 200)),
    Case("GET", "/children/{child}/team", expect(303, 200)),
    Case(
        "POST",
        "/api/v1/children/{child}/grants",
        expect(401, 201, practitioner=403, lead=201),
        body={"professional_id": "{other}"},
    ),
    Case("DELETE", "/api/v1/grants/{grant}", expect(401, 200, practitioner=403, lead=200)),
    Case("PATCH", "/api/v1/posts/{post}", expect(401, 403), body={"kind": "update", "body": "x"}),
    Case("DELETE", "/api/v1/posts/{post}", expect(401, 204, practitioner=403)),
    # Only the author edits a post ({post} is someone else's); anyone who sees it reads its
    # earlier wordings; people to @mention are offered to anyone who sees the child.
    Case("PATCH", "/api/v1/posts/{post}", expect(401, 403), body={"body": "kind kept"}),
    Case("POST", "/posts/{post}/edit", expect(303, 403), form={"kind": "update", "body": "x"}),
    Case("GET", "/api/v1/posts/{post}/revisions", expect(401, 200)),
    Case("GET", "/posts/{post}/history", expect(303, 200)),
    Case("GET", "/api/v1/children/{child}/mentionable", expect(401, 200)),
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
    Case("GET", "/grants/{grant}/revoke", expect(303, 200, practitioner=403, lead=200)),
    # {grant} is a revoked one for /undo (see _fill).
    Case("POST", "/grants/{grant}/undo", expect(303, 303, practitioner=403, lead=303)),
    Case("GET", "/children/{child}/grants/suggest", expect(303, 200, practitioner=403, lead=200)),
    Case("POST", "/children/{child}/follow", expect(303, 303)),
    # Last-visit marker and team follows (tests/server/test_my_day.py): a team follows a child
    # only by its manager's hand ({team} is the team holding the child's grant).
    Case("POST", "/api/v1/children/{child}/seen", expect(401, 200)),
    Case("GET", "/api/v1/children/{child}/team-follows", expect(401, 200)),
    Case(
        "POST",
        "/children/{child}/team-follow",
        expect(303, 303, practitioner=403, lead=403),
        form={"team_id": "{team}", "follow": "1"},
    ),
    Case("POST", "/children/{child}/unfollow", expect(303, 303)),
    Case("POST", "/posts/{post}/acknowledge", expect(303, 303)),
    # Sharing a worry ({worry} is a fresh hunch by the author): whoever may post about the child.
    Case("POST", "/api/v1/posts/{worry}/worry-shares", expect(401, 201), body={"note": "me too"}),
    Case("POST", "/posts/{worry}/worry-shares", expect(303, 303), form={"note": ""}),
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
    # Requests to join: deciding them is managing grants ({request} is an open request).
    Case(
        "GET",
        "/api/v1/children/{child}/access-requests",
        expect(401, 200, practitioner=403, lead=200),
    ),
    Case(
        "POST",
        "/api/v1/access-requests/{request}/approve",
        expect(401, 200, practitioner=403, lead=200),
        body={"days": 30},
    ),
    Case(
        "POST",
        "/api/v1/access-requests/{request}/decline",
        expect(401, 200, practitioner=403, lead=200),
        body={"reason": "not part of the plan"},
    ),
    Case(
        "POST",
        "/access-requests/{request}/approve",
        expect(303, 303, practitioner=403, lead=303),
        form={"days": "30"},
    ),
    Case(
        "POST",
        "/access-requests/{request}/decline",
        expect(303, 303, practitioner=403, lead=303),
        form={"reason": "not part of the plan"},
    ),
]

# Households: linking is the lead's, its managers' and administrators' (who link unseen
# records); reading and asking through a child, anyone who sees it. {sibling} is a child
# the lead and the team see, in a household of its own; {slot} the child's own slot.
LINKING = {**expect(401, 201, practitioner=403, lead=201), "admin": 201}
LINKING_FORM = {**expect(303, 303, practitioner=403, lead=303), "admin": 303}
ASKING = {"role": "school nurse", "reason": "health checks for the family"}
ROUTES += [
    Case("GET", "/api/v1/children/{child}/household", expect(401, 200), household=True),
    Case(
        "POST",
        "/api/v1/children/{child}/household",
        LINKING,
        body={"with_child_id": "{sibling}", "relationship": "sibling"},
    ),
    Case(
        "DELETE",
        "/api/v1/children/{child}/household",
        {**expect(401, 204, practitioner=403, lead=204), "admin": 204},
        household=True,
    ),
    Case(
        "POST",
        "/api/v1/children/{child}/household/ask",
        expect(401, 202),
        body={"slot": "{slot}", **ASKING},
        household=True,
    ),
    Case("GET", "/children/{child}/family", expect(303, 200), household=True),
    Case(
        "POST",
        "/children/{child}/family",
        LINKING_FORM,
        form={"with_child_id": "{sibling}", "relationship": "sibling"},
    ),
    Case("POST", "/children/{child}/family/leave", LINKING_FORM, household=True),
    Case(
        "POST",
        "/children/{child}/family/ask",
        expect(303, 303),
        form={"slot": "{slot}", **ASKING},
        household=True,
    ),
]

# The chronology: reading is viewing the child; exports are EXPORT (never emergency access);
# marking someone else's post significant is the lead's (an author marks their own).
EXPORT = expect(401, 200) | dict.fromkeys(("break_glass", "glass_manager", "glass_lead"), 403)
ROUTES += [
    Case("GET", "/api/v1/children/{child}/chronology", expect(401, 200)),
    Case("GET", "/api/v1/children/{child}/chronology.csv", EXPORT),
    Case("GET", "/api/v1/children/{child}/chronology.pdf", EXPORT),
    Case(
        "PUT",
        "/api/v1/posts/{post}/significance",
        expect(401, 403, lead=200),
        body={"significant": True, "action_taken": "strategy meeting"},
    ),
    Case("GET", "/children/{child}/chronology", expect(303, 200)),
    Case("GET", "/posts/{post}/significance", expect(303, 403, lead=200)),
    Case(
        "POST",
        "/posts/{post}/significance",
        expect(303, 403, lead=303),
        form={"significant": "true", "outcome": "plan agreed"},
    ),
]

# Merging a duplicate ({merged}: a fresh record the manager's team holds a grant on) into
# the child: changing both records, so record(): managers of both and administrators.
MERGING = {"reason": "Same child: two referrals, same date of birth"}
ROUTES += [
    Case(
        "POST",
        "/api/v1/children/{child}/merge",
        record(201),
        body={"merged_id": "{merged}"} | MERGING,
    ),
    Case("GET", "/children/{child}/merge", record(200, anonymous=303)),
    Case(
        "POST",
        "/children/{child}/merge",
        record(303, anonymous=303),
        form={"merged_reference": "{merged_ref}"} | MERGING,
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
    ("POST", "/api/v1/children"): "authenticated",
    # Administrators only (403 for everyone else: tests/server/test_admin_api.py).
    ("GET", "/api/v1/admin/agencies"): "authenticated",
    ("POST", "/api/v1/admin/agencies"): "authenticated",
    ("GET", "/api/v1/admin/teams"): "authenticated",
    ("POST", "/api/v1/admin/teams"): "authenticated",
    ("POST", "/api/v1/admin/teams/{team_id}/members"): "authenticated",
    ("DELETE", "/api/v1/admin/teams/{team_id}/members/{professional_id}"): "authenticated",
    ("GET", "/api/v1/admin/people"): "authenticated",
    ("POST", "/api/v1/admin/people"): "authenticated",
    ("POST", "/api/v1/admin/people/{professional_id}/deactivate"): "authenticated",
    ("POST", "/api/v1/admin/people/{professional_id}/reactivate"): "authenticated",
    ("PUT", "/api/v1/admin/people/{professional_id}/role"): "authenticated",
    # One-time sign-in links: administrators make them; the link itself is the credential.
    ("POST", "/api/v1/admin/people/{professional_id}/sign-in-link"): "authenticated",
    ("POST", "/admin/people/{professional_id}/sign-in-link"): "authenticated",
    ("GET", "/welcome/{token}"): "public",
    ("POST", "/welcome/{token}"): "public",
    # One's own work contact; anyone's for administrators (tests/server/test_team_picture.py).
    ("PATCH", "/api/v1/me/contact"): "authenticated",
    ("PATCH", "/api/v1/admin/people/{professional_id}/contact"): "authenticated",
    ("GET", "/account"): "authenticated",
    ("POST", "/account"): "authenticated",
    ("POST", "/admin/people/{professional_id}/contact"): "authenticated",
    ("GET", "/admin/agencies"): "authenticated",
    ("POST", "/admin/agencies"): "authenticated",
    ("GET", "/admin/teams"): "authenticated",
    ("POST", "/admin/teams"): "authenticated",
    ("POST", "/admin/teams/{team_id}/members"): "authenticated",
    ("POST", "/admin/teams/{team_id}/members/{professional_id}/remove"): "authenticated",
    ("GET", "/admin/people"): "authenticated",
    ("POST", "/admin/people"): "authenticated",
    ("GET", "/admin/people/{professional_id}/deactivate"): "authenticated",
    ("POST", "/admin/people/{professional_id}/deactivate"): "authenticated",
    ("POST", "/admin/people/{professional_id}/reactivate"): "authenticated",
    ("POST", "/admin/people/{professional_id}/role"): "authenticated",
    # Administrators only (403 for everyone else: tests/server/test_import_pages.py).
    ("GET", "/admin/import"): "authenticated",
    ("POST", "/admin/import/preview"): "authenticated",
    ("POST", "/admin/import"): "authenticated",
    # Managers and administrators (403 for practitioners: tests/server/test_admin_pages.py).
    ("GET", "/children/new"): "authenticated",
    ("POST", "/children/new"): "authenticated",
    ("GET", "/api/v1/board"): "authenticated",
    ("GET", "/board"): "authenticated",
    ("GET", "/api/v1/hotspots"): "authenticated",
    ("GET", "/hotspots"): "authenticated",
    ("GET", "/api/v1/home"): "authenticated",
    # Only the caller's own visible children (tests/server/test_my_day.py).
    ("GET", "/api/v1/my-children"): "authenticated",
    ("GET", "/api/v1/since-yesterday"): "authenticated",
    ("GET", "/since-yesterday"): "authenticated",
    ("GET", "/api/v1/notifications"): "authenticated",
    ("POST", "/api/v1/notifications/read-all"): "authenticated",
    ("POST", "/api/v1/notifications/{notification_id}/read"): "authenticated",
    ("GET", "/api/v1/search"): "authenticated",
    ("GET", "/search"): "authenticated",
    ("GET", "/"): "authenticated",
    ("GET", "/login"): "public",
    ("POST", "/login"): "public",
    ("POST", "/logout"): "public",
    # Single sign-on: off to the provider and back (404 when no provider is configured).
    ("GET", "/auth/oidc/start"): "public",
    ("GET", "/auth/oidc/callback"): "public",
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
    ("GET", "/api/v1/audit/public-key"): "authenticated",
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
    # Asking names a child by reference and answers the same whatever it names; the lists
    # show only the caller's own requests and those on children whose access they manage.
    ("POST", "/api/v1/access-requests"): "authenticated",
    ("GET", "/api/v1/access-requests"): "authenticated",
    ("GET", "/api/v1/access-requests/mine"): "authenticated",
    ("GET", "/access-requests"): "authenticated",
    ("POST", "/access-requests"): "authenticated",
    # Administrators only (403 for everyone else: tests/server/test_child_merge.py).
    ("GET", "/api/v1/admin/merges"): "authenticated",
    ("POST", "/api/v1/admin/merges/{merge_id}/undo"): "authenticated",
    ("GET", "/admin/merges"): "authenticated",
    ("POST", "/admin/merges/{merge_id}/undo"): "authenticated",
}
POLICIES = {"public", "authenticated", "mfa_step"}

PLACEHOLDERS = {
    "{child}": "{child_id}",
    "{grant}": "{grant_id}",
    "{post}": "{post_id}",
    "{worry}": "{post_id}",
    "{request}": "{request_id}",
}


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
            policy = getattr(route.endpoint, "policy", None)  # set by the route's decorator
            assert policy in POLICIES, route
            expected_policy = OPEN_ROUTES.get((method, route.path), "authenticated")
            assert policy == expected_policy, (method, route.path)
    assert found == declared


@dataclass
class World:
    child: Child
    author: Professional  # wrote the posts the actors try to change
    other: Professional  # someone an actor may try to grant access to
    tokens: dict[str, str]
    half_signed_in: Professional  # granted, but has given only the password (MFA pending)
    own_child: dict[str, Child]  # actors tried on a child of their own (glass_lead leads it)
    keeper: Professional  # an administrator who closes and reopens the case between calls
    lead: Professional  # the child's lead professional
    glasses: list[BreakGlass]  # live break-glass on `child` (a closure ends them)

    def child_of(self, actor: str | None, case: Case | None = None) -> Child:
        if case is not None and case.closed:
            return self.child  # the closed case is this child, whoever asks
        return self.own_child.get(actor or "", self.child)


async def _break_glass(child: Child, person: Professional, ends: datetime) -> BreakGlass:
    return await BreakGlass.create(
        child=child, professional=person, reason="matrix", started_at=utcnow(), expires_at=ends
    )


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
    glasses = [await _break_glass(child, actors["break_glass"], now + timedelta(hours=4))]
    await _break_glass(child, actors["glass_expired"], now)
    actors["glass_manager"] = await make.professional(role=Role.MANAGER)
    glasses.append(await _break_glass(child, actors["glass_manager"], now + timedelta(hours=4)))
    # A lead without a grant is no lead for anything but viewing and posting.
    actors["glass_lead"] = await make.professional()
    led = await make.child(lead=actors["glass_lead"])
    await make.grant(led, professional=author)
    await _break_glass(led, actors["glass_lead"], now + timedelta(hours=4))
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
    keeper = await make.professional(role=Role.ADMIN)
    own = {"glass_lead": led}
    return World(child, author, other, tokens, half_signed_in, own, keeper, child_lead, glasses)


async def _close(case: Case, world: World) -> None:
    if case.closed:
        await do_close_child(world.keeper, world.child.id, SYSTEM)
    if case.shielded:
        await Child.filter(id=world.child_of(None, case).id).update(shielded_at=utcnow())


async def _reopen(world: World) -> None:
    """Undo a closure (the call's or the setup's) so the next actor meets the same world."""
    children = [world.child.id, *(c.id for c in world.own_child.values())]
    await HouseholdMember.filter(child_id__in=children).delete()  # unlinked, for the next
    await Child.filter(id__in=children).update(shielded_at=None, shielded_by_id=None)
    if (await Child.get(id=world.child.id)).closed_at is not None:
        await do_reopen_child(world.keeper, world.child.id, SYSTEM)
        for glass in world.glasses:
            glass.expires_at = utcnow() + timedelta(hours=4)
            await glass.save(update_fields=["expires_at"])


async def _fill(
    case: Case, world: World, make: Factory, actor: str | None = None
) -> tuple[str, dict[str, Any]]:
    """The concrete URL and body for one call by `actor`, with fresh targets so calls
    don't interfere."""
    child = world.child_of(actor, case)
    values = {
        "child": str(child.id),
        "other": str(world.other.id),
        "other_email": world.other.email,
        "lead_email": world.lead.email,
    }
    if "{grant}" in case.path:
        undoing = case.path.endswith("/undo")
        grant = await make.grant(child, professional=world.other, revoked=undoing)
        values["grant"] = str(grant.id)
    if "{post}" in case.path:
        post = await Post.create(
            child=child, author=world.author, kind=PostKind.UPDATE, body="original"
        )
        values["post"] = str(post.id)
    if "{worry}" in case.path:
        hunch = await Post.create(
            child=child, author=world.author, kind=PostKind.HUNCH, body="quiet and withdrawn"
        )
        values["worry"] = str(hunch.id)
    if "{request}" in case.path:
        asked = await AccessRequest.create(
            requester=world.other,
            child=child,
            reference=child.reference,
            role="school nurse",
            reason="starting weekly health checks",
            created_at=utcnow(),
        )
        values["request"] = str(asked.id)
    values |= await _household_values(case, world, make, child)
    if "{team}" in str(case.form):
        held = await Grant.filter(child_id=world.child.id, team_id__isnull=False).first()
        values["team"] = str(held.team_id if held else 0)
    values |= await _merge_values(case, world, make)
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


async def _household_values(
    case: Case, world: World, make: Factory, child: Child
) -> dict[str, str]:
    """{slot}: the child's own slot in a household with a sibling nobody here sees;
    {sibling}: a child the lead and the team see, alone in a household of its own."""
    values = {}
    if case.household:
        hidden = await make.child()
        household = await Household.create(created_at=utcnow())
        for member in (child, hidden):
            await HouseholdMember.create(
                household=household, child=member, relationship="sibling", linked_at=utcnow()
            )
        values["slot"] = str((await HouseholdMember.get(child_id=child.id)).id)
    if "{sibling}" in str(case.body or case.form or ""):
        sibling = await make.child(lead=world.lead)
        await make.grant(sibling, professional=world.lead)
        team_grant = await Grant.filter(child_id=world.child.id, team_id__isnull=False).first()
        assert team_grant is not None
        await make.grant(sibling, team=await Team.get(id=team_grant.team_id))
        alone = await Household.create(created_at=utcnow())
        await HouseholdMember.create(
            household=alone, child=sibling, relationship="sibling", linked_at=utcnow()
        )
        values["sibling"] = str(sibling.id)
    return values


async def _merge_values(case: Case, world: World, make: Factory) -> dict[str, str]:
    """{merged}/{merged_ref}: a fresh duplicate record, held by the team the manager manages."""
    if "{merged" not in str(case.body or case.form or ""):
        return {}
    duplicate = await make.child()
    team_grant = await Grant.filter(child_id=world.child.id, team_id__isnull=False).first()
    assert team_grant is not None
    await make.grant(duplicate, team=await Team.get(id=team_grant.team_id))
    return {"merged": str(duplicate.id), "merged_ref": duplicate.reference}


async def _as_mfa_pending(app: Starlette, case: Case, world: World, make: Factory) -> int:
    """The status for a session that gave the right password but no code yet."""
    async with client_for(app) as browser:
        assert (await password_step(browser, world.half_signed_in.email)).startswith("/login/mfa")
        path, kwargs = await _fill(case, world, make)
        await _close(case, world)
        response = await browser.request(case.method, path, **kwargs)
        await _reopen(world)
    assert world.child.display_name not in response.text
    return response.status_code


@pytest.mark.parametrize("case", ROUTES, ids=lambda c: f"{c.method} {c.path}")
async def test_route_answers_each_actor_as_the_policy_says(
    case: Case, client: httpx.AsyncClient, make: Factory, app: Starlette
) -> None:
    world = await build_world(make)
    got: dict[str, int] = {}
    for actor in ACTORS:
        path, kwargs = await _fill(case, world, make, actor)
        headers = {} if actor == "anonymous" else {"authorization": f"Bearer {world.tokens[actor]}"}
        await _close(case, world)
        response = await client.request(case.method, path, headers=headers, **kwargs)
        await _reopen(world)
        got[actor] = response.status_code
        if response.status_code == 404:
            assert world.child_of(actor, case).display_name not in response.text
    # Half-way through signing in is treated exactly like not signed in.
    got["mfa_pending"] = await _as_mfa_pending(app, case, world, make)
    assert got == {**case.expected, "mfa_pending": case.expected["anonymous"]}
