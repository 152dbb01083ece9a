"""What a client's text may hold, and the one place request bodies are decoded.

Text that reaches the database must be storable: PostgreSQL refuses NUL bytes in text and
neither driver can encode half a surrogate pair (JSON can spell both: "\\u0000", "\\ud800").
Such text is refused at the edge with a 4xx naming the field, never a 500 at the bind.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import FormData

from feeds.errors import Invalid

MAX_DEPTH = 16  # our bodies are flat objects; deeper JSON is refused, never recursed into
NOT_ALLOWED = "contains a character that is not allowed (a NUL byte or half a surrogate pair)"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def is_clean(text: str) -> bool:
    """True when the text has no NUL byte and no lone surrogate."""
    return _UNSTORABLE.search(text) is None


def check_text(text: str, field: str | None) -> None:
    if not is_clean(text):
        name = field or "The request body"
        raise Invalid(f"{name} {NOT_ALLOWED}.", field=field)


def _too_deep() -> Invalid:
    return Invalid(f"The request body is nested too deeply (at most {MAX_DEPTH} levels).")


def check_json_value(value: Any, field: str | None = None, depth: int = 0) -> None:
    """Invalid when any string in `value` is unstorable or it nests past MAX_DEPTH."""
    if depth > MAX_DEPTH:
        raise _too_deep()
    if isinstance(value, str):
        check_text(value, field)
    elif isinstance(value, list):
        for item in value:
            check_json_value(item, field, depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, None)
            check_json_value(item, field or key, depth + 1)


def decode_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object of storable text, or Invalid saying what is wrong."""
    try:
        data = json.loads(body)
    except RecursionError:
        raise _too_deep() from None
    except (ValueError, UnicodeDecodeError):
        raise Invalid("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise Invalid("The request body must be a JSON object.")
    check_json_value(data)
    return data


def check_form(form: FormData) -> FormData:
    """The form, when every field name and text value is storable."""
    for name, value in form.multi_items():
        check_text(name, None)
        if isinstance(value, str):
            check_text(value, name)
    return form


def unclean_query_field(query_string: bytes) -> str | None:
    """The first query parameter (name) whose decoded name or value is unstorable."""
    query = query_string.decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        if not (is_clean(name) and is_clean(value)):
            return name if is_clean(name) else "A query parameter name"
    return None
