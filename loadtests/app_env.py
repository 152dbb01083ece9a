"""The environment a benchmark's Jigsaw runs with, in one place."""

from __future__ import annotations

import os
import secrets

from cryptography.fernet import Fernet


def app_env(url: str, **extra: str) -> dict[str, str]:
    """This process's environment, the database `url` and throwaway keys (a bench's
    sessions and MFA secrets never outlive it), then `extra` (JIGSAW_* names)."""
    return {
        **os.environ,
        "JIGSAW_DATABASE_URL": url,
        "JIGSAW_SECRET_KEY": secrets.token_urlsafe(32),
        "JIGSAW_MFA_KEYS": Fernet.generate_key().decode(),
        **extra,
    }
