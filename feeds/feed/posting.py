"""Post, edit and remove: each writes the change, its audit record, its live event and
its search outbox row in one transaction."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError

from feeds import audit, events, raw_sql
from feeds.access import identity
from feeds.access.policy import POST_NOT_FOUND, Action, check_child_access, check_item_access
from feeds.audit.actions import AuditAction
from feeds.audit.records import AuditContext
from feeds.clock import utcnow
from feeds.errors import Forbidden, Invalid, NotFound
from feeds.feed.mentions import (
    Unreachable,
    do_notify_mentions,
    mentioned_handles,
    unreachable_mentions,
)
from feeds.kinds import WORRY_KINDS
from feeds.models import Agency, Post, PostKind, PostRevision, Professional, SearchOutbox
from feeds.network.involvement import do_note_agency
from feeds.network.worry_episodes import do_assess_worry
from feeds.records.status import check_open
from feeds.velocity.tallies import count_post

MAX_BODY = 500
EMPTY_POST = "Write something before posting: the post is empty."
MAX_IDEMPOTENCY_KEY = 128


NOTHING_TO_CHANGE = "Send kind, body or both: there is nothing to change."


@dataclass(frozen=True)
class PostResult:
    post: Post
    created: bool  # False for an edit, or when an idempotent retry returned the original post
    # Handles in the post that notified nobody, said as the author may be told them.
    unreachable: tuple[Unreachable, ...] = ()
    # Whether the post's child was shielded when the access check read it (None: not
    # known here); a caller showing the post need not ask again when it was not.
    shielded: bool | None = None


async def _told(
    post: Post, author: Professional, created: bool, shielded: bool | None = None
) -> PostResult:
    """The result, with the post's mentions that reached nobody (a read, after commit)."""
    unreachable = await unreachable_mentions(post.body, post.child_id, author)
    return PostResult(post, created, tuple(unreachable), shielded)


def check_kind(kind: object) -> PostKind:
    if not isinstance(kind, str) or kind not in PostKind.__members__.values():
        allowed = ", ".join(k.value for k in PostKind)
        raise Invalid(f"kind must be one of: {allowed}.", field="kind")
    return PostKind(kind)


def check_body(body: object) -> str:
    if not isinstance(body, str):
        raise Invalid("body must be text.", field="body")
    # Browsers send a textarea's line breaks as CRLF: count (and keep) each as one character,
    # as the compose box's counter does.
    text = body.replace("\r\n", "\n").strip()
    if not text:
        raise Invalid(EMPTY_POST, field="body")
    if len(text) > MAX_BODY:
        raise Invalid(too_long(len(text)), field="body")
    return text


def too_long(length: int) -> str:
    """Says by how much a post is over the limit (the compose box says the same)."""
    over = length - MAX_BODY
    return (
        f"This post is {over} character{'' if over == 1 else 's'} over the {MAX_BODY}-character "
        f"limit ({length} written): shorten it before posting."
    )


