"""Where does a request's time go? Profile Jigsaw's requests in-process: a practitioner's
caseload, feed read, post and search, a manager's board and board comparison.

Seeds a throwaway PostgreSQL database, runs the app in this process (no uvicorn, no
network) and drives N caseload reads, N feed reads and N posts through it under
pyinstrument, then prints the call tree. This is how the load test's gap to the bare
stack is investigated.

    python -m loadtests.profile_requests --requests 300
    python -m loadtests.profile_requests --only post --html /tmp/post.html
    python -m loadtests.profile_requests --url URL --only board --only compare  # seeded by
        # python -m loadtests.request_costs --seed-only (kept)

pyinstrument comes with the dev dependencies (`make install`).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from feeds.db import migrate_database
from loadtests import request_costs
from loadtests.app_env import app_env
from loadtests.pgdb import create_database, drop_database
from loadtests.seed import CHILDREN_PER_PRACTITIONER, PASSWORD, seed
from server.app import create_app
from server.settings import load_settings

Step = Callable[[httpx.AsyncClient, dict[str, str], int], Awaitable[httpx.Response]]


async def read_feed(
    client: httpx.AsyncClient, headers: dict[str, str], child: int
) -> httpx.Response:
    return await client.get(f"/api/v1/children/{child}/posts?limit=20", headers=headers)


async def write_post(
    client: httpx.AsyncClient, headers: dict[str, str], child: int
) -> httpx.Response:
    body = {"kind": "update", "body": "Visited after school, all calm."}
    keyed = {**headers, "idempotency-key": uuid.uuid4().hex}
    return await client.post(f"/api/v1/children/{child}/posts", json=body, headers=keyed)


async def read_caseload(
    client: httpx.AsyncClient, headers: dict[str, str], child: int
) -> httpx.Response:
    return await client.get("/api/v1/children", headers=headers)


STEPS: dict[str, Step] = {
    "caseload": read_caseload,
    "feed": read_feed,
    "post": write_post,
    "search": request_costs.search,
    "board": request_costs.board,
    "compare": request_costs.compare,
}


async def _token(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await client.post(
        "/api/v1/auth/tokens", json={"email": email, "password": PASSWORD, "name": "profile"}
    )
    response.raise_for_status()
    return {"authorization": f"Bearer {response.json()['token']}"}


async def _run(url: str, only: list[str], requests: int, html: str | None) -> None:
    from pyinstrument import Profiler

    app = create_app(load_settings(app_env(url)))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            # Practitioner p<n> has children 1..50 (see loadtests/seed.py's caseload layout).
            practitioner = await _token(client, "p60@load.test")
            manager = await _token(client, "m0@load.test")
            children = await client.get("/api/v1/children", headers=practitioner)
            ids = [c["id"] for c in children.json()["children"]] or [1]
            for name in only:
                step = STEPS[name]
                headers = manager if name in request_costs.MANAGERS else practitioner
                for _ in range(20):  # warm caches and connections
                    await step(client, headers, random.choice(ids))
                profiler = Profiler(async_mode="enabled")
                started = time.perf_counter()
                with profiler:
                    for _ in range(requests):
                        response = await step(client, headers, random.choice(ids))
                        assert response.status_code < 400, response.text
                elapsed = time.perf_counter() - started
                print(f"\n## {name}: {requests} requests, {elapsed / requests * 1000:.2f} ms each")
                print(profiler.output_text(unicode=False, color=False, show_all=False))
                if html:
                    path = html.replace(".html", f"_{name}.html")
                    Path(path).write_text(profiler.output_html())  # noqa: ASYNC240 - a dev tool


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--only", choices=sorted(STEPS), action="append")
    parser.add_argument("--html", help="also write pyinstrument HTML reports to this path")
    parser.add_argument("--url", help="profile against this seeded database (kept)")
    args = parser.parse_args()
    only = args.only or sorted(STEPS)
    if args.url:
        asyncio.run(_run(args.url, only, args.requests, args.html))
        return
    url = asyncio.run(create_database("jigsaw_profile"))
    try:
        asyncio.run(migrate_database(url))
        asyncio.run(seed(url, 2_000, 200, 100_000))
        asyncio.run(_run(url, only, args.requests, args.html))
    finally:
        asyncio.run(drop_database(url))


if __name__ == "__main__":
    assert CHILDREN_PER_PRACTITIONER > 0
    main()
