"""/ws: one websocket per tab. Replays missed events after `?after=<id>`, then streams.

Authenticated by the session cookie (then an allowed Origin is required) or by
`Authorization: Bearer` (an Origin, if sent, must still be allowed).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import QueryParams
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from feeds import audit, event_views
from feeds.access import identity
from feeds.access.policy import next_expiry, visible_child_ids
from feeds.audit.actions import AuditAction, AuditOutcome
from feeds.models import Event
from server.auth import digest
from server.endpoints import audit_context, bearer_token, is_number, resolve_user, settings_of
from server.live import Close, Hub, Subscriber

POLICY_VIOLATION = 1008
RELOAD = 4000  # too far behind the retained event log: reload the page
BEHIND = 4008  # queue overflowed: reconnect with ?after= to catch up
LOGGED_OUT = 4401
SUBSCRIBE = AuditAction.LIVE_SUBSCRIBE
CLOSE_CODES = {"behind": BEHIND, "logged_out": LOGGED_OUT, "shutdown": 1012}
CLOSE_REASONS = {  # the close frame says why, so a client knows what to do next
    "behind": "too far behind: reconnect with ?after=<last id>",
    "logged_out": "signed out",
    "shutdown": "server restarting: reconnect with ?after=<last id>",
}


def origin_allowed(websocket: WebSocket) -> bool:
    origin = websocket.headers.get("origin")
    cookie_auth = bearer_token(websocket) is None
    if origin is None:
        return not cookie_auth  # browsers always send Origin; cookie upgrades must too
    if origin.rstrip("/") in settings_of(websocket).allowed_origins:
        return True
    return urlsplit(origin).netloc == websocket.headers.get("host", "")


def forget_handshake(websocket: WebSocket) -> None:
    """Let the headers go once the socket is open: nothing reads them again (the server's
    protocol holds this same scope)."""
    websocket.scope["headers"] = []
    for cached in ("_headers", "_cookies"):  # Starlette's parsed copies
        vars(websocket).pop(cached, None)


def parse_after(websocket: WebSocket) -> int | None:
    # Parsed from the scope, not `websocket.query_params`, which the socket would keep.
    raw = QueryParams(websocket.scope["query_string"]).get("after", "")
    return int(raw) if is_number(raw) else None


async def _refused_origin(websocket: WebSocket) -> None:
    """Audit a refused Origin when a token names the caller. A cookie is not looked up:
    reading the session would extend its idle timer for the foreign page."""
    if bearer_token(websocket) and (user := await resolve_user(websocket)) is not None:
        origin = {"origin": websocket.headers.get("origin", "")[:200]}
        ctx = audit_context(websocket)
        await audit.record(SUBSCRIBE, ctx, actor=user, outcome=AuditOutcome.DENIED, detail=origin)


async def _subscriber(websocket: WebSocket) -> Subscriber | None:
    if not origin_allowed(websocket):
        await _refused_origin(websocket)
        return None
    user = await resolve_user(websocket)
    if user is None:
        return None
    token = bearer_token(websocket)
    cookie = websocket.cookies.get(settings_of(websocket).session_cookie)
    visible = await visible_child_ids(user)
    # One record per subscription, naming every child whose events it may receive now.
    children = {"children": sorted(visible)}
    await audit.record(SUBSCRIBE, audit_context(websocket), actor=user, detail=children)
    return Subscriber(
        user.id,
        token_hash=digest(token) if token else None,
        session_id=digest(cookie) if cookie and token is None else None,
        visible=visible,
        visible_until=await next_expiry(user),
        direct=await identity.direct_grant_ids(user),
    )


async def _replay(websocket: WebSocket, sub: Subscriber, after: int, upto: int) -> bool:
    """Send what `sub` may see in (after, upto]; False when the log no longer reaches back."""
    oldest = await Event.all().order_by("id").first()
    if oldest is not None and after < oldest.id - 1:
        await websocket.send_json({"type": "reload", "reason": "too far behind"})
        return False
    cursor = after
    while cursor < upto:
        batch = await Event.filter(id__gt=cursor, id__lte=upto).order_by("id").limit(500)
        if not batch:
            break
        # Rendered now, under current state: removed stays removed, edited shows its text.
        shown = [e for e in batch if sub.may_receive(e)]
        for message in await event_views.render_for(shown, sub.direct):
            await websocket.send_json(message)
        cursor = batch[-1].id
    return True


async def _until_client_leaves(websocket: WebSocket) -> None:
    """Read (and ignore) client messages; returns when the client disconnects or the hub
    closed the socket."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


def _closer(websocket: WebSocket) -> Close:
    async def close(reason: str) -> None:
        await websocket.close(
            code=CLOSE_CODES.get(reason, 1011), reason=CLOSE_REASONS.get(reason, reason)
        )

    return close


async def _serve(websocket: WebSocket, sub: Subscriber, upto: int) -> None:
    """Hello, the replay, then live events from the hub until the client leaves. The
    socket's only task waits here, reading; the hub writes (server/live.py)."""
    await websocket.send_json({"type": "hello", "last_id": upto})
    after = parse_after(websocket)
    if after is not None and not await _replay(websocket, sub, after, upto):
        await websocket.close(code=RELOAD)
        return
    sub.attach(websocket.send_text, _closer(websocket), upto)
    await _until_client_leaves(websocket)


async def live_socket(websocket: WebSocket) -> None:
    sub = await _subscriber(websocket)
    if sub is None:
        await websocket.close(code=POLICY_VIOLATION)  # before accept: the upgrade gets a 403
        return
    await websocket.accept()
    hub: Hub = websocket.app.state.hub
    upto = hub.subscribe(sub)
    # The socket lives for hours: it keeps the person's id (in `sub`), not their loaded model,
    # nor the handshake's headers (~1.6 KiB, the session cookie among them).
    del websocket.state.user
    forget_handshake(websocket)
    try:
        await _serve(websocket, sub, upto)
    except WebSocketDisconnect:
        pass
    finally:
        hub.unsubscribe(sub)


live_socket.policy = "authenticated"  # type: ignore[attr-defined]

routes = [WebSocketRoute("/ws", live_socket)]
