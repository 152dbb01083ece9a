"""The OpenAPI document describes every /api/v1 route, and only real ones."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.routing import Route

from feeds.feed.posting import MAX_BODY
from feeds.models import PostKind
from server.app import build_routes
from server.openapi import openapi_document
from server.schemas.operation import operation_of
from server.settings import Settings


async def test_openapi_lists_every_api_route(client: httpx.AsyncClient, app: Starlette) -> None:
    document = (await client.get("/api/v1/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    documented = {
        (method.upper(), path) for path, ops in document["paths"].items() for method in ops
    }
    routed = {
        (method, route.path)
        for route in app.routes
        if isinstance(route, Route) and route.path.startswith("/api/v1")
        for method in (route.methods or set()) - {"HEAD"}
    }
    assert documented == routed


async def test_every_schema_reference_resolves(client: httpx.AsyncClient) -> None:
    document = (await client.get("/api/v1/openapi.json")).json()
    text = str(document)
    refs = {part.split("'")[0] for part in text.split("#/components/schemas/")[1:]}
    assert refs and refs <= set(document["components"]["schemas"])


def _operation(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    operation: dict[str, Any] = document["paths"][path][method]
    return operation


async def test_the_session_cookie_is_named_as_configured(settings: Settings) -> None:
    plain = openapi_document(build_routes(), settings)
    over_https = openapi_document(build_routes(), replace(settings, https=True))
    assert plain["components"]["securitySchemes"]["session"]["name"] == "jigsaw_session"
    https_scheme = over_https["components"]["securitySchemes"]["session"]
    assert https_scheme == {"type": "apiKey", "in": "cookie", "name": "__Host-jigsaw_session"}
    assert over_https["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


async def test_errors_are_listed_where_they_occur(client: httpx.AsyncClient) -> None:
    document = (await client.get("/api/v1/openapi.json")).json()
    search = _operation(document, "get", "/api/v1/search")["responses"]
    assert "Retry-After" in search["503"]["headers"]
    login = _operation(document, "post", "/api/v1/auth/login")
    assert {"401", "403", "422", "429"} <= set(login["responses"]) and login["security"] == []
    new_post = _operation(document, "post", "/api/v1/children/{child_id}/posts")["responses"]
    assert {"201", "401", "403", "404", "409", "415", "422"} <= set(new_post)
    me = _operation(document, "get", "/api/v1/me")["responses"]
    assert "422" not in me and "404" not in me and "409" not in me and "429" not in me


async def test_post_kinds_come_from_the_one_enum(client: httpx.AsyncClient) -> None:
    document = (await client.get("/api/v1/openapi.json")).json()
    schemas = document["components"]["schemas"]
    assert sorted(schemas["PostKind"]["enum"]) == sorted(kind.value for kind in PostKind)
    for name in ("PostCreate", "Post"):
        assert schemas[name]["properties"]["kind"] == {"$ref": "#/components/schemas/PostKind"}
    body = schemas["PostCreate"]["properties"]["body"]
    # The exact limit is the domain's (trimmed, CRLF as one); the document states it.
    assert f"{MAX_BODY} characters" in body["description"]


async def test_every_api_route_declares_its_types(app: Starlette) -> None:
    """Without an @api declaration a route is left out of the document (see above)."""
    undeclared = [
        f"{route.path} {route.endpoint.__name__}"
        for route in app.routes
        if isinstance(route, Route)
        and route.path.startswith("/api/v1")
        and operation_of(route.endpoint) is None
    ]
    assert undeclared == []


async def test_records_and_organisation_are_declared_from_their_types(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/api/v1/openapi.json")).json()
    schemas = document["components"]["schemas"]
    # An unknown field is refused, so the document says so.
    assert schemas["ChildCreate"]["additionalProperties"] is False
    assert schemas["ChildChanges"]["additionalProperties"] is False
    assert {"school", "area", "status", "closed_at"} <= set(schemas["Child"]["required"])
    add_member = _operation(document, "post", "/api/v1/admin/teams/{team_id}/members")
    assert {"200", "201", "403", "404", "413", "422"} <= set(add_member["responses"])
    key = _operation(document, "get", "/api/v1/audit/public-key")["responses"]["200"]
    assert key["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AuditPublicKey"
    }
    password = schemas["CredentialsEnded"]["required"]
    assert password == ["sessions_ended", "tokens_revoked"]
