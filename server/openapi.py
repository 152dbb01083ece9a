"""The OpenAPI 3.1 document for /api/v1, generated from the route table and the types.

Each /api/v1 endpoint declares an `Operation` (server/schemas/operation.py): its request
body, query string, headers, success type and the errors it can answer besides those
derived here from the route itself. A route without a declaration is left out, and
tests/server/test_openapi.py fails.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import msgspec
from starlette.routing import BaseRoute, Route

from server.endpoints import MAX_ID
from server.schemas.common import Error
from server.schemas.operation import Operation, operation_of
from server.settings import Settings

PREFIX = "/api/v1"
REF = "#/components/schemas/{name}"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
ERRORS = {
    401: "Not signed in: no valid session or token",
    403: "Not allowed for this caller, or a cross-site request without a CSRF token",
    404: "No such thing, or no access to it (the same answer for both)",
    409: "An identical request (the same Idempotency-Key) is still in progress",
    413: "The request body is too large",
    415: "Multipart bodies are refused: send JSON",
    422: "Invalid input: `error.field` names the parameter and `error.message` says why",
    429: "Too many failed attempts: wait, or ask an administrator",
    503: "A dependency is unavailable (the database; for search, the search engine)",
}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}


def api_operations(routes: Iterable[BaseRoute]) -> list[tuple[str, str, Any, Operation]]:
    """(path, method, endpoint, operation) for every declared /api/v1 route."""
    found = []
    for route in routes:
        if not isinstance(route, Route) or not route.path.startswith(PREFIX):
            continue
        declared = operation_of(route.endpoint)
        if declared is None:
            continue
        for method in sorted((route.methods or set()) - {"HEAD"}):
            found.append((route.path, method, route.endpoint, declared))
    return found


def _types(operations: list[tuple[str, str, Any, Operation]]) -> list[type[Any]]:
    kinds: list[type[Any]] = [Error]
    for _, _, _, op in operations:
        kinds += [t for t in (op.body, op.query, op.response) if t is not None]
    return list(dict.fromkeys(kinds))


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent or a value, never JSON null."""
    options = [s for s in schema.get("anyOf", []) if s != {"type": "null"}]
    if len(options) == 1:
        rest = {k: v for k, v in schema.items() if k not in {"anyOf", "default"}}
        return {**options[0], **rest}
    return {k: v for k, v in schema.items() if k != "default" or v is not None}


def _path_parameters(path: str) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        }
        for name in re.findall(r"{(\w+)}", path)
    ]


def _query_parameters(query: type[Any] | None, components: dict[str, Any]) -> list[Any]:
    if query is None:
        return []
    schema = components[query.__name__]
    return [
        {
            "name": name,
            "in": "query",
            "required": name in schema.get("required", []),
            "schema": _not_null(property_schema),
            # Optional parameters sent empty (as HTML forms do) are read as not given.
            **({} if name in schema.get("required", []) else {"allowEmptyValue": True}),
        }
        for name, property_schema in schema["properties"].items()
    ]


def _statuses(path: str, method: str, policy: str, op: Operation) -> set[int]:
    statuses = set(op.errors) | {503}
    if policy != "public":
        statuses.add(401)
    if method in UNSAFE:
        statuses |= {403, 415}
    if "{" in path:
        statuses.add(404)
    if op.body is not None:
        statuses.add(413)
    if op.body is not None or op.query is not None:
        statuses.add(422)
    return statuses


def _content(schema: dict[str, Any], media_type: str = "application/json") -> dict[str, Any]:
    return {media_type: {"schema": schema}}


def _responses(
    path: str, method: str, policy: str, op: Operation, refs: dict[Any, Any]
) -> dict[str, Any]:
    success: dict[str, Any] = {"description": op.summary}
    if op.response is not None:
        schema = refs[op.response] if op.media_type == "application/json" else {"type": "string"}
        success["content"] = _content(schema, op.media_type)
    responses = {str(status): success for status in sorted({op.status, *op.also})}
    for status in sorted(_statuses(path, method, policy, op)):
        error = {"description": ERRORS[status], "content": _content(refs[Error])}
        if status == 503 or status in op.retry_after:
            error["headers"] = RETRY_AFTER
        responses[str(status)] = error
    return responses


def _operation(
    path: str, method: str, endpoint: Any, op: Operation, refs: dict[Any, Any]
) -> dict[str, Any]:
    policy = getattr(endpoint, "policy", "authenticated")
    parameters = _path_parameters(path) + _query_parameters(op.query, refs["components"])
    parameters += [
        {"name": h.name, "in": "header", "description": h.description, "required": False}
        | {"schema": {"type": "string", "minLength": 1, "maxLength": h.max_length}}
        for h in op.headers
    ]
    document: dict[str, Any] = {"summary": op.summary, "operationId": endpoint.__name__}
    if parameters:
        document["parameters"] = parameters
    if op.body is not None:
        document["requestBody"] = {"required": op.body_required, "content": _content(refs[op.body])}
    document["responses"] = _responses(path, method, policy, op, refs)
    if policy == "public":
        document["security"] = []
    return document


def openapi_document(routes: Iterable[BaseRoute], settings: Settings) -> dict[str, Any]:
    operations = api_operations(routes)
    kinds = _types(operations)
    schemas, components = msgspec.json.schema_components(kinds, ref_template=REF)
    refs: dict[Any, Any] = dict(zip(kinds, schemas, strict=True))
    refs["components"] = components
    paths: dict[str, dict[str, Any]] = {}
    for path, method, endpoint, op in operations:
        paths.setdefault(path, {})[method.lower()] = _operation(path, method, endpoint, op, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Jigsaw API",
            "version": "1",
            "description": "Calls authenticated by the session cookie need an x-csrftoken "
            "header on unsafe methods; bearer-token calls do not.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": settings.session_cookie},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
        "security": [{"session": []}, {"bearer": []}],
    }
