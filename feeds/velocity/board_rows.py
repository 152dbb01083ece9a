"""The board's stored rows: one light read of every child on the board (name, flags, the
digest of its verdict, silence, shield, household), then the verdict JSON only for the
verdicts this process has not decoded yet.

A verdict's `shown_digest` (feeds/velocity/verdict_rows.py) is a hash of everything the
board shows of it, so a decoded verdict is remembered by its digest: a rewritten verdict
has a new digest and is read again, so the board stays exact. Reading and decoding 2,000
verdict JSONs was most of a board read; between two reads few of them change (only the
children posted to since). Access is not cached: the caller passes the ids the policy
decided for this request, and names, shield and household come with every read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import orjson
from tortoise import connections

from feeds import replica
from feeds.velocity.detector import Assessment
from feeds.velocity.tallies import chunked, moment
from feeds.velocity.verdicts import loaded_assessment

# Hand-written: one join instead of several ORM reads; model building would cost more
# than the query for 2,000 rows. Child ids are integers from our own tables, inlined.
_LIGHT_SQL = (
    "SELECT c.id, c.display_name, c.reference, v.flagged, v.shown_digest, v.last_post_at, "
    "v.assessed_at, s.flagged, s.reasons, c.shielded_at IS NOT NULL, h.household_id "
    "FROM child c LEFT JOIN velocity_state v ON v.child_id = c.id "
    "LEFT JOIN silence_state s ON s.child_id = c.id "
    "LEFT JOIN household_member h ON h.child_id = c.id WHERE c.id IN ({ids})"
)
_VERDICTS_SQL = (
    "SELECT child_id, shown_digest, assessment FROM velocity_state WHERE child_id IN ({ids})"
)
REMEMBERED = 50_000  # decoded verdicts kept per process (~1 KB each); then start afresh


@dataclass(frozen=True)
class Verdict:
    """A decoded stored verdict and the post counts the board derives from it."""

    assessment: Assessment
    posts_7d: int
    posts_28d: int


@dataclass(frozen=True)
class StoredRow:
    """One child's row as stored: what `feeds.velocity.board` ranks."""

    child_id: int
    display_name: str
    reference: str
    verdict: Verdict | None  # None: never assessed (the board assesses it first)
    last_post_at: datetime | None
    quiet: bool
    quiet_reasons: tuple[str, ...]
    shielded: bool
    household_id: int | None


class Verdicts:
    """Decoded verdicts by digest (content-addressed, so shared by every board and safe
    across databases); bounded by `limit` entries."""

    def __init__(self, limit: int = REMEMBERED) -> None:
        self.limit = limit
        self._found: dict[str, Verdict] = {}

    def get(self, digest: str | None) -> Verdict | None:
        return None if digest is None else self._found.get(digest)

    def put(self, digest: str | None, verdict: Verdict) -> None:
        if digest is None:  # a row written before digests existed: decoded every time
            return
        if len(self._found) >= self.limit:
            self.clear()  # rare: cheaper than an LRU's bookkeeping on every read
        self._found[digest] = verdict

    def clear(self) -> None:
        self._found.clear()

    def __len__(self) -> int:
        return len(self._found)


VERDICTS = Verdicts()


def decode(stored: Any) -> Verdict:
    """A verdict from its stored JSON (as the driver returns it: text or decoded)."""
    data = orjson.loads(stored) if isinstance(stored, str | bytes) else dict(stored)
    assessment = loaded_assessment(data)
    spark = assessment.sparkline
    return Verdict(assessment, sum(spark[-7:]), sum(spark))


async def _read(sql: str, fresh: bool) -> list[Any]:
    """From the hot standby when one may serve (feeds/replica.py), or from the primary when
    `fresh` (right after this request wrote verdicts)."""
    if fresh:
        return list((await connections.get("default").execute_query(sql))[1])
    return list(await replica.read_rows(sql))


def _ids(chunk: Collection[int]) -> str:
    return ",".join(str(int(c)) for c in chunk)


async def _decoded(
    light: Sequence[Sequence[Any]], fresh: bool, verdicts: Verdicts
) -> dict[int, Verdict]:
    """Each assessed child's verdict: remembered, or read and decoded now."""
    found: dict[int, Verdict] = {}
    missing = []
    for row in light:
        verdict = verdicts.get(row[4])
        if verdict is not None:
            found[int(row[0])] = verdict
        elif row[6] is not None:  # assessed: its JSON is a verdict
            missing.append(int(row[0]))
    for chunk in chunked(missing):
        for child_id, digest, stored in await _read(_VERDICTS_SQL.format(ids=_ids(chunk)), fresh):
            verdict = decode(stored)
            verdicts.put(digest, verdict)
            found[int(child_id)] = verdict
    return found


def _quiet_reasons(flagged: object, reasons: Any) -> tuple[str, ...]:
    if not flagged:
        return ()
    found = orjson.loads(reasons) if isinstance(reasons, str | bytes) else reasons
    return tuple(str(r) for r in found or [])


def _stored(row: Sequence[Any], verdict: Verdict | None) -> StoredRow:
    child_id, name, reference, flagged, _digest, last, _assessed, quiet, why = row[:9]
    shielded, household = row[9:]
    if verdict is not None and verdict.assessment.flagged != bool(flagged):
        # The stored flag is the truth (a flip is a compare-and-set on it); the JSON
        # follows it on the flip's next write.
        verdict = replace(verdict, assessment=replace(verdict.assessment, flagged=bool(flagged)))
    return StoredRow(
        int(child_id),
        str(name),
        str(reference),
        verdict,
        moment(last),
        bool(quiet),
        _quiet_reasons(quiet, why),
        bool(shielded),
        None if household is None else int(household),
    )


async def stored_rows(
    child_ids: Collection[int], fresh: bool = False, verdicts: Verdicts = VERDICTS
) -> list[StoredRow]:
    """The stored row of each of these children (in no particular order)."""
    light: list[Any] = []
    for chunk in chunked(child_ids):
        light += await _read(_LIGHT_SQL.format(ids=_ids(chunk)), fresh)
    decoded = await _decoded(light, fresh, verdicts)
    # 2,000 rows' objects are CPU: in a thread, like the board's ranking.
    return await asyncio.to_thread(_all_stored, light, decoded)


def _all_stored(light: Sequence[Sequence[Any]], decoded: dict[int, Verdict]) -> list[StoredRow]:
    return [_stored(row, decoded.get(int(row[0]))) for row in light]
