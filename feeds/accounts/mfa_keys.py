"""Authenticator secrets encrypted at rest (Fernet: AES-128-CBC with an HMAC-SHA256 tag).

The keys come from the settings (JIGSAW_MFA_KEYS): the first encrypts, every one of them
decrypts, so a new key goes first and the old ones stay until `jigsaw mfa rotate-keys`
has re-encrypted every secret with it. A stored secret is "fernet:" and the token; a
secret stored before encryption (no marker) is still read, and sealed on its next use.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from feeds.models import MfaFactor

MARKER = "fernet:"


class UnreadableSecret(Exception):
    """A stored secret none of the configured keys opens (a key was removed too early)."""


class SecretBox:
    """Seals and opens authenticator secrets with the configured keys."""

    def __init__(self, keys: Sequence[str]) -> None:
        """Raises ValueError for no key or a malformed one (32 url-safe base64 bytes)."""
        if not keys:
            raise ValueError("at least one key is needed")
        fernets = [Fernet(key.strip()) for key in keys]
        self._first = fernets[0]
        self._all = MultiFernet(fernets)

    def seal(self, secret: str) -> str:
        return MARKER + self._all.encrypt(secret.encode()).decode()

    def open(self, stored: str) -> str:
        if not stored.startswith(MARKER):
            return stored  # written before secrets were encrypted
        try:
            return self._all.decrypt(stored.removeprefix(MARKER).encode()).decode()
        except InvalidToken:
            raise UnreadableSecret("no configured key opens this secret") from None

    def is_current(self, stored: str) -> bool:
        """Sealed with the first key (nothing to re-encrypt)."""
        if not stored.startswith(MARKER):
            return False
        try:
            self._first.decrypt(stored.removeprefix(MARKER).encode())
        except InvalidToken:
            return False
        return True


async def do_rotate(box: SecretBox) -> int:
    """Re-encrypt every secret not yet sealed with the first key; how many changed.
    Raises UnreadableSecret, before changing anything, if a key is missing."""
    factors = await MfaFactor.all().only("id", "secret")
    stale = [(f.id, f.secret, box.open(f.secret)) for f in factors if not box.is_current(f.secret)]
    changed = 0
    for factor_id, old, secret in stale:
        # Conditional: a secret replaced meanwhile (a new enrolment) is left alone.
        rows = MfaFactor.filter(id=factor_id, secret=old)
        changed += await rows.update(secret=box.seal(secret))
    return changed
