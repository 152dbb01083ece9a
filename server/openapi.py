"""The OpenAPI 3.1 document for /api/v1, written by hand and checked by a test that
every API route appears in it."""

from __future__ import annotations

import copy
from typing import Any

from server.openapi_mfa import mfa_paths
from server.openapi_network import network_paths
from server.openapi_records import admin_paths, merged, records_paths

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": schema}}}


def _ok(
    description: str, schema: dict[str, Any] | None = None, status: str = "200"
) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description}
    if schema is not None:
        response["content"] = {JSON: {"schema": schema}}
    errors = {
        code: {"description": text, "content": {JSON: {"schema": _ref("Error")}}}
        for code, text in (
            ("401", "Not logged in"),
            ("403", "Visible, but not allowed for this caller (or a cross-site request)"),
            ("404", "No such thing, or no access"),
            ("409", "An identical request is still in progress"),
            ("415", "Multipart bodies are refused"),
            ("422", "Invalid input"),
            ("429", "Too many failed logins"),
        )
    }
    return {status: response, **errors}


def _id_param(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }


def _obj(required: list[str], **props: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": props}


STR = {"type": "string"}
INT = {"type": "integer"}
KIND = {"type": "string", "enum": ["update", "hunch", "concern", "visit", "positive"]}

SCHEMAS: dict[str, Any] = {
    "Error": _obj(
        ["error"],
        error=_obj(["code", "message"], code=STR, message=STR, field={"type": ["string", "null"]}),
    ),
    "Author": _obj(
        ["id", "name", "handle", "agency"], id=INT, name=STR, handle=STR, job_title=STR, agency=STR
    ),
    "Me": _obj(
        ["id", "email", "role"],
        id=INT,
        name=STR,
        handle=STR,
        job_title=STR,
        agency=STR,
        email=STR,
        role=STR,
    ),
    "Child": _obj(
        ["id", "display_name", "reference"],
        id=INT,
        display_name=STR,
        reference=STR,
        date_of_birth={"type": ["string", "null"]},
        lead_professional_id={"type": ["integer", "null"]},
        school=STR,
        area=STR,
        status={"enum": ["open", "closed"]},
        closed_at={"type": ["string", "null"]},
    ),
    "Post": _obj(
        ["id", "child_id", "kind", "body", "created_at", "author"],
        id=INT,
        child_id=INT,
        kind=KIND,
        body=STR,
        created_at=STR,
        edited_at={"type": ["string", "null"]},
        author=_ref("Author"),
    ),
    "Grant": _obj(
        ["id", "child_id", "holder"],
        id=INT,
        child_id=INT,
        holder=_obj(
            ["type", "id", "name"],
            type={"enum": ["professional", "team"]},
            id=INT,
            name=STR,
            job_title=STR,
            agency=STR,
        ),
        granted_by={"type": ["string", "null"]},
        created_at=STR,
        expires_at={"type": ["string", "null"]},
        revoked_at={"type": ["string", "null"]},
    ),
    "Token": _obj(
        ["id", "name", "prefix"],
        id=INT,
        name=STR,
        prefix=STR,
        created_at=STR,
        last_used_at={"type": ["string", "null"]},
        revoked_at={"type": ["string", "null"]},
    ),
    "NewPost": _obj(
        ["kind", "body"], kind=KIND, body={"type": "string", "minLength": 1, "maxLength": 500}
    ),
}

# With two-step sign-in on, login and token creation also take `code` or `recovery_code`;
# without them the answer is 401 with "mfa_required": true (docs/api.md).
SECOND_FACTOR = {
    "code": {**STR, "maxLength": 7},
    "recovery_code": {**STR, "maxLength": 20},
}
CREDENTIALS = _obj(["email", "password"], email=STR, password=STR, **SECOND_FACTOR)
CHILD = [_id_param("child_id")]
PAGING = [
    {"name": "before", "in": "query", "schema": INT},
    {"name": "limit", "in": "query", "schema": {**INT, "minimum": 1, "maximum": 100}},
]
IDEMPOTENCY = {"name": "Idempotency-Key", "in": "header", "schema": {**STR, "maxLength": 128}}

SEARCH_PARAMS = [
    {
        "name": "q",
        "in": "query",
        "required": True,
        "schema": {**STR, "minLength": 3, "maxLength": 200},
    },
    *[
        {"name": n, "in": "query", "schema": {**INT, "minimum": 0}}  # 0 names nothing: no hits
        for n in ("child", "author", "agency")
    ],
    {"name": "kind", "in": "query", "schema": KIND},
    *[
        {"name": n, "in": "query", "schema": STR, "description": "YYYY-MM-DD or ISO date-time"}
        for n in ("since", "until")
    ],
    {"name": "order", "in": "query", "schema": {"type": "string", "enum": ["newest", "relevance"]}},
    {"name": "limit", "in": "query", "schema": {**INT, "minimum": 1, "maximum": 50}},
    {"name": "cursor", "in": "query", "schema": {**INT, "minimum": 0}},
]
SEARCH_HIT = _obj(
    ["post", "child", "score", "snippet", "highlights", "url"],
    post=_ref("Post"),
    child=_obj(["id", "display_name"], id=INT, display_name=STR),
    score={"type": "number"},
    snippet=STR,
    highlights={"type": "array", "items": {"type": "array", "items": INT}},
    url=STR,
)
SEARCH_PATH = {
    "get": {
        "summary": "Full-text search over the posts the caller may see (audited)",
        "parameters": SEARCH_PARAMS,
        "responses": _ok(
            "Matching posts, access-checked",
            _obj(
                ["results", "count", "next_cursor"],
                results={"type": "array", "items": SEARCH_HIT},
                count=INT,
                next_cursor={"type": ["integer", "null"]},
            ),
        ),
    }
}

NUM = {"type": "number"}
PERIOD_PARAMS = [
    # An empty value means the default, so the schema allows it next to YYYY-MM-DD.
    {
        "name": n,
        "in": "query",
        "schema": {**STR, "pattern": r"^(\d{4}-\d{2}-\d{2})?$"},
        "description": d,
    }
    for n, d in (
        ("from", "Later period's first day (default: 27 days before `to`)"),
        ("to", "Later period's last day, inclusive (default: today, UTC)"),
        ("compare_from", "Earlier period's first day (default: as long as the later one)"),
        ("compare_to", "Earlier period's last day (default: the day before `from`)"),
    )
]
VELOCITY = _obj(
    ["score", "flagged", "reasons", "sparkline"],
    score=NUM,
    flagged={"type": "boolean"},
    reasons={"type": "array", "items": STR},
    sparkline={"type": "array", "items": INT, "description": "Posts per day, 28 days"},
    posts_72h=INT,
    usual_72h=NUM,
    agencies={"type": "array", "items": STR},
    new_agencies={"type": "array", "items": STR},
    concerns_7d=INT,
)
STATS = _obj(
    ["posts_by_kind", "total_posts", "distinct_authors", "distinct_agencies"],
    posts_by_kind={"type": "object", "additionalProperties": INT},
    total_posts=INT,
    distinct_authors=INT,
    distinct_agencies=INT,
)
PERIOD = {**STATS, "properties": {**STATS["properties"], "from": STR, "to": STR}}
COMPARISON = _obj(["a", "b", "change"], a=PERIOD, b=PERIOD, change=STATS)
CHILD_REF = _obj(["id", "display_name"], id=INT, display_name=STR, ref=STR)
BOARD_ROW = {
    **VELOCITY,
    "properties": {
        **VELOCITY["properties"],
        "child": CHILD_REF,
        "posts_7d": INT,
        "posts_28d": INT,
        "last_post_at": {"type": ["string", "null"]},
    },
}
BOARD_PATHS = {
    "/api/v1/board": {
        "get": {
            "summary": "Managers: visible children ranked by attention velocity (audited)",
            "parameters": [
                {"name": "status", "in": "query", "schema": {"enum": ["all", "flagged"]}},
                {
                    "name": "team",
                    "in": "query",
                    "description": "Only children granted to this team (one of the manager's)",
                    "schema": {"type": "string", "pattern": "^[0-9]*$"},
                },
                *PERIOD_PARAMS,
            ],
            "responses": _ok(
                "The board; `comparison` only when a period parameter is given",
                _obj(
                    ["at", "children", "flagged", "rows"],
                    at=STR,
                    children=INT,
                    flagged=INT,
                    rows={"type": "array", "items": BOARD_ROW},
                    comparison=COMPARISON,
                ),
            ),
        }
    },
    "/api/v1/children/{child_id}/velocity": {
        "get": {
            "summary": "A child's velocity and a comparison of two periods (audited)",
            "parameters": [*CHILD, *PERIOD_PARAMS],
            "responses": _ok(
                "Velocity and comparison",
                _obj(
                    ["child", "velocity", "comparison"],
                    child=CHILD_REF,
                    velocity=VELOCITY,
                    comparison=COMPARISON,
                ),
            ),
        }
    },
}

BREAK_GLASS = _obj(
    ["id", "child_id", "professional_id", "reason", "started_at", "expires_at"],
    id=INT,
    child_id=INT,
    professional_id=INT,
    professional=_obj(["id", "name"], id=INT, name=STR),
    reason=STR,
    started_at=STR,
    expires_at=STR,
    reviewed_at={"type": ["string", "null"]},
    review_note=STR,
)
AUDIT_RECORD = _obj(
    ["id", "at", "action", "outcome"],
    id=INT,
    at=STR,
    actor_id={"type": ["integer", "null"]},
    actor_email=STR,
    action=STR,
    child_id={"type": ["integer", "null"]},
    outcome=STR,
    detail={"type": "object"},
)
AUDIT_RECORDS = _obj(["records"], records={"type": "array", "items": AUDIT_RECORD})
# An administrator's filters by what they know: an email address or part of a name, and a
# case reference (see feeds/lookup.py); a name that matches nobody is a 422.
NAMED_FILTERS = [
    {"name": "person", "in": "query", "schema": {**STR, "maxLength": 254}},
    {"name": "child_ref", "in": "query", "schema": {**STR, "maxLength": 32}},
]
AUDIT_FILTERS = [
    *[{"name": n, "in": "query", "schema": {**INT, "minimum": 0}} for n in ("actor", "child")],
    *NAMED_FILTERS,
    {"name": "action", "in": "query", "schema": {**STR, "maxLength": 64}},
    *[
        {"name": n, "in": "query", "schema": {**STR, "pattern": r"^(\d{4}-\d{2}-\d{2})?$"}}
        for n in ("since", "until")
    ],
    {"name": "before", "in": "query", "schema": {**INT, "minimum": 0}},
    {"name": "limit", "in": "query", "schema": {**INT, "minimum": 1, "maximum": 10000}},
]
CSV_OK = {
    **_ok("The filtered log as CSV"),
    "200": {"description": "CSV", "content": {"text/csv": {"schema": STR}}},
}
TRUST_PATHS: dict[str, Any] = {
    "/api/v1/auth/password": {
        "post": {
            "summary": "Change your password (with the old one); ends every session and "
            "token (a browser making the change gets a fresh session)",
            "requestBody": _body(
                _obj(
                    ["old_password", "new_password"],
                    old_password=STR,
                    new_password={**STR, "minLength": 12, "maxLength": 1024},
                )
            ),
            "responses": _ok(
                "Changed",
                _obj(["sessions_ended", "tokens_revoked"], sessions_ended=INT, tokens_revoked=INT),
            ),
        }
    },
    "/api/v1/professionals/{professional_id}/unlock": {
        "post": {
            "summary": "Administrators: unlock an account locked by failed logins",
            "parameters": [_id_param("professional_id")],
            "responses": _ok(
                "Unlocked", _obj(["id", "locked"], id=INT, locked={"type": "boolean"})
            ),
        }
    },
    "/api/v1/children/{child_id}/break-glass": {
        "post": {
            "summary": "Emergency access without a grant: a reason, 4 hours, alerts (audited)",
            "parameters": CHILD,
            "requestBody": _body(
                _obj(["reason"], reason={**STR, "minLength": 10, "maxLength": 500})
            ),
            "responses": _ok("Emergency access opened", BREAK_GLASS, "201"),
        }
    },
    "/api/v1/break-glass": {
        "get": {
            "summary": "Administrators: every emergency access, newest first",
            "parameters": [
                {"name": "reviewed", "in": "query", "schema": {"enum": ["true", "false", "all"]}},
                *NAMED_FILTERS,
            ],
            "responses": _ok(
                "Uses", _obj(["break_glass"], break_glass={"type": "array", "items": BREAK_GLASS})
            ),
        }
    },
    "/api/v1/break-glass/{break_glass_id}/review": {
        "post": {
            "summary": "Administrators: mark an emergency access reviewed",
            "parameters": [_id_param("break_glass_id")],
            "responses": _ok("Reviewed", BREAK_GLASS),
        }
    },
    "/api/v1/children/{child_id}/audit": {
        "get": {
            "summary": "Lead professional and managers: who did what to this child (audited)",
            "parameters": CHILD,
            "responses": _ok("Newest first", AUDIT_RECORDS),
        }
    },
    "/api/v1/audit": {
        "get": {
            "summary": "Administrators: the whole audit log, filtered (audited)",
            "parameters": AUDIT_FILTERS,
            "responses": _ok("Newest first", AUDIT_RECORDS),
        }
    },
    "/api/v1/audit.csv": {
        "get": {
            "summary": "Administrators: the filtered audit log as CSV (audited)",
            "parameters": AUDIT_FILTERS,
            "responses": CSV_OK,
        }
    },
    "/api/v1/audit/public-key": {
        "get": {
            "summary": "The Ed25519 public key that verifies the signed audit checkpoints",
            "responses": _ok(
                "The key, base64 of its 32 raw bytes",
                _obj(
                    ["algorithm", "public_key", "key_id"],
                    algorithm={"const": "Ed25519"},
                    public_key=STR,
                    key_id=STR,
                ),
            ),
        }
    },
}

PATHS: dict[str, Any] = {
    "/api/v1/auth/login": {
        "post": {
            "summary": "Log in (with `code` when the account has MFA); sets a session cookie",
            "security": [],
            "requestBody": _body(CREDENTIALS),
            "responses": _ok("Logged in", _obj(["me"], me=_ref("Me"), csrf_token=STR)),
        }
    },
    "/api/v1/auth/logout": {
        "post": {
            "summary": "End this session",
            "security": [],
            "responses": _ok("Logged out", status="204"),
        }
    },
    "/api/v1/auth/logout-everywhere": {
        "post": {"summary": "End every session of the caller", "responses": _ok("Ended")}
    },
    "/api/v1/auth/tokens": {
        "post": {
            "summary": "Issue a personal access token",
            "security": [],
            "requestBody": _body(
                _obj(
                    ["email", "password", "name"],
                    email=STR,
                    password=STR,
                    name=STR,
                    **SECOND_FACTOR,
                )
            ),
            "responses": _ok(
                "The token, shown once",
                {"allOf": [_ref("Token"), _obj(["token"], token=STR)]},
                "201",
            ),
        },
        "get": {
            "summary": "The caller's tokens",
            "responses": _ok(
                "Tokens", _obj(["tokens"], tokens={"type": "array", "items": _ref("Token")})
            ),
        },
    },
    "/api/v1/auth/tokens/{token_id}": {
        "delete": {
            "summary": "Revoke a token",
            "parameters": [_id_param("token_id")],
            "responses": _ok("Revoked", status="204"),
        }
    },
    "/api/v1/me": {"get": {"summary": "The caller", "responses": _ok("Me", _ref("Me"))}},
    "/api/v1/children": {
        "get": {
            "summary": "The children the caller may see",
            "responses": _ok(
                "Children", _obj(["children"], children={"type": "array", "items": _ref("Child")})
            ),
        }
    },
    "/api/v1/children/{child_id}": {
        "get": {
            "summary": "One child",
            "parameters": CHILD,
            "responses": _ok("Child", _ref("Child")),
        }
    },
    "/api/v1/children/{child_id}/posts": {
        "get": {
            "summary": "The child's feed, newest first",
            "parameters": CHILD + PAGING,
            "responses": _ok(
                "A page of posts",
                _obj(
                    ["posts", "next_before"],
                    posts={"type": "array", "items": _ref("Post")},
                    next_before={"type": ["integer", "null"]},
                ),
            ),
        },
        "post": {
            "summary": "Post to the child's feed",
            "parameters": [*CHILD, IDEMPOTENCY],
            "requestBody": _body(_ref("NewPost")),
            "responses": _ok("The post", _ref("Post"), "201"),
        },
    },
    "/api/v1/children/{child_id}/grants": {
        "get": {
            "summary": "The team around the child (active grants)",
            "parameters": CHILD,
            "responses": _ok(
                "Grants", _obj(["grants"], grants={"type": "array", "items": _ref("Grant")})
            ),
        },
        "post": {
            "summary": "Grant access to a professional or a team",
            "parameters": CHILD,
            "requestBody": _body(
                {
                    "type": "object",
                    "properties": {
                        "professional_id": INT,
                        "team_id": INT,
                        "expires_at": {"type": "string", "format": "date-time"},
                    },
                }
            ),
            "responses": _ok("The grant", _ref("Grant"), "201"),
        },
    },
    "/api/v1/grants/{grant_id}": {
        "delete": {
            "summary": "Revoke a grant",
            "parameters": [_id_param("grant_id")],
            "responses": _ok("The revoked grant", _ref("Grant")),
        }
    },
    "/api/v1/posts/{post_id}": {
        "patch": {
            "summary": "Edit a post (the old text is kept)",
            "parameters": [_id_param("post_id")],
            "requestBody": _body(_ref("NewPost")),
            "responses": _ok("The post", _ref("Post")),
        },
        "delete": {
            "summary": "Remove a post (soft, audited)",
            "parameters": [_id_param("post_id")],
            "responses": _ok("Removed", status="204"),
        },
    },
    "/api/v1/search": SEARCH_PATH,
    "/api/v1/children/{child_id}/follow": {
        "post": {
            "summary": "Follow the child (optionally for a team you belong to)",
            "parameters": CHILD,
            "responses": _ok("Following"),
        },
        "delete": {
            "summary": "Stop following the child",
            "parameters": CHILD,
            "responses": _ok("Not following"),
        },
    },
    "/api/v1/home": {
        "get": {
            "summary": "Merged newest-first stream of followed children",
            "parameters": PAGING,
            "responses": _ok("Posts"),
        }
    },
    "/api/v1/posts/{post_id}/acknowledge": {
        "post": {
            "summary": "Mark a post seen",
            "parameters": [_id_param("post_id")],
            "responses": _ok("How many have seen it"),
        }
    },
    "/api/v1/notifications": {
        "get": {"summary": "The inbox and the unread count", "responses": _ok("Notifications")}
    },
    "/api/v1/notifications/read-all": {
        "post": {"summary": "Mark every notification read", "responses": _ok("Unread count")}
    },
    "/api/v1/notifications/{notification_id}/read": {
        "post": {
            "summary": "Mark one notification read",
            "parameters": [_id_param("notification_id")],
            "responses": _ok("Unread count"),
        }
    },
    **BOARD_PATHS,
    **TRUST_PATHS,
    "/api/v1/openapi.json": {
        "get": {
            "summary": "This document",
            "security": [],
            "responses": {"200": {"description": "OpenAPI 3.1"}},
        }
    },
}


def _empty_means_absent(paths: dict[str, Any]) -> dict[str, Any]:
    """Optional query parameters sent empty (as HTML forms do) are read as not given."""
    copied: dict[str, Any] = copy.deepcopy(paths)
    for operations in copied.values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query" and not parameter.get("required"):
                    parameter["allowEmptyValue"] = True
    return copied


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Jigsaw API",
            "version": "1",
            "description": "Cookie-authenticated calls need an x-csrftoken header; "
            "bearer-token calls do not.",
        },
        "paths": _empty_means_absent(
            merged(PATHS, mfa_paths(), records_paths(), admin_paths(), network_paths())
        ),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "jigsaw_session"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
        "security": [{"session": []}, {"bearer": []}],
    }
