"""Every audit action and outcome, named once.

Audit rows store the value (a short dotted string); code uses the members, so a typo is
a type error rather than a silently different action (the login throttle counts some).
"""

from __future__ import annotations

from enum import StrEnum


class AuditAction(StrEnum):
    LOGIN = "login"
    LOGOUT = "logout"
    PASSWORD_CHANGE = "password.change"  # noqa: S105 - an action name
    PASSWORD_CONFIRM = "password.confirm"  # noqa: S105 - asked again before a sensitive change
    ACCOUNT_LOCK = "account.lock"
    ACCOUNT_UNLOCK = "account.unlock"
    ACCOUNT_CREATE = "account.create"
    MFA_ENROL = "mfa.enrol"
    MFA_VERIFY = "mfa.verify"
    MFA_RECOVERY = "mfa.recovery"
    MFA_RECOVERY_CODES = "mfa.recovery_codes"
    MFA_DISABLE = "mfa.disable"
    MFA_RESET = "mfa.reset"
    MFA_REQUIRE = "mfa.require"
    # Single sign-on: a provider's person linked to a professional by verified email, or
    # refused (no account here). A refusal is no credential guess: the provider vouched for
    # the person, so it stays out of CREDENTIAL_ACTIONS and the throttles; a sign-in that
    # succeeds is a LOGIN with detail {"via": "oidc"}.
    SSO_LINK = "sso.link"
    SSO_REFUSED = "sso.refused"
    # One-time sign-in links (feeds/accounts/sign_in_links.py): made by an administrator
    # for a person (refused: deactivated, or passwords off for them), and used to set a
    # password; a refused use (unknown, expired, used, replaced) is a failed credential.
    SIGN_IN_LINK_CREATE = "sign_in_link.create"
    SIGN_IN_LINK_USE = "sign_in_link.use"
    CHILD_READ = "child.read"
    FEED_READ = "feed.read"
    FEED_SEEN = "feed.seen"  # "seen up to here": the new-since-your-last-visit marker moved
    FEED_HOME = "feed.home"  # the home stream: posts across the followed children
    SINCE_YESTERDAY = "feed.since_yesterday"  # posts across followed children since 00:00 UTC
    POST_CREATE = "post.create"
    POST_EDIT = "post.edit"
    POST_REMOVE = "post.remove"
    POST_ACKNOWLEDGE = "post.acknowledge"
    POST_REVISIONS = "post.revisions"  # a post's earlier wordings, read like the feed
    MENTION_SUGGEST = "mention.suggest"  # people offered while typing "@" (never a directory)
    FOLLOW_CREATE = "follow.create"
    FOLLOW_DELETE = "follow.delete"
    FOLLOW_LIST = "follow.list"  # which of my teams follow a child
    GRANT_LIST = "grant.list"
    GRANT_CREATE = "grant.create"
    GRANT_REVOKE = "grant.revoke"
    GRANT_CONFIRM = "grant.confirm"  # the "remove their access?" page, before revoking
    GRANT_SUGGEST = "grant.suggest"  # names offered to a granter (never a directory)
    CHILD_TEAM = "child.team"  # the team around the child as a picture: contacts, last posts
    BREAK_GLASS_OPEN = "breakglass.open"
    # Asking to join a child's network; approving one is a grant.create naming it.
    ACCESS_REQUEST_CREATE = "access_request.create"
    ACCESS_REQUEST_LIST = "access_request.list"
    ACCESS_REQUEST_DECLINE = "access_request.decline"
    # "I share this worry" on a hunch or concern, and the prompt an episode sends once.
    WORRY_SHARE = "worry.share"
    WORRY_PROMPT = "worry.prompt"
    # Households: linking and unlinking a child, and reading a family (one per child read).
    HOUSEHOLD_LINK = "household.link"
    HOUSEHOLD_UNLINK = "household.unlink"
    HOUSEHOLD_READ = "household.read"
    BREAK_GLASS_REVIEW = "breakglass.review"
    # The chronology (feeds/chronology): reading it, exporting it (with the file's
    # SHA-256), and marking a post significant (with action taken and outcome).
    CHRONOLOGY_READ = "chronology.read"
    CHRONOLOGY_EXPORT = "chronology.export"
    POST_SIGNIFICANCE = "post.significance"
    AUDIT_READ = "audit.read"
    AUDIT_SEARCH = "audit.search"
    # Months of the log taken out of the database by `jigsaw audit archive` (the operator
    # at the shell; detail: months, last seq, rows, export files and their SHA-256).
    AUDIT_ARCHIVE = "audit.archive"
    BOARD_READ = "board.read"
    HOTSPOTS_READ = "hotspots.read"
    VELOCITY_READ = "velocity.read"
    VELOCITY_CHANGED = "velocity.changed"
    SILENCE_CHANGED = "silence.changed"
    SEARCH = "search"
    LIVE_SUBSCRIBE = "live.subscribe"
    CHILD_CREATE = "child.create"
    CHILD_EDIT = "child.edit"
    CHILD_HISTORY = "child.history"
    CHILD_CLOSE = "child.close"
    CHILD_REOPEN = "child.reopen"
    # Merging a duplicate record into another (one record on each child), the preview of
    # what would move, and an administrator's undo (feeds/records/merging.py).
    CHILD_MERGE = "child.merge"
    CHILD_MERGE_PREVIEW = "child.merge_preview"
    CHILD_UNMERGE = "child.unmerge"
    MERGE_LIST = "merge.list"
    # Shielding a child (its name and reference only for direct personal grants), with the
    # reason, and lifting it (feeds/records/shielding.py).
    CHILD_SHIELD = "child.shield"
    CHILD_UNSHIELD = "child.unshield"
    # Bulk import (feeds/records/importing.py, feeds/organisation/importing.py): one record
    # per import (counts, file hash, reason; dry runs too) and one per row it creates or changes.
    IMPORT_CHILDREN = "import.children"
    CHILD_IMPORT = "child.import"
    IMPORT_PEOPLE = "import.people"
    PERSON_IMPORT = "person.import"
    AGENCY_CREATE = "agency.create"
    AGENCY_LIST = "agency.list"
    TEAM_CREATE = "team.create"
    TEAM_LIST = "team.list"
    TEAM_MEMBER_ADD = "team.member.add"
    TEAM_MEMBER_REMOVE = "team.member.remove"
    TEAM_MEMBER_UPDATE = "team.member.update"
    PERSON_CREATE = "person.create"
    PERSON_LIST = "person.list"
    PERSON_READ = "person.read"
    PERSON_ROLE = "person.role"
    PERSON_DEACTIVATE = "person.deactivate"
    PERSON_REACTIVATE = "person.reactivate"
    PERSON_CONTACT = "person.contact"  # a work phone or email set (one's own, or by an admin)
    ADMIN_HOME = "admin.home"


