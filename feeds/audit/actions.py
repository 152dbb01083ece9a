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
    ACCOUNT_LOCK = "account.lock"
    ACCOUNT_UNLOCK = "account.unlock"
    MFA_ENROL = "mfa.enrol"
    MFA_VERIFY = "mfa.verify"
    MFA_RECOVERY = "mfa.recovery"
    MFA_RECOVERY_CODES = "mfa.recovery_codes"
    MFA_DISABLE = "mfa.disable"
    MFA_RESET = "mfa.reset"
    MFA_REQUIRE = "mfa.require"
    CHILD_READ = "child.read"
    FEED_READ = "feed.read"
    POST_CREATE = "post.create"
    POST_EDIT = "post.edit"
    POST_REMOVE = "post.remove"
    POST_ACKNOWLEDGE = "post.acknowledge"
    FOLLOW_CREATE = "follow.create"
    FOLLOW_DELETE = "follow.delete"
    GRANT_LIST = "grant.list"
    GRANT_CREATE = "grant.create"
    GRANT_REVOKE = "grant.revoke"
    BREAK_GLASS_OPEN = "breakglass.open"
    # Asking to join a child's network; approving one is a grant.create naming it.
    ACCESS_REQUEST_CREATE = "access_request.create"
    ACCESS_REQUEST_LIST = "access_request.list"
    ACCESS_REQUEST_DECLINE = "access_request.decline"
    BREAK_GLASS_REVIEW = "breakglass.review"
    AUDIT_READ = "audit.read"
    AUDIT_SEARCH = "audit.search"
    BOARD_READ = "board.read"
    VELOCITY_READ = "velocity.read"
    VELOCITY_CHANGED = "velocity.changed"
    SEARCH = "search"
    LIVE_SUBSCRIBE = "live.subscribe"


class AuditOutcome(StrEnum):
    OK = "ok"
    DENIED = "denied"
    FAILED = "failed"
    MFA_PENDING = "mfa_pending"
    LOCKED = "locked"
    REPLAYED = "replayed"  # a one-time code used twice


# Failed attempts at these count towards the login throttles and lockout.
CREDENTIAL_ACTIONS = (AuditAction.LOGIN, AuditAction.MFA_VERIFY, AuditAction.MFA_RECOVERY)
