"""The live hub: reads committed events in id order and fans them out to websockets.

One hub per worker process. It learns of new events from PostgreSQL LISTEN/NOTIFY
(every worker hears every commit) or, on SQLite, from in-process wake-ups; a periodic
poll is the safety net. Open sockets are grouped by person (a Viewer: one copy of what
the person may see, shared by their tabs), and people are indexed by the children they
may see, so an event costs work in proportion to its audience, not to the sockets open;
a grant change re-reads visibility only for the people it touches. Each event is encoded
once and handed to every socket in its audience without waiting on any of them; a
socket's backlog is bounded, and one that falls too far behind is closed with a reason
and catches up by replay when it reconnects. An idle socket costs no task of its own.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from feeds import event_views, events, partitions
from feeds.access import identity
from feeds.access.policy import next_expiry, visible_child_ids
from feeds.background import BackgroundLoop
from feeds.clock import utcnow
from feeds.models import Event, Professional, TeamMember
from server.sessions_watch import ended_subscribers

log = logging.getLogger("jigsaw.live")

BATCH = 500
PRUNE_EVERY = 600.0  # seconds between event-log prunes
GAP_WAIT = 1.0  # seconds to wait for a lower event id still being committed


SEND_BACKLOG = 256  # messages a socket may have waiting before it is closed as "behind"
SESSION_CHECK_EVERY = 1.0  # seconds between checks for ended sessions and tokens

EMPTY: deque[tuple[int, str]] = deque(maxlen=0)  # shared by every idle socket; never filled
Send = Callable[[str], Awaitable[None]]
Close = Callable[[str], Awaitable[None]]  # given the reason; the route picks the close code


NO_IDS: frozenset[int] = frozenset()  # shared by every viewer with no direct grant


def ids(found: Iterable[int]) -> frozenset[int]:
    """A frozen set of ids; the empty one shared (most people hold no direct grant)."""
    return frozenset(found) or NO_IDS


class Viewer:
    """A person with sockets open in this worker. Their sockets share one copy of what the
    person may see: indexed once, re-read once when a grant touches the person."""

    __slots__ = ("direct", "sockets", "user_id", "visible", "visible_until")

    def __init__(
        self,
        user_id: int,
        visible: Iterable[int] = (),
        visible_until: datetime | None = None,
        direct: Iterable[int] = (),
    ) -> None:
        self.user_id = user_id
        self.visible = frozenset(visible)
        self.visible_until = visible_until  # a grant or break-glass ends: re-read `visible`
        self.direct = ids(direct)  # direct grants: shielded names this person may read
        self.sockets: set[Subscriber] = set()

    def may_receive(self, event: Event) -> bool:
        if event.recipient_id is not None and event.recipient_id != self.user_id:
            return False
        return event.child_id is None or event.child_id in self.visible


class Subscriber:
    """One open websocket: whose it is, and the messages waiting to go out to it.

    No task waits on an idle socket: offering a message starts a short-lived sender that
    writes the backlog out and ends. A backlog past SEND_BACKLOG closes the socket as
    "behind" (the client reconnects with ?after= and replays); nothing is dropped silently.
    """

    __slots__ = (
        "_close",
        "_send",
        "_sender",
        "backlog",
        "closed_reason",
        "session_id",
        "token_hash",
        "upto",
        "viewer",
    )

    def __init__(
        self,
        user_id: int,
        *,
        visible: Iterable[int] = (),
        visible_until: datetime | None = None,
        session_id: str | None = None,  # hash of the session cookie, when cookie-authenticated
        token_hash: str | None = None,  # hash of the bearer token, when token-authenticated
        direct: Iterable[int] = (),  # direct grants: the shielded names it may read
    ) -> None:
        self.viewer = Viewer(user_id, visible, visible_until, direct)  # shared once subscribed
        self.session_id = session_id
        self.token_hash = token_hash
        self.backlog: deque[tuple[int, str]] = EMPTY  # a deque of its own once needed
        self.closed_reason: str | None = None
        self.upto = 0  # events up to here went out by replay
        self._send: Send | None = None
        self._close: Close | None = None
        self._sender: asyncio.Task[None] | None = None

    @property
    def user_id(self) -> int:
        return self.viewer.user_id

    @property
    def visible(self) -> frozenset[int]:
        return self.viewer.visible

    @property
    def direct(self) -> frozenset[int]:
        return self.viewer.direct

    def may_receive(self, event: Event) -> bool:
        return self.viewer.may_receive(event)

    def offer(self, event_id: int, text: str) -> None:
        """Queue one encoded message; a socket too far behind is closed instead."""
        if self.closed_reason is not None:
            return
        if len(self.backlog) >= SEND_BACKLOG:
            self.close("behind")
            return
        if self.backlog is EMPTY:
            self.backlog = deque()
        self.backlog.append((event_id, text))
        self._start_sender()

    def close(self, reason: str) -> None:
        """Drop what is waiting and close the socket with `reason`."""
        if self.closed_reason is None:
            self.closed_reason = reason
            self.backlog = EMPTY
            self._start_sender()

    def attach(self, send: Send, close: Close, upto: int) -> None:
        """Start writing to the socket; events up to `upto` were sent by the replay."""
        self._send, self._close, self.upto = send, close, upto
        if self.backlog or self.closed_reason is not None:
            self._start_sender()

    def detach(self) -> None:
        self._send = self._close = None
        if self._sender is not None:
            self._sender.cancel()

    def _start_sender(self) -> None:
        if self._send is not None and (self._sender is None or self._sender.done()):
            self._sender = asyncio.create_task(self._send_backlog())

    async def _send_backlog(self) -> None:
        send, close = self._send, self._close
        assert send is not None and close is not None
        try:
            while self.backlog:
                event_id, text = self.backlog.popleft()
                if event_id > self.upto:
                    await send(text)
            self.backlog = EMPTY  # an idle socket keeps no deque (~600 bytes)
            if self.closed_reason is not None:
                await close(self.closed_reason)
        except Exception:  # the client left mid-send: its route unsubscribes it
            log.debug("live send ended", exc_info=True)
        finally:
            self._sender = None  # an idle socket keeps no finished task (~600 bytes)


STOP_GRACE = 5.0  # seconds the hub task gets to end at shutdown


class Hub:
    def __init__(
        self,
        database_url: str,
        poll_interval: float = 1.0,
        retention: timedelta = timedelta(days=30),
        session_idle: timedelta | None = None,  # sockets of sessions idle longer are closed
    ) -> None:
        self.database_url = database_url
        self.session_idle = session_idle
        self.poll_interval = poll_interval
        self.retention = retention
        self._next_prune = 0.0
        self.position = 0  # every event with id <= position has been dispatched
        self.subscribers: set[Subscriber] = set()
        self.viewers: dict[int, Viewer] = {}  # by person: also the index by recipient
        self._by_child: dict[int, set[Viewer]] = {}
        self._indexed: dict[Viewer, frozenset[int]] = {}
        self._next_expiry: datetime | None = None  # the earliest visible_until of any viewer
        self.visibility_reads = 0  # people whose visibility was re-read (tests count it)
        self.loop = BackgroundLoop("jigsaw-live-hub", self.pump, poll_interval)
        # Its own loop, so a slow check never holds up delivery.
        self.watch = BackgroundLoop("jigsaw-live-watch", self._housekeeping, SESSION_CHECK_EVERY)
        self._listen: asyncpg.Connection | None = None
        self._gap_since: float | None = None
        # Told each event's type and child once it is dispatched, and the monotonic time
        # each read of the log to its end began (feeds/velocity/comparisons.py).
        self.on_event: list[Callable[[str, int | None], None]] = []
        self.on_caught_up: list[Callable[[float], None]] = []

    async def start(self) -> None:
        self.position = await events.latest_event_id()
        events.add_listener(self._on_commit)
        if self._uses_postgres:
            await self._start_listening()
        self.loop.start()
        self.watch.start()

    async def stop(self) -> None:
        events.remove_listener(self._on_commit)
        await self.watch.stop(STOP_GRACE)
        await self.loop.stop(STOP_GRACE)
        for subscriber in list(self.subscribers):
            subscriber.close("shutdown")
        if self._listen is not None:
            self._listen.remove_termination_listener(self._on_listen_lost)  # not a loss
            await self._listen.close()

    @property
    def _uses_postgres(self) -> bool:
        return self.database_url.startswith(("postgres", "asyncpg"))

    @property
    def listening(self) -> bool:
        """Is the hub hearing other workers' commits (PostgreSQL LISTEN) right now?"""
        return self._listen is not None and not self._listen.is_closed()

    async def _start_listening(self) -> None:
        dsn = self.database_url.replace("asyncpg://", "postgres://", 1)
        try:
            self._listen = await asyncpg.connect(dsn)
            await self._listen.add_listener(events.NOTIFY_CHANNEL, self._on_notify)
            self._listen.add_termination_listener(self._on_listen_lost)
        except (OSError, asyncpg.PostgresError):
            log.warning("LISTEN unavailable; relying on polling until it returns")
            self._listen = None
            return
        self.wake()  # what committed while nobody listened is read now, not at the next poll

    def _on_listen_lost(self, connection: object) -> None:
        # Housekeeping listens again within SESSION_CHECK_EVERY; meanwhile commits here
        # wake the hub directly (_on_commit) and other workers' reach it by polling.
        log.warning("LISTEN connection lost; listening again")
        self.wake()

    def _on_notify(self, *args: object) -> None:
        self.wake()

    def _on_commit(self) -> None:
        # While LISTEN is up, this process's commits wake the hub by their NOTIFY too:
        # waking here as well ran `pump` twice per post.
        if not self.listening:
            self.wake()

    def wake(self) -> None:
        self.loop.wake()

    def subscribe(self, subscriber: Subscriber) -> int:
        """Start queueing live events for `subscriber`; returns the position replay must reach.
        A person's second socket shares the first one's visibility."""
        viewer = self.viewers.get(subscriber.user_id)
        if viewer is None:
            viewer = self.viewers[subscriber.user_id] = subscriber.viewer
            self._index(viewer)
        subscriber.viewer = viewer
        viewer.sockets.add(subscriber)
        self.subscribers.add(subscriber)
        return self.position

    def unsubscribe(self, subscriber: Subscriber) -> None:
        subscriber.detach()
        self.subscribers.discard(subscriber)
        viewer = subscriber.viewer
        viewer.sockets.discard(subscriber)
        if not viewer.sockets and self.viewers.get(viewer.user_id) is viewer:
            del self.viewers[viewer.user_id]
            self._unindex(viewer)

    def _index(self, viewer: Viewer) -> None:
        for child_id in viewer.visible:
            self._by_child.setdefault(child_id, set()).add(viewer)
        self._indexed[viewer] = viewer.visible
        self._index_expiry(viewer)

    def _unindex(self, viewer: Viewer) -> None:
        for child_id in self._indexed.pop(viewer, frozenset()):
            found = self._by_child.get(child_id)
            if found is not None:
                found.discard(viewer)
                if not found:
                    del self._by_child[child_id]

    def audience(self, event: Event) -> list[Subscriber]:
        """The sockets an event may go to, found through the indexes."""
        viewers: Iterable[Viewer]
        if event.recipient_id is not None:
            found = self.viewers.get(event.recipient_id)
            viewers = () if found is None else (found,)
        elif event.child_id is not None:
            viewers = self._by_child.get(event.child_id, ())
        else:
            viewers = self.viewers.values()
        return [s for v in viewers if v.may_receive(event) for s in v.sockets]

    async def _housekeeping(self) -> None:
        if self._uses_postgres and not self.listening:
            if self._listen is not None:
                self._listen.terminate()  # already gone: frees what is left of it
            await self._start_listening()
        for subscriber in await ended_subscribers(self.subscribers, self.session_idle):
            subscriber.close("logged_out")
        if time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + PRUNE_EVERY
            await prune_events(self.retention)

    async def pump(self) -> None:
        """Dispatch every committed event after `position`, in id order, without skipping
        an id that may still be committing (ids are allocated before commit)."""
        while True:
            read_at = time.monotonic()
            batch = await events.events_after(self.position, BATCH)
            messages: dict[int, dict[str, Any]] | None = None
            names = identity.AS_WRITTEN  # the batch's shielded children, once rendered
            for event in batch:
                if event.id != self.position + 1 and not self._gap_expired():
                    self.wake_soon()
                    return
                self._gap_since = None
                await self.refresh_for(event)
                if self.audience(event):
                    if messages is None:
                        messages = await self._render(batch)
                        names = await event_views.shielded_named(batch, messages.values())
                    # The audience again, after the render's await: a socket that joined
                    # meanwhile replays only up to `position`, so it must get this event
                    # here. None can join between the offer and `position` moving on.
                    text = encode(messages[event.id])  # once per event, not per socket
                    for subscriber in self.audience(event):
                        if not names.hidden:  # the common case: one frame for everyone
                            subscriber.offer(event.id, text)
                        else:  # a shielded child's name withheld for those who see its label
                            redact = names.except_for(subscriber.direct)
                            shown = event_views.as_read_by(messages[event.id], redact)
                            subscriber.offer(event.id, encode(shown))
                self.position = event.id
                for told in self.on_event:
                    told(event.type, event.child_id)
            if len(batch) < BATCH:
                for caught_up in self.on_caught_up:
                    caught_up(read_at)
                return

    @staticmethod
    async def _render(batch: list[Event]) -> dict[int, dict[str, Any]]:
        """Every message of a batch, rendered once for all sockets from the database as
        it is now (a few queries per batch, not one per event per socket)."""
        return {m["id"]: m for m in await event_views.render(batch)}

    def _gap_expired(self) -> bool:
        now = time.monotonic()
        if self._gap_since is None:
            self._gap_since = now
        return now - self._gap_since >= GAP_WAIT

    def wake_soon(self) -> None:
        asyncio.get_running_loop().call_later(0.05, self.wake)

    async def refresh_for(self, event: Event) -> None:
        """Bring every viewer's visible children up to date before `event` goes out."""
        if event.type == events.GRANT_CHANGED:
            people = await grant_holders(event)
            if people is None and event.child_id is not None:
                # A whole record's access changed (case closed, records merged): those
                # who could see it; a merge's other event covers who gains the survivor.
                people = {v.user_id for v in self._by_child.get(event.child_id, ())}
            await self.refresh_visibility(people)
        else:
            await self.refresh_expired()

    async def refresh_visibility(self, people: set[int] | None = None) -> None:
        """Re-read who may see what for `people` (everyone when None), so a revoked grant
        stops events at once. People without a socket here cost nothing."""
        if people is None:
            chosen = list(self.viewers.values())
        else:
            chosen = [v for p in people if (v := self.viewers.get(p)) is not None]
        for viewer in chosen:
            await self.refresh(viewer)

    async def refresh_expired(self) -> None:
        """An expired grant or break-glass stops events too, with no grant change to say so.
        Cheap until the earliest end among the open sockets has passed."""
        now = utcnow()
        if self._next_expiry is None or self._next_expiry > now:
            return
        self._next_expiry = None
        for viewer in list(self.viewers.values()):
            if viewer.visible_until is not None and viewer.visible_until <= now:
                await self.refresh(viewer)
            else:
                self._index_expiry(viewer)

    def _index_expiry(self, viewer: Viewer) -> None:
        ends = viewer.visible_until
        if ends is not None and (self._next_expiry is None or ends < self._next_expiry):
            self._next_expiry = ends

    async def refresh(self, viewer: Viewer) -> None:
        """Re-read one person's visible children (the person as stored now: a deactivated
        account sees nothing)."""
        self.visibility_reads += 1
        person = await Professional.get_or_none(id=viewer.user_id)
        visible = await visible_child_ids(person) if person is not None else set()
        ends = await next_expiry(person) if person is not None else None
        direct = await identity.direct_grant_ids(person) if person is not None else set()
        current = self.viewers.get(viewer.user_id) is viewer
        if current:
            self._unindex(viewer)
        viewer.visible, viewer.visible_until = frozenset(visible), ends
        viewer.direct = ids(direct)
        if current:
            self._index(viewer)


def encode(message: dict[str, Any]) -> str:
    """A message as the text frame every socket receives (Starlette's send_json format)."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


async def grant_holders(event: Event) -> set[int] | None:
    """The people whose visibility a grant change touches: its professional, or its team's
    members; None (everyone) when the event does not say."""
    payload = event.payload if isinstance(event.payload, dict) else {}
    person, team = payload.get("professional_id"), payload.get("team_id")
    if isinstance(person, int):
        return {person}
    if isinstance(team, int):
        found = await TeamMember.filter(team_id=team).values("professional_id")
        return {int(row["professional_id"]) for row in found}
    return None


async def prune_events(retention: timedelta) -> int:
    """Forget events older than the retention window (whole monthly partitions on
    PostgreSQL: feeds/partitions.py); clients behind it are told to reload. Returns the
    rows deleted one by one."""
    return (await partitions.prune_events(retention)).rows
