"""Editing one's own post, a post's earlier wordings, and whom one may @mention: the JSON
API and the pages (an edit form that works without JavaScript, the history page)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from feeds.access import identity
from feeds.access.policy import Action, may
from feeds.errors import Conflict, Invalid
from feeds.feed import mentions, posting
from feeds.feed.posting import PostResult
from feeds.feed.revisions import do_read_revisions, revision_views
from feeds.models import Post, PostKind, Professional
from feeds.serializers import child_view, me_view, post_view, post_views_for
from server.endpoints import audit_context, authenticated, path_id, read_form
from server.page_context import header_context
from server.routes.page_render import render
from server.schemas import post_changes as schema
from server.schemas.codec import build, decode_query, reply
from server.schemas.operation import api


async def written(user: Professional, result: PostResult) -> schema.PostWritten:
    """A post as the author gets it back (read as they may read it: feeds/access/identity.py),
    with the mentions that notified nobody."""
    told = [{"handle": u.handle, "name": u.name, "message": u.message} for u in result.unreachable]
    if result.shielded is False:  # as the access check read the child: nothing to withhold
        view = post_view(result.post, identity.AS_WRITTEN)
    else:
        view = (await post_views_for(user, [result.post]))[0]
    return build(schema.PostWritten, {**view, "unreachable_mentions": told})


async def mention_notes(user: Professional, child_id: int, posted: int | None) -> list[str]:
    """After the author's own post on this child (?posted=<id>): the mentions in it that
    notified nobody, as the author may be told them."""
    if posted is None:
        return []
    post = await Post.get_or_none(
        id=posted, child_id=child_id, author_id=user.id, removed_at__isnull=True
    )
    if post is None:
        return []
    return [u.message for u in await mentions.unreachable_mentions(post.body, child_id, user)]


@api(
    schema.PostHistory,
    "A post's earlier wordings, newest first (audited like a feed read)",
    errors={403},
)
@authenticated
async def list_revisions(request: Request, user: Professional) -> Response:
    history = await do_read_revisions(user, path_id(request, "post_id"), audit_context(request))
    data = {"post": post_view(history.post, history.redact), "revisions": revision_views(history)}
    return reply(build(schema.PostHistory, data))


@api(
    schema.MentionablePeople,
    "People who may see the child and whom the caller may @mention, by name or handle "
    "(at most 8; audited)",
    query=schema.MentionQuery,
    errors={403},
)
@authenticated
async def list_mentionable(request: Request, user: Professional) -> Response:
    query = decode_query(request, schema.MentionQuery)
    found = await mentions.do_suggest_mentions(
        user, path_id(request, "child_id"), query.q, audit_context(request)
    )
    people = [
        {"name": p.name, "handle": p.handle, "job_title": p.job_title, "agency": p.agency.name}
        for p in found
    ]
    return reply(build(schema.MentionablePeople, {"people": people}))


@authenticated
async def history_page(request: Request, user: Professional) -> Response:
    await header_context(request)
    history = await do_read_revisions(user, path_id(request, "post_id"), audit_context(request))
    return render(
        request,
        "post_history.html",
        user=me_view(user),
        child=child_view(history.child),
        post=post_view(history.post, history.redact),
        revisions=revision_views(history),
        withheld=identity.WITHHELD,
        # The no-JavaScript way to edit: the author's form, while the case is open.
        can_edit=history.post.author_id == user.id
        and history.child.closed_at is None
        and await may(user, Action.EDIT_OWN_POST, history.child),
    )


def _edit_form(form: Any) -> tuple[str | None, str | None]:
    kind, body = form.get("kind"), form.get("body")
    return (str(kind) if kind is not None else None, str(body) if body is not None else None)


@authenticated
async def edit_from_form(request: Request, user: Professional) -> Response:
    """The edit form on a post's page (JavaScript edits through the API instead)."""
    post_id = path_id(request, "post_id")
    kind, body = _edit_form(await read_form(request))
    try:
        result = await posting.do_edit_post(user, post_id, kind, body, audit_context(request))
    except (Invalid, Conflict) as error:  # Conflict: a withheld name was not kept as it was
        await header_context(request)
        # Only what the writer sent is shown again: nothing read from the post.
        return render(
            request,
            "post_edit.html",
            409 if isinstance(error, Conflict) else 422,
            user=me_view(user),
            post_id=post_id,
            error=error.message,
            draft=(body or "").replace("\r\n", "\n")[:2000],
            selected_kind=kind or "",
            kinds=[k.value for k in PostKind],
            max_body=posting.MAX_BODY,
        )
    post = result.post
    told = "?posted=" + str(post.id) if result.unreachable else ""
    return RedirectResponse(f"/children/{post.child_id}{told}#post-{post.id}", status_code=303)


routes = [
    Route("/api/v1/posts/{post_id}/revisions", list_revisions, methods=["GET"]),
    Route("/api/v1/children/{child_id}/mentionable", list_mentionable, methods=["GET"]),
    Route("/posts/{post_id}/history", history_page, methods=["GET"]),
    Route("/posts/{post_id}/edit", edit_from_form, methods=["POST"]),
]
