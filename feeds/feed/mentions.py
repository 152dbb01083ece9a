"""@mentions: a post that names a professional's handle notifies them, if and only if
they may see the child. The author is told which handles reached nobody, in words that
say no more than they already knew (docs/trust.md, "Mentions")."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from tortoise.expressions import Q

from feeds import audit, events
from feeds.access.policy import Action, check_child_access, holder_ids, team_ids_of
from feeds.audit.actions import AuditAction
from feeds.audit.records import AuditContext
from feeds.feed.notifications import do_notify
from feeds.models import Notification, Post, Professional, TeamMember

MENTION = re.compile(r"(?<![\w@])@([a-z0-9][a-z0-9._-]{0,63})", re.IGNORECASE)
SUGGESTIONS = 8  # at most this many people offered while typing "@..."
MAX_QUERY = 64


@dataclass(frozen=True)
class Unreachable:
    """A handle in a post that notified nobody. `name` only when the author already knows
    the person (their own agency or one of their teams): otherwise the answer is the same
    whether the handle names someone or no one."""

    handle: str
    name: str | None
    message: str


def mentioned_handles(body: str) -> set[str]:
    """Handles named in a post, without trailing punctuation ("@sam.jones." -> sam.jones)."""
    return {match.rstrip("._-").lower() for match in MENTION.findall(body)}


async def _named(handles: Iterable[str], author: Professional) -> list[Professional]:
    wanted = set(handles) - {author.handle.lower()}
    if not wanted:
        return []
    return await Professional.filter(handle__in=wanted, is_active=True)


async def _known_to(author: Professional, people: list[Professional]) -> set[int]:
    """Those of `people` the author already knows: same agency, or a shared team."""
    known = {p.id for p in people if p.agency_id == author.agency_id}
    rest = [p.id for p in people if p.id not in known]
    teams = await team_ids_of(author) if rest else []
    if teams:
        mates = TeamMember.filter(team_id__in=teams, professional_id__in=rest)
        known |= set(await mates.values_list("professional_id", flat=True))  # type: ignore[arg-type]
    return known


def _unreachable(handle: str, person: Professional | None, known: set[int]) -> Unreachable:
    if person is not None and person.id in known:
        message = f"{person.name} (@{handle}) cannot see this child: they were not notified."
        return Unreachable(handle, person.name, message)
    message = f"@{handle}: nobody of that handle can see this child, so nobody was notified."
    return Unreachable(handle, None, message)


async def unreachable_mentions(body: str, child_id: int, author: Professional) -> list[Unreachable]:
    """The handles in `body` that notify nobody (no such active person, or they may not see
    the child), in the order of the text."""
    handles = mentioned_handles(body) - {author.handle.lower()}
    if not handles:
        return []
    people = {p.handle.lower(): p for p in await _named(handles, author)}
    viewers = await holder_ids(child_id, Action.VIEW)
    missing = sorted(
        (h for h in handles if (p := people.get(h)) is None or p.id not in viewers),
        key=lambda h: body.lower().find(f"@{h}"),
    )
    known = await _known_to(author, [p for h in missing if (p := people.get(h))])
    return [_unreachable(h, people.get(h), known) for h in missing]


async def do_notify_mentions(
    post: Post, author: Professional, handles: set[str] | None = None
) -> list[Notification]:
    """Inside the post's transaction: one notification and one event per person mentioned
    (of `handles`, default every handle in the post) who may see the child."""
    named = await _named(mentioned_handles(post.body) if handles is None else handles, author)
    if not named:
        return []
    viewers = await holder_ids(post.child_id, Action.VIEW)
    notes = []
    for person in named:
        if person.id not in viewers:
            continue
        note = await do_notify(
            person.id,
            "mention",
            post.child_id,
            actor_id=author.id,
            post_id=post.id,
            event_type=events.MENTION,
        )
        notes.append(note)
    return notes


async def mentionable(viewer: Professional, child_id: int, query: str) -> list[Professional]:
    """People the viewer may mention about this child, whose name (or a word of it) or
    handle starts with `query`: only active people a grant lets see the child (never a
    directory of everyone, never those on emergency access), at most SUGGESTIONS."""
    await check_child_access(viewer, child_id, Action.VIEW)
    query = " ".join(query.split())[:MAX_QUERY].lstrip("@")
    if not query:
        return []
    ids = await holder_ids(child_id, Action.VIEW, emergency=False) - {viewer.id}
    named = Q(name__istartswith=query) | Q(name__icontains=" " + query)
    found = Professional.filter(named | Q(handle__istartswith=query), id__in=ids)
    return await found.order_by("name", "id").limit(SUGGESTIONS).prefetch_related("agency")


async def do_suggest_mentions(
    viewer: Professional, child_id: int, query: str, ctx: AuditContext
) -> list[Professional]:
    """`mentionable`, audited as a decision about the child (refusals too)."""
    async with audit.refusal_recorded(AuditAction.MENTION_SUGGEST, ctx, viewer, child_id):
        found = await mentionable(viewer, child_id, query)
    await audit.record(AuditAction.MENTION_SUGGEST, ctx, actor=viewer, child_id=child_id)
    return found
