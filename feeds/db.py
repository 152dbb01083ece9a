"""Tortoise configuration: one database URL picks SQLite or PostgreSQL."""

from __future__ import annotations

import importlib
import os
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.base.config_generator import expand_db_url

MODELS_APP = "feeds"


async def keep_session(connection: Any) -> None:
    """Pool release hook: skip asyncpg's default reset round trip.

    asyncpg's default runs `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`
    after every query made outside a transaction: a third of a feed read's round trips.
    Pooled connections here hold no session state (advisory locks are transaction-scoped,
    LISTEN has its own connection, nothing SETs), and asyncpg still rolls back a
    transaction left open before calling this hook.
    """


# Work queues (unsealed audit rows, the search outbox) are found through an index on the
# column a row leaves the queue by updating, so each row handled leaves its old version
# dead in that index until VACUUM. The planner's bitmap scan (its choice: few rows expected)
# visits every dead version's heap page on every poll and never marks them dead: a poll
# cost grew with the rows handled since the last VACUUM (the sealer: 48 ms after 130,000
# rows with nothing to seal). A plain index scan marks them on its first visit and skips
# them after. PostgreSQL, inside the poll's transaction only (a pooled session keeps no SET).
PLAIN_INDEX_SCAN = "SET LOCAL enable_bitmapscan = off"


def connection_config(database_url: str) -> str | dict[str, Any]:
    """The Tortoise connection for this URL; PostgreSQL pools get `keep_session`."""
    if not database_url.startswith(("postgres://", "postgresql://", "asyncpg://")):
        return database_url
    config = expand_db_url(database_url)
    config["credentials"]["reset"] = keep_session
    no_jit(config["credentials"])
    return config


def no_jit(credentials: dict[str, Any]) -> None:
    """JIT compilation pays off for long analytical queries, not ours: it added ~70 ms to a
    compared board's one statement (the planner's estimates of JSON expansion are far too
    high) and saves nothing on the short ones."""
    credentials.setdefault("server_settings", {}).setdefault("jit", "off")


def replica_client(replica_url: str) -> BaseDBAsyncClient:
    """A client of a PostgreSQL hot standby (feeds/replica.py), outside Tortoise's config:
    a second configured connection would make every bare `in_transaction()` ambiguous.
    Connecting gives up after 2 s, so a vanished standby sends reads to the primary."""
    config = expand_db_url(replica_url)
    # minsize 0: while the standby is away the pool does not keep trying to refill itself.
    credentials = {**config["credentials"], "reset": keep_session, "timeout": 2, "minsize": 0}
    no_jit(credentials)
    client_class = importlib.import_module(config["engine"]).client_class
    client: BaseDBAsyncClient = client_class(connection_name="replica", **credentials)
    return client


def tortoise_config(database_url: str) -> dict[str, Any]:
    """The Tortoise config dict for one database URL (sqlite://... or postgres://...)."""
    return {
        "connections": {"default": connection_config(database_url)},
        "apps": {
            MODELS_APP: {
                "models": [
                    "feeds.models",
                    "feeds.network.models",
                    "feeds.chronology.models",
                    "feeds.sso.models",
                    "feeds.records.models",
                    "feeds.accounts.sign_in_link_model",
                    "feeds.audit.anchor_model",
                ],
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
