"""What a websocket receives for an event, rendered at send time from the ids it carries.

The event log is not a second copy of content: an event names what changed (post id,
notification id, who acknowledged), and the post text a socket sees comes from the
database as it is now. A post removed since replays as `post.removed`, with no text; an
edited one shows its current text. Events written before this rule may still hold whole
posts: only their ids are read. A batch of events is rendered with one query per kind of
row (posts, notifications, people), however many events and sockets there are.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from feeds import events
from feeds.access import identity
from feeds.access.identity import AS_WRITTEN, Redactor
from feeds.feed.notifications import notification_payload, unread_count
from feeds.models import Event, Notification, Post, Professional
from feeds.network.involvement import entry_view
from feeds.network.models import ChildEvent
from feeds.serializers import author_view, post_view

POST_EVENTS = frozenset({events.POST_CREATED, events.POST_EDITED})
NOTE_EVENTS = frozenset({events.MENTION, events.NOTIFICATION})
ENTRY_ID = "child_event_id"  # what a child.entry event carries
BY_EVENTS = frozenset({events.POST_ACKNOWLEDGED, events.WORRY_SHARED})  # someone did it to a post


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _payload(event: Event) -> dict[str, Any]:
    return event.payload if isinstance(event.payload, dict) else {}


def post_id_of(event: Event) -> int | None:
    """The post an event is about (older post events stored the whole post, id as "id")."""
    payload = _payload(event)
    return _int(payload.get("post_id", payload.get("id")))


def _acknowledger_id(event: Event) -> int | None:
    payload = _payload(event)
    by = payload.get("by")  # older events stored the whole author view
    return _int(payload.get("by_id", by.get("id") if isinstance(by, dict) else None))


@dataclass
class _Rows:
    """What a batch of events needs from the database, loaded once per batch."""

    posts: dict[int, Post] = field(default_factory=dict)
    notes: dict[int, Notification] = field(default_factory=dict)
    people: dict[int, Professional] = field(default_factory=dict)
    unread: dict[int, int] = field(default_factory=dict)
    entries: dict[int, ChildEvent] = field(default_factory=dict)  # system entries in a feed


async def _load(batch: Sequence[Event]) -> _Rows:
    found = _Rows()
    note_ids = {
        i for e in batch if e.type in NOTE_EVENTS if (i := _int(_payload(e).get("notification_id")))
    }
    if note_ids:
        found.notes = {n.id: n for n in await Notification.filter(id__in=note_ids)}
    entry_ids = {
        i for e in batch if e.type == events.CHILD_ENTRY if (i := _int(_payload(e).get(ENTRY_ID)))
    }
    if entry_ids:
        entries = await ChildEvent.filter(id__in=entry_ids).select_related("agency")
        found.entries = {entry.id: entry for entry in entries}
    post_ids = {i for e in batch if e.type in POST_EVENTS if (i := post_id_of(e))}
    post_ids |= {n.post_id for n in found.notes.values() if n.post_id is not None}
    if post_ids:
        posts = await Post.filter(id__in=post_ids).select_related("author__agency")
        found.posts = {p.id: p for p in posts}
    await _load_people(batch, found)
    return found


async def _load_people(batch: Sequence[Event], found: _Rows) -> None:
    """Who acknowledged, and each notification's recipient with their unread count now."""
    ack_ids = {i for e in batch if e.type in BY_EVENTS if (i := _acknowledger_id(e))}
    recipients = {n.recipient_id for n in found.notes.values()}
    if ack_ids or recipients:
        people = await Professional.filter(id__in=ack_ids | recipients).select_related("agency")
        found.people = {p.id: p for p in people}
    for person_id in recipients:
        if (person := found.people.get(person_id)) is not None:
            found.unread[person_id] = await unread_count(person)


def _removed(event: Event, post_id: int | None) -> dict[str, Any]:
    data = {"post_id": post_id}
    return {"id": event.id, "type": events.POST_REMOVED, "child_id": event.child_id, "data": data}


