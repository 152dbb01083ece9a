"""The app uvicorn workers import (server/asgi.py): once its lifespan has started, what
startup built is frozen out of the garbage collector's reach; create_app freezes nothing
(a test run builds hundreds of apps in one process)."""

from __future__ import annotations

import asyncio
import gc
import os
import sys

from starlette.applications import Starlette

from server.settings import Settings
from tests.conftest import MFA_KEY

STARTED = """
import asyncio, gc
from server.asgi import app

async def main():
    before = gc.get_freeze_count()
    async with app.router.lifespan_context(app):
        print(before, gc.get_freeze_count(), app.state.hub is not None)

asyncio.run(main())
"""


async def test_a_worker_freezes_what_its_startup_built(settings: Settings) -> None:
    env = {
        **os.environ,
        "JIGSAW_DATABASE_URL": settings.database_url,
        "JIGSAW_SECRET_KEY": str(settings.secret_key),
        "JIGSAW_MFA_KEYS": MFA_KEY,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", STARTED, env=env, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0
    before, after, started = out.decode().split()
    assert int(before) == 0 and int(after) > 10_000 and started == "True"


async def test_the_app_tests_build_freezes_nothing(app: Starlette) -> None:
    assert gc.get_freeze_count() == 0
