"""Households (feeds/network/households.py): linking children, and a family as one viewer
sees it. A child the viewer may not see is only a slot: no name, reference, post or count."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, Struct

from feeds.network.models import Relationship
from server.schemas.common import Id
from server.schemas.posts import Post

Text = Annotated[str, Meta(max_length=1000)]


class HouseholdLink(Struct):
    """Link this child into the household of `with_child_id` (a child you can see)."""

    with_child_id: Id
    relationship: Relationship = Relationship.SIBLING


class SlotAsk(Struct):
    """Ask to join the network of the child in a household slot you cannot see."""

    slot: Id
    role: Text
    reason: Text


class Velocity(Struct):
    flagged: bool
    score: float
    reasons: list[str]
    gone_quiet: bool


class FamilyChild(Struct):
    slot: int
    id: int
    display_name: str
    reference: str
    relationship: Relationship
    velocity: Velocity


class HiddenChild(Struct):
    """Another child in this household whom you cannot see: only its slot, to ask for."""

    slot: int
    text: str


class Household(Struct):
    id: int
    children: list[FamilyChild]
    hidden: list[HiddenChild]
    posts: list[Post]  # recent posts about the children you can see, newest first
    concerns: list[Post]  # their hunches and concerns of the last 30 days


class HouseholdAnswer(Struct):
    """`household` is null when the child is in none."""

    household: Household | None


class Linked(Struct):
    household_id: int
