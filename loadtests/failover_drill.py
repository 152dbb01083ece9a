"""Host-failure drill: kill -9 one host group under load and prove nothing is lost.

    python -m loadtests.failover_drill --sockets 1000 --rate 20 --before 15 --after 30

Starts a cluster (loadtests/cluster.py: host groups sharing only PostgreSQL, behind
HAProxy), opens N websockets through the balancer (each reader sees one child) and posts
steadily through the balancer with idempotency keys, retrying each post until it is
acknowledged. Then it kills one host group's whole process tree with SIGKILL. Every
socket that was on it must reconnect through the balancer to a live host, sending the
last event id it saw, and replay what it missed. At the end the drill checks, against
the database:

- every socket received every event it may see (since it first connected) exactly once,
  in id order: no gaps, no duplicates;
- every acknowledged post is stored exactly once (by its idempotency key), under the id
  the acknowledgement gave.

It prints the reconnect-time distribution, what the balancer saw per host, and the load
generator's own CPU (so a slow number can be told from a starved client).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import random
import resource
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake, WebSocketException

from loadtests.cluster import Cluster
from loadtests.live_bench import pct, seed

OPENING = 50  # sockets opening at once at the start
MAX_BACKOFF = 8.0  # seconds; the browser's backoff (frontend/static/js/live.js) in short


@dataclass
class DrillConfig:
    sockets: int = 1000
    children: int = 100
    rate: float = 20.0  # posts per second, all lanes together
    lanes: int = 4  # concurrent posting clients
    before: float = 10.0  # seconds of steady load before the kill
    after: float = 20.0  # seconds of steady load after it
    settle: float = 30.0  # at most this long for sockets to catch up at the end
    hosts: int = 2
    workers: int = 1
    isolation: str = "auto"
    throughput: float = 0.0  # seconds of a feed-read burst before the drill (0: none)
    keep: bool = False  # keep the cluster's directory (config, host logs) afterwards


@dataclass
class Reader:
    """One websocket client, as a browser tab would run it."""

    token: str
    user_id: int
    child_id: int
    first_id: int | None = None  # the hub's position when this socket first connected
    last_id: int = 0
    received: list[int] = field(default_factory=list)  # event ids, in arrival order
    post_ids: list[int] = field(default_factory=list)
    replayed: int = 0
    reloads: int = 0
    lost_at: float | None = None
    reconnect_s: list[float] = field(default_factory=list)
    reconnected_at: list[float] = field(default_factory=list)
    history: list[str] = field(default_factory=list)  # connections, for explaining a failure
    failed_attempts: int = 0

    @property
    def connected(self) -> bool:
        return self.first_id is not None and self.lost_at is None


@dataclass
class Poster:
    acknowledged: dict[str, tuple[int, int]] = field(default_factory=dict)  # key -> (post, child)
    unacknowledged: list[str] = field(default_factory=list)
    retries: Counter[str] = field(default_factory=Counter)  # what made a post be sent again
    latency_ms: list[float] = field(default_factory=list)
    kill_at: float = 0.0  # monotonic time of the kill -9
    cpu_s: float = 0.0  # the load generator's CPU while posting
    wall_s: float = 0.0


@dataclass
class DrillResult:
    config: DrillConfig
    isolation: str = ""
    posts_acknowledged: int = 0
    posts_unacknowledged: int = 0
    posts_stored: int = 0
    posts_lost: int = 0
    posts_duplicated: int = 0
    posts_misnumbered: int = 0
    retries: dict[str, int] = field(default_factory=dict)
    post_ms: list[float] = field(default_factory=list)
    sockets_open: int = 0
    sockets_reconnected: int = 0
    sockets_not_back: int = 0
    reconnect_s: list[float] = field(default_factory=list)
    kill_to_back_s: list[float] = field(default_factory=list)
    events_expected: int = 0
    events_missing: int = 0
    events_duplicated: int = 0
    events_unexpected: int = 0
    out_of_order: int = 0
    replayed: int = 0
    reloads: int = 0
    cpu_percent: float = 0.0
    wall_s: float = 0.0
    per_host: dict[str, str] = field(default_factory=dict)
    throughput: str = ""
    problems: list[str] = field(default_factory=list)  # the first few, explained

    @property
    def ok(self) -> bool:
        return (
            self.sockets_reconnected > 0
            and self.sockets_not_back == 0
            and self.events_missing == self.events_duplicated == self.events_unexpected == 0
            and self.out_of_order == self.reloads == 0
            and self.posts_lost == self.posts_duplicated == self.posts_misnumbered == 0
            and self.posts_unacknowledged == 0
            and self.posts_acknowledged > 0
        )

    def report(self) -> str:
        c, rec, back = self.config, self.reconnect_s, self.kill_to_back_s
        lines = [
            f"hosts={c.hosts} workers/host={c.workers} isolation={self.isolation} "
            f"sockets={c.sockets} children={c.children} rate={c.rate}/s "
            f"before={c.before}s after={c.after}s",
            f"posts: {self.posts_acknowledged} acknowledged, {self.posts_stored} stored, "
            f"{self.posts_lost} lost, {self.posts_duplicated} duplicated, "
            f"{self.posts_misnumbered} under another id, {self.posts_unacknowledged} never "
            f"acknowledged; resent after: {dict(sorted(self.retries.items())) or 'nothing'}",
            f"POST latency ms through the balancer: p50={pct(self.post_ms, 0.5):.0f} "
            f"p95={pct(self.post_ms, 0.95):.0f} max={max(self.post_ms, default=0):.0f}",
            f"sockets: {self.sockets_open} open, {self.sockets_reconnected} lost their host and "
            f"reconnected, {self.sockets_not_back} not back",
            f"reconnect s (socket closed -> hello from a live host): p50={pct(rec, 0.5):.2f} "
            f"p95={pct(rec, 0.95):.2f} p99={pct(rec, 0.99):.2f} max={max(rec, default=0):.2f}",
            f"kill -> back s: p50={pct(back, 0.5):.2f} p95={pct(back, 0.95):.2f} "
            f"max={max(back, default=0):.2f}",
            f"events: {self.events_expected} expected deliveries, {self.events_missing} missing, "
            f"{self.events_duplicated} duplicated, {self.events_unexpected} unexpected, "
            f"{self.out_of_order} out of order, {self.replayed} by replay, "
            f"{self.reloads} reloads",
            f"balancer per host: {self.per_host}",
            f"load generator CPU: {self.cpu_percent:.0f}% of one core over {self.wall_s:.0f} s",
        ]
        if self.throughput:
            lines.append(self.throughput)
        lines.extend(f"  problem: {problem}" for problem in self.problems[:10])
        lines.append("RESULT: " + ("PASS" if self.ok else "FAIL"))
        return "\n".join(lines)


def backoff(attempt: int) -> float:
    """Exponential with full jitter (half to all of the ceiling), as live.js does."""
    ceiling = min(MAX_BACKOFF, 0.5 * 2.0**attempt)
    return ceiling / 2 + random.random() * ceiling / 2


async def run_reader(
    reader: Reader, ws_url: str, stop: asyncio.Event, opening: asyncio.Semaphore
) -> None:
    attempt = 0
    while not stop.is_set():
        first = reader.first_id is None
        after = "" if first else f"?after={reader.last_id}"
        greeted = await connected_once(reader, ws_url + after, opening if first else None)
        if stop.is_set():
            return
        if reader.lost_at is None and reader.first_id is not None:
            reader.lost_at = time.monotonic()
        attempt = 0 if greeted else attempt + 1
        await asyncio.sleep(backoff(attempt))


async def connected_once(reader: Reader, url: str, gate: asyncio.Semaphore | None) -> bool:
    """One connection, until it closes or fails to open; True if it said hello. The first
    connections pass a gate: people arrive over some seconds, not all in one instant."""
    greeted = False
    if gate is not None:
        await gate.acquire()
    try:
        async with connect(
            url,
            additional_headers={"authorization": f"Bearer {reader.token}"},
            open_timeout=30,
            max_size=2**20,
        ) as socket:
            hello = json.loads(await socket.recv())
            _hello(reader, hello)
            greeted = True
            if gate is not None:
                gate.release()
                gate = None
            async for raw in socket:
                _message(reader, json.loads(raw), hello["last_id"])
    except (OSError, TimeoutError, InvalidHandshake, WebSocketException):
        reader.failed_attempts += 1
    finally:
        if gate is not None:
            gate.release()
    return greeted


def _hello(reader: Reader, hello: dict[str, Any]) -> None:
    assert hello["type"] == "hello", hello
    if reader.first_id is None:
        reader.first_id = reader.last_id = int(hello["last_id"])
    reader.history.append(f"hello after={reader.last_id} upto={hello['last_id']}")
    if reader.lost_at is not None:
        now = time.monotonic()
        reader.reconnect_s.append(now - reader.lost_at)
        reader.reconnected_at.append(now)
        reader.lost_at = None


def _message(reader: Reader, message: dict[str, Any], upto: int) -> None:
    if message.get("type") == "reload":
        reader.reloads += 1
        return
    if "id" not in message:
        return
    event_id = int(message["id"])
    reader.received.append(event_id)
    reader.last_id = max(reader.last_id, event_id)
    reader.replayed += 1 if event_id <= upto else 0
    if message["type"] == "post.created":
        reader.post_ids.append(int(message["data"]["id"]))


async def post_lane(
    http: httpx.AsyncClient,
    lane: int,
    config: DrillConfig,
    children: list[int],
    poster: Poster,
    stop: asyncio.Event,
) -> None:
    """One posting client: its share of the rate, each post retried until acknowledged."""
    interval = config.lanes / config.rate
    started, n = time.monotonic(), 0
    while not stop.is_set():
        child = children[(lane + n * config.lanes) % len(children)]
        key = f"drill-{lane}-{n}"
        await post_once(http, key, child, poster)
        n += 1
        await asyncio.sleep(max(0.0, started + n * interval - time.monotonic()))


async def post_once(http: httpx.AsyncClient, key: str, child: int, poster: Poster) -> None:
    body = {"kind": "update", "body": f"failover drill post {key}"}
    headers = {"idempotency-key": key}
    deadline = time.monotonic() + 60
    began = time.monotonic()
    while time.monotonic() < deadline:
        try:
            response = await http.post(
                f"/api/v1/children/{child}/posts", json=body, headers=headers
            )
        except httpx.TransportError as error:
            poster.retries[type(error).__name__] += 1
            await asyncio.sleep(0.1)
            continue
        if response.status_code == 201:
            poster.acknowledged[key] = (int(response.json()["id"]), child)
            poster.latency_ms.append((time.monotonic() - began) * 1000)
            return
        if response.status_code not in {409, 502, 503, 504}:
            raise RuntimeError(f"post {key}: {response.status_code} {response.text[:200]}")
        poster.retries[f"{response.status_code} {response.text[:60]!r}"] += 1
        await asyncio.sleep(0.1)
    poster.unacknowledged.append(key)


async def read_burst(cluster: Cluster, readers: list[Reader], seconds: float) -> str:
    """Feed reads through the balancer, 16 at a time: requests per second, per host."""
    before = {row["svname"]: int(row["stot"]) for row in cluster.stats()}
    done = 0
    end = time.monotonic() + seconds

    async def one(reader: Reader) -> None:
        nonlocal done
        headers = {"authorization": f"Bearer {reader.token}"}
        async with httpx.AsyncClient(base_url=cluster.url, headers=headers, timeout=30) as http:
            while time.monotonic() < end:
                response = await http.get(f"/api/v1/children/{reader.child_id}/posts")
                response.raise_for_status()
                done += 1

    started = time.monotonic()
    await asyncio.gather(*(one(reader) for reader in readers[:16]))
    elapsed = time.monotonic() - started
    after = {row["svname"]: int(row["stot"]) for row in cluster.stats()}
    split = ", ".join(
        f"{name} {(after[name] - before.get(name, 0)) / elapsed:.0f}" for name in after
    )
    return (
        f"feed reads (16 concurrent, {elapsed:.0f} s): {done / elapsed:.0f} req/s in all; "
        f"per host req/s: {split}"
    )


async def readers_for(url: str, config: DrillConfig) -> tuple[list[Reader], str, list[int]]:
    seeded = await seed(url, config.sockets, config.children)
    tokens, writer_token, children = seeded.reader_tokens, seeded.writer_token, seeded.children
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT id FROM professional WHERE email LIKE 'r%@bench.test' ORDER BY id"
        )
    finally:
        await conn.close()
    # live_bench.seed grants reader n the child n % children, tokens in reader order.
    readers = [
        Reader(token, int(row["id"]), children[n % len(children)])
        for n, (token, row) in enumerate(zip(tokens, rows, strict=True))
    ]
    return readers, writer_token, children


async def open_all(
    readers: list[Reader], ws_url: str, stop: asyncio.Event
) -> list[asyncio.Task[None]]:
    opening = asyncio.Semaphore(OPENING)
    tasks = [asyncio.create_task(run_reader(reader, ws_url, stop, opening)) for reader in readers]
    deadline = time.monotonic() + 120
    while sum(reader.connected for reader in readers) < len(readers):
        if time.monotonic() > deadline:
            raise RuntimeError("not every socket opened within 120 s")
        await asyncio.sleep(0.2)
    return tasks


async def run_drill(config: DrillConfig, database_url: str) -> DrillResult:
    """The whole drill on an empty database (it is migrated and seeded here)."""
    readers, writer_token, children = await readers_for(database_url, config)
    cluster = Cluster(
        database_url, config.hosts, config.workers, config.isolation, keep=config.keep
    )
    await asyncio.to_thread(cluster.start)
    result = DrillResult(config, isolation="netns" if cluster.uses_namespaces else "loopback")
    stop_readers, stop_posting = asyncio.Event(), asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    try:
        ws_url = cluster.url.replace("http://", "ws://") + "/ws"
        tasks = await open_all(readers, ws_url, stop_readers)
        if config.throughput:
            result.throughput = await read_burst(cluster, readers, config.throughput)
        poster = await drive_and_kill(cluster, config, writer_token, children, stop_posting)
        result.per_host = {
            r["svname"]: f"{r['status']}, {r['stot']} sessions, {r['wretr']} retried, "
            f"{r['wredis']} redispatched"
            for r in cluster.stats()
        }
        await settle(readers, database_url, config.settle)
        await check(result, readers, poster, database_url)
    finally:
        stop_readers.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.to_thread(cluster.stop)
        if config.keep:
            print(f"cluster directory kept: {cluster.directory}")
    return result


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def drive_and_kill(
    cluster: Cluster, config: DrillConfig, token: str, children: list[int], stop: asyncio.Event
) -> Poster:
    poster = Poster()
    cpu0, wall0 = cpu_seconds(), time.monotonic()
    headers = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=cluster.url, headers=headers, timeout=30) as http:
        lanes = [
            asyncio.create_task(post_lane(http, lane, config, children, poster, stop))
            for lane in range(config.lanes)
        ]
        await asyncio.sleep(config.before)
        poster.kill_at = time.monotonic()
        cluster.kill(0)  # the first group: leastconn has put about half the sockets on it
        await asyncio.sleep(config.after)
        stop.set()
        await asyncio.gather(*lanes)
    poster.cpu_s, poster.wall_s = cpu_seconds() - cpu0, time.monotonic() - wall0
    return poster


async def expected_events(conn: asyncpg.Connection, since: int) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "SELECT id, child_id, recipient_id, type, created_at FROM event WHERE id > $1"
            " ORDER BY id",
            since,
        )
    )


def expected_for(reader: Reader, events: list[asyncpg.Record]) -> list[int]:
    """The events this reader may see, the hub's rule (server/live.py, Subscriber)."""
    return [
        int(e["id"])
        for e in events
        if e["id"] > (reader.first_id or 0)
        and (e["recipient_id"] is None or e["recipient_id"] == reader.user_id)
        and (e["child_id"] is None or e["child_id"] == reader.child_id)
    ]


