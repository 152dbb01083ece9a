"""Tortoise models for the safeguarding domain, and nothing else.

Nothing about a child is ever hard-deleted: posts keep revisions and are removed
softly; grants are revoked, not deleted; the audit log is append-only (enforced
by database triggers created in a migration).
"""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from feeds.kinds import PostKind as PostKind
from feeds.kinds import Role as Role
from feeds.kinds import Sector as Sector


class Agency(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200, unique=True)
    sector = fields.CharEnumField(Sector, max_length=20)

    class Meta:
        table = "agency"


class Professional(Model):
    id = fields.IntField(primary_key=True)
    email = fields.CharField(max_length=254, unique=True)
    name = fields.CharField(max_length=200)
    handle = fields.CharField(max_length=64, unique=True)
    job_title = fields.CharField(max_length=200, default="")
    # How colleagues reach them at work (the team around the child): feeds/organisation/contact.py
    work_phone = fields.CharField(max_length=40, default="", db_default="")
    work_email = fields.CharField(max_length=254, default="", db_default="")
    agency: fields.ForeignKeyRelation[Agency] = fields.ForeignKeyField(
        "feeds.Agency", related_name="professionals", on_delete=fields.RESTRICT
    )
    agency_id: int
    role = fields.CharEnumField(Role, max_length=20, default=Role.PRACTITIONER)
    password_hash = fields.CharField(max_length=255)
    is_active = fields.BooleanField(default=True)
    # Consecutive failed logins, and when the account locked (an administrator unlocks)
    failed_logins = fields.IntField(default=0)
    locked_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "professional"


class Team(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200, unique=True)
    agency: fields.ForeignKeyRelation[Agency] = fields.ForeignKeyField(
        "feeds.Agency", related_name="teams", on_delete=fields.RESTRICT
    )
    agency_id: int
    members: fields.ReverseRelation[TeamMember]

    class Meta:
        table = "team"


class TeamMember(Model):
    """Membership of a professional in a team (managers are members with is_manager)."""

    id = fields.IntField(primary_key=True)
    team: fields.ForeignKeyRelation[Team] = fields.ForeignKeyField(
        "feeds.Team", related_name="members", on_delete=fields.RESTRICT
    )
    team_id: int
    professional: fields.ForeignKeyRelation[Professional] = fields.ForeignKeyField(
        "feeds.Professional", related_name="memberships", on_delete=fields.RESTRICT
    )
    professional_id: int
    is_manager = fields.BooleanField(default=False)

    class Meta:
        table = "team_member"
        unique_together = (("team", "professional"),)
        indexes = (("professional_id",),)  # "which teams am I in?" on every access check


class Child(Model):
    id = fields.IntField(primary_key=True)
    display_name = fields.CharField(max_length=200)
    date_of_birth = fields.DateField(null=True)
    reference = fields.CharField(max_length=32, unique=True)
    lead_professional: fields.ForeignKeyNullableRelation[Professional] = fields.ForeignKeyField(
        "feeds.Professional", related_name="lead_for", null=True, on_delete=fields.RESTRICT
    )
    lead_professional_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)
    # db_default too: existing rows get "" when the column is added.
    school = fields.CharField(max_length=200, default="", db_default="")
    area = fields.CharField(max_length=200, default="", db_default="")
    # A closed case is read-only: its grants ended at `closed_at` (feeds/records/).
    closed_at = fields.DatetimeField(null=True)
    closed_by: fields.ForeignKeyNullableRelation[Professional] = fields.ForeignKeyField(
        "feeds.Professional", related_name="children_closed", null=True, on_delete=fields.RESTRICT
    )
    closed_by_id: int | None
    # A duplicate record merged into another (feeds/records/merging.py): its reference
    # finds that survivor, and the record itself is absent to everyone.
    merged_into_id = fields.IntField(null=True)
    # A shielded child's name and reference are shown only to direct personal grants
    # (feeds/access/identity.py); set and cleared by feeds/access/shielding.py.
    shielded_at = fields.DatetimeField(null=True)
    shielded_by: fields.ForeignKeyNullableRelation[Professional] = fields.ForeignKeyField(
        "feeds.Professional", related_name="children_shielded", null=True, on_delete=fields.RESTRICT
    )
    shielded_by_id: int | None
    shield_reason = fields.CharField(max_length=500, default="", db_default="")

    class Meta:
        table = "child"
        indexes = (("merged_into_id",),)


