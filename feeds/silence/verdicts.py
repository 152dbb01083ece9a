"""The stored silence verdict per child ("gone quiet"), computed from the daily tallies.

A silence verdict changes only when the UTC day rolls over or a post arrives, so the
velocity sweep recomputes it on each shard's first sweep of a UTC day only (writing only
the verdicts that moved; the day's later sweeps do not read silence), and the velocity
watcher recomputes it at once for children with new posts (a post can end a silence). A
flip is a compare-and-set on the stored flag, audited; becoming flagged notifies the
people answerable for the child once per episode, as velocity does.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple

from tortoise.connection import get_connection

from feeds import audit, events, raw_sql
from feeds.access.policy import responsible_for
from feeds.audit.actions import AuditAction
from feeds.clock import utcnow
from feeds.feed.notifications import do_notify
from feeds.models import SilenceState
from feeds.silence.detector import DEFAULT_PARAMS, SilenceAssessment, assess_contacts
from feeds.velocity.tallies import ChildDays, chunked, load_days, utc_day
from feeds.velocity.verdict_rows import as_columns

KIND = "silence"  # Notification.kind for "an agency in regular contact has gone quiet"
HISTORY_DAYS = DEFAULT_PARAMS.history_days
YIELD_EVERY = 200  # children assessed between two turns of the event loop

# A closed case is read-only: nobody posts, and that silence means nothing. What the board
# shows comes back as JSON text, so an unchanged verdict is recognised without decoding it.
_STORED_SQL = {
    "postgres": "SELECT c.id, s.flagged, s.assessed_on, c.closed_at IS NOT NULL, s.score, "
    "s.silent_agencies::text, s.reasons::text FROM child c "
    "LEFT JOIN silence_state s ON s.child_id = c.id WHERE c.id IN ({ids})",
    "sqlite": "SELECT c.id, s.flagged, s.assessed_on, c.closed_at IS NOT NULL, s.score, "
    "s.silent_agencies, s.reasons FROM child c "
    "LEFT JOIN silence_state s ON s.child_id = c.id WHERE c.id IN ({ids})",
}
# Writes what the board shows; `flagged` is left to the compare-and-set in do_flip_silence.
# On PostgreSQL one statement per chunk (columns as arrays), rows in child order.
_UPSERT_SQL = {
    "postgres": "INSERT INTO silence_state (child_id, flagged, score, silent_agencies, reasons, "
    "assessed_on) SELECT d.child_id, FALSE, d.score, d.agencies::jsonb, d.reasons::jsonb, "
    "d.assessed_on FROM unnest($1::int[], $2::float8[], $3::text[], $4::text[], $5::date[]) "
    "AS d(child_id, score, agencies, reasons, assessed_on) ORDER BY d.child_id "
    "ON CONFLICT (child_id) DO UPDATE SET score = EXCLUDED.score, "
    "silent_agencies = EXCLUDED.silent_agencies, reasons = EXCLUDED.reasons, "
    "assessed_on = EXCLUDED.assessed_on",
    "sqlite": "INSERT INTO silence_state (child_id, flagged, score, silent_agencies, reasons, "
    "assessed_on) VALUES (?, 0, ?, ?, ?, ?) ON CONFLICT (child_id) DO UPDATE SET "
    "score = excluded.score, silent_agencies = excluded.silent_agencies, "
    "reasons = excluded.reasons, assessed_on = excluded.assessed_on",
}
# A verdict that did not move is only marked as assessed today.
_TOUCH_SQL = {
    "postgres": "UPDATE silence_state SET assessed_on = $1 WHERE child_id = ANY($2::int[])",
    "sqlite": "UPDATE silence_state SET assessed_on = ? WHERE child_id IN ({ids})",
}


@dataclass(frozen=True)
class SilenceFlip:
    child_id: int
    flagged: bool
    assessment: SilenceAssessment


def _dialect() -> str:
    return "postgres" if get_connection("default").capabilities.dialect == "postgres" else "sqlite"


def _day(value: date | str | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


Shown = tuple[float, str, str]  # score (rounded), silent agencies and reasons as JSON text


def _json(value: list[str]) -> str:
    # Not ASCII-escaped: the same text PostgreSQL gives back for jsonb, so an unchanged
    # verdict compares equal (a mismatch would only cost one extra write). Most lists are
    # empty: no encoder for those.
    return json.dumps(value, ensure_ascii=False) if value else "[]"


def _shown(verdict: SilenceAssessment) -> Shown:
    return round(verdict.score, 2), _json(verdict.silent_agencies), _json(verdict.reasons)


class _Stored(NamedTuple):  # not a frozen dataclass: built per child, a third of the cost
    flagged: bool
    assessed_on: date | None
    closed: bool
    shown: Shown | None = None  # None: never assessed


NEVER = _Stored(False, None, False)


async def _stored(child_ids: Collection[int]) -> dict[int, _Stored]:
    """Each existing child's stored verdict and day assessed, and whether its case is closed."""
    stored = {}
    sql = _STORED_SQL[_dialect()]
    for chunk in chunked(child_ids):
        ids = ",".join(str(int(c)) for c in chunk)
        for child_id, flagged, on, closed, score, agencies, reasons in await raw_sql.fetch(
            sql.format(ids=ids)
        ):
            shown = None if flagged is None else (float(score), str(agencies), str(reasons))
            stored[int(child_id)] = _Stored(bool(flagged), _day(on), bool(closed), shown)
    return stored


