"""What changed since I last looked: "My children", since yesterday, the last-visit
marker, and the teams that follow a child."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, Struct

from feeds.feed.reading import MAX_PAGE
from feeds.feed.since import SINCE_PAGE
from server.schemas.common import Count, Id
from server.schemas.posts import Post


class MyChild(Struct):
    child_id: int
    display_name: str
    reference: str
    last_post_at: str | None
    new_posts: Count  # since your last visit; your own and removed posts left out
    last_visit_at: str | None  # null: you have not opened the child's page yet
    flagged: bool  # rising attention
    gone_quiet: bool  # regular contact has stopped
    following: bool  # you or one of your teams


class MyChildren(Struct):
    """Children you lead, hold a personal grant on, or follow (yourself or through a team),
    while you may see them: those with new posts first, then by last post."""

    children: list[MyChild]


class SincePage(Struct):
    """?before=<post id>&limit=: newest first, older pages by the `next_before` given."""

    before: Id | None = None
    limit: Annotated[int, Meta(ge=1, le=MAX_PAGE)] = SINCE_PAGE


class ChildPosts(Struct):
    child_id: int
    display_name: str
    reference: str
    last_seen_post_id: int | None  # your last-visit marker; posts after it are new to you
    posts: list[Post]


class SinceYesterday(Struct):
    since: str  # 00:00 UTC yesterday
    groups: list[ChildPosts]  # the child with the newest post first
    next_before: int | None
    count: Count


class Seen(Struct, forbid_unknown_fields=True):
    """Seen up to this post of the child (default: its newest)."""

    post_id: Id | None = None


class SeenUpTo(Struct):
    child_id: int
    last_seen_post_id: int


class TeamFollow(Struct):
    team_id: int
    name: str
    following: bool
    may_change: bool  # you manage the team: follow and unfollow with {"team_id"}


class TeamFollows(Struct):
    child_id: int
    teams: list[TeamFollow]
