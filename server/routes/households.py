"""Households: link and unlink a child, read its family, ask for a child you cannot see.
JSON API under /api/v1/children/{id}/household and the family page /children/{id}/family.

Each handler parses, calls one feeds.network.households function and renders. A linked
child the viewer may not see is only a slot; nothing else about it reaches this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from feeds.access import identity
from feeds.access.policy import Action, check_child_access, may, visible_children
from feeds.clock import utcnow
from feeds.errors import Conflict, Invalid, Throttled
from feeds.models import Professional
from feeds.network import households, requests
from feeds.network.households import Family
from feeds.network.models import Relationship
from feeds.network.worry_episodes import open_episodes
from feeds.network.worry_rule import reason
from feeds.serializers import child_view, me_view, post_views_for
from server.endpoints import audit_context, authenticated, is_number, path_id, read_form
from server.page_context import header_context
from server.routes.page_render import render
from server.routes.pages_live import post_views
from server.schemas import households as schema
from server.schemas.codec import build, decode, reply
from server.schemas.network import Sent
from server.schemas.operation import api

RELATIONSHIPS = {Relationship.SIBLING: "Sibling", Relationship.SHARES_HOME: "Shares a home"}


async def family_view(
    viewer: Professional, family: Family, with_posts: bool = True
) -> dict[str, Any]:
    """The family as the API answers it: visible children with their verdicts, slots for
    the rest, and the posts and concerns of the visible children."""
    rows = await households.verdicts(family)
    children = []
    for member in family.members:
        row = rows.get(member.child.id)
        velocity = {
            "flagged": bool(row and row.assessment.flagged),
            "score": round(row.assessment.score, 2) if row else 0.0,
            "reasons": list(row.assessment.reasons) if row else [],
            "gone_quiet": bool(row and row.quiet.flagged),
        }
        child = child_view(member.child)
        children.append(
            {
                "slot": member.slot,
                **{k: child[k] for k in ("id", "display_name", "reference")},
                "relationship": member.relationship.value,
                "velocity": velocity,
            }
        )
    posts = await households.timeline(family) if with_posts else []
    concerns = await households.concerns(family) if with_posts else []
    return {
        "id": family.household_id,
        "children": children,
        "hidden": [{"slot": slot, "text": households.HIDDEN_TEXT} for slot in family.hidden],
        "posts": await post_views_for(viewer, posts),
        "concerns": await post_views_for(viewer, concerns),
    }


@api(schema.HouseholdAnswer, "The child's household as you may see it (audited per child)")
@authenticated
async def api_household(request: Request, user: Professional) -> Response:
    child_id = path_id(request, "child_id")
    family = await households.do_read_family(user, child_id, audit_context(request))
    body = {"household": None if family is None else await family_view(user, family)}
    return reply(build(schema.HouseholdAnswer, body))


@api(
    schema.Linked,
    "Link this child into the household of another child you can see (lead professionals, "
    "managers, administrators)",
    body=schema.HouseholdLink,
    status=201,
    also={200},
    errors={403, 409},
)
@authenticated
async def api_link(request: Request, user: Professional) -> Response:
    child_id = path_id(request, "child_id")
    data = await decode(request, schema.HouseholdLink)
    household_id, changed = await households.do_link(
        user, child_id, data.with_child_id, data.relationship, audit_context(request)
    )
    return reply(schema.Linked(household_id), 201 if changed else 200)


@api(None, "Unlink this child from its household", status=204, errors={403, 409})
@authenticated
async def api_unlink(request: Request, user: Professional) -> Response:
    await households.do_unlink(user, path_id(request, "child_id"), audit_context(request))
    return Response(status_code=204)


@api(
    Sent,
    "Ask to join the network of a household child you cannot see, by its slot (the same "
    "answer whether or not you can see it)",
    body=schema.SlotAsk,
    status=202,
    errors={429},
)
@authenticated
async def api_ask(request: Request, user: Professional) -> Response:
    child_id = path_id(request, "child_id")
    data = await decode(request, schema.SlotAsk)
    answer = (data.role, data.reason)
    ctx = audit_context(request)
    await households.do_ask_for_slot(user, child_id, data.slot, answer, ctx)
    return reply(Sent(requests.SENT), status=202)


# --- the family page ----------------------------------------------------------------------


async def _linkable(user: Professional, child_id: int, family: Family | None) -> list[Any]:
    """Children the viewer sees that this one could join (not itself, not already in)."""
    inside = set(family.child_ids) if family else {child_id}
    return [
        {"id": c.id, "display_name": c.display_name, "reference": c.reference}
        for c in await identity.shown_children(user, await visible_children(user))
        if c.id not in inside
    ]


async def _worry_prompts(members: Sequence[Any]) -> dict[int, list[str]]:
    """Each visible child's open shared-worry episode, as the board words it."""
    found = await open_episodes([m.child.id for m in members], utcnow())
    return {child_id: [reason(count)] for child_id, count in found.items()}


