"""Requests to join a child's network, in the OpenAPI document (server/openapi.py merges it)."""

from __future__ import annotations

from typing import Any

NULLABLE_STR = {"type": ["string", "null"]}
STATUS = {"enum": ["open", "approved", "declined", "lapsed"]}


def network_paths() -> dict[str, Any]:
    # Imported here: server.openapi imports this module at load time.
    from server.openapi import CHILD, INT, JSON, STR, _body, _id_param, _obj, _ok

    common = {
        "id": INT,
        "role": STR,
        "reason": STR,
        "created_at": STR,
        "lapses_at": STR,
        "status": STATUS,
    }
    person = _obj(["id", "name", "agency"], id=INT, name=STR, job_title=STR, agency=STR)
    child = {
        "oneOf": [
            {"type": "null"},
            _obj(["id", "display_name", "reference"], id=INT, display_name=STR, reference=STR),
        ]
    }
    to_decide = _obj(["id", "status", "requester"], **common, child=child, requester=person)
    decided = _obj(
        ["id", "status", "requester"],
        **common,
        child=child,
        requester=person,
        grant_id={"type": ["integer", "null"]},
    )
    mine = _obj(
        ["id", "reference", "status"],
        **common,
        reference=STR,
        decided_at=NULLABLE_STR,
        decline_reason=NULLABLE_STR,
    )
    listing = _obj(["access_requests"], access_requests={"type": "array", "items": to_decide})
    request_id = [_id_param("request_id")]
    days = {**INT, "minimum": 1, "maximum": 365, "default": 90}
    return {
        "/api/v1/access-requests": {
            "post": {
                "summary": "Ask to join a child's network by its exact reference (the same "
                "answer whether or not it exists; 10 a day; audited)",
                "requestBody": _body(
                    _obj(
                        ["reference", "role", "reason"],
                        reference={**STR, "minLength": 1, "maxLength": 32},
                        role={**STR, "minLength": 2, "maxLength": 100},
                        reason={**STR, "minLength": 10, "maxLength": 500},
                    )
                ),
                "responses": _ok(
                    "Sent if the record exists", _obj(["message"], message=STR), "202"
                ),
            },
            "get": {
                "summary": "Open requests on the children whose access you manage (audited)",
                "responses": _ok("Open requests, oldest first", listing),
            },
        },
        "/api/v1/access-requests/mine": {
            "get": {
                "summary": "Your own requests to join and their answers",
                "responses": _ok(
                    "Newest first",
                    _obj(["access_requests"], access_requests={"type": "array", "items": mine}),
                ),
            }
        },
        "/api/v1/children/{child_id}/access-requests": {
            "get": {
                "summary": "Lead professional and managers: open requests to join (audited)",
                "parameters": CHILD,
                "responses": _ok("Open requests", listing),
            }
        },
        "/api/v1/access-requests/{request_id}/approve": {
            "post": {
                "summary": "Approve: a grant to the requester for `days` (default 90)",
                "parameters": request_id,
                "requestBody": {
                    "required": False,
                    "content": {JSON: {"schema": _obj([], days=days)}},
                },
                "responses": _ok("Approved", decided),
            }
        },
        "/api/v1/access-requests/{request_id}/decline": {
            "post": {
                "summary": "Decline with a reason; the requester is told",
                "parameters": request_id,
                "requestBody": _body(
                    _obj(["reason"], reason={**STR, "minLength": 3, "maxLength": 500})
                ),
                "responses": _ok("Declined", to_decide),
            }
        },
    }
