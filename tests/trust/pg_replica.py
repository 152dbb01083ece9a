"""A private primary and hot standby pair (pg_basebackup -R on another free port), for the
replica tests and drills: the shared server on :5432 is never touched."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from tests.trust.pg_cluster import Cluster, _as_owner, free_port, pg_bin, private_cluster

SLOT = "jigsaw_standby"


def available() -> bool:
    return all(pg_bin(name) for name in ("initdb", "pg_ctl", "pg_basebackup"))


@dataclass
class Pair:
    primary: Cluster
    standby: Cluster

    async def _on_standby(self, sql: str) -> object:
        conn = await asyncpg.connect(self.standby.url)
        try:
            return await conn.fetchval(sql)
        finally:
            await conn.close()

    async def pause_replay(self) -> None:
        """Injected lag: the standby keeps receiving WAL but stops applying it."""
        await self._on_standby("SELECT pg_wal_replay_pause()")

    async def resume_replay(self) -> None:
        await self._on_standby("SELECT pg_wal_replay_resume()")

    async def wait_caught_up(self, seconds: float = 30.0) -> None:
        """Until the standby has replayed everything the primary has written so far."""
        conn = await asyncpg.connect(self.primary.url)
        try:
            target = await conn.fetchval("SELECT pg_current_wal_lsn()")
        finally:
            await conn.close()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            replayed = await self._on_standby("SELECT pg_last_wal_replay_lsn()")
            # asyncpg decodes pg_lsn as a number
            if replayed is not None and int(str(replayed)) >= int(target):
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"standby not caught up with the primary after {seconds} s")


def _basebackup(primary: Cluster, directory: Path) -> None:
    command = [
        str(pg_bin("pg_basebackup")),
        *("-D", str(directory / "data"), "-h", "127.0.0.1", "-p", str(primary.port)),
        *("-U", "postgres", "-R", "-X", "stream", "-C", "-S", SLOT, "--checkpoint=fast"),
    ]
    subprocess.run(_as_owner(command), check=True, timeout=120, capture_output=True)


@contextmanager
def private_pair() -> Iterator[Pair]:
    """A fresh primary and a streaming hot standby of it, removed afterwards."""
    with private_cluster() as primary:
        directory = Path(tempfile.mkdtemp(prefix="jigsaw-standby-"))
        if os.geteuid() == 0:
            shutil.chown(directory, "postgres", "postgres")
        standby = Cluster(directory, free_port())
        try:
            _basebackup(primary, directory)
            standby.start()
            yield Pair(primary, standby)
        finally:
            with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
                standby.stop("immediate")
            shutil.rmtree(directory, ignore_errors=True)
