"""One-time sign-in links: an administrator makes one (API, the people page, or in bulk
from the shell: server/cli_people.py) and passes it on; the person opens /welcome/{token},
sets a password and is signed in, then sets up two-step sign-in if the site requires it.

Every refused link gets the same page (410), whatever the reason, and counts as a failed
credential from that address (throttled like a sign-in). The token appears only in the
answer that makes it and in the path; access logs show that path redacted
(server/log_redaction.py)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from feeds.accounts import sign_in_links as links
from feeds.accounts.people import MIN_PASSWORD
from feeds.audit.actions import AuditAction
from feeds.errors import Conflict, Invalid
from feeds.models import Professional
from feeds.organisation.admin import check_admin
from feeds.serializers import me_view
from server import auth, cookies, mfa_auth
from server.endpoints import audit_context, authenticated, path_id, public, read_form, settings_of
from server.routes.admin_pages import people_page
from server.routes.page_render import render
from server.schemas import sign_in_links as schema
from server.schemas.codec import reply
from server.schemas.operation import api
from server.settings import Settings

WELCOME = "/welcome/"


def link_path(token: str) -> str:
    return WELCOME + token


def site_base(settings: Settings, fallback: str) -> str:
    """Where people reach this site: the first JIGSAW_ALLOWED_ORIGINS, else `fallback`."""
    base = settings.allowed_origins[0] if settings.allowed_origins else fallback
    return base.rstrip("/")


async def _create(request: Request, user: Professional) -> links.NewLink:
    settings = settings_of(request)
    return await links.do_create_link(
        user,
        path_id(request, "professional_id"),
        lambda person: auth.may_use_password(person, settings.local_passwords),
        audit_context(request),
    )


def _view(request: Request, new: links.NewLink) -> schema.SignInLink:
    base = site_base(settings_of(request), str(request.base_url))
    return schema.SignInLink(
        professional_id=new.person.id,
        name=new.person.name,
        email=new.person.email,
        url=base + link_path(new.token),
        path=link_path(new.token),
        expires_at=new.link.expires_at.isoformat(),
    )


@api(
    schema.SignInLink,
    "Administrators: a one-time sign-in link for a person, valid 72 hours and shown once; "
    "their older links stop working (deactivated: 409; signs in through the organisation's "
    "provider: 422; your own account: 409)",
    status=201,
    errors={403, 409, 422},
)
@authenticated
async def create_link(request: Request, user: Professional) -> Response:
    await check_admin(user, AuditAction.SIGN_IN_LINK_CREATE, audit_context(request))
    return reply(_view(request, await _create(request, user)), 201)


@authenticated
async def create_link_page(request: Request, user: Professional) -> Response:
    """The link, shown once, to copy and pass on; a refusal goes back to the people page."""
    try:
        new = await _create(request, user)
    except (Invalid, Conflict) as error:
        status = 409 if isinstance(error, Conflict) else 422
        return await people_page(request, user, status, error=error.message)
    link = _view(request, new)
    return render(request, "admin_sign_in_link.html", user=me_view(user), link=link)


async def _throttle(request: Request) -> None:
    await auth.check_throttle(links.THROTTLE_KEY, audit_context(request).ip)


def _refused(request: Request, error: links.LinkRefused) -> Response:
    return render(request, "welcome.html", 410, refused=error.message)


def _form(request: Request, name: str, token: str, status: int = 200, error: str = "") -> Response:
    return render(
        request,
        "welcome.html",
        status,
        person_name=name,
        token=token,
        error=error,
        min_password=MIN_PASSWORD,
    )


@public
async def welcome(request: Request) -> Response:
    """The person's name and a form for their new password."""
    token = str(request.path_params["token"])
    await _throttle(request)
    try:
        link = await links.check_link(token, audit_context(request))
    except links.LinkRefused as error:
        return _refused(request, error)
    return _form(request, link.professional.name, token)


@public
async def set_password(request: Request) -> Response:
    """Set the password, then sign in the way a password sign-in does (MFA next if due)."""
    token = str(request.path_params["token"])
    await _throttle(request)
    form = await read_form(request)
    password, again = form.get("password"), form.get("password_again")
    ctx = audit_context(request)
    try:
        name = (await links.check_link(token, ctx)).professional.name
        if password != again:
            raise Invalid("The two passwords are not the same.", field="password_again")
        person = await links.do_use_link(token, password, ctx)
    except links.LinkRefused as error:
        return _refused(request, error)
    except Invalid as error:
        return _form(request, name, token, 422, error.message)
    return await _sign_in(request, person)


async def _sign_in(request: Request, person: Professional) -> Response:
    stage = await mfa_auth.stage_after_password(person)
    new = await mfa_auth.start_sign_in(request, person, stage)
    response = RedirectResponse(mfa_auth.page_for(stage, "/"), status_code=303)
    cookies.set_session_cookie(response, new.raw_id, settings_of(request))
    return response


routes = [
    Route("/api/v1/admin/people/{professional_id}/sign-in-link", create_link, methods=["POST"]),
    Route("/admin/people/{professional_id}/sign-in-link", create_link_page, methods=["POST"]),
    Route("/welcome/{token}", welcome, methods=["GET"]),
    Route("/welcome/{token}", set_password, methods=["POST"]),
]