async def settle(readers: list[Reader], url: str, seconds: float) -> None:
    """Until every socket is connected and has every event it may see (or time is up)."""
    since = min(reader.first_id or 0 for reader in readers)
    deadline = time.monotonic() + seconds
    conn = await asyncpg.connect(url)
    try:
        while time.monotonic() < deadline:
            events = await expected_events(conn, since)
            if all(
                r.connected and set(expected_for(r, events)) <= set(r.received) for r in readers
            ):
                return
            await asyncio.sleep(0.5)
    finally:
        await conn.close()


async def check(result: DrillResult, readers: list[Reader], poster: Poster, url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        since = min(reader.first_id or 0 for reader in readers)
        events = await expected_events(conn, since)
        stored = await conn.fetch(
            "SELECT p.id, p.idempotency_key FROM post p JOIN professional w ON w.id = p.author_id"
            " WHERE w.email = 'w@bench.test'"
        )
    finally:
        await conn.close()
    check_posts(result, poster, stored)
    kinds = {int(e["id"]): f"{e['type']} at {e['created_at']:%H:%M:%S.%f}" for e in events}
    for reader in readers:
        check_reader(result, reader, expected_for(reader, events), poster.kill_at)
        explain(result, reader, expected_for(reader, events), kinds)
    result.sockets_open = sum(reader.connected for reader in readers)
    result.cpu_percent = 100 * poster.cpu_s / max(poster.wall_s, 1e-9)
    result.wall_s = poster.wall_s


def check_posts(result: DrillResult, poster: Poster, stored: list[asyncpg.Record]) -> None:
    by_key: defaultdict[str, list[int]] = defaultdict(list)
    for row in stored:
        by_key[row["idempotency_key"]].append(int(row["id"]))
    result.posts_acknowledged = len(poster.acknowledged)
    result.posts_unacknowledged = len(poster.unacknowledged)
    result.posts_stored = len(stored)
    result.posts_lost = sum(1 for key in poster.acknowledged if key not in by_key)
    result.posts_duplicated = sum(len(ids) - 1 for ids in by_key.values())
    result.posts_misnumbered = sum(
        1 for key, (post, _) in poster.acknowledged.items() if by_key.get(key, [post])[0] != post
    )
    result.retries = dict(poster.retries)
    result.post_ms = poster.latency_ms


def check_reader(result: DrillResult, reader: Reader, expected: list[int], kill_at: float) -> None:
    got = reader.received
    result.events_expected += len(expected)
    result.events_missing += len(set(expected) - set(got))
    result.events_duplicated += len(got) - len(set(got))
    result.events_unexpected += len(set(got) - set(expected))
    result.out_of_order += sum(1 for a, b in itertools.pairwise(got) if b <= a)
    result.replayed += reader.replayed
    result.reloads += reader.reloads
    if reader.reconnect_s:
        result.sockets_reconnected += 1
        result.reconnect_s.append(reader.reconnect_s[0])
        result.kill_to_back_s.append(reader.reconnected_at[0] - kill_at)
    if not reader.connected:
        result.sockets_not_back += 1


def explain(
    result: DrillResult, reader: Reader, expected: list[int], kinds: dict[int, str]
) -> None:
    got = reader.received
    wrong = sorted(set(expected) - set(got)) + sorted({i for i in got if got.count(i) > 1})
    for event_id in wrong:
        result.problems.append(
            f"reader {reader.user_id} (child {reader.child_id}) event {event_id} "
            f"({kinds.get(event_id, '?')}) received {got.count(event_id)} times; "
            f"{'; '.join(reader.history)}"
        )


async def main_async(config: DrillConfig) -> int:
    from loadtests.pgdb import create_database, drop_database

    url = await create_database("jigsaw_drill")
    try:
        result = await run_drill(config, url)
    finally:
        with contextlib.suppress(Exception):
            await drop_database(url)
    print(result.report())
    return 0 if result.ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    defaults = DrillConfig()
    for name, value in vars(defaults).items():
        if isinstance(value, bool):
            parser.add_argument(f"--{name}", action="store_true")
        else:
            parser.add_argument(f"--{name}", type=type(value), default=value)
    args = parser.parse_args()
    sys.exit(asyncio.run(main_async(DrillConfig(**vars(args)))))


if __name__ == "__main__":
    main()
