"""Single sign-on pages: off to the authority's provider, and back (docs/operations.md)."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from feeds.errors import NotFound
from feeds.models import Professional
from feeds.sso.identities import (
    ProviderClaims,
    SsoRefused,
    do_identify,
    do_record_sign_in,
    provider_did_mfa,
)
from server import cookies, mfa_auth, sso
from server.endpoints import audit_context, public, settings_of
from server.mfa_auth import Stage
from server.routes.page_render import render, safe_next
from server.sso_settings import LocalPasswords

log = logging.getLogger(__name__)


def _provider(request: Request) -> sso.Provider:
    provider = sso.provider_of(request)
    if provider is None:
        raise NotFound("Single sign-on is not set up here.")
    return provider


def _problem(request: Request, status: int, heading: str, message: str) -> Response:
    provider = sso.provider_of(request)
    response = render(
        request,
        "sso_problem.html",
        status,
        heading=heading,
        message=message,
        provider_name=provider.settings.name if provider else "",
        passwords=settings_of(request).local_passwords.value,
    )
    sso.end_flow(request, response)
    return response


def _down(request: Request, error: sso.ProviderDown) -> Response:
    log.warning("single sign-on provider not answering: %s", error)
    admins = settings_of(request).local_passwords == LocalPasswords.ADMINS
    return _problem(
        request,
        503,
        "Sign-in service not answering",
        "Your organisation's sign-in service is not answering; "
        + ("administrators can still sign in with a password." if admins else "try again soon."),
    )


@public
async def oidc_start(request: Request) -> Response:
    """Off to the provider; `next` is where the browser goes once signed in."""
    provider = _provider(request)
    target = safe_next(request.query_params.get("next"))
    try:
        return await sso.start(request, provider, target)
    except sso.ProviderDown as error:
        return _down(request, error)


@public
async def oidc_callback(request: Request) -> Response:
    """Back from the provider: who it is, whether it already asked for a second factor."""
    provider = _provider(request)
    try:
        claims, target = await sso.finish(request, provider)
    except sso.ProviderDown as error:
        return _down(request, error)
    except sso.SignInFailed as error:
        return _problem(request, 400, "Not signed in", error.message)
    ctx = audit_context(request)
    try:
        person = await do_identify(claims, ctx)
    except SsoRefused as error:
        return _problem(request, 403, "No Jigsaw account", error.message)
    stage = await _stage(provider, person, claims)
    await do_record_sign_in(person, claims, ctx, pending=stage != "full")
    new = await mfa_auth.start_sign_in(request, person, stage, via_sso=True)
    response = RedirectResponse(mfa_auth.page_for(stage, target), status_code=303)
    cookies.set_session_cookie(response, new.raw_id, settings_of(request))
    sso.end_flow(request, response)
    return response


async def _stage(provider: sso.Provider, person: Professional, claims: ProviderClaims) -> Stage:
    """The provider's second factor is enough when its token says it used one; otherwise
    our own code (or setting one up, when the site requires it), as after a password."""
    if provider_did_mfa(claims, provider.settings.mfa_amr, provider.settings.mfa_acr):
        return "full"
    return await mfa_auth.stage_after_password(person)


routes = [
    Route(f"{sso.FLOW_PATH}/start", oidc_start, methods=["GET"]),
    Route(f"{sso.FLOW_PATH}/callback", oidc_callback, methods=["GET"]),
]
