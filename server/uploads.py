"""File uploads: the one place that says which routes take a multipart/form-data body and
how big a file each takes. Every other route refuses multipart (server/middleware.py) and
any body over 64 KiB (server/body_limit.py).

An upload is counted as it streams in (never buffered whole in memory: Starlette spools
the file to disk past 1 MiB), and refused the moment it passes its route's limit.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from starlette.datastructures import FormData, Headers, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import Scope

from server.inputs import check_form

MIB = 1024 * 1024
IMPORT_FILE_BYTES = 20 * MIB  # a 50,000-child export is about 3.5 MiB
FORM_OVERHEAD = 64 * 1024  # the other fields and the multipart framing
UPLOADS: dict[str, int] = {
    "/admin/import/preview": IMPORT_FILE_BYTES,
    "/admin/import": IMPORT_FILE_BYTES,
}
MULTIPART = "multipart/form-data"
CSRF_FAILED = "The form has expired or the CSRF token is missing: reload the page and try again."


class BodyTooLarge(Exception):
    """An upload passed its route's limit while it was being read."""


class UploadRefused(Exception):
    """An upload the route cannot take: a status and a message for the page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Upload:
    fields: dict[str, str]
    name: str  # the file's name as the browser gave it
    data: bytes


def file_limit(scope: Scope) -> int | None:
    """The largest file a POST to this path may carry; None where nothing is uploaded."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    return UPLOADS.get(scope["path"])


def is_upload(scope: Scope) -> bool:
    """A multipart POST to a route that takes a file."""
    return file_limit(scope) is not None and is_multipart(Headers(scope=scope))


def csrf_passed(scope: Scope, sent: object) -> bool:
    """asgi-csrf's double-submit check, for an upload's parsed form: the header or the
    form's `csrftoken` matches the token of the signed cookie (asgi-csrf's, from the
    scope), unless no cookie came (nothing to forge) or a bearer token authenticates."""
    headers = Headers(scope=scope)
    expected = str(scope["csrftoken"]()).encode()
    if secrets.compare_digest(headers.get("x-csrftoken", "").encode(), expected):
        return True
    if "cookie" not in headers or headers.get("authorization", "").startswith("Bearer "):
        return True
    return isinstance(sent, str) and secrets.compare_digest(sent.encode(), expected)


def is_multipart(headers: Headers) -> bool:
    return headers.get("content-type", "").split(";")[0].strip().lower() == MULTIPART


def has_boundary(headers: Headers) -> bool:
    """The form names its boundary the way browsers and the CSRF check expect."""
    _, found, boundary = headers.get("content-type", "").partition("; boundary=")
    return bool(found and boundary.strip())


def size_text(limit: int) -> str:
    return f"{limit // MIB} MiB"


def _too_large(limit: int) -> UploadRefused:
    return UploadRefused(413, f"The file is too big for this page: at most {size_text(limit)}.")


async def read_upload(request: Request, limit: int, fields: tuple[str, ...]) -> Upload:
    """The form's text `fields` and its one file (field "file"), read within `limit`;
    UploadRefused with a clear message otherwise."""
    if not is_multipart(request.headers):
        raise UploadRefused(415, "Send the file from the page's form (multipart/form-data).")
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit + FORM_OVERHEAD:
        raise _too_large(limit)
    try:
        async with request.form(max_files=1, max_fields=len(fields) + 1) as form:
            return await _take(request, form, limit, fields)
    except BodyTooLarge:
        raise _too_large(limit) from None
    except HTTPException as error:  # Starlette's parser: malformed, too many parts
        raise UploadRefused(400, f"The upload could not be read: {error.detail}") from None


async def _take(request: Request, form: FormData, limit: int, fields: tuple[str, ...]) -> Upload:
    if not csrf_passed(request.scope, form.get("csrftoken")):
        raise UploadRefused(403, CSRF_FAILED)
    check_form(form)
    chosen = form.get("file")
    if not isinstance(chosen, UploadFile) or not chosen.filename:
        raise UploadRefused(422, "Choose a CSV file.")
    if chosen.size is not None and chosen.size > limit:
        raise _too_large(limit)
    texts = {name: str(form.get(name)) for name in fields if isinstance(form.get(name), str)}
    name = "".join(ch for ch in chosen.filename if ch.isprintable())[:200]
    return Upload(texts, name, await chosen.read())
