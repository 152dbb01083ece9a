"""Single sign-on settings: what server/settings.py reads from JIGSAW_OIDC_* and
JIGSAW_LOCAL_PASSWORDS."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from starlette.datastructures import Secret

# What an ID token's `amr` may say that counts as more than one factor (RFC 8176): "mfa"
# itself, or a one-time code, a hardware key, a smart card, a text message.
DEFAULT_MFA_AMR = ("mfa", "otp", "hwk", "sc", "sms")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class LocalPasswords(StrEnum):
    """Who may still sign in with a Jigsaw password (JIGSAW_LOCAL_PASSWORDS)."""

    ALL = "all"
    ADMINS = "admins"  # administrators keep a way in while the provider is down
    NONE = "none"


@dataclass(frozen=True)
class OidcSettings:
    """One OpenID Connect provider: the authority's own identity service."""

    issuer: str
    client_id: str
    client_secret: Secret
    name: str = "your organisation"  # "Sign in with <name>"
    mfa_amr: tuple[str, ...] = DEFAULT_MFA_AMR
    mfa_acr: tuple[str, ...] = ()  # acr values that count as multi-factor too
    redirect_uri: str = ""  # unset: this site's /auth/oidc/callback, as the request reached it

    @property
    def metadata_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"