class ChildRevision(Model):
    """A child's record as it was before one change (edit, close or reopen): who, when,
    and the old values (the current values stay on Child)."""

    id = fields.IntField(primary_key=True)
    child: fields.ForeignKeyRelation[Child] = fields.ForeignKeyField(
        "feeds.Child", related_name="revisions", on_delete=fields.RESTRICT
    )
    child_id: int
    change = fields.CharField(max_length=16)  # edit, close, reopen
    changed_at = fields.DatetimeField()
    changed_by: fields.ForeignKeyRelation[Professional] = fields.ForeignKeyField(
        "feeds.Professional", related_name="child_revisions_made", on_delete=fields.RESTRICT
    )
    changed_by_id: int
    display_name = fields.CharField(max_length=200)
    reference = fields.CharField(max_length=32)
    date_of_birth = fields.DateField(null=True)
    school = fields.CharField(max_length=200, default="")
    area = fields.CharField(max_length=200, default="")
    lead_professional_id = fields.IntField(null=True)
    closed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "child_revision"
        indexes = (("child_id", "id"),)


class Grant(Model):
    """Need-to-know access to one child, for one professional or one team."""

    id = fields.IntField(primary_key=True)
    child: fields.ForeignKeyRelation[Child] = fields.ForeignKeyField(
        "feeds.Child", related_name="grants", on_delete=fields.RESTRICT
    )
    child_id: int
    professional: fields.ForeignKeyNullableRelation[Professional] = fields.ForeignKeyField(
        "feeds.Professional", related_name="grants", null=True, on_delete=fields.RESTRICT
    )
    professional_id: int | None
    team: fields.ForeignKeyNullableRelation[Team] = fields.ForeignKeyField(
        "feeds.Team", related_name="grants", null=True, on_delete=fields.RESTRICT
    )
    team_id: int | None
    granted_by: fields.ForeignKeyNullableRelation[Professional] = fields.ForeignKeyField(
        "feeds.Professional", related_name="grants_given", null=True, on_delete=fields.RESTRICT
    )
    granted_by_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    revoked_by: fields.ForeignKeyNullableRelation[Professional] = fields.ForeignKeyField(
        "feeds.Professional", related_name="grants_revoked", null=True, on_delete=fields.RESTRICT
    )
    revoked_by_id: int | None
    # Set once, by compare-and-set, when the "access ends soon" warning was sent.
    ending_warned_at = fields.DatetimeField(null=True)

    class Meta:
        table = "grant"
        # Access checks look grants up by child, by professional and by team; the
        # "access ends soon" warning (feeds/access/ending.py) by expiry, every sweep step.
        indexes = (("child_id", "revoked_at"), ("professional_id",), ("team_id",), ("expires_at",))


class Post(Model):
    id = fields.IntField(primary_key=True)
    child: fields.ForeignKeyRelation[Child] = fields.ForeignKeyField(
        "feeds.Child", related_name="posts", on_delete=fields.RESTRICT
    )
    child_id: int
    author: fields.ForeignKeyRelation[Professional] = fields.ForeignKeyField(
        "feeds.Professional", related_name="posts", on_delete=fields.RESTRICT
    )
    author_id: int
    kind = fields.CharEnumField(PostKind, max_length=20)
    body = fields.CharField(max_length=500)
    created_at = fields.DatetimeField(auto_now_add=True)
    edited_at = fields.DatetimeField(null=True)
    removed_at = fields.DatetimeField(null=True)
    removed_by: fields.ForeignKeyNullableRelation[Professional] = fields.ForeignKeyField(
        "feeds.Professional", related_name="posts_removed", null=True, on_delete=fields.RESTRICT
    )
    removed_by_id: int | None
    # Idempotency: one post per (author, key); the fingerprint detects a reused key.
    idempotency_key = fields.CharField(max_length=128, null=True)
    request_fingerprint = fields.CharField(max_length=64, null=True)

    class Meta:
        table = "post"
        unique_together = (("author", "idempotency_key"),)
        indexes = (("child_id", "id"),)


class PostRevision(Model):
    """The text of a post before an edit (the current text stays on Post)."""

    id = fields.IntField(primary_key=True)
    post: fields.ForeignKeyRelation[Post] = fields.ForeignKeyField(
        "feeds.Post", related_name="revisions", on_delete=fields.RESTRICT
    )
    post_id: int
    kind = fields.CharEnumField(PostKind, max_length=20)
    body = fields.CharField(max_length=500)
    replaced_at = fields.DatetimeField(auto_now_add=True)
    replaced_by: fields.ForeignKeyRelation[Professional] = fields.ForeignKeyField(
        "feeds.Professional", related_name="revisions_made", on_delete=fields.RESTRICT
    )
    replaced_by_id: int

    class Meta:
        table = "post_revision"


