"""OpenID Connect sign-in through the authority's provider, with authlib's Starlette client:
authorization code with PKCE (S256), state and nonce; the ID token is checked by authlib
(signature from the provider's keys, issuer, audience, expiry, nonce).

authlib keeps state, nonce and code verifier in `request.session`. The app has no session
middleware (its sessions are server-side rows), so this module gives authlib a session of
its own for the two /auth/oidc routes only: a short-lived cookie, signed with the secret
key, scoped to /auth/oidc and dropped when the sign-in finishes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import httpx
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.starlette_client import OAuth
from itsdangerous import BadSignature, URLSafeTimedSerializer
from joserfc.errors import JoseError
from starlette.requests import Request
from starlette.responses import Response

from feeds.models import Session
from feeds.sso.identities import ProviderClaims
from server.auth import digest
from server.endpoints import settings_of
from server.settings import Settings
from server.sso_settings import OidcSettings

log = logging.getLogger(__name__)

FLOW_PATH = "/auth/oidc"
FLOW_SECONDS = 600  # time to sign in at the provider
PROVIDER_TIMEOUT = 5.0  # seconds: a provider that does not answer is down
SCOPES = "openid email profile"
UNCONFIRMED = "Your organisation's sign-in could not be confirmed: please start again."


class ProviderDown(Exception):
    """The provider did not answer (or answered nonsense): sign-in cannot go ahead."""


class SignInFailed(Exception):
    """The provider's answer did not prove a sign-in (wrong state, refused, bad token)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Provider:
    """The configured provider and authlib's client for it (built once per app)."""

    settings: OidcSettings
    client: Any  # authlib's StarletteOAuth2App (untyped)


def build_provider(settings: Settings) -> Provider | None:
    """The provider for these settings, or None when single sign-on is off."""
    oidc = settings.oidc
    if oidc is None:
        return None
    secret = str(oidc.client_secret)
    client = OAuth().register(
        "provider",
        client_id=oidc.client_id,
        client_secret=secret or None,
        server_metadata_url=oidc.metadata_url,
        client_kwargs={
            "scope": SCOPES,
            "code_challenge_method": "S256",
            "timeout": PROVIDER_TIMEOUT,
            # A public client (no secret) proves itself with PKCE alone.
            "token_endpoint_auth_method": "client_secret_basic" if secret else "none",
        },
    )
    return Provider(oidc, client)


def provider_of(request: Request) -> Provider | None:
    found: Provider | None = request.app.state.sso
    return found


def flow_cookie(settings: Settings) -> str:
    return "__Secure-jigsaw_oidc" if settings.https else "jigsaw_oidc"


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(str(settings.secret_key), salt="jigsaw-oidc-flow")


def _open_flow(request: Request) -> dict[str, Any]:
    """authlib's session for this sign-in, from the flow cookie ({} if absent or stale)."""
    settings = settings_of(request)
    raw = request.cookies.get(flow_cookie(settings), "")
    try:
        data = _serializer(settings).loads(raw, max_age=FLOW_SECONDS) if raw else {}
    except BadSignature:
        data = {}
    session = data if isinstance(data, dict) else {}
    request.scope["session"] = session
    return session


def _save_flow(request: Request, response: Response, session: dict[str, Any]) -> None:
    settings = settings_of(request)
    response.set_cookie(
        flow_cookie(settings),
        _serializer(settings).dumps(session),
        max_age=FLOW_SECONDS,
        path=FLOW_PATH,
        httponly=True,
        samesite="lax",  # the provider's redirect back is a top-level GET
        secure=settings.https,
    )


def end_flow(request: Request, response: Response) -> None:
    settings = settings_of(request)
    response.delete_cookie(
        flow_cookie(settings), path=FLOW_PATH, httponly=True, samesite="lax", secure=settings.https
    )


