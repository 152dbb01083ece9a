"""What does the import page add to a bulk import? The same 50,000-children file, after the
same 5,000 people, (a) through the feeds actions as `jigsaw import` calls them (the
baseline) and (b) uploaded to the page (multipart, 20 MiB limit, CSRF, preview then
confirm with the file uploaded again, progress streamed), each into its own fresh
PostgreSQL database, in the same run, through the app in-process (httpx ASGITransport).

    python -m loadtests.import_page_bench            # 5,000 people, 50,000 children
    python -m loadtests.import_page_bench --children 5000 --people 500 --no-write

The process's CPU seconds are reported next to the wall-clock ones: the app and the
client share this process, so CPU is what both spent; the rest is the database's time.
Writes loadtests/results/import_page.md.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import random
import re
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from feeds.accounts.passwords import hash_password
from feeds.db import migrate_database
from feeds.models import Child, Professional
from feeds.organisation.importing import do_import_people
from feeds.records.importing import do_import_children
from loadtests.app_env import app_env
from loadtests.import_bench import CTX, REASON, _organisation, children_csv, people_csv
from loadtests.pgdb import create_database, drop_database
from server.app import create_app
from server.settings import load_settings

RESULTS = Path(__file__).parent / "results" / "import_page.md"
PASSWORD = "bench password 0123456789"  # noqa: S105 - a throwaway database
ORIGIN = {"origin": "http://127.0.0.1"}
Step = Callable[[], Awaitable[Any]]


def hidden(page: str, name: str) -> str:
    found = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', page)
    assert found, f"no {name} in the page"
    return html.unescape(found.group(1))


async def timed(step: Step) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = await step()
    return time.perf_counter() - wall, time.process_time() - cpu, result


async def with_app(url: str, work: Callable[[httpx.AsyncClient], Awaitable[Any]]) -> Any:
    env = app_env(url, JIGSAW_DATA_DIR=tempfile.mkdtemp(prefix="jigsaw-bench-"))
    await migrate_database(url)
    app = create_app(load_settings(env))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1", timeout=600
        ) as client:
            return await work(client)


async def _admin(people: bytes) -> Professional:
    admin = await _organisation()
    await Professional.filter(id=admin.id).update(password_hash=hash_password(PASSWORD))
    await do_import_people(admin, people, REASON, CTX)
    return admin


async def direct(people: bytes, children: bytes) -> dict[str, Any]:
    """The baseline: the feeds actions, as `jigsaw import [--dry-run]` calls them."""
    admin = await _admin(people)
    dry = await timed(lambda: do_import_children(admin, children, REASON, CTX, dry_run=True))
    done = await timed(lambda: do_import_children(admin, children, REASON, CTX))
    return {"dry": dry[:2], "import": done[:2], "children": await Child.all().count()}


async def _login(client: httpx.AsyncClient, email: str) -> None:
    page = await client.get("/login")
    data = {"csrftoken": hidden(page.text, "csrftoken"), "email": email, "password": PASSWORD}
    answer = await client.post("/login", data=data, headers=ORIGIN)
    assert answer.status_code == 303, answer.text


async def _upload(client: httpx.AsyncClient, action: str, data: bytes, **fields: str) -> str:
    token = hidden((await client.get("/admin/import")).text, "csrftoken")
    answer = await client.post(
        action,
        data={"csrftoken": token, **fields},
        files={"file": ("children.csv", data, "text/csv")},
        headers=ORIGIN,
    )
    assert answer.status_code == 200, answer.text[-2000:]
    return answer.text


async def through_page(client: httpx.AsyncClient, people: bytes, children: bytes) -> Any:
    admin = await _admin(people)
    await _login(client, admin.email)
    preview = "/admin/import/preview"
    dry = await timed(lambda: _upload(client, preview, children, kind="children", reason=REASON))
    fields = {name: hidden(dry[2], name) for name in ("kind", "previewed")}
    done = await timed(lambda: _upload(client, "/admin/import", children, **fields))
    assert "Imported: children" in done[2], done[2][-2000:]
    steps = done[2].count("<li><progress")
    return {"dry": dry[:2], "import": done[:2], "children": await Child.all().count()} | {
        "progress_lines": dry[2].count("<li><progress") + steps
    }


def row(name: str, base: tuple[float, float], page: tuple[float, float]) -> str:
    return (
        f"| {name} | {base[0]:.2f} ({base[1]:.2f} CPU) | {page[0]:.2f} ({page[1]:.2f} CPU) "
        f"| {page[0] / base[0]:.2f}x |"
    )


def report_text(base: dict[str, Any], page: dict[str, Any], size: int, n: int) -> str:
    return "\n".join(
        [
            "# Import page benchmark (`python -m loadtests.import_page_bench`)",
            "",
            f"PostgreSQL; {n:,} children ({size / 1024 / 1024:.1f} MiB of CSV) after the same "
            "people, each path into its own fresh database, in the same run. Seconds wall "
            "clock (CPU seconds of this process, which runs both the app and the client).",
            "",
            "| step | baseline: the feeds action (`jigsaw import`) | the page (upload) "
            "| page / baseline |",
            "| --- | ---: | ---: | ---: |",
            row("preview (dry run)", base["dry"], page["dry"]),
            row("import (confirmed)", base["import"], page["import"]),
            "",
            f"Children afterwards: {base['children']:,} (baseline), {page['children']:,} "
            f"(page). Progress lines streamed by the page: {page['progress_lines']}.",
            "",
        ]
    )


async def main(people: int, children: int) -> str:
    rng = random.Random(21)
    people_data, children_data = people_csv(people, rng), children_csv(children, people, rng)
    base_url, page_url = (
        await create_database("jigsaw_imp_a"),
        await create_database("jigsaw_imp_b"),
    )
    try:
        base = await with_app(base_url, lambda _: direct(people_data, children_data))
        page = await with_app(page_url, lambda c: through_page(c, people_data, children_data))
    finally:
        await drop_database(base_url)
        await drop_database(page_url)
    return report_text(base, page, len(children_data), children)


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
