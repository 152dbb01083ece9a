"""CPU per request of Jigsaw and of the bare baseline (loadtests/bare_app.py), each driven
in its own process by the same bare ASGI driver against the same seeded PostgreSQL
database: the capacity goal's ratio as CPU, without the load generator, the network or
uvicorn (which cost both apps the same).

A capacity run is CPU-bound on Jigsaw's side, so bare CPU / Jigsaw CPU per request is the
throughput ratio the load test would show if uvicorn and the kernel cost nothing; their
share is the same per request for both, so the load test's ratio lies between this one
and 1. Child processes alternate (Jigsaw, bare, Jigsaw, bare, ...) so that drift on a
shared machine hits both alike; the median of the rounds is reported.

    python -m loadtests.cpu_ratio --rounds 4 --requests 400
    url=$(python -m loadtests.cpu_ratio --seed-only)
    python -m loadtests.cpu_ratio --url "$url" --checkout before=/work/wt/before --checkout after=.
    python -m loadtests.cpu_ratio --url "$url" --checkout before=... --checkout after=. \
        --companions 1   # and one idle worker beside each Jigsaw: what posts cost it
    python -m loadtests.cpu_ratio --drop "$url"

With several checkouts, each round runs every checkout's Jigsaw and one bare app, in turn.
'CPU' is the child process's CPU time per request (process_time: every thread, background
tasks included: the audit sealer, the live hub and the search outbox are the app's cost
too); 'wall' is the mean time per request, one request at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import runpy
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
KINDS = ("feed", "post")
SETTLE = 1.5  # seconds after the last request of a kind before its CPU is read
PERSON = 60  # a practitioner in loadtests/seed.py's layout (email p60@load.test, id 61)
TOKEN_ENV = "LOAD_TOKEN"  # noqa: S105 - the variable naming the seeded (fictional) token
Headers = list[tuple[bytes, bytes]]
ASGI = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


async def call(
    app: ASGI, method: str, path: str, headers: Headers, body: bytes = b""
) -> tuple[int, bytes]:
    """One request straight into the ASGI app; its status and body."""
    raw_path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": raw_path,
        "raw_path": raw_path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent = False
    status, chunks = 0, []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # the client never goes away
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


def _post_body() -> bytes:
    kind = random.choice(["update", "hunch", "visit"])
    return json.dumps({"kind": kind, "body": "Visited after school, all calm."}).encode()


async def _request(app: ASGI, kind: str, auth: Headers, children: list[int]) -> None:
    child = random.choice(children)
    path = f"/api/v1/children/{child}/posts"
    if kind == "feed":
        status, body = await call(app, "GET", path + "?limit=20", auth)
    else:
        headers = [
            *auth,
            (b"content-type", b"application/json"),
            (b"idempotency-key", uuid.uuid4().hex.encode()),
        ]
        status, body = await call(app, "POST", path, headers, _post_body())
    assert status < 400, (status, body[:300])


async def _measure(
    app: ASGI, auth: Headers, children: list[int], n: int, others: Any = None
) -> dict[str, Any]:
    """CPU and wall time per request of each kind; with `others` (companion workers, see
    loadtests/companions.py), also the CPU the requests cost those workers."""
    found: dict[str, Any] = {}
    for kind in KINDS:
        for _ in range(20):  # warm prepared statements, the pool and caches
            await _request(app, kind, auth, children)
        started, cpu = time.perf_counter(), time.process_time()
        others_cpu = others.cpu_seconds() if others else 0.0
        for _ in range(n):
            await _request(app, kind, auth, children)
        wall = time.perf_counter() - started
        # The background work the last requests woke is theirs too (the velocity
        # watcher batches posts over ~0.5 s): let it finish inside the CPU count.
        await asyncio.sleep(SETTLE)
        found[kind] = {
            "cpu_ms": (time.process_time() - cpu) / n * 1000,
            "wall_ms": wall / n * 1000,
        }
        if others:
            found[kind]["others_cpu_ms"] = (others.cpu_seconds() - others_cpu) / n * 1000
    return found


async def _profiled(app: ASGI, auth: Headers, children: list[int], n: int, kind: str) -> None:
    """Jigsaw's requests of one kind under pyinstrument, background tasks included (every
    task on the loop is sampled, so the audit sealer, live hub and velocity watcher show)."""
    from pyinstrument import Profiler

    for _ in range(20):
        await _request(app, kind, auth, children)
    profiler = Profiler(async_mode="disabled", interval=0.0005)
    with profiler:
        for _ in range(n):
            await _request(app, kind, auth, children)
        await asyncio.sleep(0.5)  # let woken background work finish inside the profile
    print(profiler.output_text(unicode=False, color=False, show_all=False))


def _companions_module() -> dict[str, Any]:
    """This driver's loadtests/companions.py (a checkout measured may have none)."""
    return runpy.run_path(str(HERE.parent / "companions.py"))


