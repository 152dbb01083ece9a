"""The two-step sign-in part of the OpenAPI document (server/openapi.py merges it)."""

from __future__ import annotations

from typing import Any

BOOL = {"type": "boolean"}
CODE = {"type": "string", "minLength": 6, "maxLength": 7, "description": "6 digits"}
RECOVERY_CODES = {"type": "array", "items": {"type": "string"}}


def mfa_paths() -> dict[str, Any]:
    # Imported here: server.openapi imports this module at load time.
    from server.openapi import INT, STR, _body, _id_param, _obj, _ok, _ref

    with_code = _body(_obj(["code"], code=CODE))
    # Signed in (session or token), changing the authenticator takes the password too;
    # part-way through signing in (stage "enrol") it was given minutes ago.
    password = {**STR, "description": "the current password (not needed at stage enrol)"}
    with_password = {"required": False, "content": _body(_obj([], password=password))["content"]}
    code_and_password = _body(_obj(["code"], code=CODE, password=password))
    codes = _obj(["recovery_codes"], recovery_codes=RECOVERY_CODES)
    # Built by hand: "required" is both a schema keyword and this property's name.
    requirement = {
        "type": "object",
        "required": ["required"],
        "properties": {"required": BOOL, "sessions_ended": INT, "tokens_revoked": INT},
    }
    return {
        "/api/v1/auth/mfa": {
            "get": {
                "summary": "Two-step sign-in status (also with an MFA-pending session)",
                "responses": _ok(
                    "Status",
                    {
                        "type": "object",
                        "required": ["enabled", "required", "recovery_codes_left", "stage"],
                        "properties": {
                            "enabled": BOOL,
                            "required": BOOL,
                            "recovery_codes_left": INT,
                            "stage": {"enum": ["full", "code", "enrol"]},
                        },
                    },
                ),
            }
        },
        "/api/v1/auth/mfa/enrol": {
            "post": {
                "summary": "Start setting up an authenticator: a new secret and otpauth URI",
                "requestBody": with_password,
                "responses": _ok(
                    "Secret", _obj(["secret", "otpauth_uri"], secret=STR, otpauth_uri=STR)
                ),
            }
        },
        "/api/v1/auth/mfa/confirm": {
            "post": {
                "summary": "Turn two-step sign-in on with a first code (ends every other "
                "session and every token); recovery codes, once",
                "requestBody": code_and_password,
                "responses": _ok(
                    "On",
                    _obj(["recovery_codes", "me"], recovery_codes=RECOVERY_CODES, me=_ref("Me")),
                ),
            }
        },
        "/api/v1/auth/mfa/recovery-codes": {
            "post": {
                "summary": "New recovery codes (the old ones stop working)",
                "requestBody": with_code,
                "responses": _ok("Recovery codes, shown once", codes),
            }
        },
        "/api/v1/auth/mfa/disable": {
            "post": {
                "summary": "Turn two-step sign-in off (not while the site requires it)",
                "requestBody": _body(_obj(["code", "password"], code=CODE, password=STR)),
                "responses": _ok("Off", status="204"),
            }
        },
        "/api/v1/professionals/{professional_id}/mfa/reset": {
            "post": {
                "summary": "Administrators, with their password: remove someone's "
                "authenticator, end their sessions",
                "parameters": [_id_param("professional_id")],
                "requestBody": _body(_obj(["password"], password=STR)),
                "responses": _ok(
                    "Reset",
                    _obj(["id", "mfa_enabled"], id=INT, mfa_enabled=BOOL, sessions_ended=INT),
                ),
            }
        },
        "/api/v1/settings/mfa": {
            "get": {
                "summary": "Administrators: is two-step sign-in required of everyone?",
                "responses": _ok("The setting", requirement),
            },
            "put": {
                "summary": "Administrators: require it (signs out everyone without it) or not",
                "requestBody": _body(
                    {"type": "object", "required": ["required"], "properties": {"required": BOOL}}
                ),
                "responses": _ok("The setting", requirement),
            },
        },
    }
