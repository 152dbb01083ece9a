"""What one request costs the app: SQL statements (round trips), app CPU and wall time, for a
practitioner's caseload, feed read, post and search and a manager's board and board comparison.

Seeds a throwaway PostgreSQL database as loadtests/profile_requests.py does (2,000 children,
200 people, 100,000 posts; the managers see all 2,000), runs the app in this process (no
uvicorn, no network) and drives each request N times, one at a time. Statements are counted
at asyncpg's connection (transaction BEGIN and COMMIT included), so the count is the
number of round trips to PostgreSQL, whatever layer issued them.

    python -m loadtests.request_costs --requests 200
    url=$(python -m loadtests.edge_timing --seed-only)      # one database, two checkouts
    python -m loadtests.request_costs --url "$url"; (cd ../other && python -m ...)

'app CPU' is this process's CPU per request (the in-process client's share included): for
a request that never leaves the event loop it is also how long it holds the loop.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx

from feeds.db import migrate_database
from loadtests.app_env import app_env
from loadtests.pgdb import create_database, drop_database
from loadtests.seed import PASSWORD, seed
from loadtests.statements import recording
from server.app import create_app
from server.settings import load_settings

Step = Callable[[httpx.AsyncClient, dict[str, str], int], Awaitable[httpx.Response]]


async def caseload(client: httpx.AsyncClient, headers: dict[str, str], _: int) -> httpx.Response:
    return await client.get("/api/v1/children", headers=headers)


async def feed(client: httpx.AsyncClient, headers: dict[str, str], child: int) -> httpx.Response:
    return await client.get(f"/api/v1/children/{child}/posts?limit=20", headers=headers)


async def post(client: httpx.AsyncClient, headers: dict[str, str], child: int) -> httpx.Response:
    body = {"kind": random.choice(["update", "hunch", "visit"]), "body": "Visited, all calm."}
    keyed = {**headers, "idempotency-key": uuid.uuid4().hex}
    return await client.post(f"/api/v1/children/{child}/posts", json=body, headers=keyed)


async def search(client: httpx.AsyncClient, headers: dict[str, str], _: int) -> httpx.Response:
    """What the locust practitioner searches for now and then (every seeded post says "home")."""
    word = random.choice(["home", "school", "visit", "calm"])
    return await client.get(f"/api/v1/search?q={word}", headers=headers)


async def board(client: httpx.AsyncClient, headers: dict[str, str], _: int) -> httpx.Response:
    return await client.get("/api/v1/board", headers=headers)


async def compare(client: httpx.AsyncClient, headers: dict[str, str], _: int) -> httpx.Response:
    """What the locust manager asks for: the last four weeks against the four before."""
    since = (datetime.now(UTC).date() - timedelta(days=27)).isoformat()
    return await client.get(f"/api/v1/board?from={since}", headers=headers)


STEPS: dict[str, Step] = {
    "caseload": caseload,
    "feed": feed,
    "post": post,
    "search": search,
    "board": board,
    "compare": compare,
}
MANAGERS = {"board", "compare"}


async def _token(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    answer = await client.post(
        "/api/v1/auth/tokens", json={"email": email, "password": PASSWORD, "name": "costs"}
    )
    answer.raise_for_status()
    return {"authorization": f"Bearer {answer.json()['token']}"}


async def _measure(
    client: httpx.AsyncClient, headers: dict[str, str], ids: list[int], name: str, n: int
) -> dict[str, float]:
    step = STEPS[name]
    for _ in range(5):  # warm caches, prepared statements and connections
        await step(client, headers, random.choice(ids))
    walls, cpus = [], []
    with recording() as sent:
        for _ in range(n):
            started, cpu = time.perf_counter(), time.process_time()
            answer = await step(client, headers, random.choice(ids))
            walls.append((time.perf_counter() - started) * 1000)
            cpus.append((time.process_time() - cpu) * 1000)
            assert answer.status_code < 400, answer.text
    statements = Counter(" ".join(query.split()[:3])[:60] for query in sent)  # by first words
    total, top = len(sent), statements.most_common(12)
    print(f"\n## {name}: {total / n:.2f} statements per request")
    for text, count in top:
        print(f"   {count / n:6.2f}  {text}")
    return {
        "statements": total / n,
        "cpu_median": statistics.median(cpus),
        "wall_median": statistics.median(walls),
        "wall_p95": sorted(walls)[int(0.95 * (n - 1))],
    }


async def _day(
    client: httpx.AsyncClient,
    practitioner: dict[str, str],
    manager: dict[str, str],
    ids: list[int],
    seconds: float,
) -> None:
    """A working day on one worker: two managers (board, now and then a comparison) and
    four practitioners (locust's mix: caseload, feed reads, search, posts) at once, 0.05-0.2 s
    think time; each
    request's wall time per kind. What practitioners wait for here is the event loop and
    the pool that the managers' requests share with them."""
    times: dict[str, list[float]] = {name: [] for name in STEPS}
    stop = time.monotonic() + seconds

    async def person(headers: dict[str, str], mix: list[str]) -> None:
        while time.monotonic() < stop:
            name = random.choice(mix)
            started = time.perf_counter()
            answer = await STEPS[name](client, headers, random.choice(ids))
            times[name].append((time.perf_counter() - started) * 1000)
            assert answer.status_code < 400, answer.text
            await asyncio.sleep(random.uniform(0.05, 0.2))

    managers = [person(manager, ["board"] * 4 + ["compare"]) for _ in range(2)]
    mix = ["caseload"] + ["feed"] * 6 + ["search"] + ["post"] * 2  # locust's task weights
    practitioners = [person(practitioner, mix) for _ in range(4)]
    cpu = time.process_time()
    await asyncio.gather(*managers, *practitioners)
    print(f"\n## working day, {seconds:.0f} s on one event loop; app CPU ", end="")
    print(f"{(time.process_time() - cpu) / seconds * 100:.0f}%")
    print("| request | n | p50 ms | p95 ms | max ms |\n| --- | ---: | ---: | ---: | ---: |")
    for name, found in times.items():
        if found:
            found.sort()
            p50, p95 = found[len(found) // 2], found[int(0.95 * (len(found) - 1))]
            print(f"| {name} | {len(found)} | {p50:.0f} | {p95:.0f} | {found[-1]:.0f} |")


async def _run(url: str, names: list[str], requests: int, day: float = 0) -> None:
    app = create_app(load_settings(app_env(url)))
    results = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            practitioner = await _token(client, "p60@load.test")
            manager = await _token(client, "m0@load.test")
            children = await client.get("/api/v1/children", headers=practitioner)
            ids = [c["id"] for c in children.json()["children"]] or [1]
            if day:
                await _day(client, practitioner, manager, ids, day)
                return
            for name in names:
                headers = manager if name in MANAGERS else practitioner
                results[name] = await _measure(client, headers, ids, name, requests)
    print("\n| request | statements | app CPU ms (median) | wall ms (median) | wall p95 |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, r in results.items():
        print(
            f"| {name} | {r['statements']:.2f} | {r['cpu_median']:.2f} | "
            f"{r['wall_median']:.2f} | {r['wall_p95']:.2f} |"
        )


async def _seeded() -> str:
    url = await create_database("jigsaw_costs")
    await migrate_database(url)
    await seed(url, 2_000, 200, 100_000)
    return url


def main() -> None:
    logging.disable(logging.INFO)  # the sealer's checkpoint lines
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--only", choices=sorted(STEPS), action="append")
    parser.add_argument("--url", help="measure against this seeded database (kept)")
    parser.add_argument("--day", type=float, default=0, help="seconds of a mixed working day")
    parser.add_argument("--seed-only", action="store_true", help="seed, print the URL, exit")
    parser.add_argument("--drop", metavar="URL", help="drop a database made by --seed-only")
    args = parser.parse_args()
    names = args.only or list(STEPS)
    if args.drop:
        asyncio.run(drop_database(args.drop))
    elif args.seed_only:
        print(asyncio.run(_seeded()))
    elif args.url:
        asyncio.run(_run(args.url, names, args.requests, args.day))
    else:
        url = asyncio.run(_seeded())
        try:
            asyncio.run(_run(url, names, args.requests, args.day))
        finally:
            asyncio.run(drop_database(url))


if __name__ == "__main__":
    main()
