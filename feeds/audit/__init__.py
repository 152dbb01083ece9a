"""The audit trail: records (who did what to which child), the hash chain, reading.

`from feeds import audit` gives the recording functions of feeds.audit.records.
"""

from feeds.audit.actions import AuditAction, AuditOutcome
from feeds.audit.records import SYSTEM, AuditContext, record, refusal_recorded

__all__ = ["SYSTEM", "AuditAction", "AuditContext", "AuditOutcome", "record", "refusal_recorded"]