async def _write(
    verdicts: dict[int, SilenceAssessment],
    stored: dict[int, _Stored],
    today: date,
    touch: bool = True,
) -> None:
    """Store the verdicts that moved; with `touch`, mark the others as assessed today."""
    dialect, connection = _dialect(), get_connection("default")
    on: date | str = today if dialect == "postgres" else today.isoformat()
    moved, still = [], []
    for child_id, verdict in sorted(verdicts.items()):
        shown, was = _shown(verdict), stored.get(child_id, NEVER)
        if shown != was.shown:
            moved.append([child_id, *shown, on])
        elif touch and was.assessed_on != today:
            still.append(child_id)
    if moved:
        if dialect == "postgres":
            await connection.execute_query(_UPSERT_SQL[dialect], as_columns(moved))
        else:
            await connection.execute_many(_UPSERT_SQL[dialect], moved)
    if still and dialect == "postgres":
        await connection.execute_query(_TOUCH_SQL[dialect], [on, still])
    elif still:
        ids = ",".join(str(c) for c in still)
        await connection.execute_query(_TOUCH_SQL[dialect].format(ids=ids), [on])


def _contacts(entry: ChildDays | None) -> list[tuple[int, frozenset[str]]]:
    """A child's stored days as the detector takes them: (age, agencies that posted)."""
    return [(age, day.agencies) for age, day in entry.active] if entry else []


# The verdict of a child with fewer days with posts than one cadence needs (most children):
# nothing to say, flagged or not before (a shared value; nobody changes a verdict).
NO_CADENCE = assess_contacts([])


async def _assess(
    todo: list[int], days: Mapping[int, ChildDays], stored: dict[int, _Stored]
) -> dict[int, SilenceAssessment]:
    verdicts = {}
    for n, child_id in enumerate(todo):
        if n % YIELD_EVERY == YIELD_EVERY - 1:
            await asyncio.sleep(0)  # let requests on this worker run (~50 ms of work)
        state, entry = stored.get(child_id, NEVER), days.get(child_id)
        if state.closed or entry is None or len(entry.active) < DEFAULT_PARAMS.min_contacts:
            verdicts[child_id] = NO_CADENCE
            continue
        verdicts[child_id] = assess_contacts(_contacts(entry), state.flagged, regular_only=True)
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


async def _do_store(
    todo: list[int],
    days: Mapping[int, ChildDays],
    stored: dict[int, _Stored],
    now: datetime,
    touch: bool = True,
) -> list[SilenceFlip]:
    """Assess these children from their loaded days, store the verdicts and flip (audit,
    notify) where the flag changed (`touch`: see `_write`)."""
    verdicts = await _assess(todo, days, stored)
    await _write(verdicts, stored, utc_day(now), touch)
    flips = []
    for child_id in sorted(todo):
        verdict, was = verdicts[child_id], stored[child_id].flagged
        if verdict.flagged != was and await do_flip_silence(child_id, verdict, now):
            flips.append(SilenceFlip(child_id, verdict.flagged, verdict))
    return flips


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
        if todo:
            days = await load_days(todo, today, HISTORY_DAYS)
            flips += await _do_store(todo, days, stored, now)
    return flips


@dataclass(frozen=True)
class DueSilence:
    """The children of a sweep whose silence was not assessed today, as stored, so the
    velocity sweep can assess them from the days it reads anyway (one read, both verdicts)."""

    stored: dict[int, _Stored]
    touch: bool = False  # also mark verdicts that did not move as assessed today

    async def do_assess(
        self, child_ids: Collection[int], days: Mapping[int, ChildDays], now: datetime
    ) -> list[SilenceFlip]:
        """Assess and store those of `child_ids` that are due; `days` must reach back
        `HISTORY_DAYS`. Unless `touch`, verdicts that did not move are not written at all
        (on a new day that is most of them): the sweep knows it has assessed a shard today
        from the shard's own row (`VelocityWatcher._due_silence`), not from each child's."""
        todo = [c for c in child_ids if c in self.stored]
        return await _do_store(todo, days, self.stored, now, self.touch) if todo else []


async def every_silence(child_ids: Collection[int]) -> DueSilence:
    """All of these children, reassessed as `do_recompute_silence` would, from days read
    for velocity too: the catch-up after posts reads each child's days once, not twice."""
    return DueSilence(await _stored(child_ids), touch=True)


async def due_silence(child_ids: Collection[int], now: datetime) -> DueSilence:
    """Which of these children's silence is due for its daily assessment."""
    today = utc_day(now)
    stored = await _stored(child_ids)
    return DueSilence({c: s for c, s in stored.items() if s.assessed_on != today})