async def _jigsaw(
    url: str, n: int, children: list[int], profile: str = "", companions: int = 0
) -> dict[str, Any]:
    helpers = _companions_module()
    others = helpers["Companions"](companions, url)
    others.start()  # before this app: the first worker up leads the velocity catch-up
    try:
        return await _jigsaw_measured(url, n, children, profile, others)
    finally:
        others.stop()


async def _jigsaw_measured(
    url: str, n: int, children: list[int], profile: str, others: Any
) -> dict[str, Any]:
    from server.app import create_app
    from server.settings import load_settings

    app = create_app(load_settings(_companions_module()["app_env"](url)))
    async with app.router.lifespan_context(app):
        auth = _seeded_token()
        if profile:
            await _profiled(app, auth, children, n, profile)
            return {}
        return await _measure(app, auth, children, n, others if others.count else None)


async def _bare(url: str, n: int, children: list[int]) -> dict[str, Any]:
    os.environ["JIGSAW_DATABASE_URL"] = url  # the bare app reads it in its lifespan
    from loadtests.bare_app import app

    async with app.router.lifespan_context(app):
        return await _measure(app, _seeded_token(), children, n)


def _seeded_token() -> Headers:
    """The practitioner's token from this driver's loadtests/seed.py (`_child` passes it:
    a checkout measured may seed none): both apps look it up, as in the capacity mix."""
    token = os.environ.get(TOKEN_ENV)
    if token is None:  # in this process (--profile): this checkout's seed
        from loadtests.seed import load_token

        token = load_token(PERSON)
    return [(b"authorization", f"Bearer {token}".encode())]


