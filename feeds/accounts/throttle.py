"""How long a sign-in attempt must wait (NIST SP 800-63B 5.2.2), counted from the audit
trail's failed credential records (CREDENTIAL_ACTIONS: passwords and codes alike).

- Per account *and* address: FREE_FAILURES failures cost nothing; after that each
  attempt waits FIRST_DELAY, doubling with every further failure, up to MAX_DELAY.
  A completed sign-in (or password change) from that address starts the count afresh.
- Per address, over every account: ADDRESS_CEILING failures in ADDRESS_WINDOW, so one
  address cannot spray a common password across many accounts; loose enough for an
  office behind one NAT address.
- Per account, over every address: the hard lock in feeds/accounts/lockout.py.

Someone who knows only an email slows down their own attempts, from their own address;
the real user signing in from theirs is not held back by them. The delay depends only on
the email and the address, never on whether an account exists.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tortoise.queryset import QuerySet

from feeds.audit.actions import CREDENTIAL_ACTIONS, AuditOutcome
from feeds.clock import utcnow
from feeds.models import AuditRecord

FREE_FAILURES = 5
FIRST_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=1)
PAIR_WINDOW = timedelta(hours=24)
ADDRESS_CEILING = 300
ADDRESS_WINDOW = timedelta(hours=1)
# Enough failures to reach MAX_DELAY; counting further changes nothing.
_COUNT_UP_TO = FREE_FAILURES + 16


def delay_after(failures: int) -> timedelta:
    """The wait after `failures` failures in a row for one account from one address."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    doublings = min(failures - FREE_FAILURES, 16)  # 30 s x 2**7 is past an hour already
    delay: timedelta = min(FIRST_DELAY * 2**doublings, MAX_DELAY)
    return delay


def _credentials(now: datetime, window: timedelta) -> QuerySet[AuditRecord]:
    return AuditRecord.filter(action__in=CREDENTIAL_ACTIONS, at__gte=now - window)


async def _pair_wait(email: str, ip: str, now: datetime) -> timedelta:
    mine = _credentials(now, PAIR_WINDOW).filter(actor_email=email, ip=ip)
    last_ok = await mine.filter(outcome=AuditOutcome.OK).order_by("-id").limit(1)
    failed = mine.filter(outcome=AuditOutcome.FAILED)
    if last_ok:
        failed = failed.filter(id__gt=last_ok[0].id)
    times = await failed.order_by("-id").limit(_COUNT_UP_TO).values_list("at", flat=True)
    if not times:
        return timedelta(0)
    latest = times[0]
    assert isinstance(latest, datetime)
    return latest + delay_after(len(times)) - now


async def _address_wait(ip: str, now: datetime) -> timedelta:
    if not ip:
        return timedelta(0)  # the command line, not a network address
    failed = _credentials(now, ADDRESS_WINDOW).filter(ip=ip, outcome=AuditOutcome.FAILED)
    # The failure ADDRESS_CEILING back: while it is inside the window, the address waits.
    oldest = await failed.order_by("-id").offset(ADDRESS_CEILING - 1).limit(1)
    return oldest[0].at + ADDRESS_WINDOW - now if oldest else timedelta(0)


async def wait_before_attempt(email: str, ip: str) -> timedelta:
    """How long this email from this address must still wait (zero or less: go ahead)."""
    now = utcnow()
    return max(await _pair_wait(email, ip, now), await _address_wait(ip, now))
