"""Signing in, tokens, the caller, passwords, two-step sign-in (MFA)."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, Struct

from feeds.accounts.lockout import MAX_PASSWORD
from feeds.accounts.people import MIN_PASSWORD
from server.schemas.common import Count, ErrorDetail

Email = Annotated[str, Meta(max_length=254)]
Password = Annotated[str, Meta(max_length=MAX_PASSWORD)]
Code = Annotated[str, Meta(max_length=64)]


class Credentials(Struct):
    """Email and password; with two-step sign-in on, also `code` or `recovery_code`."""

    email: Email
    password: Password
    code: Code | None = None
    recovery_code: Code | None = None


class TokenCreate(Credentials, kw_only=True):
    name: Annotated[str, Meta(max_length=100)]


class Me(Struct):
    id: int
    name: str
    handle: str
    job_title: str
    agency: str
    email: str
    role: str


class SignedIn(Struct):
    me: Me
    csrf_token: str


class Token(Struct):
    id: int
    name: str
    prefix: str
    created_at: str | None
    last_used_at: str | None
    revoked_at: str | None


class NewToken(Token):
    token: str  # shown once


class Tokens(Struct):
    tokens: list[Token]


class SessionsEnded(Struct):
    sessions_ended: Count


class CredentialsEnded(Struct):
    """What a credentials change ended: the other sessions and every token."""

    sessions_ended: Count
    tokens_revoked: Count


class PasswordChange(Struct):
    old_password: Password
    new_password: Annotated[str, Meta(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD)]


class Unlocked(Struct):
    id: int
    locked: bool


class MfaStatus(Struct):
    enabled: bool
    required: bool
    recovery_codes_left: Count
    stage: Literal["full", "code", "enrol"]


class Enrolment(Struct):
    secret: str
    otpauth_uri: str


class WithCode(Struct):
    """A 6-digit code from the authenticator app."""

    code: Code


class PasswordAgain(Struct):
    """Your current password, before changing how you sign in (not needed part-way
    through signing in)."""

    password: Password | None = None


class CodeAndPassword(Struct):
    """A 6-digit code from the authenticator app, and your current password (not needed
    part-way through signing in)."""

    code: Code
    password: Password | None = None


class RecoveryCodes(Struct):
    recovery_codes: list[str]  # shown once


class MfaOn(Struct):
    recovery_codes: list[str]
    me: Me


class MfaReset(Struct):
    id: int
    mfa_enabled: bool
    sessions_ended: Count


class Requirement(Struct):
    required: bool


class RequirementSet(Struct):
    required: bool
    sessions_ended: Count
    tokens_revoked: Count


class SignInRefused(Struct, omit_defaults=True):
    """The error body at sign-in, with what the client must do next."""

    error: ErrorDetail
    mfa_required: bool = False
    mfa_enrolment_required: bool = False
    csrf_token: str | None = None