def check_idempotency_key(key: str | None) -> str | None:
    if key is not None and not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY:
        raise Invalid(f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters.")
    return key


def request_fingerprint(child_id: int, kind: PostKind, body: str) -> str:
    """What an Idempotency-Key's first post is compared by when the key comes again."""
    return hashlib.sha256(f"{child_id}\n{kind.value}\n{body}".encode()).hexdigest()


async def _loaded(post: Post) -> Post:
    await post.fetch_related("author__agency")
    return post


async def _count(post: Post, delta: int) -> None:
    """Keep the child's daily activity tally in step with this post (same transaction)."""
    author = post.author
    await count_post(
        post.child_id, post.created_at, str(post.kind), author.id, author.agency.name, delta
    )


async def _with_author(post: Post, author: Professional) -> Post:
    """Attach the author we already hold (saves two queries when its agency is loaded)."""
    if isinstance(getattr(author, "agency", None), Agency):
        post.author = author
        return post
    return await _loaded(post)


async def _replay(author: Professional, key: str, fingerprint: str) -> PostResult | None:
    """The original post for a retried key; Invalid when the key was used for other content."""
    existing = await Post.get_or_none(author_id=author.id, idempotency_key=key)
    if existing is None:
        return None
    if existing.request_fingerprint != fingerprint:
        raise Invalid("This Idempotency-Key was already used for a different post.")
    return await _told(await _loaded(existing), author, created=False)


# Hand-written: every post writes these rows, and the ORM's model and insert building
# cost more than the statements. A reused Idempotency-Key still raises IntegrityError.
_POST_SQL = (
    "INSERT INTO post (child_id, author_id, kind, body, created_at, idempotency_key, "
    "request_fingerprint) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id"
)
_OUTBOX_SQL = (
    "INSERT INTO search_outbox (created_at, post_id, child_id, op, attempts, last_error) "
    "VALUES ($1, $2, $3, $4, 0, '') RETURNING id"
)


async def _new_post(
    author: Professional,
    child_id: int,
    kind: PostKind,
    body: str,
    key: str | None,
    fingerprint: str,
) -> Post:
    """Insert the post row; the instance is what Post.create would have returned."""
    created_at = utcnow()
    post_id = await raw_sql.insert(
        _POST_SQL, child_id, author.id, kind.value, body, created_at, key, fingerprint
    )
    return raw_sql.saved(
        Post,
        id=post_id,
        child_id=child_id,
        author_id=author.id,
        kind=kind.value,
        body=body,
        created_at=created_at,
        edited_at=None,
        removed_at=None,
        removed_by_id=None,
        idempotency_key=key,
        request_fingerprint=fingerprint,
    )


async def _insert_post(
    author: Professional,
    child_id: int,
    kind: PostKind,
    body: str,
    key: str | None,
    fingerprint: str,
    ctx: AuditContext,
) -> Post:
    async with events.transaction():
        post = await _new_post(author, child_id, kind, body, key, fingerprint)
        await _with_author(post, author)
        await _count(post, +1)
        await events.emit(events.POST_CREATED, {"post_id": post.id}, child_id=child_id)
        await raw_sql.insert(_OUTBOX_SQL, utcnow(), post.id, child_id, "index")
        await do_notify_mentions(post, author)
        await do_note_agency(child_id, author.agency_id, author.id, post_id=post.id)
        if kind in WORRY_KINDS:  # a worry raised: maybe enough people are worried now
            await do_assess_worry(child_id, ctx, actor_id=author.id)
        # Last, so the audit chain's lock (one writer at a time) is held only until commit.
        await audit.record(
            AuditAction.POST_CREATE,
            ctx,
            actor=author,
            child_id=child_id,
            detail={"post_id": post.id, "kind": kind.value},
        )
    return post


async def do_create_post(
    author: Professional,
    child_id: int,
    kind: object,
    body: object,
    ctx: AuditContext,
    idempotency_key: str | None = None,
) -> PostResult:
    """Write a post; a retry with the same Idempotency-Key returns the first post."""
    async with audit.refusal_recorded(AuditAction.POST_CREATE, ctx, author, child_id):
        child = await check_child_access(author, child_id, Action.POST)
    await check_open(child, AuditAction.POST_CREATE, ctx, author)
    checked_kind, text = check_kind(kind), check_body(body)
    key = check_idempotency_key(idempotency_key)
    fingerprint = request_fingerprint(child_id, checked_kind, text)
    # No lookup before the insert: the unique (author, key) index catches a retry, and the
    # common first attempt saves a round trip.
    try:
        post = await _insert_post(author, child_id, checked_kind, text, key, fingerprint, ctx)
    except IntegrityError:
        # A concurrent request with the same key won the race: answer as a retry.
        if key and (replayed := await _replay(author, key, fingerprint)):
            # The retry is a decision too: recorded once, naming the original post.
            detail = {"post_id": replayed.post.id, "replayed": True}
            await audit.record(
                AuditAction.POST_CREATE, ctx, actor=author, child_id=child_id, detail=detail
            )
            return replayed
        raise
    return await _told(post, author, created=True, shielded=identity.is_shielded(child))


async def _post_for(
    professional: Professional,
    post_id: int,
    others: Action,
    audited: AuditAction,
    ctx: AuditContext,
) -> Post:
    """The post, when the professional may act on it (its author: EDIT_OWN_POST; anyone
    else: `others`) and the case is open; a refusal is audited. Hidden and missing posts
    get the same answer."""
    post = await Post.get_or_none(id=post_id)
    child_id = post.child_id if post else None
    async with audit.refusal_recorded(audited, ctx, professional, child_id, {"post_id": post_id}):
        if post is None:
            raise NotFound(POST_NOT_FOUND)
        action = Action.EDIT_OWN_POST if post.author_id == professional.id else others
        child = await check_item_access(professional, post.child_id, action, POST_NOT_FOUND)
    await check_open(child, audited, ctx, professional)
    return post


# The same rule (author: EDIT_OWN_POST, anyone else: the action given) for other changes
# to a post: the chronology's marking (feeds/chronology/marking.py).
post_for_action = _post_for


async def do_edit_post(
    editor: Professional,
    post_id: int,
    kind: object | None,
    body: object | None,
    ctx: AuditContext,
) -> PostResult:
    """Change a post's kind, text or both (None: keep it); the old version is kept as a
    revision, and people newly mentioned are notified."""
    if kind is None and body is None:
        raise Invalid(NOTHING_TO_CHANGE)
    post = await _post_for(editor, post_id, Action.EDIT_OWN_POST, AuditAction.POST_EDIT, ctx)
    async with audit.refusal_recorded(
        AuditAction.POST_EDIT, ctx, editor, post.child_id, {"post_id": post_id}
    ):
        if post.author_id != editor.id or post.removed_at:
            raise Forbidden("Only the author can edit a post, and not after it was removed.")
    new_kind = PostKind(post.kind) if kind is None else check_kind(kind)
    text = post.body if body is None else await _as_edited(editor, post, check_body(body))
    if new_kind == post.kind and text == post.body:  # nothing changes: no revision, no event
        detail = {"post_id": post.id, "unchanged": True}
        await audit.record(
            AuditAction.POST_EDIT, ctx, actor=editor, child_id=post.child_id, detail=detail
        )
        return await _told(await _loaded(post), editor, created=False)
    await _save_edit(editor, post, new_kind, text, ctx)
    return await _told(post, editor, created=False)


async def _as_edited(editor: Professional, post: Post, text: str) -> str:
    """The new text, with any shielded child's name the editor was shown withheld put back
    where the editor kept "[name withheld]" (Conflict otherwise): an edit never overwrites
    what the editor was not shown (feeds/access/redaction.py)."""
    redact = await identity.redactor(editor, [post.child_id])
    restored = redact.restore(text, post.body)
    return text if restored == text else check_body(restored)


async def _save_edit(
    editor: Professional, post: Post, new_kind: PostKind, text: str, ctx: AuditContext
) -> None:
    earlier = mentioned_handles(post.body)
    async with events.transaction():
        await PostRevision.create(post=post, kind=post.kind, body=post.body, replaced_by=editor)
        await _loaded(post)
        if new_kind != post.kind:  # the day's tally moves the post from one kind to another
            await _count(post, -1)
            post.kind = new_kind
            await _count(post, +1)
        post.body, post.edited_at = text, utcnow()
        await post.save(update_fields=["kind", "body", "edited_at"])
        await events.emit(events.POST_EDITED, {"post_id": post.id}, child_id=post.child_id)
        await SearchOutbox.create(post_id=post.id, child_id=post.child_id, op="index")
        # Only those named for the first time: an edit does not notify anyone twice.
        await do_notify_mentions(post, editor, mentioned_handles(text) - earlier)
        await audit.record(
            AuditAction.POST_EDIT,
            ctx,
            actor=editor,
            child_id=post.child_id,
            detail={"post_id": post.id},
        )


async def do_remove_post(remover: Professional, post_id: int, ctx: AuditContext) -> Post:
    """Hide a post from the feed (soft: the row and its revisions stay, audited)."""
    # The author removes their own post; anyone else needs the policy's REMOVE_POST
    # (a manager with a grant: never break-glass alone).
    post = await _post_for(remover, post_id, Action.REMOVE_POST, AuditAction.POST_REMOVE, ctx)
    if post.removed_at is not None:  # already removed: nothing changes, the decision is kept
        detail = {"post_id": post.id, "already_removed": True}
        await audit.record(
            AuditAction.POST_REMOVE, ctx, actor=remover, child_id=post.child_id, detail=detail
        )
    else:
        async with events.transaction():
            post.removed_at, post.removed_by_id = utcnow(), remover.id
            await post.save(update_fields=["removed_at", "removed_by_id"])
            await _count(await _loaded(post), -1)
            await audit.record(
                AuditAction.POST_REMOVE,
                ctx,
                actor=remover,
                child_id=post.child_id,
                detail={"post_id": post.id},
            )
            await events.emit(events.POST_REMOVED, {"post_id": post.id}, child_id=post.child_id)
            await SearchOutbox.create(post_id=post.id, child_id=post.child_id, op="remove")
    return await _loaded(post)
