"""Shared worry: "I share this worry" on a hunch or concern (issue 16, part 5).

Anyone who may post about the child (the policy's `Action.POST`: whoever may see it, since
emergency access reads and posts too) may share the worry of someone else's hunch or
concern, once, with an optional short note. The author cannot share their own: they raised
it already, and counting them twice would inflate the threshold (409, saying so). A share
is audited, tells the post's author, updates the count live on other screens, and
reassesses the child's shared-worry episode (feeds/network/worry_episodes.py), all in one
transaction. Which posts are worries is `WORRY_KINDS` (feeds/kinds.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError

from feeds import audit, events, raw_sql
from feeds.access.policy import POST_NOT_FOUND, Action, check_item_access, responsible_for
from feeds.audit.actions import AuditAction, AuditOutcome
from feeds.audit.records import AuditContext
from feeds.clock import utcnow
from feeds.errors import Conflict, Invalid, NotFound
from feeds.feed.notifications import do_notify
from feeds.kinds import WORRY_KINDS
from feeds.models import Post, Professional
from feeds.network.models import WorryShare
from feeds.network.worry_episodes import do_assess_worry, open_episodes
from feeds.network.worry_rule import MAX_NOTE, WINDOW, WorryCount
from feeds.records.status import check_open
from feeds.serializers import iso

SHARED = "worry_shared"  # Notification.kind for the author: someone shares your worry
SHARE = AuditAction.WORRY_SHARE

NOT_A_WORRY = "Only hunches and concerns can be shared as worries."
OWN_WORRY = "This is your own worry: you raised it already, so it counts once for you."
ALREADY = "You already share this worry."


def check_note(raw: object) -> str:
    """The optional note: trimmed, at most MAX_NOTE characters."""
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise Invalid("note must be text.", field="note")
    text = raw.replace("\r\n", "\n").strip()
    if len(text) > MAX_NOTE:
        raise Invalid(
            f"The note is up to {MAX_NOTE} characters ({len(text)} written).", field="note"
        )
    return text


async def _refuse(sharer: Professional, post: Post, ctx: AuditContext, message: str) -> None:
    detail = {"post_id": post.id, "why": message}
    await audit.record(
        SHARE, ctx, actor=sharer, child_id=post.child_id, outcome=AuditOutcome.DENIED, detail=detail
    )
    raise Conflict(message)


async def _shareable(sharer: Professional, post_id: int, ctx: AuditContext) -> Post:
    """The post, once the policy lets the sharer post about its child and it is a worry
    someone else raised that they do not share yet. Every refusal is one audit record."""
    post = await Post.get_or_none(id=post_id, removed_at__isnull=True)
    child_id = post.child_id if post else None
    async with audit.refusal_recorded(SHARE, ctx, sharer, child_id, {"post_id": post_id}):
        if post is None:
            raise NotFound(POST_NOT_FOUND)
        child = await check_item_access(sharer, post.child_id, Action.POST, POST_NOT_FOUND)
    assert post is not None
    await check_open(child, SHARE, ctx, sharer)
    if post.kind not in WORRY_KINDS:
        await _refuse(sharer, post, ctx, NOT_A_WORRY)
    if post.author_id == sharer.id:
        await _refuse(sharer, post, ctx, OWN_WORRY)
    if await WorryShare.filter(post_id=post.id, professional_id=sharer.id).exists():
        await _refuse(sharer, post, ctx, ALREADY)
    return post


@dataclass(frozen=True)
class Shared:
    post_id: int
    child_id: int
    shares: dict[str, Any]  # {"count", "shared_by"}, as `shares_on` gives them


async def do_share_worry(
    sharer: Professional, post_id: int, note: object, ctx: AuditContext
) -> Shared:
    """Share the worry of a hunch or concern; returns the post's shares as they are now."""
    text = check_note(note)
    post = await _shareable(sharer, post_id, ctx)
    try:
        async with events.transaction():
            await _record(sharer, post, text, ctx)
    except IntegrityError:  # the same person, a moment ago (another tab)
        raise Conflict(ALREADY) from None
    return Shared(post.id, post.child_id, (await shares_on([post.id]))[post.id])


async def _record(sharer: Professional, post: Post, note: str, ctx: AuditContext) -> None:
    share = await WorryShare.create(
        post_id=post.id,
        professional_id=sharer.id,
        child_id=post.child_id,
        note=note,
        created_at=utcnow(),
    )
    count = await WorryShare.filter(post_id=post.id).count()
    payload = {"post_id": post.id, "by_id": sharer.id, "count": count}
    await events.emit(events.WORRY_SHARED, payload, child_id=post.child_id)
    await do_notify(post.author_id, SHARED, post.child_id, actor_id=sharer.id, post_id=post.id)
    await do_assess_worry(post.child_id, ctx, actor_id=sharer.id)
    detail = {"post_id": post.id, "worry_share_id": share.id, "note": bool(note)}
    await audit.record(SHARE, ctx, actor=sharer, child_id=post.child_id, detail=detail)


