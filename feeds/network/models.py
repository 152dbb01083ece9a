"""Tortoise models of the network around a child (registered with the `feeds` app)."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from feeds.models import Agency, Child, Post, Professional
from feeds.network.worry_rule import MAX_NOTE


class RequestStatus(StrEnum):
    """What is stored; "lapsed" is computed at read time from `created_at`."""

    OPEN = "open"
    APPROVED = "approved"
    DECLINED = "declined"


class EntryKind(StrEnum):
    AGENCY_INVOLVED = "agency_involved"
    # Households (feeds/network/households.py): the entry never names the other children.
    HOUSEHOLD_JOINED = "household_joined"  # this child was linked into a household
    HOUSEHOLD_LEFT = "household_left"  # this child was unlinked from its household
    SIBLING_JOINED = "household_child_joined"  # another child was linked into its household
    SIBLING_LEFT = "household_child_left"  # another child was unlinked from its household


class Relationship(StrEnum):
    """How a child belongs to its household."""

    SIBLING = "sibling"
    SHARES_HOME = "shares_home"  # not a sibling, but living in the same home


class AccessRequest(Model):
    """A professional asking to join a child's network, by the reference they were given.

    `child` is empty when the reference matched no child: the request is kept all the same,
    so the requester's own list, the audit and the rate limit read alike either way.
    """

    id = fields.IntField(primary_key=True)
    requester: fields.ForeignKeyRelation[Professional] = fields.ForeignKeyField(
        "feeds.Professional", related_name="access_requests", on_delete=fields.RESTRICT
    )
    requester_id: int
    child: fields.ForeignKeyNullableRelation[Child] = fields.ForeignKeyField(
        "feeds.Child", related_name="access_requests", null=True, on_delete=fields.RESTRICT
    )
    child_id: int | None
    reference = fields.CharField(max_length=32)  # as the requester typed it (trimmed)
    role = fields.CharField(max_length=100)  # their role with the child, e.g. "school nurse"
    reason = fields.CharField(max_length=500)
    created_at = fields.DatetimeField()
    status = fields.CharEnumField(RequestStatus, max_length=16, default=RequestStatus.OPEN)
    decided_at = fields.DatetimeField(null=True)
    decided_by: fields.ForeignKeyNullableRelation[Professional] = fields.ForeignKeyField(
        "feeds.Professional", related_name="access_decisions", null=True, on_delete=fields.RESTRICT
    )
    decided_by_id: int | None
    decline_reason = fields.CharField(max_length=500, default="")
    grant_id = fields.IntField(null=True)  # the grant an approval created

    class Meta:
        table = "access_request"
        # The rate limit counts a requester's recent requests; deciders list a child's.
        indexes = (("requester_id", "created_at"), ("child_id", "status"))


class ChildEvent(Model):
    """A system entry in a child's feed ("Northgate Primary School (education) is now
    involved"), shown among the posts. One per (child, kind, agency)."""

    id = fields.IntField(primary_key=True)
    child: fields.ForeignKeyRelation[Child] = fields.ForeignKeyField(
        "feeds.Child", related_name="system_entries", on_delete=fields.RESTRICT
    )
    child_id: int
    kind = fields.CharEnumField(EntryKind, max_length=32)
    agency: fields.ForeignKeyNullableRelation[Agency] = fields.ForeignKeyField(
        "feeds.Agency", related_name="child_events", null=True, on_delete=fields.RESTRICT
    )
    agency_id: int | None
    actor_id = fields.IntField(null=True)  # who granted or posted
    created_at = fields.DatetimeField()

    class Meta:
        table = "child_event"
        unique_together = (("child", "kind", "agency"),)


class WorryShare(Model):
    """ "I share this worry" on someone else's hunch or concern (feeds/network/worry.py).
    One per person per post; `child_id` is the post's, kept for the 14-day window query."""

    id = fields.IntField(primary_key=True)
    post: fields.ForeignKeyRelation[Post] = fields.ForeignKeyField(
        "feeds.Post", related_name="worry_shares", on_delete=fields.RESTRICT
    )
    post_id: int
    professional: fields.ForeignKeyRelation[Professional] = fields.ForeignKeyField(
        "feeds.Professional", related_name="worry_shares", on_delete=fields.RESTRICT
    )
    professional_id: int
    child_id = fields.IntField()
    note = fields.CharField(max_length=MAX_NOTE, default="")
    created_at = fields.DatetimeField()

    class Meta:
        table = "worry_share"
        unique_together = (("post", "professional"),)
        indexes = (("child_id", "created_at"),)


class WorryEpisode(Model):
    """A stretch of time in which enough professionals from enough agencies were worried
    about a child: its opening is the one prompt to the people answerable for the child.
    It ends (`closed_at`) when the threshold stops holding; `holds_until` is when it would
    stop if no new worry came, so a read needs no recompute."""

    id = fields.IntField(primary_key=True)
    child: fields.ForeignKeyRelation[Child] = fields.ForeignKeyField(
        "feeds.Child", related_name="worry_episodes", on_delete=fields.RESTRICT
    )
    child_id: int
    opened_at = fields.DatetimeField()
    holds_until = fields.DatetimeField()
    closed_at = fields.DatetimeField(null=True)
    professionals = fields.IntField()  # when last assessed
    agencies = fields.IntField()

    class Meta:
        table = "worry_episode"
        indexes = (("child_id", "closed_at"),)


class Household(Model):
    """Children linked as siblings or as sharing a home. It has no name of its own: a
    viewer knows it only through the children in it whom they may see."""

    id = fields.IntField(primary_key=True)
    created_at = fields.DatetimeField()
    created_by_id = fields.IntField(null=True)

    class Meta:
        table = "household"


class HouseholdMember(Model):
    """One child in one household (a child is in at most one). Unlinking deletes the row;
    the audit log and the system entries in each feed keep the history."""

    id = fields.IntField(primary_key=True)  # the "slot" a hidden child is asked for by
    household: fields.ForeignKeyRelation[Household] = fields.ForeignKeyField(
        "feeds.Household", related_name="members", on_delete=fields.RESTRICT
    )
    household_id: int
    child: fields.OneToOneRelation[Child] = fields.OneToOneField(
        "feeds.Child", related_name="household_membership", on_delete=fields.RESTRICT
    )
    child_id: int
    relationship = fields.CharEnumField(Relationship, max_length=16)
    linked_at = fields.DatetimeField()
    linked_by_id = fields.IntField(null=True)

    class Meta:
        table = "household_member"
        indexes = (("household_id", "id"),)
