"""Shared-worry episodes: when enough professionals from enough agencies are worried about a
child (feeds/network/worry_rule.py), the people answerable for it (`policy.responsible_for`:
its lead and the managers of the teams holding a grant) are prompted once per episode.

Every new worry (a hunch or concern posted, a worry shared) reassesses the child in the
transaction that records it. An episode opens when the threshold becomes met, and ends when
it stops holding: `holds_until` is stored with each assessment, so reads (the child page,
the board) know whether an episode is still open without a sweep, and the next worry closes
a lapsed one before deciding whether a new episode begins (and a new prompt with it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Collection
from datetime import datetime

from tortoise.connection import get_connection

from feeds import audit, raw_sql
from feeds.access.policy import responsible_for
from feeds.audit.actions import AuditAction
from feeds.audit.records import AuditContext
from feeds.clock import utcnow
from feeds.feed.notifications import do_notify
from feeds.kinds import WORRY_KINDS
from feeds.models import Post
from feeds.network.models import WorryEpisode
from feeds.network.worry_rule import WINDOW, Worry, WorryCount, assess
from feeds.velocity.tallies import chunked

PROMPT = "worry_prompt"  # Notification.kind: "… are worried about this child"

# One assessment per child at a time (PostgreSQL; SQLite runs one writer anyway). NO KEY:
# posts and grants referencing the child are not held up.
_LOCK_SQL = "SELECT id FROM child WHERE id = $1 FOR NO KEY UPDATE"


# Hand-written: every hunch and concern posted reassesses its child, and building the
# ORM's two joined values() queries cost more CPU than the rest of the post (profiled
# with loadtests/cpu_ratio.py --profile post). One statement: worries raised, then shared.
# Ids are integers from our own tables and the kinds come from feeds.kinds, inlined.
_KINDS = ", ".join(f"'{kind.value}'" for kind in sorted(WORRY_KINDS))
_WORRIES_SQL = (
    "SELECT p.child_id, p.created_at, p.author_id, a.agency_id FROM post p "
    "JOIN professional a ON a.id = p.author_id WHERE p.child_id {children} "
    "AND p.kind IN ({kinds}) AND p.removed_at IS NULL AND p.created_at > $1 "
    "UNION ALL SELECT s.child_id, s.created_at, s.professional_id, r.agency_id "
    "FROM worry_share s JOIN post sp ON sp.id = s.post_id "
    "JOIN professional r ON r.id = s.professional_id WHERE s.child_id {children} "
    "AND s.created_at > $1 AND sp.removed_at IS NULL"
)
# The one child a posted worry reassesses is a parameter: one statement text, prepared
# once per connection with its plan kept. Inlined, every child was a new text, parsed
# and planned on each post (half a millisecond of database time in the full load test).
_ONE_CHILD_SQL = _WORRIES_SQL.format(children="= $2", kinds=_KINDS)


def _worries_of(chunk: list[int], since: datetime) -> Awaitable[list[raw_sql.Row]]:
    if len(chunk) == 1:
        return raw_sql.fetch(_ONE_CHILD_SQL, since, chunk[0])
    ids = ",".join(str(int(child_id)) for child_id in chunk)
    return raw_sql.fetch(_WORRIES_SQL.format(children=f"IN ({ids})", kinds=_KINDS), since)


async def load_worries(child_ids: Collection[int], now: datetime) -> dict[int, list[Worry]]:
    """Every worry raised or shared about these children in the window before `now`
    (removed posts, and shares of them, do not count)."""
    found: dict[int, list[Worry]] = {child_id: [] for child_id in child_ids}
    since = now - WINDOW
    for chunk in chunked(set(child_ids)):
        for child_id, at, person, agency in await _worries_of(chunk, since):
            moment = raw_sql.python_value(Post, "created_at", at)
            found[int(child_id)].append(Worry(moment, int(person), int(agency)))
    return found


# Hand-written: the board asks for 2,000 children at a time, and the ORM's query building
# over that many ids cost more than the query. Ids are integers from our own tables, inlined.
_OPEN_SQL = (
    "SELECT DISTINCT child_id FROM worry_episode WHERE child_id IN ({ids}) "
    "AND closed_at IS NULL AND holds_until > $1"
)


async def open_episodes(child_ids: Collection[int], now: datetime) -> dict[int, WorryCount]:
    """The children with an open episode whose threshold is still met at `now`, with the
    counts as they are now (a read: lapsed episodes are closed by the next worry)."""
    episodes: set[int] = set()
    for chunk in chunked(set(child_ids)):
        ids = ",".join(str(int(child_id)) for child_id in chunk)
        rows = await raw_sql.fetch(_OPEN_SQL.format(ids=ids), now)
        episodes |= {int(row[0]) for row in rows}
    if not episodes:
        return {}
    worries = await load_worries(episodes, now)
    counts = {child_id: assess(worries[child_id], now) for child_id in episodes}
    return {child_id: count for child_id, count in counts.items() if count.met}


async def _lock(child_id: int) -> None:
    if get_connection("default").capabilities.dialect == "postgres":
        await raw_sql.fetch(_LOCK_SQL, child_id)


# Hand-written like _WORRIES_SQL, on the same path.
_CURRENT_SQL = (
    "SELECT {columns} FROM worry_episode e WHERE e.child_id = $1 AND e.closed_at IS NULL "
    "ORDER BY e.id LIMIT 1"
)


async def _current(child_id: int, count: WorryCount, now: datetime) -> WorryEpisode | None:
    """The child's open episode, once a lapsed one (or one no longer met) is closed."""
    sql = _CURRENT_SQL.format(columns=raw_sql.columns(WorryEpisode, "e"))
    rows = await raw_sql.fetch(sql, child_id)
    if not rows:
        return None
    episode = raw_sql.from_row(WorryEpisode, rows[0])
    if episode.holds_until <= now or not count.met:
        ended = min(episode.holds_until, now)
        await WorryEpisode.filter(id=episode.id).update(closed_at=ended)
        return None
    return episode


async def do_assess_worry(
    child_id: int, ctx: AuditContext, *, actor_id: int | None = None, now: datetime | None = None
) -> WorryEpisode | None:
    """Reassess the child after a new worry, inside the caller's transaction: the open
    episode (updated), a new one (and its one prompt), or None when the threshold is not met."""
    moment = now or utcnow()
    await _lock(child_id)
    count = assess((await load_worries([child_id], moment))[child_id], moment)
    episode = await _current(child_id, count, moment)
    if not count.met:
        return None
    assert count.holds_until is not None
    people, agencies = count.professionals, count.agencies
    if episode is not None:
        await WorryEpisode.filter(id=episode.id).update(
            holds_until=count.holds_until, professionals=people, agencies=agencies
        )
        return episode
    episode = await WorryEpisode.create(
        child_id=child_id,
        opened_at=moment,
        holds_until=count.holds_until,
        professionals=people,
        agencies=agencies,
    )
    await _prompt(episode, ctx, actor_id)
    return episode


async def _prompt(episode: WorryEpisode, ctx: AuditContext, actor_id: int | None) -> None:
    """The episode's one prompt to each person answerable for the child, audited."""
    told = await responsible_for(episode.child_id)
    for person in told:
        await do_notify(person, PROMPT, episode.child_id, actor_id=actor_id)
    detail = {
        "episode_id": episode.id,
        "professionals": episode.professionals,
        "agencies": episode.agencies,
        "told": told,
    }
    await audit.record(AuditAction.WORRY_PROMPT, ctx, child_id=episode.child_id, detail=detail)
