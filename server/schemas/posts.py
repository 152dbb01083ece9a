"""Children, their feeds and posts, grants, following, acknowledgements, notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from msgspec import Meta, Struct

from feeds.feed.posting import MAX_BODY
from feeds.models import PostKind
from feeds.network.worry_rule import MAX_NOTE
from server.endpoints import MAX_ID
from server.schemas.common import Count, Id

DateTime = Annotated[datetime, Meta(extra_json_schema={"format": "date-time"})]
# The domain counts a post after trimming, with each CRLF as one character (as the compose
# box does), and says by how much it is over: the type only bounds the raw text.
Body = Annotated[
    str,
    Meta(
        max_length=2 * MAX_BODY,
        description=f"1 to {MAX_BODY} characters once trimmed (a CRLF counts as one)",
    ),
]


class PostCreate(Struct):
    """A new post, or an edit: the kind from PostKind and up to MAX_BODY characters."""

    kind: PostKind
    body: Body


class Author(Struct):
    id: int
    name: str
    handle: str
    job_title: str
    agency: str


class WorryShareCreate(Struct):
    """ "I share this worry", with an optional short note (the domain trims it)."""

    note: Annotated[
        str, Meta(max_length=2 * MAX_NOTE, description=f"up to {MAX_NOTE} characters, trimmed")
    ] = ""


class Worrier(Struct):
    id: int
    name: str
    job_title: str
    agency: str


class WorryShare(Struct):
    professional: Worrier
    note: str
    created_at: str | None


class WorryShares(Struct):
    """Who shares the worry of a hunch or concern, oldest first."""

    count: Count
    shared_by: list[WorryShare]


class Post(Struct, omit_defaults=True):
    """A post; `worry` only on hunches and concerns in a feed page."""

    id: int
    child_id: int
    kind: PostKind
    body: str  # empty for a removed post
    created_at: str
    edited_at: str | None
    author: Author
    worry: WorryShares | None = None


class PostWorryShares(WorryShares, kw_only=True):
    post_id: int


class FeedPage(Struct):
    posts: list[Post]
    next_before: int | None  # pass as ?before= for the next, older page


class Child(Struct):
    """A child's record; without access to the feed, display_name is empty and
    date_of_birth null (the case reference identifies it). A shielded child shows its name
    and reference to direct grants only: everyone else gets display_name "Shielded child
    #<id>" and an empty reference, date_of_birth, school and area."""

    id: int
    display_name: str
    reference: str
    date_of_birth: str | None
    lead_professional_id: int | None
    school: str
    area: str
    status: Literal["open", "closed"]
    closed_at: str | None
    shielded: bool = False


class Children(Struct):
    children: list[Child]


class GrantCreate(Struct):
    """Exactly one of professional_id and team_id; expires_at with a time zone."""

    professional_id: Id | None = None
    team_id: Id | None = None
    expires_at: DateTime | None = None


class Holder(Struct):
    type: Literal["professional", "team"]
    id: int
    name: str
    handle: str  # to @mention them; empty for a team
    job_title: str
    agency: str


class Grant(Struct):
    id: int
    child_id: int
    holder: Holder
    granted_by: str | None
    created_at: str | None
    expires_at: str | None
    revoked_at: str | None


class Grants(Struct):
    grants: list[Grant]


class Follow(Struct):
    """Follow for a team you belong to (team_id), or for yourself (no body)."""

    team_id: Annotated[int, Meta(ge=0, le=MAX_ID)] | None = None


class Following(Struct):
    child_id: int
    following: bool


class Home(Struct):
    posts: list[Post]
    next_before: int | None
    following: list[int]
    last_event_id: int


class Acknowledged(Struct):
    post_id: int
    seen_by: Count


class Notification(Struct):
    notification_id: int
    kind: str
    child_id: int | None
    created_at: str | None
    read_at: str | None
    post: Post | None
    unread: Count


class Inbox(Struct):
    notifications: list[Notification]
    unread: Count


class Unread(Struct):
    unread: Count
