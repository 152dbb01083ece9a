"""Keeping secrets in paths out of the logs: uvicorn's access log writes every request
path, and a sign-in link's token is in its path (/welcome/{token})."""

from __future__ import annotations

import logging
import re

SECRET_PATHS = re.compile(r"/welcome/[^/?#\s\"]+")
REDACTED = "/welcome/[redacted]"
LOGGERS = ("uvicorn.access", "uvicorn.error", "jigsaw")


def redact(text: str) -> str:
    return SECRET_PATHS.sub(REDACTED, text)


class RedactSecretPaths(logging.Filter):
    """Rewrites the message and its arguments before any handler formats them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install() -> None:
    """Add the filter to the loggers that write request paths (once per logger)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecretPaths) for f in logger.filters):
            logger.addFilter(RedactSecretPaths())
