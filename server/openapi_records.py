"""Children's records and the administrators' organisation routes, for the OpenAPI
document (server/openapi.py merges them path by path)."""

from __future__ import annotations

from typing import Any

NULLABLE_STR = {"type": ["string", "null"]}
DATE = {"type": "string", "format": "date", "description": "YYYY-MM-DD"}
REFERENCE = {
    "type": "string",
    "minLength": 1,
    "maxLength": 32,
    "pattern": "^[A-Za-z0-9][A-Za-z0-9 ./_-]*$",
    "description": "Unique whatever its case; surrounding spaces are trimmed",
}
NAME = {"type": "string", "minLength": 1, "maxLength": 200}
PLACE = {"type": ["string", "null"], "maxLength": 200}
POSITIVE = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}


def _closed(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "additionalProperties": False}


def records_paths() -> dict[str, Any]:
    from server.openapi import CHILD, _body, _obj, _ok, _ref

    fields = {
        "display_name": NAME,
        "reference": REFERENCE,
        "date_of_birth": DATE,
        "school": PLACE,
        "area": PLACE,
        "lead_professional_id": POSITIVE,
    }
    new_child = _closed(
        _obj(
            ["display_name", "reference", "date_of_birth", "lead_professional_id"],
            **fields,
            team_id={**POSITIVE, "description": "Also give this team access"},
        )
    )
    changes = {**_closed(_obj([], **fields)), "minProperties": 1}
    revision = _obj(
        ["id", "change", "changed_at", "changed_by_id", "before"],
        id={"type": "integer"},
        change={"enum": ["edit", "close", "reopen"]},
        changed_at={"type": "string"},
        changed_by_id={"type": "integer"},
        before={"type": "object"},
    )
    history = _obj(
        ["child", "revisions"], child=_ref("Child"), revisions={"type": "array", "items": revision}
    )
    return {
        "/api/v1/children": {
            "post": {
                "summary": "Managers and administrators: add a child; the lead gets a grant",
                "requestBody": _body(new_child),
                "responses": _ok("Created", _ref("Child"), "201"),
            }
        },
        "/api/v1/children/{child_id}": {
            "patch": {
                "summary": "Managers and administrators: change the record (history kept)",
                "parameters": CHILD,
                "requestBody": _body(changes),
                "responses": _ok("Changed", _ref("Child")),
            }
        },
        "/api/v1/children/{child_id}/close": {
            "post": {
                "summary": "Close the case: read-only, every grant ends (audited)",
                "parameters": CHILD,
                "responses": _ok("Closed", _ref("Child")),
            }
        },
        "/api/v1/children/{child_id}/reopen": {
            "post": {
                "summary": "Reopen a closed case: the grants its closure ended come back",
                "parameters": CHILD,
                "responses": _ok("Reopened", _ref("Child")),
            }
        },
        "/api/v1/children/{child_id}/history": {
            "get": {
                "summary": "The record's earlier versions, newest first",
                "parameters": CHILD,
                "responses": _ok("History", history),
            }
        },
    }


def admin_paths() -> dict[str, Any]:
    from server.openapi import INT, STR, _body, _id_param, _obj, _ok

    boolean = {"type": "boolean"}
    sector = {"enum": ["social_care", "health", "education", "police", "voluntary"]}
    role = {"enum": ["practitioner", "manager", "admin"]}
    agency = _obj(["id", "name", "sector"], id=INT, name=STR, sector=sector)
    member = _obj(
        ["professional_id", "name", "is_manager"],
        professional_id=INT,
        name=STR,
        email=STR,
        agency=STR,
        is_manager=boolean,
        active=boolean,
    )
    team = _obj(
        ["id", "name", "agency", "members"],
        id=INT,
        name=STR,
        agency=STR,
        agency_id=INT,
        members={"type": "array", "items": member},
    )
    person = _obj(
        ["id", "name", "email", "role", "active"],
        id=INT,
        name=STR,
        email=STR,
        handle=STR,
        job_title=STR,
        agency=STR,
        agency_id=INT,
        role=role,
        active=boolean,
        locked=boolean,
        created_at=STR,
    )
    team_id, person_id = _id_param("team_id"), _id_param("professional_id")
    listed = {"type": "array"}
    return {
        "/api/v1/admin/agencies": {
            "get": {
                "summary": "Administrators: every agency",
                "responses": _ok(
                    "Agencies", _obj(["agencies"], agencies={**listed, "items": agency})
                ),
            },
            "post": {
                "summary": "Administrators: add an agency (name unique whatever its case)",
                "requestBody": _body(_obj(["name", "sector"], name=NAME, sector=sector)),
                "responses": _ok("Created", agency, "201"),
            },
        },
        "/api/v1/admin/teams": {
            "get": {
                "summary": "Administrators: every team and its members",
                "responses": _ok("Teams", _obj(["teams"], teams={**listed, "items": team})),
            },
            "post": {
                "summary": "Administrators: add a team to an agency",
                "requestBody": _body(_obj(["name", "agency_id"], name=NAME, agency_id=POSITIVE)),
                "responses": _ok("Created", team, "201"),
            },
        },
        "/api/v1/admin/teams/{team_id}/members": {
            "post": {
                "summary": "Administrators: add a member, or set whether they manage the team",
                "parameters": [team_id],
                "requestBody": _body(
                    _obj(["professional_id"], professional_id=POSITIVE, is_manager=boolean)
                ),
                "responses": {**_ok("Updated", team), **_ok("Added", team, "201")},
            }
        },
        "/api/v1/admin/teams/{team_id}/members/{professional_id}": {
            "delete": {
                "summary": "Administrators: take someone out of a team (its grants stop at once)",
                "parameters": [team_id, person_id],
                "responses": _ok("Removed", status="204"),
            }
        },
        "/api/v1/admin/people": {
            "get": {
                "summary": "Administrators: everyone, active first",
                "responses": _ok("People", _obj(["people"], people={**listed, "items": person})),
            },
            "post": {
                "summary": "Administrators: add a professional to an agency",
                "requestBody": _body(
                    _obj(
                        ["email", "name", "agency_id", "password"],
                        email=STR,
                        name=NAME,
                        agency_id=POSITIVE,
                        role=role,
                        job_title={"type": ["string", "null"], "maxLength": 200},
                        password={**STR, "minLength": 12, "maxLength": 1024},
                    )
                ),
                "responses": _ok("Created", person, "201"),
            },
        },
        "/api/v1/admin/people/{professional_id}/deactivate": {
            "post": {
                "summary": "Administrators: switch an account off; sessions, tokens, sockets end",
                "parameters": [person_id],
                "responses": _ok("Deactivated", person),
            }
        },
        "/api/v1/admin/people/{professional_id}/reactivate": {
            "post": {
                "summary": "Administrators: switch an account back on",
                "parameters": [person_id],
                "responses": _ok("Reactivated", person),
            }
        },
        "/api/v1/admin/people/{professional_id}/role": {
            "put": {
                "summary": "Administrators: make someone a practitioner, manager or admin",
                "parameters": [person_id],
                "requestBody": _body(_obj(["role"], role=role)),
                "responses": _ok("Changed", person),
            }
        },
    }


def merged(*documents: dict[str, Any]) -> dict[str, Any]:
    """Paths from several parts, operations of one path side by side."""
    paths: dict[str, Any] = {}
    for part in documents:
        for path, operations in part.items():
            paths[path] = {**paths.get(path, {}), **operations}
    return paths
