"""Websocket delivery benchmark: N open sockets, a steady stream of posts, and the delay
from each post's commit time to its arrival on every socket that may see it.

    python -m loadtests.live_bench --sockets 10000 --children 1000 --rate 10 --seconds 20 \
        --workers 2 [--client-procs 1] [--skip-baseline]

Jigsaw runs on a fresh PostgreSQL database (created and dropped) in real uvicorn workers
with the websocket settings `jigsaw serve` uses. The readers (loadtests/live_clients.py)
and the writer run in processes of their own, so neither starves the other; each reports
its CPU in the measured window. The baseline is the same run against a bare Starlette
fan-out (loadtests/bare_live.py) on one worker in the same session. Memory per connection
is the server's RSS with the sockets open minus its RSS before they opened.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from cryptography.fernet import Fernet
from tortoise import Tortoise

from feeds.accounts.passwords import hash_password
from feeds.db import migrate_database, tortoise_config
from feeds.models import Agency, Child, Grant, Professional, Sector
from loadtests.live_clients import ReaderResult, Target, WriterResult, readers_main, writer_main
from loadtests.pgdb import create_database, drop_database
from loadtests.trace_signals import pauses_between, request_dump
from server.cli import uvicorn_ws_flags

SPAWN = multiprocessing.get_context("spawn")
POSTS_PATH = "/api/v1/children/{child}/posts"


@dataclass
class Seeded:
    reader_tokens: list[str]
    writer_token: str
    children: list[int]


async def seed(url: str, sockets: int, children: int) -> Seeded:
    """Readers each granted one child (reader i sees child i mod children); one writer
    granted all."""
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
    return Seeded(tokens, writer_token, [k.id for k in kids])


def rss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU of these processes so far (/proc/<pid>/stat); a process that
    has ended counts nothing."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


async def database_pids(url: str | None) -> list[int]:
    """The PostgreSQL backends serving this database now (none without a database)."""
    if url is None:
        return []
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    return [int(row["pid"]) for row in rows]


def server_pids(parent: int) -> list[int]:
    """The uvicorn supervisor and its workers (one process when --workers 1)."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return [parent, *map(int, children)]


# uvicorn as shipped, with `jigsaw serve`'s limits: the bare baseline's protocol, which
# does not move when Jigsaw's own protocol (server/ws_protocol.py) changes.
STOCK_WS_FLAGS = ["--ws", "websockets-sansio", "--ws-per-message-deflate", "false"]
STOCK_WS_FLAGS += ["--ws-max-size", str(64 * 1024)]


def ws_flags(server_src: str) -> list[str]:
    """The websocket flags of the Jigsaw under test: this tree's, or another checkout's."""
    if not server_src:
        return uvicorn_ws_flags()
    code = "from server.cli import uvicorn_ws_flags; print(' '.join(uvicorn_ws_flags()))"
    found = subprocess.run(  # noqa: S603 - this interpreter, fixed code
        [sys.executable, "-c", code], cwd=server_src, capture_output=True, text=True, check=True
    )
    return found.stdout.split()


async def start_server(
    app: str, env: dict[str, str], port: int, workers: int, flags: list[str], cwd: str = ""
) -> Any:
    """uvicorn serving `app` from `cwd` (`python -m` puts the working directory first on
    sys.path, ahead of PYTHONPATH: the directory decides which checkout is served)."""
    command = [sys.executable, "-m", "uvicorn", app, "--port", str(port)]
    command += ["--workers", str(workers), "--log-level", "warning", *flags]
    process = await asyncio.create_subprocess_exec(
        *command, env={**os.environ, **env}, cwd=cwd or None
    )
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        for _ in range(1200):  # two minutes: a loaded box starts slowly
            try:
                if (await http.get("/healthz")).status_code == 200:
                    await asyncio.sleep(1.0 if workers > 1 else 0.2)  # every worker up
                    return process
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    process.terminate()
    await process.wait()
    raise RuntimeError(f"{app} did not start")


async def _recv(control: Connection) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, control.recv)


@dataclass
class Setup:
    """One server under test: where it listens, its processes, who reads and who posts."""

    label: str
    base: str  # http://127.0.0.1:<port>
    pids: list[int]
    targets: list[Target]
    writer_headers: dict[str, str]
    children: list[int]
    audience: Counter[int]  # sockets per child
    trace_dir: Path | None = None  # where traced workers dump GC statistics (--gc-stats)
    database_url: str | None = None  # Jigsaw's database: its backends' CPU is counted too

    def writer_args(self, args: argparse.Namespace) -> tuple[Any, ...]:
        return (self.base, self.writer_headers, POSTS_PATH, self.children, args.rate, args.seconds)


@dataclass
class Measured:
    setup: Setup
    expected: int
    readers: list[ReaderResult]
    writer: WriterResult
    idle_kib: int
    loaded_kib: int
    server_cpu_s: float
    window_s: float
    idle_cpu: float  # the server's CPU (cores) with every socket open and no posts
    idle_db: float  # its database backends' CPU (cores) meanwhile
    gc_pauses: list[str]  # per worker, collections in the window (--gc-stats)
    load: tuple[str, str] = ("", "")  # the box's load average as the sockets opened, at the end


