"""The stored silence verdict per child ("gone quiet"), computed from the daily tallies.

A silence verdict changes only when the UTC day rolls over or a post arrives, so the
velocity sweep recomputes a child's silence at most once a day (children already
assessed today are skipped with one read per chunk), and the velocity watcher recomputes
it at once for children with new posts (a post can end a silence). A flip is a
compare-and-set on the stored flag, audited; becoming flagged notifies the people
answerable for the child once per episode, as velocity does.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from tortoise import connections

from feeds import audit, events, raw_sql
from feeds.access.policy import responsible_for
from feeds.audit.actions import AuditAction
from feeds.clock import utcnow
from feeds.feed.notifications import do_notify
from feeds.models import SilenceState
from feeds.silence.detector import DEFAULT_PARAMS, SilenceAssessment, assess_contacts
from feeds.velocity.tallies import chunked, utc_day

KIND = "silence"  # Notification.kind for "an agency in regular contact has gone quiet"
HISTORY_DAYS = DEFAULT_PARAMS.history_days
YIELD_EVERY = 200  # children assessed between two turns of the event loop

# Each day's agencies only (the detector needs no more), as its age in days at `today`.
_DAYS_SQL = {
    "postgres": "SELECT child_id, $2 - day, agencies::text FROM child_activity_day "
    "WHERE child_id IN ({ids}) AND day >= $1 AND posts > 0",
    "sqlite": "SELECT child_id, CAST(julianday(?) - julianday(day) AS INTEGER), agencies "
    "FROM child_activity_day WHERE child_id IN ({ids}) AND day >= ? AND posts > 0",
}
# A closed case is read-only: nobody posts, and that silence means nothing.
_STORED_SQL = (
    "SELECT c.id, s.flagged, s.assessed_on, c.closed_at IS NOT NULL FROM child c "
    "LEFT JOIN silence_state s ON s.child_id = c.id WHERE c.id IN ({ids})"
)
# Writes what the board shows; `flagged` is left to the compare-and-set in do_flip_silence.
_UPSERT_SQL = {
    "postgres": "INSERT INTO silence_state (child_id, flagged, score, silent_agencies, reasons, "
    "assessed_on) VALUES ($1, FALSE, $2, $3::jsonb, $4::jsonb, $5) ON CONFLICT (child_id) "
    "DO UPDATE SET score = EXCLUDED.score, silent_agencies = EXCLUDED.silent_agencies, "
    "reasons = EXCLUDED.reasons, assessed_on = EXCLUDED.assessed_on",
    "sqlite": "INSERT INTO silence_state (child_id, flagged, score, silent_agencies, reasons, "
    "assessed_on) VALUES (?, 0, ?, ?, ?, ?) ON CONFLICT (child_id) DO UPDATE SET "
    "score = excluded.score, silent_agencies = excluded.silent_agencies, "
    "reasons = excluded.reasons, assessed_on = excluded.assessed_on",
}


@dataclass(frozen=True)
class SilenceFlip:
    child_id: int
    flagged: bool
    assessment: SilenceAssessment


def _dialect() -> str:
    return "postgres" if connections.get("default").capabilities.dialect == "postgres" else "sqlite"


def _day(value: date | str | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


async def load_contact_days(
    child_ids: Collection[int], today: date, length: int = HISTORY_DAYS
) -> dict[int, list[tuple[int, list[str]]]]:
    """Each child's days with posts in the `length` days up to `today`, as (age, agencies)."""
    found: dict[int, list[tuple[int, list[str]]]] = defaultdict(list)
    dialect = _dialect()
    since = today - timedelta(days=length - 1)
    params: list[Any] = [since, today] if dialect == "postgres" else [today.isoformat()]
    if dialect == "sqlite":
        params.append(since.isoformat())
    connection = connections.get("default")
    for chunk in chunked(child_ids):
        sql = _DAYS_SQL[dialect].format(ids=",".join(str(int(c)) for c in chunk))
        _, rows = await connection.execute_query(sql, params)
        for child_id, age, agencies in rows:
            found[int(child_id)].append((int(age), list(json.loads(agencies or "{}"))))
    return found


