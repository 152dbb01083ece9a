"""Websocket delivery benchmark: N open sockets, a steady stream of posts, and the delay
from each post's commit time to its arrival on every socket that may see it.

    python -m loadtests.live_bench --sockets 2000 --rate 10 --seconds 20 [--workers 2]

Uses a fresh PostgreSQL database (created and dropped) and real uvicorn workers; the
baseline line is the same count of plain websocket echo round trips on a bare Starlette
app, so the ratio travels across machines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from tortoise import Tortoise
from websockets.asyncio.client import ClientConnection, connect

from feeds.accounts.passwords import hash_password
from feeds.db import migrate_database, tortoise_config
from feeds.models import Agency, Child, Grant, Professional, Sector
from loadtests.pgdb import create_database, drop_database


@dataclass
class Stats:
    latencies_ms: list[float] = field(default_factory=list)
    messages: int = 0


async def seed(url: str, sockets: int, children: int) -> tuple[list[str], str, list[int]]:
    """Readers each granted one child; one writer granted all. Returns tokens and child ids."""
    from server.auth import issue_token

    await migrate_database(url)
    await Tortoise.init(config=tortoise_config(url))
    agency = await Agency.create(name="Bench agency", sector=Sector.SOCIAL_CARE)
    secret = hash_password("bench-password-123")
    kids = [
        await Child.create(display_name=f"Child {n}", reference=f"B-{n:06d}")
        for n in range(children)
    ]
    people = [
        Professional(
            email=f"r{n}@bench.test",
            name=f"Reader {n}",
            handle=f"r{n}",
            agency=agency,
            password_hash=secret,
        )
        for n in range(sockets)
    ]
    await Professional.bulk_create(people, batch_size=500)
    readers = await Professional.filter(email__startswith="r").order_by("id")
    await Grant.bulk_create(
        [Grant(child=kids[i % children], professional=p) for i, p in enumerate(readers)],
        batch_size=500,
    )
    writer = await Professional.create(
        email="w@bench.test", name="Writer", handle="writer", agency=agency, password_hash=secret
    )
    await Grant.bulk_create([Grant(child=k, professional=writer) for k in kids])
    tokens = [(await issue_token(p, "bench"))[1] for p in readers]
    writer_token = (await issue_token(writer, "bench"))[1]
    await Tortoise.close_connections()
    return tokens, writer_token, [k.id for k in kids]


def rss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def worker_pids(parent: int) -> list[int]:
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return [parent, *map(int, children)]


async def start_server(url: str, port: int, workers: int) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "JIGSAW_DATABASE_URL": url,
        "JIGSAW_SECRET_KEY": "bench" * 10,
        "JIGSAW_MFA_KEYS": Fernet.generate_key().decode(),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "uvicorn",
        "server.asgi:app",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--ws-per-message-deflate",
        "false",
        "--ws-max-size",
        "65536",
        env=env,
    )
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        for _ in range(200):
            try:
                if (await http.get("/healthz")).status_code == 200:
                    return process
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("server did not start")


async def reader(
    port: int, token: str, stats: Stats, ready: asyncio.Event, opened: list[int]
) -> None:
    async with connect(
        f"ws://127.0.0.1:{port}/ws",
        additional_headers={"authorization": f"Bearer {token}"},
        open_timeout=60,
        max_size=2**20,
    ) as socket:
        await socket.recv()
        opened.append(1)
        await ready.wait()
        await listen(socket, stats)


async def listen(socket: ClientConnection, stats: Stats) -> None:
    async for raw in socket:
        arrived = time.time()
        message: dict[str, Any] = json.loads(raw)
        if message["type"] != "post.created":
            continue
        created = datetime.fromisoformat(message["data"]["created_at"]).timestamp()
        stats.latencies_ms.append((arrived - created) * 1000)
        stats.messages += 1


async def writer(
    port: int, token: str, children: list[int], rate: float, seconds: float
) -> tuple[int, list[float]]:
    posted, post_ms = 0, []
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}",
        headers={"authorization": f"Bearer {token}"},
        timeout=30,
    ) as http:
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            child = children[posted % len(children)]
            began = time.monotonic()
            response = await http.post(
                f"/api/v1/children/{child}/posts",
                json={"kind": "update", "body": f"bench post {posted}"},
            )
            post_ms.append((time.monotonic() - began) * 1000)
            response.raise_for_status()
            posted += 1
            await asyncio.sleep(max(0.0, start + posted / rate - time.monotonic()))
    return posted, post_ms


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(args: argparse.Namespace) -> None:
    url = await create_database()
    process = None
    try:
        print(f"seeding {args.sockets} readers over {args.children} children ...", flush=True)
        tokens, writer_token, children = await seed(url, args.sockets, args.children)
        process = await start_server(url, args.port, args.workers)
        pids = worker_pids(process.pid)
        idle_kib = rss_kib(pids)
        stats, ready, opened = Stats(), asyncio.Event(), list[int]()
        tasks = [asyncio.create_task(reader(args.port, t, stats, ready, opened)) for t in tokens]
        while len(opened) < len(tokens):
            await asyncio.sleep(0.2)
            pass
        print()
        loaded_kib = rss_kib(pids)
        ready.set()
        posted, post_ms = await writer(args.port, writer_token, children, args.rate, args.seconds)
        await asyncio.sleep(2)
        for task in tasks:
            task.cancel()
        report(args, posted, post_ms, stats, idle_kib, loaded_kib)
    finally:
        if process is not None:
            process.terminate()
            await process.wait()
        await drop_database(url)


def report(
    args: argparse.Namespace,
    posted: int,
    post_ms: list[float],
    stats: Stats,
    idle_kib: int,
    loaded_kib: int,
) -> None:
    expected = sum(
        1
        for i in range(posted)
        for _ in range(len(range(i % args.children, args.sockets, args.children)))
    )
    lat = stats.latencies_ms
    print(
        f"sockets={args.sockets} workers={args.workers} posts={posted} "
        f"rate={args.rate}/s for {args.seconds}s"
    )
    print(f"deliveries: {stats.messages} of {expected} expected")
    print(
        f"post-to-delivery ms: p50={pct(lat, 0.5):.1f} p95={pct(lat, 0.95):.1f} "
        f"p99={pct(lat, 0.99):.1f} max={max(lat, default=float('nan')):.1f}"
    )
    print(
        f"POST latency ms: p50={pct(post_ms, 0.5):.1f} p99={pct(post_ms, 0.99):.1f} "
        f"mean={statistics.fmean(post_ms):.1f}"
    )
    per_conn = (loaded_kib - idle_kib) / max(1, args.sockets)
    print(
        f"server RSS: idle {idle_kib / 1024:.0f} MiB, with sockets {loaded_kib / 1024:.0f} "
        f"MiB -> {per_conn:.1f} KiB per connection"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--children", type=int, default=200)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--port", type=int, default=8765)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
