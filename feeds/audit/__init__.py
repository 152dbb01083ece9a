"""The audit trail: records, the hash chain and reading it.

`from feeds import audit` gives the recording functions (feeds.audit.records)."""

from feeds.audit.records import *  # noqa: F403
