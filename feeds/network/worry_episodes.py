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

from collections.abc import Collection
from datetime import datetime

from tortoise import connections

from feeds import audit, raw_sql
from feeds.access.policy import responsible_for
from feeds.audit.actions import AuditAction
from feeds.audit.records import AuditContext
from feeds.clock import utcnow
from feeds.feed.notifications import do_notify
from feeds.kinds import WORRY_KINDS
from feeds.models import Post
from feeds.network.models import WorryEpisode, WorryShare
from feeds.network.worry_rule import WINDOW, Worry, WorryCount, assess
from feeds.velocity.tallies import chunked

PROMPT = "worry_prompt"  # Notification.kind: "… are worried about this child"

# One assessment per child at a time (PostgreSQL; SQLite runs one writer anyway). NO KEY:
# posts and grants referencing the child are not held up.
_LOCK_SQL = "SELECT id FROM child WHERE id = $1 FOR NO KEY UPDATE"


async def load_worries(child_ids: Collection[int], now: datetime) -> dict[int, list[Worry]]:
    """Every worry raised or shared about these children in the window before `now`
    (removed posts, and shares of them, do not count)."""
    found: dict[int, list[Worry]] = {child_id: [] for child_id in child_ids}
    since = now - WINDOW
    for chunk in chunked(set(child_ids)):
        raised = await Post.filter(
            child_id__in=chunk,
            kind__in=sorted(WORRY_KINDS),
            removed_at__isnull=True,
            created_at__gt=since,
        ).values_list("child_id", "created_at", "author_id", "author__agency_id")
        shared = await WorryShare.filter(
            child_id__in=chunk, created_at__gt=since, post__removed_at__isnull=True
        ).values_list("child_id", "created_at", "professional_id", "professional__agency_id")
        for child_id, at, person, agency in [*raised, *shared]:
            found[int(child_id)].append(Worry(at, int(person), int(agency)))
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
    if connections.get("default").capabilities.dialect == "postgres":
        await raw_sql.fetch(_LOCK_SQL, child_id)


async def _current(child_id: int, count: WorryCount, now: datetime) -> WorryEpisode | None:
    """The child's open episode, once a lapsed one (or one no longer met) is closed."""
    episode = await WorryEpisode.filter(child_id=child_id, closed_at__isnull=True).first()
    if episode is None:
        return None
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