class AuditOutcome(StrEnum):
    OK = "ok"
    DENIED = "denied"
    FAILED = "failed"
    MFA_PENDING = "mfa_pending"
    LOCKED = "locked"
    REPLAYED = "replayed"  # a one-time code used twice
    CLOSED = "closed"  # refused: the child's case is closed
    OPEN = "open"  # refused: the child's case is already open
    MERGED = "merged"  # refused: the record was merged into another


# Failed attempts at these count towards the login throttles and lockout (a wrong password
# typed to change it, or to confirm a sensitive change, is a guess like any other); an
# "ok" one is a completed sign-in or password proof (feeds/accounts/throttle.py).
CREDENTIAL_ACTIONS = (
    AuditAction.LOGIN,
    AuditAction.MFA_VERIFY,
    AuditAction.MFA_RECOVERY,
    AuditAction.PASSWORD_CHANGE,
    AuditAction.PASSWORD_CONFIRM,
    AuditAction.SIGN_IN_LINK_USE,
)


# Reads of a child's record: when the child is shielded, each allowed one is marked
# {"shielded": true} in its detail (feeds/audit/records.py), so a reviewer can list every
# look at a shielded record.
CHILD_READS = frozenset(
    {
        AuditAction.CHILD_READ,
        AuditAction.FEED_READ,
        AuditAction.POST_REVISIONS,
        AuditAction.CHILD_TEAM,
        AuditAction.HOUSEHOLD_READ,
        AuditAction.CHRONOLOGY_READ,
        AuditAction.CHRONOLOGY_EXPORT,
        AuditAction.VELOCITY_READ,
        AuditAction.CHILD_HISTORY,
        AuditAction.AUDIT_READ,
        AuditAction.GRANT_LIST,
        AuditAction.MENTION_SUGGEST,
        AuditAction.SEARCH,
        AuditAction.BREAK_GLASS_OPEN,
    }
)
