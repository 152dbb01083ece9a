"""Websockets served straight from the app to their endpoint, past the HTTP middleware.

A live socket stays open for hours, and an ASGI call keeps every coroutine frame it passed
through until it returns: Starlette's error middleware, our HTTP middleware and asgi-csrf,
the exception middleware, the router and the route, each with its closures, and two more
WebSocket objects (~6 KiB a socket: loadtests/results/live_memory.txt). Every one of those
middleware hands a websocket on untouched (tests/server/test_ws_dispatch.py checks each),
so a websocket to a route named in `direct_websockets` goes from here to its endpoint with
the scope the router would give it and a request id, as an HTTP request gets. The endpoint
does its own checks (Origin, session or token: server/routes/ws.py). The app's exception
handlers still apply, run only once the endpoint has failed. Everything else (HTTP,
lifespan, a websocket to any other path) takes the whole stack.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette._exception_handler import wrap_app_handling_exceptions  # what routes use
from starlette._utils import get_route_path  # how the router reads a path
from starlette.applications import Starlette
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.routing import WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from server.middleware import new_request_id

Endpoint = Callable[[WebSocket], Awaitable[None]]


class DirectWebSockets(Starlette):
    """Starlette, with some websocket routes reached without the middleware stack.

    `direct_websockets` must also be among `routes` (the route table, url_for and the
    access matrix read them there); a route with path parameters is not one of them."""

    def __init__(self, *args: Any, direct_websockets: Sequence[WebSocketRoute] = (), **kw: Any):
        super().__init__(*args, **kw)
        self.direct: dict[str, tuple[WebSocketRoute, Endpoint]] = {}
        for route in direct_websockets:
            assert not route.param_convertors, f"{route.path}: matched by exact path only"
            assert route in self.router.routes, f"{route.path}: also one of the app's routes"
            self.direct[route.path] = (route, route.endpoint)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self.direct.get(get_route_path(scope)) if scope["type"] == "websocket" else None
        if found is None:
            await super().__call__(scope, receive, send)
            return
        route, endpoint = found
        # What Starlette, the router and the route put in the scope on the long way.
        scope.update(app=self, router=self.router, route=route, endpoint=endpoint)
        scope["path_params"] = {}
        new_request_id(scope)
        websocket = WebSocket(scope, receive, send)
        try:
            await endpoint(websocket)
        except Exception as exc:
            await self._failed(exc, websocket, receive, send)

    async def _failed(
        self, exc: Exception, websocket: WebSocket, receive: Receive, send: Send
    ) -> None:
        """Answer `exc` as the long way would: the exception middleware (which puts the
        app's handlers in the scope) around the route's own handling, which hands the
        endpoint's WebSocket to the handler; without one, `exc` goes on to uvicorn, which
        logs it and closes the socket (the app's 500 handler belongs to the error
        middleware, which hands websocket errors on)."""

        async def route(scope: Scope, receive: Receive, send: Send) -> None:
            await wrap_app_handling_exceptions(_raising(exc), websocket)(scope, receive, send)

        handlers = {k: v for k, v in self.exception_handlers.items() if k not in (500, Exception)}
        await ExceptionMiddleware(route, handlers, self.debug)(websocket.scope, receive, send)


def _raising(exc: Exception) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise exc

    return app
