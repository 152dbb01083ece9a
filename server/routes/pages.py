"""HTML pages: usable without JavaScript for reading and posting, mobile-first."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, time
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from feeds.access import grants, identity
from feeds.access.policy import Action, may
from feeds.clock import utcnow
from feeds.errors import Invalid, NotFound
from feeds.feed import following, posting, reading, visits
from feeds.models import Follow, PostKind, Professional, Role, Team
from feeds.network import requests as access_requests
from feeds.network import worry
from feeds.records import shielding
from feeds.serializers import child_view, me_view
from feeds.velocity.activity import activity_of
from server import auth, cookies, mfa_auth, sso
from server.dates import parse_day
from server.endpoints import (
    MAX_ID,
    audit_context,
    authenticated,
    is_number,
    path_id,
    public,
    query_int,
    read_form,
    settings_of,
)
from server.page_context import header_context
from server.routes import activity, admin_pages, merges, my_day, pages_live, team_pages
from server.routes import breakglass as breakglass_pages
from server.routes.access_requests import decider_views
from server.routes.activity import activity_context
from server.routes.feed_entries import with_system_entries
from server.routes.page_render import render, safe_next
from server.routes.pages_live import post_views
from server.routes.post_edits import mention_notes

__all__ = ["render", "routes", "safe_next"]


@public
async def login_form(request: Request) -> Response:
    target = safe_next(request.query_params.get("next"))
    # Half-way through signing in (code or set-up still to do): carry on there.
    sign_in = await mfa_auth.signed_in(request)
    if sign_in is not None and sign_in.stage != "full":
        return RedirectResponse(mfa_auth.page_for(sign_in.stage, target), status_code=303)
    return render(request, "login.html", next=target)


@public
async def login(request: Request) -> Response:
    form = await read_form(request)
    target = safe_next(str(form.get("next", "/")))
    try:
        user = await auth.verify_credentials(
            form.get("email"),
            form.get("password"),
            audit_context(request),
            settings_of(request).local_passwords,
        )
    except Invalid as error:
        return render(
            request,
            "login.html",
            401,
            error=error.message,
            next=target,
            email=str(form.get("email", ""))[:254],
        )
    stage = await mfa_auth.stage_after_password(user)  # a code or set-up may come next
    new = await mfa_auth.start_sign_in(request, user, stage)
    response = RedirectResponse(mfa_auth.page_for(stage, target), status_code=303)
    cookies.set_session_cookie(response, new.raw_id, settings_of(request))
    return response


@public
async def logout(request: Request) -> Response:
    raw = request.cookies.get(settings_of(request).session_cookie)
    target = "/login"
    if raw:
        # Signed in at the provider: its session ends too (RP-initiated logout), when offered.
        target = await sso.logout_url(request, raw) or target
        await auth.end_session(raw)
    response = RedirectResponse(target, status_code=303)
    cookies.clear_session_cookie(response, settings_of(request))
    return response


HOME_PAGE = 20  # posts on a page of the home stream


@authenticated
async def home(request: Request, user: Professional) -> Response:
    """My children, and the merged stream of the children I (or my teams) follow; for an
    administrator (no caseload), where to run the service."""
    await header_context(request)
    if user.role == Role.ADMIN:
        return await admin_pages.admin_home(request, user)
    children = await reading.caseload(user)  # as the user may see them
    mine = await visits.my_children(user)
    names = {child.id: child.display_name for child in children}
    before = query_int(request, "before", None)
    stream = await following.home_stream(
        user, audit_context(request), before=before, limit=HOME_PAGE + 1
    )
    return render(
        request,
        "home.html",
        user=me_view(user),
        my_children=[my_day.my_child_view(c) for c in mine],
        children=[child_view(c) for c in children if c.id not in {m.child_id for m in mine}],
        posts=await post_views(user, stream[:HOME_PAGE], names),
        next_before=stream[HOME_PAGE - 1].id if len(stream) > HOME_PAGE else None,
        older=before is not None,  # an older page: new posts do not arrive at its top
        following=sorted(await following.followed_child_ids(user)),
    )


async def follow_state(user: Professional, child_id: int) -> str:
    """'me' when I follow the child myself, 'team' when only a team of mine does, or ''."""
    if await Follow.filter(child_id=child_id, professional_id=user.id).exists():
        return "me"
    return "team" if child_id in await following.followed_child_ids(user) else ""


async def child_page(
    request: Request, user: Professional, status: int = 200, **extra: Any
) -> Response:
    await header_context(request)
    child_id = path_id(request, "child_id")
    target = query_int(request, "post", None)  # a search hit: the page that shows it
    page = await reading.read_feed(
        user,
        child_id,
        audit_context(request),
        before=None if target else query_int(request, "before", None),
        holding=target,
        visit=True,
    )
    found = await activity_of(page.child.id, utcnow().date())
    can_manage = await may(user, Action.MANAGE_GRANTS, page.child)
    can_place = await may(user, Action.EDIT_WHEREABOUTS, page.child)
    team = await team_pages.team_context(request, user, child_id, can_manage)
    teams = await Team.all().order_by("name").values("id", "name") if can_manage else []
    asking = await access_requests.waiting_for_child(user, child_id) if can_manage else []
    views = my_day.with_new_markers(user, page.last_seen, await post_views(user, page.posts))
    more = page.next_before is not None
    shown = await identity.seen_child(user, page.child)
    return render(
        request,
        "child.html",
        status,
        user=me_view(user),
        child=child_view(shown),
        identified=shown is page.child,
        can_shield=await shielding.may_shield(user, page.child),
        shield_back=f"/children/{child_id}",
        posts=await with_system_entries(user, child_id, page.posts, views, page.before, more),
        next_before=page.next_before,
        # Only the newest page grows; an older one links back to it.
        live=page.before is None,
        follow_state=await follow_state(user, child_id),
        team_follows=await following.team_follows(user, child_id),
        **team,
        can_manage=can_manage,
        can_place=can_place,
        # The lead may mark any post significant; authors see the link on their own.
        may_mark_significant=await may(user, Action.MARK_SIGNIFICANT, page.child),
        teams=teams,
        access_requests=await decider_views(user, asking),
        access_days=access_requests.DEFAULT_DAYS,
        kinds=[kind.value for kind in PostKind],
        **activity_context(found),
        worry_prompt=await worry.prompt_view(user, child_id),
        idempotency_key=secrets.token_urlsafe(16),
        max_body=posting.MAX_BODY,
        mention_notes=await mention_notes(user, child_id, query_int(request, "posted", None)),
        **extra,
    )


@authenticated
async def show_child(request: Request, user: Professional) -> Response:
    child_id = path_id(request, "child_id")
    try:
        return await child_page(request, user)
    except NotFound as error:
        if error.field == "post":
            raise  # a visible child without that post: a plain 404
        # A merged record: to the record it was merged into, for those who may see it.
        if moved := await merges.survivor_redirect(user, child_id, "/children/{id}"):
            return moved
        # Hidden or missing (the same answer): offer emergency access to those who may.
        return await breakglass_pages.refusal_page(request, user, child_id)


@authenticated
async def add_post(request: Request, user: Professional) -> Response:
    form = await read_form(request)
    child_id = path_id(request, "child_id")
    try:
        result = await posting.do_create_post(
            user,
            child_id,
            form.get("kind"),
            form.get("body"),
            audit_context(request),
            str(form.get("idempotency_key") or "") or None,
        )
    except Invalid as error:
        return await child_page(
            request,
            user,
            422,
            post_error=error.message,
            draft=str(form.get("body", "")).replace("\r\n", "\n")[:2000],
            selected_kind=str(form.get("kind", "")),
        )
    # Mentions that notified nobody are said on the page (post_edits.mention_notes).
    told = f"?posted={result.post.id}" if result.unreachable else ""
    return RedirectResponse(f"/children/{child_id}{told}", status_code=303)


def form_expiry(form: FormData) -> datetime | None:
    raw = str(form.get("expires_on") or "")
    if not raw:
        return None
    day = parse_day(raw, "The expiry date is not a date.", "expires_on")
    return datetime.combine(day, time(23, 59), tzinfo=UTC)


def _holder(form: FormData) -> dict[str, Any]:
    """Parsed only: the email is looked up by do_grant once it has checked permission. A
    person picked by name (the autocomplete) comes as professional_id."""
    email, team = str(form.get("email") or "").strip().lower(), str(form.get("team_id") or "")
    picked = str(form.get("professional_id") or "")
    if is_number(picked) and int(picked) <= MAX_ID:
        return {"professional_id": int(picked)}
    if email:
        return {"email": email}
    if is_number(team) and int(team) <= MAX_ID:
        return {"team_id": int(team)}
    raise Invalid("Give an email address or choose a team.")


@authenticated
async def add_grant(request: Request, user: Professional) -> Response:
    form = await read_form(request)
    child_id = path_id(request, "child_id")
    try:
        await grants.do_grant(
            user,
            child_id,
            audit_context(request),
            **_holder(form),
            expires_at=form_expiry(form),
        )
    except Invalid as error:
        return await child_page(request, user, 422, grant_error=error.message)
    return RedirectResponse(f"/children/{child_id}#team", status_code=303)


routes = [
    Route("/", home, methods=["GET"]),
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/children/{child_id}", show_child, methods=["GET"]),
    Route("/children/{child_id}/posts", add_post, methods=["POST"]),
    Route("/children/{child_id}/grants", add_grant, methods=["POST"]),
    *team_pages.routes,
    *pages_live.routes,
    *activity.routes,
]
