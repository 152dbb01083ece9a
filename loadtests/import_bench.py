"""How fast is bulk import? 5,000 people then 50,000 children, through the same feeds
actions as `jigsaw import` (every row checked, one transaction each, grants, audit
records, events), against a bare baseline in the same run: asyncpg COPY of the same rows
into the same tables of a second fresh database (no checks, no grants, no audit).

    python -m loadtests.import_bench                          # PostgreSQL, the defaults
    python -m loadtests.import_bench --children 5000 --people 500

Then checks that the data is complete: every child has its lead's and team's grants, a
lead sees every child they lead (what search filters by), a manager's board lists every
child of their team (its first read assesses the new children), and a re-import of the
same file changes nothing. Imported children have no posts, so there is nothing to index
for search. Writes loadtests/results/import.md.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from pathlib import Path
from typing import Any

import asyncpg
from tortoise import Tortoise

from feeds.access.policy import visible_child_ids
from feeds.accounts.passwords import unusable_password_hash
from feeds.audit.records import AuditContext
from feeds.clock import utcnow
from feeds.csv_import import Report
from feeds.db import migrate_database, tortoise_config
from feeds.models import Agency, Child, Grant, Professional, Role, Sector, Team
from feeds.organisation.importing import do_import_people
from feeds.records.importing import do_import_children
from feeds.velocity.board import build_board
from loadtests.pgdb import create_database, drop_database

RESULTS = Path(__file__).parent / "results" / "import.md"
CTX = AuditContext(ip="", request_id="bench")
REASON = "Benchmark: moving a local authority's caseload over"
AGENCIES = ["Northgate Council", "Northgate Health", "Northgate Schools", "Northgate Police"]
TEAMS = 20
PEOPLE_COLUMNS = ["email", "name", "handle", "job_title", "agency_id", "role", "password_hash"]
PEOPLE_COLUMNS += ["is_active", "failed_logins", "created_at"]
CHILD_COLUMNS = ["display_name", "reference", "date_of_birth", "lead_professional_id"]
CHILD_COLUMNS += ["created_at", "school", "area"]
FIRST = ["Leah", "Tom", "Ava", "Noah", "Isla", "Max", "Ruby", "Kai", "Mia", "Sam"]
LAST = ["Marsh", "Reid", "Patel", "Khan", "Brown", "Cole", "Lee", "Nowak", "Okafor", "Shaw"]


def people_csv(n: int, rng: random.Random) -> bytes:
    lines = ["email,name,agency,role,job_title,teams,manages"]
    for i in range(n):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        team = f"Team {i % TEAMS + 1}"
        manager = i < TEAMS  # one manager per team
        role, title = ("manager", "Team manager") if manager else ("practitioner", "Caseworker")
        agency = AGENCIES[i % len(AGENCIES)]
        teams, manages = ("", team) if manager else (team, "")
        lines.append(f"p{i}@bench.test,{name},{agency},{role},{title},{teams},{manages}")
    return ("\n".join(lines) + "\n").encode()


def children_csv(n: int, people: int, rng: random.Random) -> bytes:
    lines = ["reference,display_name,date_of_birth,lead_email,school,area,team"]
    for i in range(n):
        lead = TEAMS + i % (people - TEAMS)  # practitioners only
        born = f"{rng.randint(2006, 2023)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        team = f"Team {i % TEAMS + 1}"
        lines.append(f"BN-{i:06d},{name},{born},p{lead}@bench.test,School {i % 300},North,{team}")
    return ("\n".join(lines) + "\n").encode()


async def _organisation() -> Professional:
    agencies = [await Agency.create(name=name, sector=Sector.SOCIAL_CARE) for name in AGENCIES]
    for t in range(TEAMS):
        await Team.create(name=f"Team {t + 1}", agency=agencies[t % len(agencies)])
    return await Professional.create(
        email="admin@bench.test",
        name="Bench Admin",
        handle="bench.admin",
        agency=agencies[0],
        role=Role.ADMIN,
        password_hash=unusable_password_hash(),
    )


async def _timed(work: Any) -> tuple[float, Report]:
    start = time.perf_counter()
    report = await work
    return time.perf_counter() - start, report


async def _checks(children: int) -> dict[str, Any]:
    grants = await Grant.all().count()
    lead = await Professional.get(email=f"p{TEAMS}@bench.test")
    led = set(await Child.filter(lead_professional_id=lead.id).values_list("id", flat=True))
    visible = await visible_child_ids(lead)
    manager = await Professional.get(email="p0@bench.test")
    start = time.perf_counter()
    board = await build_board(await visible_child_ids(manager), utcnow())
    board_s = time.perf_counter() - start
    return {
        "children": await Child.all().count(),
        "grants": grants,
        "lead_sees_own": bool(led) and led <= visible,
        "board_rows": len(board.rows),
        "board_expected": children // TEAMS,
        "first_board_s": board_s,
    }


async def measured(url: str, people: bytes, children: bytes, n: int) -> dict[str, Any]:
    await migrate_database(url)
    await Tortoise.init(config=tortoise_config(url))
    try:
        admin = await _organisation()
        people_s, people_report = await _timed(do_import_people(admin, people, REASON, CTX))
        kids_s, kids_report = await _timed(do_import_children(admin, children, REASON, CTX))
        again_s, again = await _timed(do_import_children(admin, children, REASON, CTX))
        return {
            "people_s": people_s,
            "people": people_report.counts,
            "children_s": kids_s,
            "children_counts": kids_report.counts,
            "again_s": again_s,
            "again": again.counts,
            **await _checks(n),
        }
    finally:
        await Tortoise.close_connections()


async def baseline(url: str, people: int, children: int) -> float:
    """COPY the same number of people and children rows into a migrated database."""
    await migrate_database(url)
    conn = await asyncpg.connect(url)
    try:
        agency = await conn.fetchval(
            "INSERT INTO agency (name, sector) VALUES ('A', 'social_care') RETURNING id"
        )
        now = utcnow()
        start = time.perf_counter()
        await conn.copy_records_to_table(
            "professional",
            columns=PEOPLE_COLUMNS,
            records=[
                (f"p{i}@b.test", "N", f"h{i}", "", agency, "practitioner", "!", True, 0, now)
                for i in range(people)
            ],
        )
        lead = await conn.fetchval("SELECT min(id) FROM professional")
        await conn.copy_records_to_table(
            "child",
            columns=CHILD_COLUMNS,
            records=[
                ("N", f"BN-{i:06d}", now.date(), lead + i % people, now, "S", "A")
                for i in range(children)
            ],
        )
        return time.perf_counter() - start
    finally:
        await conn.close()


def report_text(result: dict[str, Any], bare: float, people: int, children: int) -> str:
    total = result["people_s"] + result["children_s"]
    rows = people + children
    return "\n".join(
        [
            "# Bulk import benchmark (`python -m loadtests.import_bench`)",
            "",
            f"PostgreSQL, {people:,} people then {children:,} children, each one "
            "`do_import_*` call (every row checked, one transaction, grants, audit, events).",
            "",
            "| step | seconds | rows/s |",
            "| --- | ---: | ---: |",
            f"| people import | {result['people_s']:.2f} | {people / result['people_s']:,.0f} |",
            f"| children import | {result['children_s']:.2f} | "
            f"{children / result['children_s']:,.0f} |",
            f"| **both** | **{total:.2f}** | {rows / total:,.0f} |",
            f"| children re-import (all unchanged) | {result['again_s']:.2f} | "
            f"{children / result['again_s']:,.0f} |",
            f"| bare baseline: asyncpg COPY of the same rows | {bare:.2f} | {rows / bare:,.0f} |",
            "",
            f"Import / baseline: {total / bare:.1f}x. People: {result['people']}. "
            f"Children: {result['children_counts']}. Re-import: {result['again']}.",
            "",
            f"Complete afterwards: {result['children']:,} children, {result['grants']:,} grants "
            f"(lead + team each); a lead sees every child they lead (what search filters by): "
            f"{result['lead_sees_own']}; a manager's board lists {result['board_rows']:,} of "
            f"the {result['board_expected']:,} children of their team (its first read, which "
            f"assesses the new children, took {result['first_board_s']:.2f} s).",
            "",
        ]
    )


async def main(people: int, children: int) -> str:
    rng = random.Random(21)
    people_data, children_data = people_csv(people, rng), children_csv(children, people, rng)
    url, bare_url = await create_database("jigsaw_import"), await create_database("jigsaw_bare")
    try:
        result = await measured(url, people_data, children_data, children)
        bare = await baseline(bare_url, people, children)
    finally:
        await drop_database(url)
        await drop_database(bare_url)
    return report_text(result, bare, people, children)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=5_000)
    parser.add_argument("--children", type=int, default=50_000)
    parser.add_argument("--no-write", action="store_true", help="Print only.")
    args = parser.parse_args()
    text = asyncio.run(main(args.people, args.children))
    print(text)
    if not args.no_write:
        RESULTS.write_text(text)
