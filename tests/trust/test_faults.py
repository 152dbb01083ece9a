"""Fault runs against real servers on PostgreSQL, bounded in time.

- kill -9 a uvicorn worker again and again while a client posts with idempotency keys
  and retries: every post the server acknowledged is in the database exactly once.
- stop and start PostgreSQL (a private cluster, never the shared one) during traffic:
  polite 503s during the outage, full recovery within 5 s without restarting the app.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.datastructures import Secret

from feeds.models import Post
from loadtests.pg_private import available, free_port, private_cluster
from server.auth import issue_token
from server.settings import Settings
from tests import db_backends
from tests.conftest import MFA_KEY, Factory
from tests.live_server import running_server

pytestmark = db_backends.postgres_only("PostgreSQL fault runs happen in the PostgreSQL pass")
KILLS = int(os.environ.get("JIGSAW_FAULT_KILLS", "5"))
RECOVERY_SECONDS = 5.0


async def spawn_worker(settings: Settings, port: int) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "JIGSAW_DATABASE_URL": settings.database_url,
        "JIGSAW_SECRET_KEY": str(settings.secret_key),
        "JIGSAW_MFA_KEYS": MFA_KEY,
    }
    command = ["-m", "uvicorn", "server.asgi:app", "--port", str(port), "--log-level", "error"]
    return await asyncio.create_subprocess_exec(sys.executable, *command, env=env)


async def wait_healthy(base_url: str, seconds: float = 20.0) -> float:
    """Seconds until /healthz answers 200."""
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=base_url, timeout=2) as http:
        while time.monotonic() - started < seconds:
            try:
                if (await http.get("/healthz")).status_code == 200:
                    return time.monotonic() - started
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"{base_url} not healthy after {seconds} s")


async def post_until_acknowledged(
    http: httpx.AsyncClient, path: str, key: str, body: str, token: str
) -> int:
    """Retry one post (same key, same body) until the server acknowledges it with a 201."""
    headers = {"authorization": f"Bearer {token}", "idempotency-key": key}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            response = await http.post(path, json={"kind": "update", "body": body}, headers=headers)
        except httpx.TransportError:
            await asyncio.sleep(0.05)
            continue
        if response.status_code == 201:
            return int(response.json()["id"])
        assert response.status_code in {409, 503}, response.text
        await asyncio.sleep(0.05)
    raise AssertionError(f"post {key} never acknowledged")


@dataclass
class KillRun:
    acknowledged: dict[str, int] = field(default_factory=dict)
    kills: int = 0


async def test_kill_9_of_a_worker_loses_no_acknowledged_post(
    app: Starlette, settings: Settings, make: Factory
) -> None:
    child = await make.child()
    author = await make.practitioner(grants=[child])
    token = (await issue_token(author, "fault"))[1]
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    run = KillRun()
    stop = asyncio.Event()
    worker = await spawn_worker(settings, port)
    await wait_healthy(base_url)

    async def client() -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=5) as http:
            n = 0
            while not stop.is_set():
                key = f"fault-{n}"
                path = f"/api/v1/children/{child.id}/posts"
                run.acknowledged[key] = await post_until_acknowledged(
                    http, path, key, f"kill run post {n}", token
                )
                n += 1

    async def killer() -> None:
        nonlocal worker
        rng = random.Random(8)  # timing jitter, not security
        for _ in range(KILLS):
            await asyncio.sleep(rng.uniform(0.2, 1.0))
            worker.send_signal(signal.SIGKILL)
            await worker.wait()
            run.kills += 1
            worker = await spawn_worker(settings, port)
            await wait_healthy(base_url)
        await asyncio.sleep(0.3)
        stop.set()

    try:
        await asyncio.wait_for(asyncio.gather(client(), killer()), 120)
    finally:
        worker.send_signal(signal.SIGKILL)
        await worker.wait()
    stored = await Post.filter(author_id=author.id).values("id", "idempotency_key")
    by_key = {row["idempotency_key"]: row["id"] for row in stored}
    print(f"faults: {run.kills} kill -9, {len(run.acknowledged)} acknowledged posts")
    assert run.kills == KILLS and len(run.acknowledged) > KILLS
    assert len(stored) == len(by_key) == len(run.acknowledged)  # exactly once, none extra
    assert by_key == run.acknowledged


@dataclass
class Traffic:
    """What the client saw, as (seconds since start, status or 0 for a transport error)."""

    seen: list[tuple[float, int, str]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def add(self, status: int, text: str) -> None:
        self.seen.append((time.monotonic() - self.started, status, text))


async def drive(
    address: str, token: str, child_id: int, traffic: Traffic, stop: asyncio.Event
) -> None:
    """Read and post continuously (each post with its own key, retried once per turn)."""
    headers = {"authorization": f"Bearer {token}"}
    n = 0
    async with httpx.AsyncClient(base_url=f"http://{address}", timeout=10) as http:
        while not stop.is_set():
            for method, path, body in (
                ("GET", f"/api/v1/children/{child_id}/posts", None),
                ("POST", f"/api/v1/children/{child_id}/posts", {"kind": "update", "body": "x"}),
                ("GET", "/healthz", None),
            ):
                extra = {"idempotency-key": f"pg-{n}"} if body else {}
                response = await http.request(method, path, json=body, headers={**headers, **extra})
                traffic.add(response.status_code, response.text)
                n += 1 if body and response.status_code == 201 else 0
            await asyncio.sleep(0.03)


async def wait_recovered(address: str, token: str, child_id: int) -> float:
    """Seconds until a read, a post and /healthz all succeed again."""
    started = time.monotonic()
    headers = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=f"http://{address}", timeout=5) as http:
        while time.monotonic() - started < 30:
            read = await http.get(f"/api/v1/children/{child_id}/posts", headers=headers)
            health = await http.get("/healthz")
            if read.status_code == 200 and health.status_code == 200:
                written = await http.post(
                    f"/api/v1/children/{child_id}/posts",
                    json={"kind": "update", "body": "after the outage"},
                    headers=headers,
                )
                if written.status_code == 201:
                    return time.monotonic() - started
            await asyncio.sleep(0.05)
    raise AssertionError("no recovery within 30 s")


@pytest.mark.skipif(not available(), reason="initdb and pg_ctl are not installed")
async def test_postgres_restart_gives_polite_503s_then_recovers_by_itself(
    tmp_path: Path,
) -> None:
    with private_cluster() as cluster:
        db_backends.migrate_in_subprocess(cluster.url)
        settings = Settings(
            database_url=cluster.url, data_dir=tmp_path, secret_key=Secret("fault-secret-0123")
        )
        async with running_server(settings) as address:
            make = Factory()
            child = await make.child()
            author = await make.practitioner(grants=[child])
            token = (await issue_token(author, "fault"))[1]
            traffic, stop = Traffic(), asyncio.Event()
            driver = asyncio.create_task(drive(address, token, child.id, traffic, stop))
            await asyncio.sleep(1.0)
            cluster.stop("fast")
            outage_from = time.monotonic() - traffic.started
            await asyncio.sleep(2.0)
            outage_to = time.monotonic() - traffic.started
            stop.set()
            await driver
            cluster.start()
            recovery = await wait_recovered(address, token, child.id)
    during = [(s, text) for at, s, text in traffic.seen if outage_from + 0.5 < at < outage_to]
    print(
        f"faults: PostgreSQL outage, {len(during)} answers during it, recovered in {recovery:.2f} s"
    )
    assert traffic.seen and all(s < 500 for at, s, _ in traffic.seen if at < outage_from)
    assert during and {s for s, _ in during} == {503}, {s for s, _ in during}
    for _, text in during:
        assert "unavailable" in text and "Traceback" not in text and "asyncpg" not in text
    assert recovery < RECOVERY_SECONDS
