"""How fast is a 2,000-entry chronology export? Seeds one child with N entries (default
2,000: posts from several agencies, a fifth marked significant with action and outcome,
plus grants, a request, break-glass and flags), then times, best of `--runs`:

- gather: reading every source and merging (what every export and the page do);
- CSV and PDF: `feeds.chronology.reading.do_export` end to end (access check, gather,
  render, SHA-256, audit record), as the routes call it;
- bare baselines in the same run: the same rows written with the csv module alone, and an
  empty one-page PDF from the same library (the floor of any export).

    python -m loadtests.chronology_bench                 # SQLite in a temp file
    python -m loadtests.chronology_bench --postgres      # a throwaway PostgreSQL database
                                                         # beside JIGSAW_BENCH_DATABASE_URL

Output: printed, and appended to loadtests/results/chronology.md with --write.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import functools
import io
import os
import platform
import random
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from reportlab.pdfgen.canvas import Canvas
from tortoise import Tortoise

from feeds.audit import records as audit
from feeds.audit.actions import AuditAction
from feeds.audit.records import SYSTEM
from feeds.chronology.filters import Filters
from feeds.chronology.models import Significance
from feeds.chronology.reading import Format, do_export, gather
from feeds.clock import utcnow
from feeds.db import migrate_database, tortoise_config
from feeds.models import Agency, BreakGlass, Child, Grant, Post, PostKind, Professional, Sector
from loadtests import pgdb

RESULTS = Path(__file__).resolve().parent / "results" / "chronology.md"
UNUSABLE = "!bench"
SENTENCES = (
    "Seen at school, quiet in class and hungry at break.",
    "Home visit: mum tired, flat cold, heating still broken.",
    "Missed the dentist again; third missed appointment this term.",
    "Dad's car outside the house at 9pm though he is not meant to be there.",
    "Told his teacher that he is scared of the shouting at home.",
)


async def seed(entries: int, rng: random.Random) -> tuple[Professional, Child]:
    agencies = [
        await Agency.create(name=f"Bench agency {n}", sector=list(Sector)[n % len(Sector)])
        for n in range(5)
    ]
    people = [
        await Professional.create(
            email=f"bench{n}@example.test",
            name=f"Bench Person {n}",
            handle=f"bench{n}",
            agency=agencies[n % 5],
            password_hash=UNUSABLE,
        )
        for n in range(10)
    ]
    lead = people[0]
    child = await Child.create(
        display_name="Bench Child", reference="BENCH-1", lead_professional=lead
    )
    for person in people:
        await Grant.create(child=child, professional=person, granted_by=lead)
    systems = 40  # grants above, and the break-glass and flags below
    start = utcnow() - timedelta(days=365)
    posts = [
        Post(
            child=child,
            author=people[n % len(people)],
            kind=rng.choice(list(PostKind)),
            body=" ".join(rng.sample(SENTENCES, 3)),
            created_at=start + timedelta(hours=4 * n),
        )
        for n in range(entries - systems)
    ]
    await Post.bulk_create(posts, batch_size=500)
    ids = await Post.filter(child_id=child.id).values_list("id", flat=True)
    await Significance.bulk_create(
        [
            Significance(
                post_id=post_id,
                child_id=child.id,
                action_taken="Strategy discussion; referral to early help",
                outcome="Attending school every day since",
                changed_at=utcnow(),
                changed_by_id=lead.id,
            )
            for post_id in ids[::5]
        ]
    )
    for n in range(systems - len(people)):
        at = start + timedelta(days=9 * n)
        if n % 2:
            await BreakGlass.create(
                child=child, professional=people[n % 10], reason="out of hours call",
                started_at=at, expires_at=at + timedelta(hours=4),
            )  # fmt: skip
        else:
            flag = {"flagged": n % 4 == 0, "score": 2.5}
            await audit.record(AuditAction.VELOCITY_CHANGED, SYSTEM, child_id=child.id, detail=flag)
    return lead, child


async def best(runs: int, work: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    """(wall, CPU) seconds, best of `runs`: CPU time (this process, every thread) is what
    the export costs; wall time also shows how busy the shared box was."""
    walls, cpus = [], []
    for _ in range(runs):
        began, began_cpu = time.perf_counter(), time.process_time()
        await work()
        walls.append(time.perf_counter() - began)
        cpus.append(time.process_time() - began_cpu)
    return min(walls), min(cpus)


def bare_csv(rows: list[tuple[str, ...]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerows(rows)
    return out.getvalue().encode()


def empty_pdf() -> bytes:
    out = io.BytesIO()
    canvas = Canvas(out)
    canvas.showPage()
    canvas.save()
    return out.getvalue()


async def measure(entries: int, runs: int) -> dict[str, Any]:
    lead, child = await seed(entries, random.Random(17))
    found = await gather([child.id], Filters(), utcnow())
    rows: list[tuple[str, ...]] = [
        (e.at.isoformat(), e.person, e.agency, e.event, e.action_taken, e.outcome) for e in found
    ]
    results: dict[str, Any] = {"entries": len(found)}
    results["gather"] = await best(runs, lambda: gather([child.id], Filters(), utcnow()))
    for kind in Format:
        export = functools.partial(do_export, lead, child.id, Filters(), kind, SYSTEM)
        results[kind.value] = await best(runs, export)
    results["bare_csv"] = await best(runs, lambda: asyncio.to_thread(bare_csv, rows))
    results["bare_pdf"] = await best(runs, lambda: asyncio.to_thread(empty_pdf))
    pdf = await do_export(lead, child.id, Filters(), Format.PDF, SYSTEM)
    results["pdf_bytes"] = len(pdf.content)
    return results


def report(results: dict[str, Any], backend: str, runs: int) -> str:
    ms = {
        k: f"{v[0] * 1000:.0f} ms ({v[1] * 1000:.0f} ms CPU)"
        for k, v in results.items()
        if isinstance(v, tuple)
    }
    return "\n".join(
        [
            f"# Chronology export, {results['entries']:,} entries ({backend})",
            "",
            f"`python -m loadtests.chronology_bench` on {platform.python_implementation()} "
            f"{platform.python_version()}, best of {runs}; a shared 2-core box.",
            "",
            "| step | wall time (CPU time) | bare baseline, same run |",
            "| --- | ---: | ---: |",
            f"| gather every source and merge | {ms['gather']} | |",
            f"| CSV export (access, gather, render, SHA-256, audit) | {ms['csv']} | "
            f"{ms['bare_csv']} (csv module, same rows) |",
            f"| PDF export (access, gather, render, SHA-256, audit) | {ms['pdf']} | "
            f"{ms['bare_pdf']} (an empty PDF) |",
            "",
            f"The PDF: {results['pdf_bytes']:,} bytes. Target: under 2 s for 2,000 entries. "
            f"Load average when done: {os.getloadavg()[0]:.1f}.",
            "",
        ]
    )


async def run(url: str, entries: int, runs: int) -> dict[str, Any]:
    await migrate_database(url)
    await Tortoise.init(config=tortoise_config(url))
    try:
        return await measure(entries, runs)
    finally:
        await Tortoise.close_connections()


async def main(postgres: bool, entries: int, runs: int, write: bool) -> None:
    """SQLite in a temp file, or a throwaway PostgreSQL database (loadtests/pgdb.py)."""
    if postgres:
        url = await pgdb.create_database("jigsaw_chronology_bench")
        try:
            results = await run(url, entries, runs)
        finally:
            await pgdb.drop_database(url)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            results = await run(f"sqlite://{tmp}/bench.sqlite3", entries, runs)
    text = report(results, "PostgreSQL" if postgres else "SQLite", runs)
    print(text)
    if write:
        with RESULTS.open("a") as out:
            out.write(text + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", action="store_true", help="a throwaway database")
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--write", action="store_true", help=f"write {RESULTS.name}")
    args = parser.parse_args()
    asyncio.run(main(args.postgres, args.entries, args.runs, args.write))
