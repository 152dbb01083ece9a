"""Typed schemas at the API edge: msgspec or pydantic v2? Time both on the two hot paths.

1. Decode + validate a post request (`{"kind": ..., "body": ...}` with the kind from
   PostKind, the body 1..500 characters, and the optional Idempotency-Key header
   checked as today), against the bare baseline: json/orjson `loads` plus the
   hand-written checks the routes ran before typed schemas.
2. Build and encode one feed-read response page: 20 posts with their authors, as
   GET /api/v1/children/{id}/posts returns them (feeds.feed.reading builds the PostView
   dicts from SQL rows; the response type is built from those), against the bare
   baseline: the same dicts through json.dumps (what Starlette's JSONResponse runs)
   and orjson.dumps.

Every number comes from the same run on the same machine: best of --repeat runs of
--number calls, in microseconds per call, with the ratio to the stdlib baseline.

    python -m loadtests.schema_bench [--number 20000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import platform
import timeit
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, cast

import msgspec
import orjson
import pydantic
from typing_extensions import TypedDict

from feeds.feed.posting import MAX_BODY, check_body, check_idempotency_key, check_kind
from feeds.models import PostKind
from feeds.serializers import PostView

REQUEST = json.dumps(
    {"kind": "update", "body": "Visited after school; M. calm, room tidy, food in the fridge."}
).encode()
KEY = "3f1c0a5e9b7d4c2a8e6f1b0d9c7a5e3f"


# --- msgspec -------------------------------------------------------------------------
class MsgPostCreate(msgspec.Struct, forbid_unknown_fields=False):
    kind: PostKind
    body: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_BODY)]


class MsgAuthor(msgspec.Struct):
    id: int
    name: str
    handle: str
    job_title: str
    agency: str


class MsgPost(msgspec.Struct):
    id: int
    child_id: int
    kind: PostKind
    body: str
    created_at: str
    edited_at: str | None
    author: MsgAuthor


class MsgPage(msgspec.Struct):
    posts: list[MsgPost]
    next_before: int | None


# --- pydantic v2 ---------------------------------------------------------------------
class PydPostCreate(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(strict=True)
    kind: PostKind
    body: Annotated[str, pydantic.Field(min_length=1, max_length=MAX_BODY)]


class PydAuthor(pydantic.BaseModel):
    id: int
    name: str
    handle: str
    job_title: str
    agency: str


class PydPost(pydantic.BaseModel):
    id: int
    child_id: int
    kind: PostKind
    body: str
    created_at: str
    edited_at: str | None
    author: PydAuthor


class PydPage(pydantic.BaseModel):
    posts: list[PydPost]
    next_before: int | None


# typing_extensions: pydantic refuses typing.TypedDict (so feeds.serializers' own) before 3.12.
class PydAuthorDict(TypedDict):
    id: int
    name: str
    handle: str
    job_title: str
    agency: str


class PydPostDict(TypedDict):
    id: int
    child_id: int
    kind: str
    body: str
    created_at: str
    edited_at: str | None
    author: PydAuthorDict


class PydPageDict(TypedDict):
    posts: list[PydPostDict]
    next_before: int | None


PAGE_ADAPTER = pydantic.TypeAdapter(PydPageDict)


# --- the work ------------------------------------------------------------------------
def feed_views(count: int = 20) -> list[PostView]:
    """What feeds.feed.reading hands the route for one page: plain PostView dicts."""
    start = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
    return [
        {
            "id": 100_000 - n,
            "child_id": 4242,
            "kind": "update" if n % 3 else "hunch",
            "body": f"Home visit {n}: mum engaged, baby feeding well, next visit in two weeks. "
            "Older sibling not in school today — checked with the attendance officer.",
            "created_at": (start - timedelta(hours=n)).isoformat(),
            "edited_at": None if n % 4 else (start - timedelta(minutes=n)).isoformat(),
            "author": {
                "id": 60 + n % 5,
                "name": f"Practitioner {n % 5}",
                "handle": f"p{n % 5}",
                "job_title": "Health visitor",
                "agency": "North Borough Health Visiting",
            },
        }
        for n in range(count)
    ]


def decode_baseline(loads: Callable[[bytes], Any]) -> Callable[[], object]:
    def run() -> object:
        data = loads(REQUEST)
        if not isinstance(data, dict):
            raise ValueError
        check_idempotency_key(KEY)
        return check_kind(data.get("kind")), check_body(data.get("body"))

    return run


def decode_msgspec() -> object:
    check_idempotency_key(KEY)
    return msgspec.json.decode(REQUEST, type=MsgPostCreate)


def decode_pydantic() -> object:
    check_idempotency_key(KEY)
    return PydPostCreate.model_validate_json(REQUEST)


def msg_post(view: PostView) -> MsgPost:
    a = view["author"]
    author = MsgAuthor(a["id"], a["name"], a["handle"], a["job_title"], a["agency"])
    return MsgPost(
        view["id"],
        view["child_id"],
        PostKind(view["kind"]),
        view["body"],
        view["created_at"],
        view["edited_at"],
        author,
    )


def constructed_post(view: PostView) -> PydPost:
    fields: dict[str, Any] = {**view, "kind": PostKind(view["kind"])}
    fields["author"] = PydAuthor.model_construct(**view["author"])
    return PydPost.model_construct(**fields)


def encode_cases(views: list[PostView]) -> dict[str, Callable[[], bytes]]:
    page = {"posts": views, "next_before": 99_980}
    dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode
    msg_encoder = msgspec.json.Encoder()
    return {
        "stdlib json.dumps of the dicts (today)": lambda: dumps(page).encode(),
        "orjson.dumps of the dicts": lambda: orjson.dumps(page),
        "msgspec.json.encode of the dicts (no types)": lambda: msg_encoder.encode(page),
        "msgspec: Structs built field by field, encoded": lambda: msg_encoder.encode(
            MsgPage([msg_post(v) for v in views], 99_980)
        ),
        "msgspec: dicts converted (validated) to Structs, encoded": lambda: msg_encoder.encode(
            msgspec.convert(page, MsgPage)
        ),
        "pydantic: models validated from the dicts, model_dump_json": lambda: (
            PydPage.model_validate(page).model_dump_json().encode()
        ),
        "pydantic: TypeAdapter(page TypedDict).dump_json of the dicts": lambda: (
            PAGE_ADAPTER.dump_json(cast("PydPageDict", page))  # the same shape
        ),
        "pydantic: model_construct (unvalidated), model_dump_json": lambda: (
            PydPage.model_construct(
                posts=[constructed_post(v) for v in views],
                next_before=99_980,
            )
            .model_dump_json()
            .encode()
        ),
    }


def best_us(fn: Callable[[], object], number: int, repeat: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def report(title: str, cases: Mapping[str, Callable[[], object]], number: int, repeat: int) -> None:
    print(f"\n## {title}\n")
    print("| variant | µs per call | ratio to stdlib baseline |\n| --- | ---: | ---: |")
    base = None
    for name, fn in cases.items():
        us = best_us(fn, number, repeat)
        base = base or us
        print(f"| {name} | {us:.2f} | {us / base:.2f}x |")


def check_equal_outputs(views: list[PostView]) -> None:
    """Every encoder writes the same document (parsed back): the comparison is fair."""
    outputs = {name: json.loads(fn()) for name, fn in encode_cases(views).items()}
    first = next(iter(outputs.values()))
    assert all(out == first for out in outputs.values()), "encoders disagree"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--number", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    views = feed_views()
    check_equal_outputs(views)
    print(
        f"# schema_bench: Python {platform.python_version()}, msgspec {msgspec.__version__}, "
        f"pydantic {pydantic.VERSION}, orjson {orjson.__version__}; best of {args.repeat} x "
        f"{args.number} calls"
    )
    decode: dict[str, Callable[[], object]] = {
        "stdlib json.loads + hand-written checks (today)": decode_baseline(json.loads),
        "orjson.loads + hand-written checks": decode_baseline(orjson.loads),
        "msgspec.json.decode(type=PostCreate)": decode_msgspec,
        "pydantic PostCreate.model_validate_json": decode_pydantic,
    }
    report("Decode + validate a post request", decode, args.number, args.repeat)
    encode = dict(encode_cases(views))
    report(
        "Build + encode a feed page (20 posts with authors)", encode, args.number // 10, args.repeat
    )


if __name__ == "__main__":
    main()