def _spawn(target: Any, *args: Any) -> tuple[Any, Connection]:
    ours, theirs = SPAWN.Pipe()
    process = SPAWN.Process(target=target, args=(*args, theirs), daemon=True)
    process.start()
    return process, ours


async def _open_sockets(setup: Setup, procs: int) -> list[tuple[Any, Connection]]:
    share = [setup.targets[n::procs] for n in range(procs)]
    readers = [_spawn(readers_main, part) for part in share]
    for _, control in readers:
        message = await _recv(control)
        if message[0] != "opened":
            raise RuntimeError(f"a reader process failed: {message!r}")
    return readers


async def gc_dumps(setup: Setup) -> list[dict[str, Any]]:
    """Each worker's garbage-collection statistics so far (with --gc-stats; else none)."""
    if setup.trace_dir is None:
        return []
    return [(await request_dump(pid, setup.trace_dir))[1] for pid in worker_pids(setup.pids)]


def worker_pids(pids: list[int]) -> list[int]:
    """The processes serving requests: a supervisor's spawned workers (not its resource
    tracker, which SIGUSR1 would end), or the one process."""
    spawned = [p for p in pids[1:] if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]
    return spawned or pids[:1]


def traced(spec: str, args: argparse.Namespace) -> tuple[str, dict[str, str], Path | None]:
    """The app to start, its extra environment, and where it dumps (--gc-stats)."""
    if not args.gc_stats:
        return spec, {}, None
    folder = tempfile.mkdtemp(prefix="live-bench-gc-")
    env = {"JIGSAW_TRACED_APP": spec, "JIGSAW_TRACE_DIR": folder}
    return "loadtests.traced_app:app", env, Path(folder)


def load_average() -> str:
    """The box's 1, 5 and 15 minute load averages (other work on a shared box shows here)."""
    return " ".join(f"{n:.2f}" for n in os.getloadavg())


async def measure(setup: Setup, args: argparse.Namespace) -> Measured:
    """Open every socket from the reader processes, post from the writer process, collect."""
    load_before = load_average()
    idle_kib = rss_kib(setup.pids)
    readers = await _open_sockets(setup, args.client_procs)
    await asyncio.sleep(2.0)  # let connection set-up garbage settle before reading RSS
    loaded_kib = rss_kib(setup.pids)
    # What idle sockets cost: the server's CPU with every socket open and nothing posted
    # (keepalive pings, the once-a-second session check, housekeeping).
    backends = await database_pids(setup.database_url)
    idle_cpu, idle_db = cpu_seconds(setup.pids), cpu_seconds(backends)
    await asyncio.sleep(args.idle_seconds)
    idle_cpu = (cpu_seconds(setup.pids) - idle_cpu) / args.idle_seconds
    idle_db = (cpu_seconds(backends) - idle_db) / args.idle_seconds
    gc_before = await gc_dumps(setup)
    for _, control in readers:
        control.send("go")
    cpu, began = cpu_seconds(setup.pids), time.monotonic()
    writer, writer_control = _spawn(writer_main, *setup.writer_args(args))
    written: WriterResult = (await _recv(writer_control))[1]
    await asyncio.sleep(2.0)  # the last deliveries
    server_cpu, window = cpu_seconds(setup.pids) - cpu, time.monotonic() - began
    gc_after = await gc_dumps(setup)
    pauses = [pauses_between(b, a) for b, a in zip(gc_before, gc_after, strict=True)]
    results: list[ReaderResult] = []
    for process, control in readers:
        control.send("stop")
        results.append((await _recv(control))[1])
        process.join()
    writer.join()
    expected = sum(setup.audience[child] for child in written.children)
    cpu_s = (server_cpu, window, idle_cpu, idle_db)
    load = (load_before, load_average())
    return Measured(setup, expected, results, written, idle_kib, loaded_kib, *cpu_s, pauses, load)


async def run_jigsaw(args: argparse.Namespace) -> Measured:
    url = await create_database()
    process = None
    try:
        print(f"seeding {args.sockets} readers over {args.children} children ...", flush=True)
        seeded = await seed(url, args.sockets, args.children)
        env = {
            "JIGSAW_DATABASE_URL": url,
            "JIGSAW_SECRET_KEY": "bench" * 10,
            "JIGSAW_MFA_KEYS": Fernet.generate_key().decode(),
        }
        if args.server_src:  # e.g. a checkout of main, for a before/after in one session
            env["PYTHONPATH"] = args.server_src
            print(f"serving {args.server_src} (its server/ and loadtests/)", flush=True)
        app, extra, trace_dir = traced("server.asgi:app", args)
        flags = ws_flags(args.server_src)
        process = await start_server(
            app, {**env, **extra}, args.port, args.workers, flags, args.server_src
        )
        ws = f"ws://127.0.0.1:{args.port}/ws"
        setup = Setup(
            label=f"jigsaw ({args.server_src or 'this tree'}), {args.workers} workers",
            base=f"http://127.0.0.1:{args.port}",
            pids=server_pids(process.pid),
            targets=[Target(ws, {"authorization": f"Bearer {t}"}) for t in seeded.reader_tokens],
            writer_headers={"authorization": f"Bearer {seeded.writer_token}"},
            children=seeded.children,
            audience=Counter(seeded.children[i % args.children] for i in range(args.sockets)),
            trace_dir=trace_dir,
            database_url=url,
        )
        return await measure(setup, args)
    finally:
        if process is not None:
            process.terminate()
            await process.wait()
        await drop_database(url)


