"""Hot standby drill: stop the standby under load, then inject replication lag.

    python -m loadtests.replica_drill --readers 8 --rate 5 --steady 10 --outage 10 \
        --lag 15 --max-lag 2 --workers 2

Builds a private PostgreSQL primary and a streaming hot standby (pg_basebackup -R on
another port; loadtests/pg_private.py), starts `uvicorn server.asgi:app` with
JIGSAW_DATABASE_REPLICA_URL pointing at the standby, and runs:

- readers (managers) reading the board with a period comparison and searching, in a loop;
- one writer (a manager too) posting at a steady rate, and reading the board straight
  after each acknowledged post (read-your-writes).

Every post lands in today's tallies, so a board read's `comparison.b.total_posts` says how
many posts it saw. A read that started after post n was acknowledged but counted fewer
is stale, by (its start - the acknowledgement of the first post it missed): an upper
bound on the true staleness, measured by the client. Phases:

1. steady: the standby in use;
2. standby stopped ("fast") for --outage seconds, then started again: reads must fall
   back to the primary with no errors;
3. replay paused on the standby (pg_wal_replay_pause) for --lag seconds: stale reads must
   stay under --max-lag, after which reads go to the primary; then replay resumes.

It fails on any error, any read-your-writes violation, or a stale read at or beyond the
bound. /healthz is sampled throughout for the replica's state as the app reports it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from tortoise import Tortoise

from feeds.accounts.passwords import hash_password
from feeds.db import migrate_database, tortoise_config
from feeds.models import Agency, Child, Grant, Professional, Role, Sector, Team, TeamMember
from loadtests.app_env import app_env
from loadtests.live_bench import pct
from loadtests.pg_private import Pair, free_port, private_pair

PHASES = ("steady", "standby stopped", "recovery", "replay paused", "after")


@dataclass
class DrillConfig:
    readers: int = 8
    children: int = 50
    rate: float = 5.0  # writer posts per second
    steady: float = 10.0
    outage: float = 10.0  # seconds the standby is stopped
    lag: float = 15.0  # seconds replay is paused
    max_lag: float = 2.0  # JIGSAW_REPLICA_MAX_LAG_SECONDS
    workers: int = 2


@dataclass
class PhaseResult:
    reads: int = 0
    searches: int = 0
    errors: list[str] = field(default_factory=list)
    stale: list[float] = field(default_factory=list)  # staleness of each stale read, s
    own_reads: int = 0
    own_violations: int = 0  # the writer's read missed one of its own posts
    states: Counter[str] = field(default_factory=Counter)  # /healthz replica states
    seconds: float = 0.0


@dataclass
class DrillResult:
    config: DrillConfig
    phases: dict[str, PhaseResult] = field(default_factory=lambda: defaultdict(PhaseResult))
    posts: int = 0
    # The /healthz replica report with the most reads (each worker answers for itself).
    health: dict[str, Any] = field(default_factory=dict)

    def total(self, name: str) -> int:
        return sum(len(getattr(p, name)) for p in self.phases.values())

    @property
    def max_stale(self) -> float:
        return max((s for p in self.phases.values() for s in p.stale), default=0.0)

    @property
    def ok(self) -> bool:
        violations = sum(p.own_violations for p in self.phases.values())
        return (
            self.total("errors") == 0
            and violations == 0
            and self.max_stale < self.config.max_lag
            and self.phases["standby stopped"].states["down"] > 0
            and self.phases["replay paused"].states["behind"] > 0
            and self.phases["steady"].states["in use"] > 0
        )

    def report(self) -> str:
        c = self.config
        lines = [
            f"replica drill: {c.readers} readers, 1 writer at {c.rate}/s, {c.workers} worker(s),"
            f" max lag {c.max_lag} s, {self.posts} posts; load average "
            f"{os.getloadavg()[0]:.1f}",
            "| phase | s | board reads | searches | errors | stale reads | stale p50 / max (s) "
            "| writer reads (missed own post) | /healthz replica states |",
            "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |",
        ]
        for name in PHASES:
            p = self.phases[name]
            stale = f"{pct(p.stale, 0.5):.2f} / {max(p.stale):.2f}" if p.stale else "-"
            states = ", ".join(f"{k} {v}" for k, v in sorted(p.states.items()))
            lines.append(
                f"| {name} | {p.seconds:.1f} | {p.reads} | {p.searches} | {len(p.errors)} | "
                f"{len(p.stale)} | {stale} | {p.own_reads} ({p.own_violations}) | {states} |"
            )
        lines.append(f"max staleness observed: {self.max_stale:.2f} s (bound {c.max_lag} s)")
        lines.append(f"busiest worker's /healthz replica report: {self.health}")
        for name in PHASES:
            lines += [f"error in {name}: {e}" for e in self.phases[name].errors[:5]]
        lines.append("OK" if self.ok else "FAILED")
        return "\n".join(lines)


def _reads(report: dict[str, Any]) -> int:
    reads = report.get("reads") or {}
    return int(reads.get("replica", 0)) + int(reads.get("primary", 0))


@dataclass
class People:
    readers: list[str]  # tokens
    writer: str
    children: list[int]


async def seed(url: str, config: DrillConfig) -> People:
    """Children held by one team; every reader and the writer manage that team."""
    from server.auth import issue_token

    await migrate_database(url)
    await Tortoise.init(config=tortoise_config(url))
    try:
        agency = await Agency.create(name="Drill agency", sector=Sector.SOCIAL_CARE)
        team = await Team.create(name="Drill team", agency=agency)
        secret = hash_password("drill-password-123")
        kids = [
            Child(display_name=f"Child {n}", reference=f"D-{n:06d}") for n in range(config.children)
        ]
        await Child.bulk_create(kids)
        await Grant.bulk_create([Grant(child=k, team=team) for k in await Child.all()])
        tokens = []
        for n in range(config.readers + 1):
            person = await Professional.create(
                email=f"m{n}@drill.test", name=f"Manager {n}", handle=f"m{n}", agency=agency,
                password_hash=secret, role=Role.MANAGER,
            )  # fmt: skip
            await TeamMember.create(team=team, professional=person, is_manager=True)
            tokens.append((await issue_token(person, "drill"))[1])
        ids = await Child.all().order_by("id").values("id")
        return People(tokens[1:], tokens[0], [int(row["id"]) for row in ids])
    finally:
        await Tortoise.close_connections()


class Drill:
    def __init__(self, config: DrillConfig, base_url: str, people: People) -> None:
        self.config = config
        self.base_url = base_url
        self.people = people
        self.result = DrillResult(config)
        self.phase = PHASES[0]
        self.acked: list[float] = []  # when each post was acknowledged, in order
        self.stop = asyncio.Event()
        self.since = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()

    def client(self, token: str) -> httpx.AsyncClient:
        headers = {"authorization": f"Bearer {token}"}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=30)

    async def board_count(self, http: httpx.AsyncClient, phase: PhaseResult) -> int | None:
        try:
            response = await http.get("/api/v1/board", params={"from": self.since})
        except httpx.TransportError as error:
            phase.errors.append(f"board: {type(error).__name__}")
            return None
        if response.status_code != 200:
            phase.errors.append(f"board: {response.status_code} {response.text[:200]}")
            return None
        return int(response.json()["comparison"]["b"]["total_posts"])

    async def search(self, http: httpx.AsyncClient, phase: PhaseResult) -> None:
        try:
            response = await http.get("/api/v1/search", params={"q": "bruising"})
        except httpx.TransportError as error:
            phase.errors.append(f"search: {type(error).__name__}")
            return
        phase.searches += 1
        if response.status_code != 200:
            phase.errors.append(f"search: {response.status_code} {response.text[:200]}")

    async def reader(self, token: str) -> None:
        async with self.client(token) as http:
            while not self.stop.is_set():
                phase = self.result.phases[self.phase]
                started, seen_before = time.monotonic(), len(self.acked)
                count = await self.board_count(http, phase)
                phase.reads += 1
                if count is not None and count < seen_before:
                    phase.stale.append(started - self.acked[count])
                await self.search(http, phase)

    async def writer(self) -> None:
        async with self.client(self.people.writer) as http:  # keeps the jigsaw_wal cookie
            n = 0
            while not self.stop.is_set():
                due = time.monotonic() + 1 / self.config.rate
                phase = self.result.phases[self.phase]
                if await self.post(http, n, phase):
                    n += 1
                    count = await self.board_count(http, phase)
                    phase.own_reads += 1
                    if count is not None and count < len(self.acked):
                        phase.own_violations += 1
                await asyncio.sleep(max(0.0, due - time.monotonic()))
            self.result.posts = n

    async def post(self, http: httpx.AsyncClient, n: int, phase: PhaseResult) -> bool:
        child = self.people.children[n % len(self.people.children)]
        body = {"kind": "concern", "body": f"Drill concern {n}: bruising noticed at nursery"}
        headers = {"idempotency-key": f"drill-{n}"}
        try:
            response = await http.post(
                f"/api/v1/children/{child}/posts", json=body, headers=headers
            )
        except httpx.TransportError as error:
            phase.errors.append(f"post: {type(error).__name__}")
            return False
        if response.status_code != 201:
            phase.errors.append(f"post: {response.status_code} {response.text[:200]}")
            return False
        self.acked.append(time.monotonic())
        return True

    async def health(self) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=10) as http:
            body: dict[str, Any] = (await http.get("/healthz")).json()
            found: dict[str, Any] = body.get("replica", {})
            return found

    async def watch_health(self) -> None:
        while not self.stop.is_set():
            with contextlib.suppress(httpx.HTTPError, ValueError):
                report = await self.health()
                self.result.phases[self.phase].states[str(report.get("state"))] += 1
                if _reads(report) >= _reads(self.result.health):
                    self.result.health = report
            await asyncio.sleep(0.25)

    async def until_in_use(self, seconds: float = 60.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError, ValueError):
                if (await self.health()).get("state") == "in use":
                    return
            await asyncio.sleep(0.25)

    async def enter(self, phase: str, started: list[float]) -> None:
        now = time.monotonic()
        self.result.phases[self.phase].seconds = now - started[0]
        self.phase, started[0] = phase, now

    async def script(self, pair: Pair) -> None:
        c, started = self.config, [time.monotonic()]
        await asyncio.sleep(c.steady)
        await self.enter("standby stopped", started)
        await asyncio.to_thread(pair.standby.stop, "fast")
        await asyncio.sleep(c.outage)
        await asyncio.to_thread(pair.standby.start)
        await self.enter("recovery", started)
        await pair.wait_caught_up(60)
        await self.until_in_use()
        await self.enter("replay paused", started)
        await pair.pause_replay()
        await asyncio.sleep(c.lag)
        await pair.resume_replay()
        await self.enter("after", started)
        await pair.wait_caught_up(60)
        await self.until_in_use()
        await asyncio.sleep(min(2.0, c.steady))
        await self.enter("after", started)
        self.stop.set()

    async def run(self, pair: Pair) -> DrillResult:
        await self.until_in_use()
        tasks = [asyncio.create_task(self.reader(t)) for t in self.people.readers]
        tasks += [asyncio.create_task(self.writer()), asyncio.create_task(self.watch_health())]
        try:
            await self.script(pair)
        finally:
            self.stop.set()
            await asyncio.gather(*tasks)
        return self.result


async def start_server(pair: Pair, config: DrillConfig, data_dir: Path) -> tuple[Any, str]:
    port = free_port()
    env = app_env(
        pair.primary.url,
        JIGSAW_DATABASE_REPLICA_URL=pair.standby.url,
        JIGSAW_REPLICA_MAX_LAG_SECONDS=str(config.max_lag),
        JIGSAW_DATA_DIR=str(data_dir),
    )
    command = [sys.executable, "-m", "uvicorn", "server.asgi:app", "--port", str(port)]
    command += ["--workers", str(config.workers), "--log-level", "warning"]
    process = await asyncio.create_subprocess_exec(*command, env=env, start_new_session=True)
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=base_url, timeout=2) as http:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if (await http.get("/healthz")).status_code == 200:
                    return process, base_url
            await asyncio.sleep(0.1)
    raise RuntimeError("the server did not start")


async def run_drill(config: DrillConfig) -> DrillResult:
    with private_pair() as pair, tempfile.TemporaryDirectory() as data_dir:
        people = await seed(pair.primary.url, config)
        await pair.wait_caught_up(60)
        process, base_url = await start_server(pair, config, Path(data_dir))
        try:
            return await Drill(config, base_url, people).run(pair)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            await process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    defaults = DrillConfig()
    for name, value in vars(defaults).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    config = DrillConfig(**vars(parser.parse_args()))
    result = asyncio.run(run_drill(config))
    print(result.report())
    sys.exit(0 if result.ok else 1)


if __name__ == "__main__":
    main()
