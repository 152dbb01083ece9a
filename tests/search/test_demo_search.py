"""Issue 15: after `make demo`, search found none of the seeded posts (the bulk insert
skipped the search outbox). The demo must be fully searchable the moment the command
prints its URL or its logins, with no app running yet to drain anything.

The commands run in real processes, as users run them (see tests/server/test_cli.py for
why): on a temporary SQLite file, or on a fresh PostgreSQL database on that backend.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import db_backends

PROBE = """
import asyncio, json, re
import httpx
from tortoise import Tortoise
from feeds.db import tortoise_config
from feeds.models import Post, Professional
from feeds.feed.reading import caseload
from search.outbox import pending
from server.app import create_app
from server.routes.search import index_from_env
from server.settings import load_settings

PRACTITIONER = "practitioner@demo.jigsaw.test"

async def index_state(settings):
    # Before any app (and so any background drainer) runs.
    await Tortoise.init(config=tortoise_config(settings.database_url))
    try:
        indexed = await index_from_env(settings).indexed_ids()
        live = set(await Post.filter(removed_at__isnull=True).values_list("id", flat=True))
        return {"indexed": len(indexed), "live": len(live), "same": indexed == live,
                "pending": await pending()}
    finally:
        await Tortoise.close_connections()

async def search_for_oldest_post(client):
    user = await Professional.get(email=PRACTITIONER)
    child = (await caseload(user))[0]
    post = await Post.filter(child_id=child.id).order_by("id").first()
    words = re.findall(r"[A-Za-z]{4,}", post.body)[:3]
    login = {"email": PRACTITIONER, "password": "jigsaw-demo"}
    assert (await client.post("/api/v1/auth/login", json=login)).status_code == 200
    found, cursor = [], None
    while True:
        params = {"q": " ".join(words), "child": child.id, "limit": 50}
        if cursor is not None:
            params["cursor"] = cursor
        answer = (await client.get("/api/v1/search", params=params)).json()
        assert "results" in answer, answer
        found += [hit["post"]["id"] for hit in answer["results"]]
        cursor = answer["next_cursor"]
        if post.id in found or cursor is None:
            return {"words": words, "post": post.id, "found": post.id in found}

async def main():
    settings = load_settings()
    state = await index_state(settings)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await app.state.search.stop()  # search only what the command left in the index
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            state.update(await search_for_oldest_post(c))
    print(json.dumps(state))

asyncio.run(main())
"""


@pytest.fixture
def environment(database_backend: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A fresh, empty, migrated database for the demo, on this run's backend."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIGSAW_")}
    env.update(JIGSAW_DATA_DIR=str(tmp_path), JIGSAW_DEMO="1", PYTHONUNBUFFERED="1")
    if database_backend == "postgres":
        url = db_backends.create_postgres_database()
        yield {**env, "JIGSAW_DATABASE_URL": url}
        db_backends.drop_postgres_database(url)
    else:
        yield {**env, "JIGSAW_DATABASE_URL": f"sqlite://{tmp_path / 'demo.sqlite3'}"}


def run(env: dict[str, str], code: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


JIGSAW = "from server.cli import main; main(prog_name='jigsaw')"


def probe(env: dict[str, str]) -> dict[str, Any]:
    state: dict[str, Any] = json.loads(run(env, PROBE).strip().splitlines()[-1])
    return state


def assert_fully_searchable(state: dict[str, Any]) -> None:
    assert state["live"] > 3000, state  # the demo's ~3,900 posts
    assert state["indexed"] == state["live"] and state["same"], state
    assert state["pending"] == 0, state
    assert state["found"], state


def test_jigsaw_demo_leaves_every_demo_post_searchable(environment: dict[str, str]) -> None:
    assert "Demo logins" in run(environment, JIGSAW, "demo")
    assert_fully_searchable(probe(environment))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def serve_until_url(env: dict[str, str]) -> list[str]:
    """Run `jigsaw serve --demo` until it prints its URL, then stop it at once (before the
    app's own outbox drainer could index anything); returns what it printed."""
    command = [sys.executable, "-c", JIGSAW, "serve", "--demo", "--port", str(free_port())]
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    watchdog = threading.Timer(300, server.kill)
    watchdog.start()
    lines: list[str] = []
    try:
        assert server.stdout is not None
        for line in server.stdout:
            lines.append(line)
            if "Jigsaw is running" in line:
                break
    finally:
        server.kill()
        server.wait()
        watchdog.cancel()
    return lines


def test_serve_demo_is_fully_searchable_when_it_prints_its_url(
    environment: dict[str, str],
) -> None:
    printed = serve_until_url(environment)
    assert "Jigsaw is running" in printed[-1], printed
    assert_fully_searchable(probe(environment))


def test_serve_demo_catches_up_a_demo_seeded_without_search(
    environment: dict[str, str],
) -> None:
    """A demo database seeded before this fix (posts, no outbox rows) is searchable too."""
    run(environment, JIGSAW, "demo")
    forget = (
        "import asyncio\nfrom tortoise import Tortoise\nfrom feeds.db import tortoise_config\n"
        "from feeds.models import SearchOutbox\nfrom server.routes.search import index_from_env\n"
        "from server.settings import load_settings\n"
        "async def main():\n"
        "    settings = load_settings()\n"
        "    await Tortoise.init(config=tortoise_config(settings.database_url))\n"
        "    await index_from_env(settings).clear()\n"
        "    await SearchOutbox.all().delete()\n"
        "    await Tortoise.close_connections()\n"
        "asyncio.run(main())\n"
    )
    run(environment, forget)
    assert probe(environment)["indexed"] == 0  # the state issue 15 found
    serve_until_url(environment)
    assert_fully_searchable(probe(environment))
