"""Leases: one worker at a time does a job every worker could do (seal the audit log,
catch up velocity after posts).

A lease is a named row of `audit_sealer_lease` (the table is named after its first user),
taken and renewed with a compare-and-set and lapsing when its holder stops renewing it (a
crashed worker), so another worker takes over within the lease's length. A lease only
avoids wasted work: each job stays correct with two holders at once (a handover while the
old holder still runs).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from tortoise.expressions import Q

from feeds.clock import utcnow
from feeds.models import AuditSealerLease

log = logging.getLogger("jigsaw.leases")


async def claim(name: str, holder: str, length: timedelta) -> bool:
    """Take or renew lease `name` for `holder`; False when someone else holds it."""
    now = utcnow()
    mine_or_lapsed = Q(holder=holder) | Q(expires_at__lt=now)
    taken = await AuditSealerLease.filter(Q(name=name), mine_or_lapsed).update(
        holder=holder, expires_at=now + length
    )
    if taken:
        return True
    if await AuditSealerLease.exists(name=name):
        return False  # held by another (the usual answer: two queries, not three)
    first = AuditSealerLease(name=name, holder=holder, expires_at=now + length)
    await AuditSealerLease.bulk_create([first], ignore_conflicts=True)
    row = await AuditSealerLease.get_or_none(name=name)
    return row is not None and row.holder == holder


async def release(name: str, holder: str) -> None:
    """Let another worker take over at once (on a clean shutdown)."""
    await AuditSealerLease.filter(name=name, holder=holder).update(expires_at=utcnow())


class Lease:
    """This worker's hold on lease `name`: renewed once half of it has run, and, while
    someone else holds it, claimed again every quarter of its length (not every round)."""

    def __init__(self, name: str, holder: str, length: timedelta) -> None:
        self.name = name
        self.holder = holder
        self.length = length
        self._held_until = 0.0  # monotonic; when our lease (as we last renewed it) lapses
        self._next_claim = 0.0

    @property
    def held(self) -> bool:
        """Whether this worker held the lease when it last looked (no query)."""
        return self._held_until > time.monotonic()

    @property
    def fresh(self) -> bool:
        """More than half of the lease left: work started now ends before it lapses."""
        return self._held_until - time.monotonic() > self.length.total_seconds() / 2

    async def hold(self) -> bool:
        """Renew the lease, or take it if it lapsed, when due; whether it is ours."""
        now, seconds = time.monotonic(), self.length.total_seconds()
        if self.fresh:
            return True  # renewed recently enough
        if not self.held and now < self._next_claim:
            return False  # someone else holds it; look again later
        if await claim(self.name, self.holder, self.length):
            self._held_until = now + seconds
            return True
        self._held_until, self._next_claim = 0.0, now + seconds / 4
        return False

    async def release(self) -> None:
        """Hand the lease on, if held (best effort: it lapses anyway)."""
        if not self._held_until:
            return
        self._held_until = 0.0
        try:
            await release(self.name, self.holder)
        except Exception:  # the database may be what is going away
            log.warning("could not release the %s lease; it lapses in %s", self.name, self.length)