async def run_bare(args: argparse.Namespace) -> Measured:
    port = args.port + 1
    app, extra, trace_dir = traced("loadtests.bare_live:app", args)
    process = await start_server(app, extra, port, 1, STOCK_WS_FLAGS)
    try:
        ws = f"ws://127.0.0.1:{port}/ws"
        setup = Setup(
            label="bare Starlette fan-out, 1 worker, uvicorn's stock ws protocol",
            base=f"http://127.0.0.1:{port}",
            pids=server_pids(process.pid),
            targets=[Target(f"{ws}?child={i % args.children}", {}) for i in range(args.sockets)],
            writer_headers={},
            children=list(range(args.children)),
            audience=Counter(i % args.children for i in range(args.sockets)),
            trace_dir=trace_dir,
        )
        return await measure(setup, args)
    finally:
        process.terminate()
        await process.wait()


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def after_answer_ms(m: Measured) -> list[float]:
    """Each delivery's arrival less the moment the writer got that post's 201: the hub's
    share of post-to-screen (wake-up, read, render, send), without the posting request."""
    answered = m.writer.answered
    return [
        (at - answered[post]) * 1000
        for r in m.readers
        for post, at in zip(r.received, r.arrived, strict=True)
        if post in answered
    ]


def report(m: Measured) -> None:
    lat = [ms for r in m.readers for ms in r.latencies_ms]
    got = sum(len(r.received) for r in m.readers)
    closed = sum(r.closed_early for r in m.readers)
    posts, post_ms = len(m.writer.children), m.writer.post_ms
    client_cpu = ", ".join(f"{100 * r.cpu_s / max(r.wall_s, 1e-9):.0f}%" for r in m.readers)
    sockets = len(m.setup.targets)
    print(f"== {m.setup.label}: {sockets} sockets, {posts} posts in {m.writer.wall_s:.1f} s")
    print(f"load average: {m.load[0]} as the sockets opened, {m.load[1]} at the end")
    print(f"deliveries: {got} of {m.expected} expected; sockets closed by the server: {closed}")
    print(
        f"post-to-screen ms: p50={pct(lat, 0.5):.1f} p95={pct(lat, 0.95):.1f} "
        f"p99={pct(lat, 0.99):.1f} max={max(lat, default=float('nan')):.1f}"
    )
    if post_ms:
        print(
            f"POST ms: p50={pct(post_ms, 0.5):.1f} p99={pct(post_ms, 0.99):.1f} "
            f"mean={statistics.fmean(post_ms):.1f}"
        )
    after = after_answer_ms(m)
    print(
        f"201-to-screen ms (delivery after the writer had its answer; may be < 0): "
        f"p50={pct(after, 0.5):.1f} p95={pct(after, 0.95):.1f} p99={pct(after, 0.99):.1f}"
    )
    per_conn = (m.loaded_kib - m.idle_kib) / max(1, sockets)
    print(
        f"server RSS: idle {m.idle_kib / 1024:.0f} MiB, with sockets {m.loaded_kib / 1024:.0f} "
        f"MiB -> {per_conn:.1f} KiB per connection"
    )
    print(
        f"server CPU with the sockets open and idle: {100 * m.idle_cpu:.1f}% of one core "
        f"({1e6 * m.idle_cpu / max(1, sockets):.1f} us per socket per second); "
        f"its database backends {100 * m.idle_db:.1f}%"
    )
    print(
        f"CPU in the window (% of one core): server {100 * m.server_cpu_s / m.window_s:.0f}%, "
        f"reader process(es) {client_cpu}, writer "
        f"{100 * m.writer.cpu_s / max(m.writer.wall_s, 1e-9):.0f}%",
        flush=True,
    )
    for n, pauses in enumerate(m.gc_pauses):
        print(f"GC in the window, worker {n + 1}: {pauses}", flush=True)


async def run(args: argparse.Namespace) -> None:
    if not args.skip_baseline:
        report(await run_bare(args))
    report(await run_jigsaw(args))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--children", type=int, default=200)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--client-procs", type=int, default=1)
    parser.add_argument("--idle-seconds", type=float, default=5.0, help="idle CPU window")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument(
        "--gc-stats", action="store_true", help="count GC pauses (loadtests/traced_app.py)"
    )
    parser.add_argument("--server-src", default="", help="run the server from this checkout")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
