"""Loading children's posts in a period as velocity ActivityEvents (period comparisons),
in two queries for any number of children (never one per child). Velocity verdicts read
the daily tallies instead (feeds/velocity/tallies.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import datetime
from typing import Any

from tortoise import connections

from feeds.models import Agency
from feeds.velocity.detector import ActivityEvent
from feeds.velocity.tallies import chunked


async def _agency_names() -> dict[int, str]:
    return {int(i): str(name) for i, name in await Agency.all().values_list("id", "name")}


# Hand-written because the ORM's row building costs ~5x the query itself at 100k rows.
# Child ids are integers from our own tables, inlined so no statement hits a parameter cap.
_SQL = (
    "SELECT p.child_id, p.created_at, p.kind, p.author_id, a.agency_id "
    "FROM post p JOIN professional a ON a.id = p.author_id "
    "WHERE p.child_id IN ({ids}) AND p.removed_at IS NULL "
    "AND p.created_at >= {since} AND p.created_at < {until} ORDER BY p.created_at"
)


def _moment(value: datetime | str) -> datetime:
    # SQLite hands back the text Tortoise stored (UTC, isoformat); asyncpg a datetime.
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


async def _rows(chunk: list[int], since: datetime, until: datetime) -> list[Any]:
    connection = connections.get("default")
    marks = ("$1", "$2") if connection.capabilities.dialect == "postgres" else ("?", "?")
    ids = ",".join(str(int(child_id)) for child_id in chunk)
    sql = _SQL.format(ids=ids, since=marks[0], until=marks[1])
    _, rows = await connection.execute_query(sql, [since, until])
    return list(rows)


async def load_activity(
    child_ids: Collection[int], since: datetime, until: datetime
) -> dict[int, list[ActivityEvent]]:
    """Posts (not removed) on these children in [since, until), per child, oldest first.

    The author is the professional id and the agency is the author's agency name.
    """
    found: dict[int, list[ActivityEvent]] = defaultdict(list)
    if not child_ids:
        return found
    agencies = await _agency_names()
    for chunk in chunked(child_ids):
        for child_id, at, kind, author_id, agency_id in await _rows(chunk, since, until):
            event = ActivityEvent(_moment(at), str(kind), str(author_id), agencies[agency_id])
            found[int(child_id)].append(event)
    return found
