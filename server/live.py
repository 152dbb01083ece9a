"""The live hub: reads committed events in id order and fans them out to websockets.

One hub per worker process. It learns of new events from PostgreSQL LISTEN/NOTIFY
(every worker hears every commit) or, on SQLite, from in-process wake-ups; a periodic
poll is the safety net. Subscribers are indexed by the children they may see and by
recipient, so an event costs work in proportion to its audience, not to the sockets
open; a grant change re-reads visibility only for the people it touches. Every event is
still checked against the subscriber's access before it is queued; queues are bounded,
and a subscriber that falls too far behind is disconnected and catches up by replay when
it reconnects.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
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


@dataclass(eq=False)
class Subscriber:
    """One open websocket: who it is, which children it may see, what is waiting to go out."""

    user: Professional
    session_id: str | None = None  # hash of the session cookie, when cookie-authenticated
    token_hash: str | None = None  # hash of the bearer token, when token-authenticated
    visible: set[int] = field(default_factory=set)
    visible_until: datetime | None = None  # a grant or break-glass ends: re-read `visible`
    direct: set[int] = field(default_factory=set)  # direct grants: shielded names readable
    queue: asyncio.Queue[dict[str, Any] | None] = field(
        default_factory=lambda: asyncio.Queue(maxsize=256)
    )
    closed_reason: str | None = None

    def may_receive(self, event: Event) -> bool:
        if event.recipient_id is not None and event.recipient_id != self.user.id:
            return False
        return event.child_id is None or event.child_id in self.visible

    def offer(self, message: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.close("behind")

    def close(self, reason: str) -> None:
        """Ask the socket to close: drop what is queued and leave a None sentinel."""
        if self.closed_reason is None:
            self.closed_reason = reason
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(None)


STOP_GRACE = 5.0  # seconds the hub task gets to end at shutdown


class Hub:
    def __init__(
        self,
        database_url: str,
        poll_interval: float = 1.0,
        retention: timedelta = timedelta(days=30),
    ) -> None:
        self.database_url = database_url
        self.poll_interval = poll_interval
        self.retention = retention
        self._next_prune = 0.0
        self.position = 0  # every event with id <= position has been dispatched
        self.subscribers: set[Subscriber] = set()
        self._by_child: dict[int, set[Subscriber]] = {}
        self._by_recipient: dict[int, set[Subscriber]] = {}
        self._indexed: dict[Subscriber, frozenset[int]] = {}
        self._next_expiry: datetime | None = None  # the earliest visible_until of any socket
        self.loop = BackgroundLoop("jigsaw-live-hub", self._step, poll_interval)
        self._listen: asyncpg.Connection | None = None
        self._gap_since: float | None = None

    async def start(self) -> None:
        self.position = await events.latest_event_id()
        events.add_listener(self.wake)
        if self.database_url.startswith(("postgres", "asyncpg")):
            await self._start_listening()
        self.loop.start()

    async def stop(self) -> None:
        events.remove_listener(self.wake)
        await self.loop.stop(STOP_GRACE)
        for subscriber in list(self.subscribers):
            subscriber.close("shutdown")
        if self._listen is not None:
            await self._listen.close()

    async def _start_listening(self) -> None:
        dsn = self.database_url.replace("asyncpg://", "postgres://", 1)
        try:
            self._listen = await asyncpg.connect(dsn)
            await self._listen.add_listener(events.NOTIFY_CHANNEL, self._on_notify)
        except (OSError, asyncpg.PostgresError):
            log.warning("LISTEN unavailable; relying on polling until it returns")
            self._listen = None

    def _on_notify(self, *args: object) -> None:
        self.wake()

    def wake(self) -> None:
        self.loop.wake()

    def subscribe(self, subscriber: Subscriber) -> int:
        """Start queueing live events for `subscriber`; returns the position replay must reach."""
        self.subscribers.add(subscriber)
        self._index(subscriber)
        return self.position

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)
        self._unindex(subscriber)

    def _index(self, subscriber: Subscriber) -> None:
        self._by_recipient.setdefault(subscriber.user.id, set()).add(subscriber)
        for child_id in subscriber.visible:
            self._by_child.setdefault(child_id, set()).add(subscriber)
        self._indexed[subscriber] = frozenset(subscriber.visible)
        self._index_expiry(subscriber)

    def _unindex(self, subscriber: Subscriber) -> None:
        for child_id in self._indexed.pop(subscriber, frozenset()):
            _discard(self._by_child, child_id, subscriber)
        _discard(self._by_recipient, subscriber.user.id, subscriber)

    def audience(self, event: Event) -> list[Subscriber]:
        """The subscribers an event may go to, found through the indexes."""
        if event.recipient_id is not None:
            candidates = self._by_recipient.get(event.recipient_id, set())
        elif event.child_id is not None:
            candidates = self._by_child.get(event.child_id, set())
        else:
            candidates = self.subscribers
        return [s for s in candidates if s.may_receive(event)]

    async def _step(self) -> None:
        await self.pump()
        await self._housekeeping()

    async def _housekeeping(self) -> None:
        if self._listen is None and self.database_url.startswith("postgres"):
            await self._start_listening()
        for subscriber in await ended_subscribers(self.subscribers):
            subscriber.close("logged_out")
        if time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + PRUNE_EVERY
            await prune_events(self.retention)

    async def pump(self) -> None:
        """Dispatch every committed event after `position`, in id order, without skipping
        an id that may still be committing (ids are allocated before commit)."""
        while True:
            batch = await Event.filter(id__gt=self.position).order_by("id").limit(BATCH)
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
                        names = await identity.shielded_names(event_views.text_child_ids(batch))
                    # The audience again, after the render's await: a socket that joined
                    # meanwhile replays only up to `position`, so it must get this event
                    # here. None can join between the offer and `position` moving on.
                    for subscriber in self.audience(event):
                        redact = names.except_for(subscriber.direct)
                        subscriber.offer(event_views.as_read_by(messages[event.id], redact))
                self.position = event.id
            if len(batch) < BATCH:
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
        """Bring every subscriber's visible children up to date before `event` goes out."""
        if event.type == events.GRANT_CHANGED:
            await self.refresh_visibility(await grant_holders(event))
        else:
            await self.refresh_expired()

    async def refresh_visibility(self, people: set[int] | None = None) -> None:
        """Re-read who may see what for `people` (everyone when None), so a revoked grant
        stops events at once."""
        if people is None:
            chosen = list(self.subscribers)
        else:
            chosen = [s for p in people for s in self._by_recipient.get(p, set())]
        for subscriber in chosen:
            await self.refresh(subscriber)

    async def refresh_expired(self) -> None:
        """An expired grant or break-glass stops events too, with no grant change to say so.
        Cheap until the earliest end among the open sockets has passed."""
        now = utcnow()
        if self._next_expiry is None or self._next_expiry > now:
            return
        self._next_expiry = None
        for subscriber in list(self.subscribers):
            if subscriber.visible_until is not None and subscriber.visible_until <= now:
                await self.refresh(subscriber)
            else:
                self._index_expiry(subscriber)

    def _index_expiry(self, subscriber: Subscriber) -> None:
        ends = subscriber.visible_until
        if ends is not None and (self._next_expiry is None or ends < self._next_expiry):
            self._next_expiry = ends

    async def refresh(self, subscriber: Subscriber) -> None:
        visible = await visible_child_ids(subscriber.user)
        ends = await next_expiry(subscriber.user)
        direct = await identity.direct_grant_ids(subscriber.user)
        if subscriber in self.subscribers:
            self._unindex(subscriber)
        subscriber.visible, subscriber.visible_until = visible, ends
        subscriber.direct = direct
        if subscriber in self.subscribers:
            self._index(subscriber)


def _discard(index: dict[int, set[Subscriber]], key: int, subscriber: Subscriber) -> None:
    found = index.get(key)
    if found is not None:
        found.discard(subscriber)
        if not found:
            del index[key]


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
