"""Editing a post, its earlier wordings, and the people one may @mention."""

from __future__ import annotations

from typing import Annotated

from msgspec import UNSET, Meta, Struct, UnsetType

from feeds.feed.mentions import MAX_QUERY
from feeds.models import PostKind
from server.schemas.posts import Body, Post


class PostChanges(Struct, forbid_unknown_fields=True):
    """The kind, the text or both (at least one); the old version is kept as a revision."""

    kind: PostKind | UnsetType = UNSET
    body: Body | UnsetType = UNSET


class UnreachableMention(Struct):
    """A handle in the post that notified nobody. `name` only when the author already knows
    the person (same agency or team); otherwise it is null whether or not the handle exists."""

    handle: str
    name: str | None
    message: str


class PostWritten(Post, kw_only=True):
    """A post as written or edited, with the mentions in it that reached nobody."""

    unreachable_mentions: list[UnreachableMention]


class Revision(Struct):
    """An earlier wording: written_at is null when older versions were left out."""

    kind: PostKind
    body: str
    written_at: str | None
    replaced_at: str
    replaced_by: str


class PostHistory(Struct):
    post: Post
    revisions: list[Revision]  # newest first


class MentionQuery(Struct):
    """What follows the "@": the start of a name, of a word of it, or of a handle (none:
    nobody is listed)."""

    q: Annotated[str, Meta(max_length=MAX_QUERY)] = ""


class Mentionable(Struct):
    name: str
    handle: str
    job_title: str
    agency: str


class MentionablePeople(Struct):
    people: list[Mentionable]