def _children() -> list[int]:
    from loadtests.seed import caseload

    return list(caseload(PERSON, SEEDED["children"], SEEDED["professionals"] // 50))


SEEDED = {"children": 2_000, "professionals": 200, "posts": 100_000}


def child_main(target: str, url: str, requests: str, companions: str = "0") -> None:
    """In a child process: measure one target and print its numbers as JSON."""
    import logging

    import uvloop  # the event loop uvicorn serves both apps on (uvicorn[standard])

    logging.disable(logging.INFO)  # the sealer's checkpoint lines
    if target == "jigsaw":
        found = uvloop.run(_jigsaw(url, int(requests), _children(), companions=int(companions)))
    else:
        found = uvloop.run(_bare(url, int(requests), _children()))
    print(json.dumps(found))


def _child(target: str, url: str, n: int, checkout: Path, companions: int = 0) -> dict[str, Any]:
    """Run child_main from `checkout` (its server/ and feeds/), this file's driver."""
    code = (
        "import runpy, sys; sys.argv = sys.argv[:1] + sys.argv[2:]; "
        f"runpy.run_path({str(HERE)!r}, run_name='__child__')['child_main'](*sys.argv[1:5])"
    )
    args = [sys.executable, "-c", code, "--", target, url, str(n), str(companions)]
    from loadtests.seed import load_token

    env = {**os.environ, "PYTHONPATH": str(checkout), TOKEN_ENV: load_token(PERSON)}
    done = subprocess.run(  # noqa: S603 - our interpreter, fixed arguments
        args, env=env, cwd=checkout, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{target} in {checkout} failed:\n{done.stderr[-3000:]}")
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def compare(url: str, checkouts: dict[str, Path], rounds: int, n: int, companions: int = 0) -> None:
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in [*checkouts, "bare"]}
    for r in range(rounds):
        for name, checkout in [*checkouts.items(), ("bare", HERE.parent.parent)]:
            target = "bare" if name == "bare" else "jigsaw"
            found = _child(target, url, n, checkout, 0 if name == "bare" else companions)
            results[name].append(found)
            line = ", ".join(f"{k} {_numbers(v)}" for k, v in found.items())
            print(f"round {r + 1} {name}: {line}", flush=True)
    _summary(results)


def _numbers(found: dict[str, float]) -> str:
    line = f"CPU {found['cpu_ms']:.2f} ms wall {found['wall_ms']:.2f} ms"
    if "others_cpu_ms" in found:
        line += f" other workers' CPU {found['others_cpu_ms']:.2f} ms"
    return line


def _median(runs: list[dict[str, Any]], kind: str, key: str) -> float:
    return float(statistics.median(run[kind].get(key, 0.0) for run in runs))


def _summary(results: dict[str, list[dict[str, Any]]]) -> None:
    bare = results["bare"]
    print("\n| target | request | CPU ms/request (median) | wall ms (median) | bare CPU / CPU |")
    print("| --- | --- | ---: | ---: | ---: |")
    for name, runs in results.items():
        for kind in KINDS:
            cpu = _median(runs, kind, "cpu_ms")
            ratio = _median(bare, kind, "cpu_ms") / cpu
            wall = _median(runs, kind, "wall_ms")
            print(f"| {name} | {kind} | {cpu:.2f} | {wall:.2f} | {ratio:.2f} |")
    _others_summary(results)


def _others_summary(results: dict[str, list[dict[str, Any]]]) -> None:
    """With companion workers: what each request cost every worker, together."""
    measured = {n: r for n, r in results.items() if "others_cpu_ms" in r[0][KINDS[0]]}
    if not measured:
        return
    print("\n| target | request | CPU ms/request, all workers (median) | of which other workers |")
    print("| --- | --- | ---: | ---: |")
    for name, runs in measured.items():
        for kind in KINDS:
            total = statistics.median(r[kind]["cpu_ms"] + r[kind]["others_cpu_ms"] for r in runs)
            others = _median(runs, kind, "others_cpu_ms")
            print(f"| {name} | {kind} | {total:.2f} | {others:.2f} |")


async def _seeded() -> str:
    from feeds.db import migrate_database
    from loadtests.pgdb import create_database
    from loadtests.seed import seed

    url = await create_database("jigsaw_ratio")
    await migrate_database(url)
    await seed(url, SEEDED["children"], SEEDED["professionals"], SEEDED["posts"])
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300, help="per kind, per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--url", help="a database seeded by --seed-only (kept)")
    parser.add_argument("--checkout", action="append", metavar="NAME=PATH", default=[])
    parser.add_argument("--seed-only", action="store_true", help="seed, print the URL, exit")
    parser.add_argument("--drop", metavar="URL", help="drop a database made by --seed-only")
    parser.add_argument("--profile", choices=KINDS, help="profile this checkout's Jigsaw")
    parser.add_argument(
        "--companions", type=int, default=0, help="idle workers beside each Jigsaw (their CPU)"
    )
    args = parser.parse_args()
    from loadtests.pgdb import drop_database

    if args.drop:
        asyncio.run(drop_database(args.drop))
        return
    if args.profile:  # pyinstrument: a dev dependency (pyproject.toml)
        import logging

        logging.disable(logging.INFO)
        url = args.url or asyncio.run(_seeded())
        asyncio.run(_jigsaw(url, args.requests, _children(), args.profile))
        return
    if args.seed_only:
        print(asyncio.run(_seeded()))
        return
    pairs = [item.split("=", 1) for item in args.checkout] or [["jigsaw", str(HERE.parent.parent)]]
    checkouts = {name: Path(path).resolve() for name, path in pairs}
    url = args.url or asyncio.run(_seeded())
    try:
        compare(url, checkouts, args.rounds, args.requests, args.companions)
    finally:
        if not args.url:
            asyncio.run(drop_database(url))


if __name__ == "__main__":
    main()
