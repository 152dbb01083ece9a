"""The app uvicorn workers import: `uvicorn server.asgi:app` (settings from JIGSAW_*).

Each worker freezes what its startup built (modules, the ORM's models, templates, the
route table: ~100,000 objects that live as long as the process) once the lifespan has
started, so the garbage collector's full collections no longer walk them: a worker holding
thousands of live sockets pays for those sockets' objects alone. Only here, not in
create_app: a test run builds hundreds of apps in one process, and frozen objects are
never freed.
"""

import gc
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from server.app import create_app
from server.settings import load_settings

app = create_app(load_settings())
_lifespan = app.router.lifespan_context


@asynccontextmanager
async def _frozen_after_startup(started: Any) -> AsyncIterator[Any]:
    context: AbstractAsyncContextManager[Any] = _lifespan(started)
    async with context as state:
        gc.collect()  # startup's own garbage is freed, not frozen
        gc.freeze()
        yield state


app.router.lifespan_context = _frozen_after_startup
