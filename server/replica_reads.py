"""Which requests may read from the hot standby, and read-your-writes for the writer.

A GET by a signed-in person binds the app's replica router (feeds/replica.py) with the
WAL position their own latest write reached: remembered in this process, and carried
in a short-lived cookie so another worker or host honours it too. After a successful
unsafe request the primary's position is noted. The cookie holds only a WAL position:
changing it moves reads between the standby and the primary, both within the bound.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

from starlette.requests import Request
from starlette.responses import Response

from feeds import replica
from feeds.models import Professional
from server.middleware import UNSAFE_METHODS

WAL_COOKIE = "jigsaw_wal"


def router_of(request: Request) -> replica.Router | None:
    found: replica.Router | None = request.app.state.replica  # None: no standby
    return found


def _cookie_floor(request: Request) -> int:
    try:
        return replica.parse_lsn(request.cookies.get(WAL_COOKIE, "0/0"))
    except ValueError:
        return 0  # not a position: nothing to wait for (the bound still holds)


@contextlib.contextmanager
def reads_for(request: Request, person: Professional) -> Iterator[None]:
    """Within this block, heavy reads of a GET may use the standby."""
    router = router_of(request)
    if router is None or request.method in UNSAFE_METHODS:
        yield
        return
    with replica.bind(router, router.floor_for(person.id, _cookie_floor(request))):
        yield


async def after_write(request: Request, person: Professional, response: Response) -> None:
    """After a successful unsafe request: its WAL position, for the writer's next reads."""
    router = router_of(request)
    if router is None or request.method not in UNSAFE_METHODS or response.status_code >= 400:
        return
    try:
        position = await router.note_write(person.id)
    except Exception:  # the primary answered the write; a failed look only costs freshness
        return
    response.set_cookie(
        WAL_COOKIE,
        replica.format_lsn(position),
        max_age=math.ceil(router.max_lag) + 1,  # older writes are within the bound anyway
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.app.state.settings.https,
    )