def _data(event: Event, found: _Rows) -> dict[str, Any]:
    payload = _payload(event)
    if event.type == events.POST_REMOVED:
        return {"post_id": post_id_of(event)}
    if event.type in BY_EVENTS:
        by = found.people.get(_acknowledger_id(event) or 0)
        view = author_view(by) if by is not None else None
        return {"post_id": post_id_of(event), "by": view, "count": _int(payload.get("count"))}
    if event.type == events.CHILD_ENTRY:
        # The entry's own words (never another child's name): the page inserts it live.
        entry = found.entries.get(_int(payload.get(ENTRY_ID)) or 0)
        if entry is None or entry.child_id != event.child_id:
            return {ENTRY_ID: payload.get(ENTRY_ID)}
        return entry_view(entry)
    if event.type in NOTE_EVENTS:
        note = found.notes.get(_int(payload.get("notification_id")) or 0)
        if note is None:
            return {"notification_id": payload.get("notification_id")}
        post = found.posts.get(note.post_id) if note.post_id is not None else None
        # As written here; each socket reads it through `as_read_by` (the viewer's redactor).
        return notification_payload(note, post, found.unread.get(note.recipient_id, 0), AS_WRITTEN)
    return payload  # grant, follow, velocity, break-glass: ids, flags and scores only


def _message(event: Event, found: _Rows) -> dict[str, Any]:
    if event.type in POST_EVENTS:
        post_id = post_id_of(event)
        post = found.posts.get(post_id or 0)
        if post is None or post.removed_at is not None or post.child_id != event.child_id:
            return _removed(event, post_id)
        data: dict[str, Any] = dict(post_view(post, AS_WRITTEN))  # see `as_read_by`
    else:
        data = _data(event, found)
    return {"id": event.id, "type": event.type, "child_id": event.child_id, "data": data}


async def render(batch: Sequence[Event]) -> list[dict[str, Any]]:
    """The websocket message for each event, in order, from the database as it is now."""
    if not batch:
        return []
    found = await _load(batch)
    return [_message(event, found) for event in batch]


TEXT_EVENTS = POST_EVENTS | NOTE_EVENTS  # messages that carry post text


def texts_of(messages: Iterable[dict[str, Any]]) -> Iterator[str]:
    """The post text the rendered messages carry (a post's, a notification's post's)."""
    for message in messages:
        data = message.get("data")
        if not isinstance(data, dict):
            continue
        for view in (data, data.get("post")):
            if isinstance(view, dict) and isinstance(body := view.get("body"), str):
                yield body


async def shielded_named(batch: Sequence[Event], messages: Iterable[dict[str, Any]]) -> Redactor:
    """The shielded children whose names a rendered batch's text holds, hidden from
    everyone (then `except_for` each viewer's direct grants). Usually none: the batch then
    goes out as written. No query for a batch that carries no post text."""
    if not any(e.type in TEXT_EVENTS for e in batch):
        return AS_WRITTEN
    return (await identity.shielded_names()).only_named_in(texts_of(messages))


def as_read_by(message: dict[str, Any], redact: Redactor) -> dict[str, Any]:
    """A rendered message as one viewer may read it: the names of shielded children it may
    not identify withheld from post text (a copy; the shared message is untouched)."""
    data = message.get("data")
    if not redact.hidden or not isinstance(data, dict):
        return message
    if isinstance(data.get("post"), dict):  # a notification about a post
        data = {**data, "post": _read(data["post"], redact)}
    return {**message, "data": _read(data, redact)}


def _read(view: dict[str, Any], redact: Redactor) -> dict[str, Any]:
    body = view.get("body")
    if not isinstance(body, str):
        return view
    return {**view, "body": redact(body)}


async def render_for(batch: Sequence[Event], direct: Collection[int]) -> list[dict[str, Any]]:
    """`render` as one viewer may read it, `direct` its direct grants (a replay)."""
    messages = await render(batch)
    redact = (await shielded_named(batch, messages)).except_for(direct)
    return [as_read_by(message, redact) for message in messages]
