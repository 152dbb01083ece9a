"""The board's rows as stored: one light read of every child on the board (name, flags, the
digest of its verdict, silence, shield, household), then the verdict JSON only for the
verdicts this process has not decoded yet, and a row object only for rows that changed.

A verdict's `shown_digest` (feeds/velocity/verdict_rows.py) is a hash of everything the
board shows of it, so a decoded verdict is remembered by its digest: a rewritten verdict
has a new digest and is read again, so the board stays exact. Likewise a built row and its
ranking key are remembered by the light row they came from, every column of it. Decoding
2,000 verdict JSONs and building 2,000 rows was most of a board read; between two reads
few of them change (only the children posted to since). Access is not cached: the caller
passes the ids the policy decided for this request, and names, shield and household come
with every read.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson
from tortoise.connection import get_connection

from feeds import replica
from feeds.access import identity
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
REMEMBERED = 50_000  # verdicts (~1 KB each) or rows kept per process; then start afresh
K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class Verdict:
    """A decoded stored verdict and the post counts the board derives from it."""

    assessment: Assessment
    posts_7d: int
    posts_28d: int


@dataclass(frozen=True)
class ChildRef:
    """What a board row shows of a child (read with its verdict in one query)."""

    id: int
    display_name: str
    reference: str


@dataclass(frozen=True)
class Quiet:
    """The child's stored silence verdict (feeds/silence): "gone quiet", and why."""

    flagged: bool = False
    reasons: tuple[str, ...] = ()


NOT_QUIET = Quiet()


@dataclass(frozen=True)
class BoardRow:
    child: ChildRef
    assessment: Assessment
    posts_7d: int
    posts_28d: int
    last_post_at: datetime | None
    quiet: Quiet = NOT_QUIET
    shared_worry: str | None = None  # "Shared worry: 5 professionals from 3 agencies"
    household_id: int | None = None  # the household the child is linked into, if any
    shielded: bool = False  # named only to direct grants (feeds/access/identity.py)


RankKey = tuple[bool, bool, float, int, tuple[bool, str, int]]


def rank_key(row: BoardRow) -> RankKey:
    """Flagged first, then gone quiet, then by score, then by recent posts; ties by the name
    as shown (`feeds.velocity.board.rank`)."""
    a = row.assessment
    return (
        not a.flagged,
        not row.quiet.flagged,
        -a.score,
        -row.posts_7d,
        identity.name_key(row.child.id, row.child.display_name),
    )


class Remembered(Generic[K, V]):
    """Values by a key that names their content (so shared by every board and safe across
    databases); bounded by `limit` entries."""

    def __init__(self, limit: int = REMEMBERED) -> None:
        self.limit = limit
        self._found: dict[K, V] = {}

    def get(self, key: K | None) -> V | None:
        try:
            return None if key is None else self._found.get(key)
        except TypeError:  # a driver gave a list or dict: not remembered
            return None

    def put(self, key: K | None, value: V) -> None:
        if key is None:  # a verdict written before digests existed: decoded every time
            return
        if len(self._found) >= self.limit:
            self.clear()  # rare: cheaper than an LRU's bookkeeping on every read
        with contextlib.suppress(TypeError):
            self._found[key] = value

    def clear(self) -> None:
        self._found.clear()

    def __len__(self) -> int:
        return len(self._found)


Verdicts = Remembered[str, Verdict]
VERDICTS: Verdicts = Remembered()  # decoded verdicts by digest
ROWS: Remembered[tuple[Any, ...], tuple[RankKey, BoardRow]] = Remembered()  # by light row


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
        return list((await get_connection("default").execute_query(sql))[1])
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
    stored: list[Any] = []
    for chunk in chunked(missing):
        stored += await _read(_VERDICTS_SQL.format(ids=_ids(chunk)), fresh)
    if stored:  # decoding up to thousands of JSONs (a cold start) is CPU: in a thread
        found.update(await asyncio.to_thread(_decode_all, stored, verdicts))
    return found


def _decode_all(stored: Sequence[Sequence[Any]], verdicts: Verdicts) -> dict[int, Verdict]:
    found: dict[int, Verdict] = {}
    for child_id, digest, data in stored:
        verdict = decode(data)
        verdicts.put(digest, verdict)
        found[int(child_id)] = verdict
    return found


def _quiet(flagged: object, reasons: Any) -> Quiet:
    """The stored silence verdict of a row (none yet: not quiet)."""
    if not flagged:
        return NOT_QUIET
    found = orjson.loads(reasons) if isinstance(reasons, str | bytes) else reasons
    return Quiet(True, tuple(str(r) for r in found or []))


UNASSESSED = Verdict(Assessment(0.0, False, []), 0, 0)


def _row(row: Sequence[Any], verdict: Verdict | None) -> BoardRow:
    child_id, name, reference, flagged, _digest, last, _assessed, quiet, why = row[:9]
    shielded, household = row[9:]
    verdict = verdict or UNASSESSED  # only until the board assesses it
    assessment = verdict.assessment
    if assessment.flagged != bool(flagged) and verdict is not UNASSESSED:
        # The stored flag is the truth (a flip is a compare-and-set on it); the JSON
        # follows it on the flip's next write.
        assessment = replace(assessment, flagged=bool(flagged))
    return BoardRow(
        ChildRef(int(child_id), str(name), str(reference)),
        assessment,
        verdict.posts_7d,
        verdict.posts_28d,
        moment(last),
        _quiet(quiet, why),
        None,
        None if household is None else int(household),
        bool(shielded),
    )


async def board_rows(
    child_ids: Collection[int],
    fresh: bool = False,
    verdicts: Verdicts = VERDICTS,
    rows: Remembered[tuple[Any, ...], tuple[RankKey, BoardRow]] = ROWS,
) -> list[tuple[RankKey, BoardRow]]:
    """Each of these children's board row with its ranking key (in no particular order);
    a row whose verdict is `UNASSESSED` has never been assessed."""
    light: list[Any] = []
    for chunk in chunked(child_ids):
        light += [tuple(row) for row in await _read(_LIGHT_SQL.format(ids=_ids(chunk)), fresh)]
    built: list[tuple[RankKey, BoardRow] | None] = [rows.get(row) for row in light]
    changed = [row for row, found in zip(light, built, strict=True) if found is None]
    if not changed:
        return [found for found in built if found is not None]
    decoded = await _decoded(changed, fresh, verdicts)
    # Building a few thousand rows is CPU: in a thread, like the board's ranking.
    new = await asyncio.to_thread(_build, changed, decoded, rows)
    return [found for found in built if found is not None] + new


def _build(
    light: Sequence[tuple[Any, ...]],
    decoded: dict[int, Verdict],
    rows: Remembered[tuple[Any, ...], tuple[RankKey, BoardRow]],
) -> list[tuple[RankKey, BoardRow]]:
    built = []
    for row in light:
        verdict = decoded.get(int(row[0]))
        board_row = _row(row, verdict)
        found = (rank_key(board_row), board_row)
        if verdict is not None:
            rows.put(row, found)
        built.append(found)
    return built
