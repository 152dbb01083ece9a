"""The live benchmark's baseline: a bare Starlette websocket fan-out with no database, no
auth, no audit and no middleware, on the same uvicorn settings as Jigsaw.

    uvicorn loadtests.bare_live:app --workers 1

A socket opens `/ws?child=<id>`; `POST /api/v1/children/<id>/posts` sends every socket of
that child a message shaped like Jigsaw's `post.created`. With one worker it is the floor
for both post-to-screen latency and server memory per connection.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

_sockets: dict[int, set[WebSocket]] = {}
_ids = itertools.count(1)


async def healthz(request: Request) -> Response:
    return JSONResponse({"ok": True})


async def live(websocket: WebSocket) -> None:
    child = int(websocket.query_params.get("child", "0"))
    await websocket.accept()
    await websocket.send_text(json.dumps({"type": "hello", "last_id": 0}))
    _sockets.setdefault(child, set()).add(websocket)
    try:
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass
    except WebSocketDisconnect:
        pass
    finally:
        _sockets[child].discard(websocket)


async def post(request: Request) -> Response:
    await request.body()
    data = {"id": next(_ids), "created_at": datetime.now(UTC).isoformat()}
    text = json.dumps({"type": "post.created", "data": data})
    for socket in list(_sockets.get(int(request.path_params["child"]), ())):
        await socket.send_text(text)
    return JSONResponse(data, status_code=201)


app = Starlette(
    routes=[
        Route("/healthz", healthz),
        Route("/api/v1/children/{child:int}/posts", post, methods=["POST"]),
        WebSocketRoute("/ws", live),
    ]
)