class AuditRecord(Model):
    """Append-only: triggers refuse DELETE, and every UPDATE but the sealer's one-time
    setting of `seq` and `hash` on an unsealed row (migration 0012)."""

    id = fields.BigIntField(primary_key=True)
    at = fields.DatetimeField(auto_now_add=True)
    actor_id = fields.IntField(null=True)
    actor_email = fields.CharField(max_length=254, default="")
    action = fields.CharField(max_length=64)
    child_id = fields.IntField(null=True, db_index=True)
    outcome = fields.CharField(max_length=16)
    ip = fields.CharField(max_length=64, default="")
    request_id = fields.CharField(max_length=64, default="")
    detail: Any = fields.JSONField(default=dict)
    # Written NULL by the request; the sealer (feeds/audit/sealer.py) sets both once:
    # `seq` is the record's place in the chain, `hash` the SHA-256 of its fields and the
    # hash of the record at seq - 1 (feeds/audit/chain.py).
    hash = fields.CharField(max_length=64, null=True)
    seq = fields.BigIntField(null=True, unique=True)

    class Meta:
        table = "audit_record"
        # The sign-in throttle counts recent failures by account and by address.
        indexes = (("actor_email", "at"), ("ip", "at"))


class AuditSealerLease(Model):
    """Which worker does a one-at-a-time job (seals the audit log, catches up velocity):
    one row per lease, taken and renewed with a compare-and-set (feeds/leases.py); a lease
    not renewed by `expires_at` may be taken by another."""

    name = fields.CharField(max_length=32, primary_key=True)
    holder = fields.CharField(max_length=64)
    expires_at = fields.DatetimeField()

    class Meta:
        table = "audit_sealer_lease"


class Session(Model):
    """A server-side login session: the cookie carries a random id and we store its hash."""

    id = fields.CharField(max_length=64, primary_key=True)
    professional: fields.ForeignKeyRelation[Professional] = fields.ForeignKeyField(
        "feeds.Professional", related_name="sessions", on_delete=fields.RESTRICT
    )
    professional_id: int
    created_at = fields.DatetimeField(auto_now_add=True)
    last_seen_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)
    ip = fields.CharField(max_length=64, default="")
    user_agent = fields.CharField(max_length=300, default="")
    # Password accepted, second factor not yet: reaches only the code page and logout.
    mfa_pending = fields.BooleanField(default=False)
    # Signed in through the single sign-on provider (logout then ends its session too).
    via_sso = fields.BooleanField(default=False)

    class Meta:
        table = "session"


class ApiToken(Model):
    """A personal access token for phone and integration clients, stored hashed."""

    id = fields.IntField(primary_key=True)
    professional: fields.ForeignKeyRelation[Professional] = fields.ForeignKeyField(
        "feeds.Professional", related_name="tokens", on_delete=fields.RESTRICT
    )
    professional_id: int
    name = fields.CharField(max_length=100)
    token_hash = fields.CharField(max_length=64, unique=True)
    prefix = fields.CharField(max_length=12)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_token"