def _person(row: Any, prefix: str) -> dict[str, Any]:
    return {
        "id": row[f"{prefix}_id"],
        "name": row[f"{prefix}__name"],
        "job_title": row[f"{prefix}__job_title"],
        "agency": row[f"{prefix}__agency__name"],
    }


_PERSON = ("id", "name", "job_title", "agency__name")


# Hand-written: every feed page with a hunch or concern asks it, and building the ORM's
# three-table values() query cost more CPU than the rest of the feed read (profiled with
# loadtests/cpu_ratio.py --profile feed: over half the request's CPU).
_SHARES_SQL = (
    "SELECT s.post_id, s.professional_id, p.name, p.job_title, a.name, s.note, s.created_at "
    "FROM worry_share s JOIN professional p ON p.id = s.professional_id "
    "JOIN agency a ON a.id = p.agency_id WHERE s.post_id IN ({ids}) ORDER BY s.id"
)


async def shares_on(post_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Who shares the worry of each post, oldest first: {"count", "shared_by"}. For views
    of posts the caller has already been allowed to see."""
    found: dict[int, dict[str, Any]] = {i: {"count": 0, "shared_by": []} for i in post_ids}
    if not post_ids:
        return found
    ids = ", ".join(f"${n}" for n in range(1, len(found) + 1))
    rows = await raw_sql.fetch(_SHARES_SQL.format(ids=ids), *found)
    for post_id, person_id, name, job_title, agency, note, created_at in rows:
        entry = {
            "professional": {
                "id": person_id,
                "name": name,
                "job_title": job_title,
                "agency": agency,
            },
            "note": note,
            "created_at": iso(raw_sql.python_value(WorryShare, "created_at", created_at)),
        }
        found[int(post_id)]["shared_by"].append(entry)
    for shares in found.values():
        shares["count"] = len(shares["shared_by"])
    return found


async def with_shares(posts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Post views with `worry` (who shares it) on hunches and concerns, None on others."""
    worries = [p["id"] for p in posts if p["kind"] in WORRY_KINDS]
    shares = await shares_on(worries)
    return [{**post, "worry": shares.get(post["id"])} for post in posts]


def page_view(post: dict[str, Any], viewer_id: int) -> dict[str, Any]:
    """A post view with its shares (`with_shares`), plus what the viewer's page offers:
    `shared_by_me`, and `can_share` (someone else's worry they do not share yet)."""
    shares = post.get("worry")
    by = shares["shared_by"] if shares else []
    mine = any(share["professional"]["id"] == viewer_id for share in by)
    can = shares is not None and post["author"]["id"] != viewer_id and not mine
    return {**post, "shared_by_me": mine, "can_share": can}


async def _worriers(child_id: int, now: datetime) -> list[dict[str, Any]]:
    """Who raised or shared a worry in the window, and when, newest first."""
    since, person = now - WINDOW, [f"author__{f}" for f in _PERSON[1:]]
    raised = await Post.filter(
        child_id=child_id,
        kind__in=sorted(WORRY_KINDS),
        removed_at__isnull=True,
        created_at__gt=since,
    ).values("id", "kind", "created_at", "author_id", *person)
    sharer = [f"professional__{f}" for f in _PERSON[1:]]
    shared = await WorryShare.filter(
        child_id=child_id, created_at__gt=since, post__removed_at__isnull=True
    ).values("post_id", "post__kind", "created_at", "professional_id", *sharer)
    entries = [
        (r["created_at"], _person(r, "author"), "raised", str(r["kind"]), r["id"]) for r in raised
    ]
    entries += [
        (r["created_at"], _person(r, "professional"), "shared", str(r["post__kind"]), r["post_id"])
        for r in shared
    ]
    entries = [e for e in entries if e[0] <= now]
    return [
        {"at": iso(at), "professional": who, "how": how, "kind": kind, "post_id": post_id}
        for at, who, how, kind, post_id in sorted(entries, key=lambda e: e[0], reverse=True)
    ]


async def prompt_view(
    viewer: Professional, child_id: int, now: datetime | None = None
) -> dict[str, Any] | None:
    """The child's open shared-worry episode as the child page shows it (counts, who and
    when, and whether the viewer is one of those prompted), or None. For a viewer already
    allowed to see the child."""
    moment = now or utcnow()
    count = (await open_episodes([child_id], moment)).get(child_id)
    if count is None:
        return None
    prompted = viewer.id in await responsible_for(child_id, moment)
    worriers = await _worriers(child_id, moment)
    return {**count_view(count), "prompted": prompted, "worriers": worriers}


def count_view(count: WorryCount) -> dict[str, Any]:
    return {
        "professionals": count.professionals,
        "agencies": count.agencies,
        "holds_until": iso(count.holds_until),
    }
