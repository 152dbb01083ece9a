"""Time the API's feed read and post in-process, without a profiler: the before/after
numbers for changes at the HTTP edge (typed schemas, encoding).

Seeds a throwaway PostgreSQL database as loadtests/profile_requests.py does, runs the app
in this process (no uvicorn, no network) and times N feed reads and N posts, in rounds
that alternate the two so drift on a shared machine hits both alike.

    python -m loadtests.edge_timing --requests 2000 --rounds 5

To compare two versions of the code on a busy machine, seed once and alternate short
runs of each checkout against the same database:

    url=$(python -m loadtests.edge_timing --seed-only)
    (cd before && python -m loadtests.edge_timing --url "$url" --rounds 1); (cd after && ...)
    python -m loadtests.edge_timing --drop "$url"
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time

import httpx

from feeds.db import migrate_database
from loadtests.app_env import app_env
from loadtests.pgdb import create_database, drop_database
from loadtests.profile_requests import STEPS, _token
from loadtests.seed import seed
from server.app import create_app
from server.settings import load_settings


async def _round(
    client: httpx.AsyncClient, headers: dict[str, str], ids: list[int], name: str, n: int
) -> tuple[float, float]:
    """Mean milliseconds per request over n requests of one kind: wall clock, and this
    process's CPU (the app's own work, without the database's or other processes')."""
    step = STEPS[name]
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        response = await step(client, headers, random.choice(ids))
        assert response.status_code < 400, response.text
    return (time.perf_counter() - started) / n * 1000, (time.process_time() - cpu) / n * 1000


async def _run(url: str, names: list[str], requests: int, rounds: int) -> None:
    app = create_app(load_settings(app_env(url)))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            headers = await _token(client, "p60@load.test")
            children = await client.get("/api/v1/children", headers=headers)
            ids = [c["id"] for c in children.json()["children"]] or [1]
            for name in names:
                await _round(client, headers, ids, name, 50)  # warm caches and connections
            results: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
            for _ in range(rounds):
                for name in names:
                    results[name].append(await _round(client, headers, ids, name, requests))
    for name, means in results.items():
        wall, cpu = [m[0] for m in means], [m[1] for m in means]
        print(
            f"{name}: wall median {statistics.median(wall):.3f} ms/request (best "
            f"{min(wall):.3f}); app CPU median {statistics.median(cpu):.3f} ms/request (best "
            f"{min(cpu):.3f}); {len(means)} rounds of {requests}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", choices=sorted(STEPS), action="append")
    parser.add_argument("--url", help="time against this seeded database (kept)")
    parser.add_argument("--seed-only", action="store_true", help="seed, print the URL, exit")
    parser.add_argument("--drop", metavar="URL", help="drop a database made by --seed-only")
    args = parser.parse_args()
    names = args.only or ["feed", "post"]
    if args.drop:
        asyncio.run(drop_database(args.drop))
    elif args.url:
        asyncio.run(_run(args.url, names, args.requests, args.rounds))
    elif args.seed_only:
        print(asyncio.run(_seeded()))
    else:
        _seed_run_drop(names, args.requests, args.rounds)


async def _seeded() -> str:
    url = await create_database("jigsaw_timing")
    await migrate_database(url)
    await seed(url, 2_000, 200, 100_000)
    return url


def _seed_run_drop(names: list[str], requests: int, rounds: int) -> None:
    url = asyncio.run(create_database("jigsaw_timing"))
    try:
        asyncio.run(migrate_database(url))
        asyncio.run(seed(url, 2_000, 200, 100_000))
        asyncio.run(_run(url, names, requests, rounds))
    finally:
        asyncio.run(drop_database(url))


if __name__ == "__main__":
    main()
