"""Which stored velocity verdicts cannot have moved: the sweep's later runs of a day skip
those children instead of reassessing every child to find nothing moved.

A verdict (`verdicts._assess_loaded`, then what `_moved` stores) is a pure function of:
the UTC day it is taken for (it is taken at `day_end(now)`), the child's record creation
time (`known_since`), its stored flag before (hysteresis), its days with posts in the last
`HISTORY_DAYS` (their ages and tallies; the oldest gives `known_since` too) and the
youngest day's last post (the board shows it), and the code that computes it. Each stored
verdict keeps a digest of those inputs (`inputs_digest`), computed from exactly the rows
it was assessed from, so a post, edit or removal committed meanwhile, a flag flipped by
another worker, a new day or a deploy all change the digest and the child is reassessed.

A verdict is kept as a fixed point only when its flag is the flag it was computed from:
after a flip the stored flag is the new one, and a reassessment with it may differ (the
recent view is tested with fewer posts for a flagged child), so a flipped child gets no
digest and is reassessed on the next sweep.
"""

from __future__ import annotations

import asyncio
import hashlib
import marshal
import secrets
from collections.abc import Collection, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

from tortoise.connection import get_connection

from feeds.velocity.tallies import PACKED_SQL, ChildDays, chunked, load_days
from feeds.velocity.verdict_rows import ChunkState, read_chunk

# The code that turns inputs into a stored verdict: a deploy changing it reassesses
# everyone on the next sweep (a file that cannot be read: no digest survives this process).
_CODE = ("detector.py", "tallies.py", "verdicts.py", "verdict_rows.py", "unchanged.py")


def _fingerprint() -> bytes:
    code = hashlib.blake2b(digest_size=16)
    try:
        for name in _CODE:
            code.update((Path(__file__).parent / name).read_bytes())
    except OSError:
        return secrets.token_bytes(16)
    return code.digest()


FINGERPRINT = _fingerprint()


def tallies_digest(texts: Sequence[str]) -> bytes:
    """md5 of the days' tally texts, youngest first: what `_SQL` below computes."""
    return hashlib.md5(",".join(texts).encode(), usedforsecurity=False).digest()


def inputs_digest(
    today: date,
    created: datetime | None,
    previous: bool,
    days: tuple[bytes, list[int], datetime | None],  # tallies digest, ages, last post
) -> str:
    """The digest of one verdict's inputs (see the module's docstring)."""
    tallies, ages, last = days
    stamps = (created.timestamp() if created else None, last.timestamp() if last else None)
    packed = marshal.dumps((FINGERPRINT, today.toordinal(), previous, tallies, ages, stamps), 2)
    return hashlib.blake2b(packed, digest_size=16).hexdigest()


def days_inputs(entry: ChildDays) -> tuple[bytes, list[int], datetime | None]:
    """What of a child's days a verdict is computed from, for `inputs_digest`."""
    return tallies_digest(entry.texts), [age for age, _ in entry.active], entry.last_post_at


# PostgreSQL hashes each child's days itself: a same-day sweep then reads one short row
# per child with posts, not every day's tally. The text hashed is the text `load_days`
# hands Python (same expression), youngest first: the aggregates take the rows in the
# subquery's order (PostgreSQL keeps it; three ORDER BYs inside them sorted each child's
# rows three times, a quarter of the query). Were the order ever lost, the digests would
# only differ, and the child be reassessed: never a wrong skip.
_SQL = (
    "SELECT child_id, md5(string_agg(packed, ',')), array_agg(age), "
    "(array_agg(last_post_at))[1] FROM (SELECT child_id, $1 - day AS age, {packed} AS packed, "
    "last_post_at FROM child_activity_day WHERE child_id IN ({ids}) AND day >= $2 "
    "AND posts > 0 ORDER BY child_id, day DESC) AS d GROUP BY child_id"
)
_EMPTY: tuple[bytes, list[int], datetime | None] = (tallies_digest([]), [], None)


async def _digests(
    child_ids: Collection[int], today: date, length: int
) -> dict[int, tuple[bytes, list[int], datetime | None]]:
    """Each child's `days_inputs` (children without posts: absent)."""
    connection = get_connection("default")
    if connection.capabilities.dialect != "postgres":  # no md5() in SQLite: hash here
        days = await load_days(child_ids, today, length)
        return {c: days_inputs(entry) for c, entry in days.items()}
    found: dict[int, tuple[bytes, list[int], datetime | None]] = {}
    params = [today, today - timedelta(days=length - 1)]
    for chunk in chunked(child_ids):
        sql = _SQL.format(packed=PACKED_SQL, ids=",".join(str(int(c)) for c in chunk))
        _, rows = await connection.execute_query(sql, params)
        for child_id, digest, ages, last in rows:
            found[int(child_id)] = (bytes.fromhex(digest), list(ages), last)
    return found


async def read_unchanged(
    child_ids: Collection[int], today: date, length: int
) -> tuple[ChunkState, set[int]]:
    """These children's stored state, and those whose stored verdict was computed today
    from the inputs they have now: one read of each (a flag flipped after the first only
    makes a child look changed; a post committed before the second is seen)."""
    state, digests = await asyncio.gather(read_chunk(child_ids), _digests(child_ids, today, length))
    same = set()
    for child_id, stored in state.stored.items():
        if stored.inputs is None:
            continue  # never assessed here, or flipped: see the module's docstring
        days = digests.get(child_id, _EMPTY)
        created = state.created.get(child_id)
        if inputs_digest(today, created, stored.flagged, days) == stored.inputs:
            same.add(child_id)
    return state, same
