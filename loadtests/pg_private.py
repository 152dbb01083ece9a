"""Private, throwaway PostgreSQL clusters for drills and fault tests: one cluster
(`private_cluster`), or a primary and a streaming hot standby of it (`private_pair`,
pg_basebackup -R on another free port). The shared server on :5432 is never touched.
initdb refuses root, so the clusters run as the `postgres` user then. Used by
loadtests/replica_drill.py and by the tests (tests/trust/test_faults.py,
tests/server/test_replica*.py): loadtests never import tests."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else None


def available() -> bool:
    return pg_bin("initdb") is not None and pg_bin("pg_ctl") is not None


@dataclass
class Cluster:
    directory: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        command = [str(pg_bin("pg_ctl")), "-D", str(self.directory / "data"), *args]
        subprocess.run(_as_owner(command), check=True, timeout=60, capture_output=True)  # noqa: S603 - our own PostgreSQL tools

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=on"
        self._ctl("-w", "-l", str(self.directory / "log"), "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-w", "-m", mode, "stop")


def _as_owner(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextmanager
def private_cluster() -> Iterator[Cluster]:
    """initdb a fresh cluster on a free port, start it, and remove it afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="jigsaw-pg-"))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    cluster = Cluster(directory, free_port())
    initdb = [str(pg_bin("initdb")), "-D", str(directory / "data"), "-U", "postgres"]
    subprocess.run(  # noqa: S603 - our own PostgreSQL tools
        _as_owner([*initdb, "--auth=trust", "-E", "UTF8"]),
        check=True,
        timeout=120,
        capture_output=True,
    )
    cluster.start()
    try:
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            cluster.stop("immediate")
        shutil.rmtree(directory, ignore_errors=True)


SLOT = "jigsaw_standby"


def pair_available() -> bool:
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
    subprocess.run(_as_owner(command), check=True, timeout=120, capture_output=True)  # noqa: S603


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
