"""Tortoise configuration: one database URL picks SQLite or PostgreSQL."""

from __future__ import annotations

import os
from typing import Any

MODELS_APP = "feeds"


def tortoise_config(database_url: str) -> dict[str, Any]:
    """The Tortoise config dict for one database URL (sqlite://... or postgres://...)."""
    return {
        "connections": {"default": database_url},
        "apps": {
            MODELS_APP: {
                "models": ["feeds.models"],
                "migrations": "feeds.migrations",
                "default_connection": "default",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


# For the `tortoise` CLI (makemigrations during development).
TORTOISE_ORM = tortoise_config(os.environ.get("JIGSAW_DATABASE_URL", "sqlite://:memory:"))


async def migrate_database(database_url: str) -> None:
    """Apply every pending migration (idempotent)."""
    from tortoise import Tortoise
    from tortoise.migrations.api import migrate

    try:
        await migrate(config=tortoise_config(database_url))
    finally:
        # migrate() leaves its connections open; close them so callers start clean.
        await Tortoise.close_connections()
