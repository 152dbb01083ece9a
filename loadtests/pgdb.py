"""Throwaway PostgreSQL databases for benchmarks: created fresh, dropped afterwards."""

from __future__ import annotations

import os
import uuid

import asyncpg

ADMIN_URL = os.environ.get(
    "JIGSAW_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)


async def create_database(prefix: str = "jigsaw_bench") -> str:
    """A new empty database; returns its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


async def drop_database(url: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await conn.close()
