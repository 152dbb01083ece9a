"""One command for the load test: fresh PostgreSQL database, seed, Jigsaw with N workers,
locust headless, then the bare baseline the same way; writes a markdown + JSON report.

    python -m loadtests.run --profile smoke      # < 1 minute, what CI runs
    python -m loadtests.run --profile full       # 20k children, 2k people, 1M posts
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil  # type: ignore[import-untyped]
from tortoise import Tortoise

from feeds.audit.chain import seal_pending
from feeds.db import migrate_database, tortoise_config
from feeds.velocity.verdicts import VelocityWatcher
from loadtests.app_env import app_env
from loadtests.pgdb import create_database, drop_database
from loadtests.seed import seed
from search.outbox import catch_up as search_catch_up
from search.service import make_index

RESULTS = Path(__file__).parent / "results"


@dataclass(frozen=True)
class Profile:
    children: int
    professionals: int
    posts: int
    users: int
    seconds: int
    workers: int = 2
    think: float = 1.0  # 0 = no think time: measures capacity, so ratios mean something
    day_seconds: int = 0  # then a working-day run of Jigsaw: every user, 0.5-2 s think time
    # An untimed capacity run of Jigsaw first: on the full seed the first minute of posting
    # at capacity runs slower for whichever target comes first (same code measured first and
    # last: 476 against 715 feed req/s), so the measured runs start from the same state.
    warm_up: bool = False
    # The working day's statistics from when every user has signed in (loadtests/locustfile.py).
    day_after_sign_in: bool = False


PROFILES = {
    "smoke": Profile(
        children=500, professionals=60, posts=5_000, users=10, seconds=15, day_seconds=10
    ),
    # The capacity ratio alone, in a few minutes (for before/after runs on a shared box):
    # the seed of loadtests/cpu_ratio.py, no think time, no working-day part.
    "capacity": Profile(
        children=2_000, professionals=200, posts=100_000, users=50, seconds=40, think=0.0
    ),
    "full": Profile(
        children=20_000,
        professionals=2_000,
        posts=1_000_000,
        users=50,
        seconds=60,
        think=0.0,
        day_seconds=60,
        warm_up=True,
        day_after_sign_in=True,
    ),
}


HERE = Path(__file__).resolve().parent.parent  # this checkout


def start_server(
    app: str, url: str, port: int, workers: int, source: Path = HERE
) -> subprocess.Popen[bytes]:
    """Serve `app` from the checkout `source` (another one: a before/after comparison)."""
    env = app_env(url, PYTHONPATH=str(source))
    process = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
        [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--ws-per-message-deflate",
            "false",
        ],
        env=env,
        cwd=source,
    )
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/children/1/posts").status_code < 500:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{app} did not start")


def run_locust(
    target: str, port: int, profile: Profile, prefix: Path, mix: str = "capacity"
) -> dict[str, Any]:
    env = {
        **os.environ,
        "LOAD_TARGET": target,
        "LOAD_CHILDREN": str(profile.children),
        "LOAD_PROFESSIONALS": str(profile.professionals),
        "LOAD_THINK": str(profile.think if mix == "capacity" else 1.0),
        "LOAD_MIX": mix,
        "LOAD_DAY_AFTER_SIGN_IN": "1" if profile.day_after_sign_in else "0",
    }
    seconds = profile.seconds if mix == "capacity" else profile.day_seconds
    server = psutil.Process(SERVER_PID[0])
    watched = [server, *server.children(recursive=True)]
    for proc in watched:
        proc.cpu_percent(None)
    # The load generator shares the 2 cores: its own CPU (as a waited-for child) is reported
    # so a reader can judge how much of the box the server had.
    started, used_before = time.monotonic(), _children_cpu_seconds()
    database_before = _database_cpu_seconds()
    subprocess.run(  # noqa: S603 - our interpreter, fixed arguments
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            "loadtests/locustfile.py",
            "--headless",
            "-u",
            str(profile.users),
            "-r",
            str(max(1, profile.users // 5)),
            "-t",
            f"{seconds}s",
            "--host",
            f"http://127.0.0.1:{port}",
            "--csv",
            str(prefix),
            "--only-summary",
            "--loglevel",
            "WARNING",
        ],
        env=env,
        check=False,
        cwd=Path(__file__).parent.parent,
    )
    cpu = sum(p.cpu_percent(None) for p in watched)
    rss = sum(p.memory_info().rss for p in watched) / 2**20
    elapsed = time.monotonic() - started
    locust_cpu = (_children_cpu_seconds() - used_before) / elapsed * 100
    database_cpu = (_database_cpu_seconds() - database_before) / elapsed * 100
    return {
        "endpoints": read_stats(prefix),
        "server_cpu_percent": cpu,
        "server_rss_mib": rss,
        "load_generator_cpu_percent": round(locust_cpu, 1),
        "database_cpu_percent": round(database_cpu, 1),
    }


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _database_cpu_seconds() -> float:
    """CPU time of every PostgreSQL process on this machine (backends, WAL writer,
    checkpointer): the third user of the box beside the server and the load generator.
    Backends that exit during the run take their time with them, so this is a floor."""
    total = 0.0
    for proc in psutil.process_iter(["name", "cpu_times"]):
        times = proc.info["cpu_times"]
        if proc.info["name"] and proc.info["name"].startswith("postgres") and times:
            total += times.user + times.system
    return total


SERVER_PID = [0]


def read_stats(prefix: Path) -> dict[str, dict[str, float]]:
    rows: dict[str, dict[str, float]] = {}
    with open(f"{prefix}_stats.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["Name"] == "Aggregated" or row["Request Count"] == "0":
                continue  # a row emptied by the day's reset after sign-in has no times
            rows[f"{row['Type']} {row['Name']}"] = {
                "requests": float(row["Request Count"]),
                "failures": float(row["Failure Count"]),
                "rps": float(row["Requests/s"]),
                "p50": float(row["50%"]),
                "p95": float(row["95%"]),
                "p99": float(row["99%"]),
            }
    return rows


async def settle(url: str) -> None:
    """Before each measured run, leave the database as a running deployment keeps it, so
    that no run pays for what came before it: every child's verdicts swept within the
    sweep interval (else a 60 s window carries a whole 10-minute sweep of every child, for
    whichever Jigsaw runs first), every audit row sealed and every changed post indexed
    (the bare app writes both as Jigsaw does but never seals or indexes: the next Jigsaw
    run's sealer and drainer did the bare run's work in their own window), dead rows
    vacuumed, hint bits set and dirty pages checkpointed (else the first run writes what
    seeding left)."""
    await Tortoise.init(config=tortoise_config(url))
    try:
        await VelocityWatcher().sweep()
        await seal_pending()
        await search_catch_up(make_index(url))
    finally:
        await Tortoise.close_connections()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("VACUUM ANALYZE")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


def measure(
    app: str,
    target: str,
    url: str,
    profile: Profile,
    port: int,
    tag: str,
    mix: str = "capacity",
    source: Path = HERE,
) -> dict[str, Any]:
    asyncio.run(settle(url))
    process = start_server(app, url, port, profile.workers, source)
    SERVER_PID[0] = process.pid
    try:
        prefix = RESULTS / f"locust_{tag}_{target}_{mix}"
        load_before = os.getloadavg()[0]  # the box is shared: say how busy it was
        found = run_locust(target, port, profile, prefix, mix)
        found["load_average"] = (load_before, os.getloadavg()[0])
        return found
    finally:
        process.terminate()
        process.wait()


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One target's capacity runs as one: the middle run by feed throughput, with every
    endpoint's req/s the median over the runs and each run's feed and post req/s listed."""
    if len(runs) == 1:
        return runs[0]
    middle = sorted(runs, key=lambda r: _rps(r, "GET feed"))[len(runs) // 2]
    endpoints = {
        name: {**stats, "rps": statistics.median(_rps(r, name) for r in runs)}
        for name, stats in middle["endpoints"].items()
    }
    each = [(_rps(r, "GET feed"), _rps(r, "POST post")) for r in runs]
    return {**middle, "endpoints": endpoints, "rounds": each}


def _rps(run: dict[str, Any], endpoint: str) -> float:
    found = run["endpoints"].get(endpoint)
    return float(found["rps"]) if found else 0.0


def ratio(jigsaw: dict[str, Any], bare: dict[str, Any], j_name: str, b_name: str) -> float:
    j, b = jigsaw["endpoints"].get(j_name), bare["endpoints"].get(b_name)
    return round(j["rps"] / b["rps"], 2) if j and b and b["rps"] else float("nan")


def before_lines(
    before: tuple[str, dict[str, Any], dict[str, Any] | None], report: dict[str, Any]
) -> list[str]:
    cpu, rss = before[1]["server_cpu_percent"], before[1]["server_rss_mib"]
    return [
        f"Before ({before[0]}) / bare, same run: {report['before_ratios']}",
        f"Server CPU% before {cpu:.0f}, RSS MiB before {rss:.0f}",
    ]


def write_report(
    tag: str,
    profile: Profile,
    jigsaw: dict[str, Any],
    bare: dict[str, Any],
    day: dict[str, Any] | None = None,
    before: tuple[str, dict[str, Any], dict[str, Any] | None] | None = None,
    warm: dict[str, Any] | None = None,
) -> Path:
    report: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(),
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "profile": profile.__dict__,
        "jigsaw": jigsaw,
        "bare": bare,
        "day": day,
        "warm_up": warm,
        "ratios": {
            "post_vs_bare_post": ratio(jigsaw, bare, "POST post", "POST post"),
            "feed_vs_bare_feed": ratio(jigsaw, bare, "GET feed", "GET feed"),
        },
    }
    if before:
        report["before"] = {"source": before[0], "jigsaw": before[1], "day": before[2]}
        report["before_ratios"] = {
            "post_vs_bare_post": ratio(before[1], bare, "POST post", "POST post"),
            "feed_vs_bare_feed": ratio(before[1], bare, "GET feed", "GET feed"),
        }
    (RESULTS / f"load_{tag}.json").write_text(json.dumps(report, indent=2))
    lines = [
        f"# Load test `{tag}` — {report['date'][:10]}, {report['cpus']} CPUs",
        "",
        f"Profile: {profile}",
        "",
        "| target | endpoint | requests | failures | req/s | p50 ms | p95 ms | p99 ms |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    runs = [("jigsaw warm-up (not compared)", warm)] if warm else []
    runs += [("jigsaw", jigsaw), ("bare", bare)] + ([("jigsaw day", day)] if day else [])
    if before:
        runs += [("before", before[1])] + ([("before day", before[2])] if before[2] else [])
    for name, result in runs:
        for endpoint, s in sorted(result["endpoints"].items()):
            lines.append(
                f"| {name} | {endpoint} | {s['requests']:.0f} | {s['failures']:.0f} | "
                f"{s['rps']:.1f} | {s['p50']:.0f} | {s['p95']:.0f} | {s['p99']:.0f} |"
            )
    lines += ["", "Load average (1 min) before and after each run, and the server's CPU:"]
    for name, result in runs:
        low, high = result.get("load_average", (0.0, 0.0))
        cpu = result.get("server_cpu_percent", 0.0)
        lines.append(f"- {name}: load {low:.1f} -> {high:.1f}, server CPU {cpu:.0f}%")
    for name, result in runs:
        if "rounds" in result:
            each = ", ".join(f"{feed:.0f}/{post:.0f}" for feed, post in result["rounds"])
            lines.append(f"- {name}: feed/post req/s per round {each} (the table: medians)")
    lines += [
        "",
        f"Ratios (Jigsaw / bare, same run): {report['ratios']}",
        "",
        "| run | server CPU % (all workers) | database CPU % | load generator CPU % "
        "| server RSS MiB |",
        "| --- | ---: | ---: | ---: | ---: |",
        *(
            f"| {name} | {r['server_cpu_percent']:.0f} | "
            f"{r.get('database_cpu_percent', float('nan')):.0f} | "
            f"{r.get('load_generator_cpu_percent', float('nan')):.0f} | {r['server_rss_mib']:.0f} |"
            for name, r in runs
        ),
        *(before_lines(before, report) if before else []),
        "",
        "`jigsaw` and `bare`: capacity runs (no think time) of the same requests: practitioners",
        "reading feeds and posting, signed in by seeded tokens; the bare app sends the same",
        "statements and answers with the same JSON (tests/loadtests/test_bare_app.py); before",
        "each run the audit rows are sealed, the posts indexed and every child's verdicts swept",
        "(tests/loadtests/test_settle.py). `jigsaw day`: every user class",
        "(practitioners with caseloads and search, managers on 2,000-child boards, followers",
        "on websockets) with 0.5-2 s think time.",
    ]
    if day and profile.day_after_sign_in:
        lines += [
            "The day's numbers start once every user has signed in (their argon2 logins,",
            "all in the first seconds, are the runner's output line `signed in: ...`).",
        ]
    path = RESULTS / f"load_{tag}.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="smoke")
    parser.add_argument("--port", type=int, default=8811)
    parser.add_argument(
        "--before",
        type=Path,
        help="also measure Jigsaw from this checkout (e.g. main) in the same run, same data",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="capacity runs per target, alternated; the report compares their medians",
    )
    args = parser.parse_args()
    profile = PROFILES[args.profile]
    RESULTS.mkdir(exist_ok=True)
    url = asyncio.run(create_database("jigsaw_load"))
    try:
        print(f"migrating and seeding {profile} ...", flush=True)
        asyncio.run(migrate_database(url))
        asyncio.run(seed(url, profile.children, profile.professionals, profile.posts))
        app, bare_app, tag = "server.asgi:app", "loadtests.bare_app:app", args.profile
        warm = None
        if profile.warm_up:
            warm = measure(app, "jigsaw", url, profile, args.port, f"{tag}_warm_up")
        old_tag = f"{tag}_before"
        source = args.before.resolve() if args.before else None
        rounds: dict[str, list[dict[str, Any]]] = {"jigsaw": [], "bare": [], "before": []}
        for _ in range(args.rounds):  # alternated: drift on a shared box hits each alike
            rounds["jigsaw"].append(measure(app, "jigsaw", url, profile, args.port, tag))
            rounds["bare"].append(measure(bare_app, "bare", url, profile, args.port + 1, tag))
            if source:
                old = measure(app, "jigsaw", url, profile, args.port + 2, old_tag, source=source)
                rounds["before"].append(old)
        jigsaw, bare = median_run(rounds["jigsaw"]), median_run(rounds["bare"])
        day = None
        if profile.day_seconds:
            day = measure(app, "jigsaw", url, profile, args.port, tag, "day")
        before = None
        if source:
            old_day = None
            if profile.day_seconds:
                old_day = measure(
                    app, "jigsaw", url, profile, args.port + 2, old_tag, "day", source
                )
            before = (str(source), median_run(rounds["before"]), old_day)
        path = write_report(args.profile, profile, jigsaw, bare, day, before, warm)
        print(path.read_text())
        measured = [*rounds["jigsaw"], *rounds["bare"], *rounds["before"]]
        runs = [r for r in (warm, day, *measured, *(before[2:] if before else ())) if r]
        failures = sum(s["failures"] for r in runs for s in r["endpoints"].values())
        return 1 if failures else 0
    finally:
        asyncio.run(drop_database(url))


if __name__ == "__main__":
    sys.exit(main())