def site_url(request: Request, provider: Provider, path: str) -> str:
    """An absolute URL of this site: from JIGSAW_OIDC_REDIRECT_URI when set, else from the
    request (https when the site is served over https, whatever a proxy forwarded)."""
    if provider.settings.redirect_uri:
        base = urlsplit(provider.settings.redirect_uri)
    else:
        base = urlsplit(str(request.base_url))
        if settings_of(request).https:
            base = base._replace(scheme="https")
    return urlunsplit((base.scheme, base.netloc, path, "", ""))


def callback_url(request: Request, provider: Provider) -> str:
    return provider.settings.redirect_uri or site_url(request, provider, f"{FLOW_PATH}/callback")


async def _metadata(provider: Provider) -> dict[str, Any]:
    """The provider's discovery document; its issuer must be the configured one."""
    try:
        metadata = cast(dict[str, Any], await provider.client.load_server_metadata())
    except (httpx.HTTPError, ValueError) as error:
        raise ProviderDown(f"discovery failed: {type(error).__name__}") from error
    if metadata.get("issuer") != provider.settings.issuer:
        provider.client.server_metadata.clear()  # try again next time
        raise ProviderDown(f"discovery names another issuer: {metadata.get('issuer')!r}")
    return metadata


async def start(request: Request, provider: Provider, target: str) -> Response:
    """Send the browser to the provider, remembering state, nonce, verifier and `target`."""
    session = _open_flow(request)
    session.clear()
    session["next"] = target
    await _metadata(provider)
    try:
        response = cast(
            Response,
            await provider.client.authorize_redirect(request, callback_url(request, provider)),
        )
    except httpx.HTTPError as error:
        raise ProviderDown(type(error).__name__) from error
    _save_flow(request, response, session)
    return response


async def finish(request: Request, provider: Provider) -> tuple[ProviderClaims, str]:
    """The validated claims of the person the provider sent back, and where they were going."""
    session = _open_flow(request)
    target = str(session.get("next", "/"))
    if request.query_params.get("error"):
        raise SignInFailed("Your organisation's sign-in service did not sign you in.")
    if not session:
        raise SignInFailed("This sign-in took too long or began elsewhere: please start again.")
    await _metadata(provider)
    try:
        token = await provider.client.authorize_access_token(request)
    except httpx.HTTPError as error:
        raise ProviderDown(type(error).__name__) from error
    except (AuthlibBaseError, JoseError, ValueError) as error:
        log.warning("single sign-on answer refused: %s", type(error).__name__)
        raise SignInFailed(
            "Your organisation's sign-in could not be confirmed: please start again."
        ) from error
    return _claims(token.get("userinfo") or {}), target


def _claims(userinfo: dict[str, Any]) -> ProviderClaims:
    if not userinfo.get("sub") or not userinfo.get("iss"):
        raise SignInFailed(
            "Your organisation's sign-in could not be confirmed: please start again."
        )
    amr = userinfo.get("amr")
    return ProviderClaims(
        issuer=str(userinfo["iss"]),
        subject=str(userinfo["sub"]),
        email=str(userinfo.get("email") or ""),
        email_verified=userinfo.get("email_verified") is True,
        amr=tuple(str(item) for item in amr) if isinstance(amr, list) else (),
        acr=str(userinfo.get("acr") or ""),
    )


async def logout_url(request: Request, raw_session_id: str) -> str | None:
    """Where to send the browser to end the provider's session too (RP-initiated logout),
    when this session began there and the provider offers it; None otherwise."""
    provider = provider_of(request)
    if provider is None:
        return None
    if not await Session.filter(id=digest(raw_session_id), via_sso=True).exists():
        return None
    try:
        metadata = await _metadata(provider)
    except ProviderDown:
        return None  # our session ends all the same
    if not metadata.get("end_session_endpoint"):
        return None
    found = await provider.client.create_logout_url(
        post_logout_redirect_uri=site_url(request, provider, "/login"),
        client_id=provider.settings.client_id,
    )
    return str(found["url"])
