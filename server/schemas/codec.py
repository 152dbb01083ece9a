"""Decode requests into typed values and encode typed responses, with msgspec.

Every validation failure becomes `feeds.errors.Invalid`, which server/errors.py turns
into the one 422 shape: {"error": {"code": "invalid", "message": ..., "field": ...}}.
The message says what the field must be, derived from its declared type.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from feeds.errors import Invalid
from server.inputs import decode_json_object

T = TypeVar("T")
JSON = "application/json"
ENCODER = msgspec.json.Encoder()
_AT = re.compile(r" - at `\$\.?([^`]*)`$")
_MISSING = re.compile(r"missing required field `([^`]+)`")
_UNKNOWN = re.compile(r"unknown field `([^`]+)`")


class JSONBody(Response):
    """A response whose body msgspec already encoded."""

    media_type = JSON

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else ENCODER.encode(content)


def reply(value: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """Encode a response value (a Struct, or built by `build`) as JSON."""
    return JSONBody(ENCODER.encode(value), status_code=status, headers=headers)


def build(kind: type[T], value: Any) -> T:
    """A response type from plain data (views from feeds/), checked against the type."""
    return msgspec.convert(value, kind)


def is_json(request: Request) -> bool:
    return request.headers.get("content-type", "").split(";")[0].strip().lower() == JSON


async def decode(request: Request, kind: type[T]) -> T:
    """The JSON body as `kind`, or Invalid saying what is wrong (and with which field)."""
    if not is_json(request):
        raise Invalid("Send a JSON body with Content-Type: application/json.")
    # BodyLimitMiddleware has already refused bodies over the size limit; server/inputs
    # refuses bad JSON, deep nesting and unstorable text, then the type is checked here.
    data = decode_json_object(await request.body())
    try:
        return msgspec.convert(data, kind)
    except msgspec.ValidationError as error:
        raise invalid(error, kind) from None


def decode_query(request: Request, kind: type[T]) -> T:
    """The query string as `kind`; an empty value counts as not given (as forms send it)."""
    params = {name: value for name, value in request.query_params.items() if value != ""}
    for name in _not_text(kind).intersection(params):
        # msgspec's lax conversion reads "null" as None; in a query string it is text.
        if params[name] == "null":
            raise Invalid(f"{name} must be {expected(kind, name)}.", field=name)
    try:
        return msgspec.convert(params, kind, strict=False)
    except msgspec.ValidationError as error:
        raise invalid(error, kind) from None


_NOT_TEXT: dict[type[Any], frozenset[str]] = {}


def _not_text(kind: type[Any]) -> frozenset[str]:
    """The fields of `kind` that take no text (kept per type)."""
    if (names := _NOT_TEXT.get(kind)) is None:
        info = msgspec.inspect.type_info(kind)
        assert isinstance(info, msgspec.inspect.StructType)
        names = frozenset(f.encode_name for f in info.fields if not _takes_text(f.type))
        _NOT_TEXT[kind] = names
    return names


def _takes_text(info: msgspec.inspect.Type) -> bool:
    if isinstance(info, msgspec.inspect.Metadata):
        return _takes_text(info.type)
    if isinstance(info, msgspec.inspect.UnionType):
        return any(_takes_text(t) for t in info.types)
    return isinstance(info, msgspec.inspect.StrType)


def invalid(error: msgspec.ValidationError, kind: type[Any]) -> Invalid:
    """The message for a validation error: "<field> must be <what its type allows>."."""
    text = str(error)
    if missing := _MISSING.search(text):
        name = missing.group(1)
        return Invalid(f"{name} is required: {name} must be {expected(kind, name)}.", field=name)
    if unknown := _UNKNOWN.search(text):
        return Invalid(f"Unknown field: {unknown.group(1)}.", field=unknown.group(1))
    at = _AT.search(text)
    if at is None:
        return Invalid("The request body must be a JSON object.")
    name = at.group(1)
    return Invalid(f"{name} must be {expected(kind, name)}.", field=name)


def expected(kind: type[Any], name: str) -> str:
    """What a field of `kind` accepts, in words."""
    info = msgspec.inspect.type_info(kind)
    if isinstance(info, msgspec.inspect.StructType):
        for field in info.fields:
            if field.encode_name == name:
                return describe(field.type)
    return "valid"


def describe(info: msgspec.inspect.Type) -> str:
    if isinstance(info, msgspec.inspect.Metadata):
        wanted = (info.extra_json_schema or {}).get("description")
        return f"{describe(info.type)} ({wanted})" if wanted else describe(info.type)
    if isinstance(info, msgspec.inspect.UnionType):
        kinds = [t for t in info.types if not isinstance(t, msgspec.inspect.NoneType)]
        described = " or ".join(describe(t) for t in kinds)
        return f"{described} (or null)" if len(kinds) < len(info.types) else described
    if isinstance(info, msgspec.inspect.EnumType):
        return "one of: " + ", ".join(str(member.value) for member in info.cls)
    if isinstance(info, msgspec.inspect.LiteralType):
        return "one of: " + ", ".join(str(value) for value in info.values)
    if isinstance(info, msgspec.inspect.StrType):
        return "text" + _length(info.min_length, info.max_length)
    if isinstance(info, msgspec.inspect.IntType):
        return "a whole number" + _range(info.ge, info.le)
    if isinstance(info, msgspec.inspect.DateTimeType):
        return "an ISO 8601 date-time with a time zone"
    if isinstance(info, msgspec.inspect.BoolType):
        return "true or false"
    return "valid"


def _length(low: int | None, high: int | None) -> str:
    if high is None:
        return "" if not low else f" of at least {low} characters"
    if not low:
        return f" of at most {high} characters"
    if low == 1:
        return f", not empty and at most {high} characters"
    return f" of {low} to {high} characters"


def _range(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f" from {low} to {high}"
    if low is not None:
        return f" of at least {low}"
    return "" if high is None else f" up to {high}"
