"""create_app(settings) -> Starlette: routes, middleware, templates, lifespan."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from tortoise.contrib.starlette import RegisterTortoise

from feeds import events
from feeds.db import replica_client, tortoise_config
from feeds.feed.posting import MAX_BODY
from feeds.kinds import WORRY_KINDS, PostKind
from feeds.network.worry_rule import MAX_NOTE
from feeds.replica import Router
from feeds.velocity.comparisons import Comparisons
from server.body_limit import BodyLimitMiddleware
from server.errors import EXCEPTION_HANDLERS
from server.live import Hub
from server.log_redaction import install as redact_secret_paths
from server.maintenance import partitions_lifespan
from server.middleware import (
    CleanQueryMiddleware,
    SameOriginMiddleware,
    SecurityHeadersMiddleware,
    csrf_middleware,
)
from server.page_context import HeaderCountsMiddleware
from server.routes import (
    access_requests,
    accounts,
    admin_pages,
    api_admin,
    api_auth,
    api_children,
    api_live,
    api_mfa,
    api_records,
    audit,
    board,
    breakglass,
    chronology,
    health,
    hotspots,
    households,
    import_pages,
    merges,
    mfa_pages,
    my_day,
    pages,
    post_edits,
    record_pages,
    search,
    shielding,
    sign_in_links,
    sso,
    team_picture,
    work_contact,
    worry,
    ws,
)
from server.settings import Settings
from server.sso import build_provider
from server.ws_dispatch import DirectWebSockets

FRONTEND = Path(__file__).resolve().parent.parent / "frontend"


def build_routes() -> list[BaseRoute]:
    return [
        *health.routes,
        *api_auth.routes,
        *api_mfa.routes,
        *mfa_pages.routes,
        *sso.routes,
        *accounts.routes,
        *api_children.routes,
        *post_edits.routes,
        *api_records.routes,
        *api_admin.routes,
        *api_live.routes,
        *audit.routes,
        *board.routes,
        *hotspots.routes,
        *breakglass.routes,
        *admin_pages.routes,
        *sign_in_links.routes,
        *import_pages.routes,
        *record_pages.routes,  # before pages: /children/new is no child id
        *access_requests.routes,
        *team_picture.routes,
        *work_contact.routes,
        *worry.routes,
        *households.routes,
        *chronology.routes,
        *my_day.routes,
        *merges.routes,
        *shielding.routes,
        *pages.routes,
        *search.routes,
        *ws.routes,
        Mount("/static", StaticFiles(directory=FRONTEND / "static"), name="static"),
    ]


GIL_SWITCH_INTERVAL = 0.001  # seconds a thread holds the GIL before the loop may take it


def hear_events(comparisons: Comparisons, hub: Hub) -> Comparisons:
    """Kept comparisons hear every event the hub dispatches (every worker's), and this
    process's own commits at once, before the committing request answers."""
    hub.on_event.append(comparisons.event)
    hub.on_caught_up.append(comparisons.caught_up)
    comparisons.wake_hub = hub.wake
    events.add_listener(comparisons.committed)
    return comparisons


def create_app(settings: Settings) -> Starlette:
    """The Jigsaw ASGI app for these settings; Tortoise is initialised in the lifespan."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Heavy reads fold and judge in threads (asyncio.to_thread); at Python's default
        # 5 ms switch interval every event-loop wake-up waited up to 5 ms for the GIL while
        # one ran, about doubling practitioners' p95 beside a manager's comparison
        # (loadtests/results/gil_switch.md). The whole process's setting, so set here.
        sys.setswitchinterval(GIL_SWITCH_INTERVAL)
        # RegisterTortoise makes the ORM visible to request tasks, which uvicorn does not
        # start from the lifespan task (Tortoise 1.x keeps its context in a contextvar).
        async with RegisterTortoise(app, config=tortoise_config(settings.database_url)):
            hub = Hub(
                settings.database_url,
                retention=settings.event_retention,
                session_idle=settings.session_idle,
            )
            app.state.hub = hub
            kept = hear_events(app.state.comparisons, hub)
            await hub.start()
            try:
                async with (
                    search.search_lifespan(app, settings),
                    board.velocity_lifespan(app),
                    audit.sealer_lifespan(app, settings),
                    partitions_lifespan(),
                ):
                    yield
            finally:
                await hub.stop()
                events.remove_listener(kept.committed)
                if router is not None:
                    await router.close()

    app = DirectWebSockets(
        routes=build_routes(),
        direct_websockets=ws.routes,  # live sockets skip the HTTP middleware's frames
        middleware=[
            Middleware(SecurityHeadersMiddleware, https=settings.https),
            # Before anything reads a body (asgi-csrf buffers forms) or checks a login.
            Middleware(BodyLimitMiddleware),
            Middleware(CleanQueryMiddleware),
            Middleware(SameOriginMiddleware, allowed_origins=settings.allowed_origins),
            Middleware(csrf_middleware, settings=settings),
            Middleware(HeaderCountsMiddleware),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.running_imports = set()  # imports started from the page (routes/import_stream)
    # Children's comparisons, kept until an event for the child (feeds/velocity/comparisons.py).
    app.state.comparisons = Comparisons(bound=settings.replica_max_lag)
    # Heavy reads from a hot standby when one is configured (feeds/replica.py). Set either
    # way: every signed-in request looks it up, and a missing attribute is Starlette's
    # slow path (an exception raised and caught).
    router = None
    if settings.database_replica_url:
        client = replica_client(settings.database_replica_url)
        router = Router(client, settings.replica_max_lag)
    app.state.replica = router
    redact_secret_paths()  # sign-in links carry their token in the path
    app.state.templates = Jinja2Templates(directory=FRONTEND / "templates")
    # Templates and scripts take the worry kinds from feeds.kinds, not a copy of their own.
    app.state.templates.env.globals["worry_kinds"] = sorted(WORRY_KINDS)
    app.state.templates.env.globals["worry_note_max"] = MAX_NOTE
    # Single sign-on: the provider's client, and what the login page offers.
    app.state.sso = build_provider(settings)
    app.state.templates.env.globals["sso_name"] = settings.oidc.name if settings.oidc else ""
    app.state.templates.env.globals["local_passwords"] = settings.local_passwords.value
    app.state.templates.env.globals["post_kinds"] = [kind.value for kind in PostKind]
    app.state.templates.env.globals["post_max_body"] = MAX_BODY
    return app
