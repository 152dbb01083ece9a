"""Password hashing with argon2id (argon2-cffi defaults are above the OWASP floor).

These functions are CPU-bound on purpose; async callers run them in a thread.
"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

# Verified against when the email is unknown, so both paths cost the same time.
DUMMY_HASH = _hasher.hash("not-a-real-password-used-only-for-timing")


# Accounts made without a password (bulk import; single sign-on) store this prefix and a
# random tail: no password matches it, and checking one costs what a real check costs.
UNUSABLE_PREFIX = "!"


def unusable_password_hash() -> str:
    """A stored value no password verifies against (each one different)."""
    return UNUSABLE_PREFIX + secrets.token_urlsafe(24)


def hash_password(password: str) -> str:
    """An argon2id hash of `password` with the current parameters."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when `password` matches; never raises for a wrong or malformed hash."""
    if password_hash.startswith(UNUSABLE_PREFIX):
        verify_password(DUMMY_HASH, password)  # the same time as a real check
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with older parameters and should be replaced."""
    return _hasher.check_needs_rehash(password_hash)