class Event(Model):
    """The event log that live updates and websocket replay read, in id order."""

    id = fields.BigIntField(primary_key=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    type = fields.CharField(max_length=40)
    child_id = fields.IntField(null=True, db_index=True)
    recipient_id = fields.IntField(null=True)
    payload: Any = fields.JSONField(default=dict)

    class Meta:
        table = "event"


class SearchOutbox(Model):
    """Index work written with the change it describes, drained by search/."""

    id = fields.BigIntField(primary_key=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    post_id = fields.IntField(null=True)
    child_id = fields.IntField(null=True)
    op = fields.CharField(max_length=16)
    attempts = fields.IntField(default=0)
    processed_at = fields.DatetimeField(null=True, db_index=True)
    last_error = fields.CharField(max_length=500, default="")

    class Meta:
        table = "search_outbox"


class Follow(Model):
    """A professional or a team following a child's feed (team follows cover every member)."""

    id = fields.IntField(primary_key=True)
    child: fields.ForeignKeyRelation[Child] = fields.ForeignKeyField(
        "feeds.Child", related_name="follows", on_delete=fields.RESTRICT
    )
    child_id: int
    professional: fields.ForeignKeyNullableRelation[Professional] = fields.ForeignKeyField(
        "feeds.Professional", related_name="follows", null=True, on_delete=fields.RESTRICT
    )
    professional_id: int | None
    team: fields.ForeignKeyNullableRelation[Team] = fields.ForeignKeyField(
        "feeds.Team", related_name="follows", null=True, on_delete=fields.RESTRICT
    )
    team_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "follow"
        unique_together = (("child", "professional"), ("child", "team"))


class ChildVisit(Model):
    """Where a professional last stopped reading a child's feed: posts after
    `last_seen_post_id` are new to them (feeds/feed/visits.py). One row per person and child,
    moved forward by one upsert when the child page is read."""

    id = fields.IntField(primary_key=True)
    professional: fields.ForeignKeyRelation[Professional] = fields.ForeignKeyField(
        "feeds.Professional", related_name="visits", on_delete=fields.RESTRICT
    )
    professional_id: int
    child: fields.ForeignKeyRelation[Child] = fields.ForeignKeyField(
        "feeds.Child", related_name="visits", on_delete=fields.RESTRICT
    )
    child_id: int
    last_seen_post_id = fields.IntField(default=0)
    seen_at = fields.DatetimeField()

    class Meta:
        table = "child_visit"
        unique_together = (("professional", "child"),)


class Acknowledgement(Model):
    """A professional marking a post (usually a hunch or concern) as seen."""

    id = fields.IntField(primary_key=True)
    post: fields.ForeignKeyRelation[Post] = fields.ForeignKeyField(
        "feeds.Post", related_name="acknowledgements", on_delete=fields.RESTRICT
    )
    post_id: int
    professional: fields.ForeignKeyRelation[Professional] = fields.ForeignKeyField(
        "feeds.Professional", related_name="acknowledgements", on_delete=fields.RESTRICT
    )
    professional_id: int
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "acknowledgement"
        unique_together = (("post", "professional"),)


class Notification(Model):
    """One item in a professional's inbox (a mention, or a post on a followed child)."""

    id = fields.BigIntField(primary_key=True)
    recipient: fields.ForeignKeyRelation[Professional] = fields.ForeignKeyField(
        "feeds.Professional", related_name="notifications", on_delete=fields.RESTRICT
    )
    recipient_id: int
    kind = fields.CharField(max_length=32)
    child_id = fields.IntField(null=True)
    post_id = fields.IntField(null=True)
    actor_id = fields.IntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    read_at = fields.DatetimeField(null=True)

    class Meta:
        table = "notification"
        indexes = (("recipient_id", "read_at"),)


class VelocityState(Model):
    """The last velocity verdict for each child, kept so hysteresis holds between runs
    and so a manager's board is one read of stored rows, never a recompute."""

    id = fields.IntField(primary_key=True)
    child_id = fields.IntField(unique=True)
    flagged = fields.BooleanField(default=False)
    score = fields.FloatField(default=0.0)
    flagged_at = fields.DatetimeField(null=True)  # start of the current episode
    updated_at = fields.DatetimeField(auto_now=True)
    # What the board shows, as of `assessed_at`: the detector's Assessment as JSON.
    assessment: Any = fields.JSONField(default=dict)
    last_post_at = fields.DatetimeField(null=True)
    assessed_at = fields.DatetimeField(null=True)
    # A hash of what the board shows (assessment and last post), so a sweep compares 32
    # characters per child instead of reading every stored verdict back.
    shown_digest = fields.CharField(max_length=32, null=True)
    # A hash of what the verdict was computed from (feeds/velocity/unchanged.py), so a
    # sweep later the same day skips a child whose inputs did not change.
    inputs_digest = fields.CharField(max_length=32, null=True)

    class Meta:
        table = "velocity_state"


class SilenceState(Model):
    """The last silence verdict for each child ("gone quiet": an agency in regular contact
    has stopped), recomputed once a UTC day by the velocity sweep and after each post, so
    the board reads it and a flip notifies once per episode."""

    id = fields.IntField(primary_key=True)
    child_id = fields.IntField(unique=True)
    flagged = fields.BooleanField(default=False)
    score = fields.FloatField(default=0.0)
    flagged_at = fields.DatetimeField(null=True)  # start of the current episode
    silent_agencies: Any = fields.JSONField(default=list)
    reasons: Any = fields.JSONField(default=list)
    # The UTC day the stored verdict was last written or confirmed (the daily sweep does
    # not rewrite a verdict that did not move; it keeps its own day per shard).
    assessed_on = fields.DateField(null=True)

    class Meta:
        table = "silence_state"


class VelocitySweepShard(Model):
    """One slice of the periodic velocity sweep (children whose id % shards == shard).

    Workers claim due shards with a compare-and-set on this row, so several workers share
    a sweep instead of each repeating it, and a crashed worker's claim lapses.
    """

    shard = fields.IntField(primary_key=True, generated=False)
    claimed_by = fields.CharField(max_length=64, null=True)
    claimed_at = fields.DatetimeField(null=True)  # set while a worker sweeps the shard
    swept_at = fields.DatetimeField(null=True)  # when the shard was last swept

    class Meta:
        table = "velocity_sweep_shard"


class ChildActivityDay(Model):
    """One child's activity on one UTC day, kept up to date in each post's transaction
    (O(1) per post) so velocity is recomputed from a few rows per child, not from posts.

    The JSON columns count posts per key, so a removed or re-kinded post is subtracted
    exactly and a key whose count reaches zero leaves the day's set.
    """

    id = fields.BigIntField(primary_key=True)
    child_id = fields.IntField()
    day = fields.DateField()
    posts = fields.IntField(default=0)
    by_kind: Any = fields.JSONField(default=dict)  # kind -> posts
    authors: Any = fields.JSONField(default=dict)  # professional id -> posts
    agencies: Any = fields.JSONField(default=dict)  # agency name -> posts
    concern_authors: Any = fields.JSONField(default=dict)  # professional id -> hunches and concerns
    concern_agencies: Any = fields.JSONField(default=dict)  # agency name -> hunches and concerns
    last_post_at = fields.DatetimeField(null=True)

    class Meta:
        table = "child_activity_day"
        unique_together = (("child_id", "day"),)


class BreakGlass(Model):
    """Emergency access to a child without a grant: a reason, a time limit, an admin review."""

    id = fields.IntField(primary_key=True)
    child: fields.ForeignKeyRelation[Child] = fields.ForeignKeyField(
        "feeds.Child", related_name="break_glass", on_delete=fields.RESTRICT
    )
    child_id: int
    professional: fields.ForeignKeyRelation[Professional] = fields.ForeignKeyField(
        "feeds.Professional", related_name="break_glass", on_delete=fields.RESTRICT
    )
    professional_id: int
    reason = fields.CharField(max_length=500)
    started_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    reviewed_at = fields.DatetimeField(null=True)
    reviewed_by: fields.ForeignKeyNullableRelation[Professional] = fields.ForeignKeyField(
        "feeds.Professional",
        related_name="break_glass_reviewed",
        null=True,
        on_delete=fields.RESTRICT,
    )
    reviewed_by_id: int | None
    review_note = fields.CharField(max_length=500, default="")

    class Meta:
        table = "break_glass"
        indexes = (("professional_id", "child_id", "expires_at"),)


class MfaFactor(Model):
    """A TOTP authenticator app of one professional, active once confirmed with a code."""

    id = fields.IntField(primary_key=True)
    professional: fields.OneToOneRelation[Professional] = fields.OneToOneField(
        "feeds.Professional", related_name="mfa_factor", on_delete=fields.RESTRICT
    )
    professional_id: int
    # "fernet:" and the base32 secret encrypted (feeds/accounts/mfa_keys.py); rows written
    # before encryption hold the bare base32 secret until their next use.
    secret = fields.CharField(max_length=255)
    created_at = fields.DatetimeField(auto_now_add=True)
    confirmed_at = fields.DatetimeField(null=True)
    # The last 30-second step a code was accepted for: that step and earlier are refused.
    last_used_step = fields.BigIntField(null=True)

    class Meta:
        table = "mfa_factor"


class RecoveryCode(Model):
    """A one-time recovery code, stored as an argon2id hash (see feeds/accounts/mfa.py)."""

    id = fields.IntField(primary_key=True)
    professional: fields.ForeignKeyRelation[Professional] = fields.ForeignKeyField(
        "feeds.Professional", related_name="recovery_codes", on_delete=fields.RESTRICT
    )
    professional_id: int
    code_hash = fields.CharField(max_length=255)
    created_at = fields.DatetimeField(auto_now_add=True)
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "recovery_code"
        indexes = (("professional_id", "used_at"),)


class SiteSetting(Model):
    """A site-wide setting an administrator changes at run time (e.g. require_mfa)."""

    key = fields.CharField(max_length=64, primary_key=True)
    value: Any = fields.JSONField(default=dict)
    updated_at = fields.DatetimeField(auto_now=True)
    updated_by_id = fields.IntField(null=True)

    class Meta:
        table = "site_setting"