@dataclass(frozen=True)
class _Stored:
    flagged: bool
    assessed_on: date | None
    closed: bool


NEVER = _Stored(False, None, False)


async def _stored(child_ids: Collection[int]) -> dict[int, _Stored]:
    """Each existing child's stored flag and day assessed, and whether its case is closed."""
    stored = {}
    for chunk in chunked(child_ids):
        ids = ",".join(str(int(c)) for c in chunk)
        for child_id, flagged, on, closed in await raw_sql.fetch(_STORED_SQL.format(ids=ids)):
            stored[int(child_id)] = _Stored(bool(flagged), _day(on), bool(closed))
    return stored


async def _write(verdicts: dict[int, SilenceAssessment], today: date) -> None:
    dialect = _dialect()
    on = today if dialect == "postgres" else today.isoformat()
    rows = [
        [child_id, round(v.score, 2), json.dumps(v.silent_agencies), json.dumps(v.reasons), on]
        for child_id, v in sorted(verdicts.items())
    ]
    if rows:
        await connections.get("default").execute_many(_UPSERT_SQL[dialect], rows)


async def _assess(
    todo: list[int],
    days: dict[int, list[tuple[int, list[str]]]],
    stored: dict[int, _Stored],
) -> dict[int, SilenceAssessment]:
    verdicts = {}
    for n, child_id in enumerate(todo):
        if n % YIELD_EVERY == YIELD_EVERY - 1:
            await asyncio.sleep(0)  # let requests on this worker run (~50 ms of work)
        state = stored.get(child_id, NEVER)
        contacts = () if state.closed else days.get(child_id, ())
        verdicts[child_id] = assess_contacts(contacts, state.flagged)
    return verdicts


async def do_flip_silence(child_id: int, verdict: SilenceAssessment, now: datetime) -> bool:
    """Store a changed flag and audit it, if nobody did first; becoming flagged notifies
    the lead and the managers around the child (once per episode: this is the flip)."""
    async with events.transaction():  # do_notify emits: listeners wake after the commit
        changed = await SilenceState.filter(child_id=child_id, flagged=not verdict.flagged).update(
            flagged=verdict.flagged, flagged_at=now if verdict.flagged else None
        )
        if not changed:
            return False
        detail = {
            "flagged": verdict.flagged,
            "score": round(verdict.score, 2),
            "agencies": verdict.silent_agencies,
        }
        await audit.record(
            AuditAction.SILENCE_CHANGED, audit.SYSTEM, child_id=child_id, detail=detail
        )
        if verdict.flagged:
            for person in await responsible_for(child_id, now):
                await do_notify(person, KIND, child_id)
    return True


async def do_recompute_silence(
    child_ids: Collection[int], now: datetime | None = None, *, stale_only: bool = False
) -> list[SilenceFlip]:
    """Reassess these children's silence from their stored days, store the verdicts and
    flip (audit, notify) where the flag changed. With `stale_only`, children already
    assessed today are left alone (what the periodic sweep asks for)."""
    now = now or utcnow()
    today = utc_day(now)
    flips: list[SilenceFlip] = []
    for chunk in chunked(set(child_ids)):
        stored = await _stored(chunk)
        todo = [c for c in chunk if c in stored]  # a child id that exists
        if stale_only:
            todo = [c for c in todo if stored[c].assessed_on != today]
        if not todo:
            continue
        verdicts = await _assess(todo, await load_contact_days(todo, today), stored)
        await _write(verdicts, today)
        for child_id in sorted(todo):
            verdict, was = verdicts[child_id], stored[child_id].flagged
            if verdict.flagged != was and await do_flip_silence(child_id, verdict, now):
                flips.append(SilenceFlip(child_id, verdict.flagged, verdict))
    return flips