async def family_page(
    request: Request, user: Professional, status: int = 200, **extra: Any
) -> Response:
    await header_context(request)
    child_id = path_id(request, "child_id")
    family = await households.do_read_family(user, child_id, audit_context(request))
    this = await check_child_access(user, child_id, Action.VIEW)  # allowed: read above
    shown = await identity.seen_child(user, this)
    reached = family.members if family else []
    can_link = await may(user, Action.LINK_CHILDREN, this)
    view = await family_view(user, family, with_posts=False) if family else None
    names = {m.child.id: m.child.display_name for m in reached}
    return render(
        request,
        "family.html",
        status,
        user=me_view(user),
        child=child_view(shown),
        family=view,
        posts=await post_views(user, await households.timeline(family), names) if family else [],
        concerns=await post_views(user, await households.concerns(family), names) if family else [],
        worry_prompts=await _worry_prompts(reached),
        relationships=RELATIONSHIPS,
        can_link=can_link,
        linkable=await _linkable(user, child_id, family) if can_link else [],
        limits={"reason": requests.REASON_LENGTH, "role": requests.ROLE_LENGTH},
        asked=request.query_params.get("asked") == "1",
        **extra,
    )


@authenticated
async def show_family(request: Request, user: Professional) -> Response:
    return await family_page(request, user)


def _form_id(raw: object) -> int:
    text = str(raw or "")
    if not is_number(text) or int(text) < 1:
        raise Invalid("Choose a child.", field="with_child_id")
    return int(text)


@authenticated
async def form_link(request: Request, user: Professional) -> Response:
    child_id = path_id(request, "child_id")
    form = await read_form(request)
    ctx = audit_context(request)
    try:
        with_id = _form_id(form.get("with_child_id"))
        await households.do_link(user, child_id, with_id, form.get("relationship"), ctx)
    except (Invalid, Conflict) as error:
        code = 409 if isinstance(error, Conflict) else 422
        return await family_page(request, user, code, link_error=error.message)
    return RedirectResponse(f"/children/{child_id}/family", status_code=303)


@authenticated
async def form_unlink(request: Request, user: Professional) -> Response:
    child_id = path_id(request, "child_id")
    await read_form(request)
    try:
        await households.do_unlink(user, child_id, audit_context(request))
    except Conflict as error:
        return await family_page(request, user, 409, link_error=error.message)
    return RedirectResponse(f"/children/{child_id}/family", status_code=303)


@authenticated
async def form_ask(request: Request, user: Professional) -> Response:
    child_id = path_id(request, "child_id")
    form = await read_form(request)
    raw_slot = str(form.get("slot") or "")
    slot = int(raw_slot) if is_number(raw_slot) else 0
    answer = (form.get("role"), form.get("reason"))
    try:
        await households.do_ask_for_slot(user, child_id, slot, answer, audit_context(request))
    except (Invalid, Throttled) as error:
        code = 429 if isinstance(error, Throttled) else 422
        draft = {k: str(form.get(k) or "")[:600] for k in ("role", "reason")}
        return await family_page(
            request, user, code, ask_error=error.message, ask_slot=slot, draft=draft
        )
    return RedirectResponse(f"/children/{child_id}/family?asked=1#hidden", status_code=303)


routes = [
    Route("/api/v1/children/{child_id}/household", api_household, methods=["GET"]),
    Route("/api/v1/children/{child_id}/household", api_link, methods=["POST"]),
    Route("/api/v1/children/{child_id}/household", api_unlink, methods=["DELETE"]),
    Route("/api/v1/children/{child_id}/household/ask", api_ask, methods=["POST"]),
    Route("/children/{child_id}/family", show_family, methods=["GET"]),
    Route("/children/{child_id}/family", form_link, methods=["POST"]),
    Route("/children/{child_id}/family/leave", form_unlink, methods=["POST"]),
    Route("/children/{child_id}/family/ask", form_ask, methods=["POST"]),
]
