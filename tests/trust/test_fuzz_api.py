"""Schemathesis against /api/v1/openapi.json, in-process on the ASGI app, authenticated.

Every operation in the document gets positive and negative examples, sent with a bearer
token of a practitioner who leads a child. Every response must: not be a 5xx, carry no
traceback or SQL, and conform to the document (status, content type, body schema).

CI runs a few hundred examples; JIGSAW_FUZZ_EXAMPLES=10000 runs the full campaign.
Hypothesis drives generation in a worker thread while the app keeps running in the
test's event loop, so the real lifespan (Tortoise, hub, search drainer) serves every call.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, reject, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.applications import Starlette

from feeds.models import ApiToken, Grant, Notification, Post, PostKind, Professional
from server.auth import issue_token
from tests.conftest import Factory

EXAMPLES = int(os.environ.get("JIGSAW_FUZZ_EXAMPLES", "400"))
POSITIVE_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
NEGATIVE_CHECKS = [*POSITIVE_CHECKS, negative_data_rejection]
LEAK = re.compile(
    r"Traceback \(most recent|File \"/|\bSELECT\b.+\bFROM\b|\bINSERT INTO\b|asyncpg|aiosqlite|"
    r"sqlite3\.|tortoise\.|IntegrityError|OperationalError",
    re.IGNORECASE | re.DOTALL,
)


@dataclass
class Target:
    """The seeded world the fuzzer aims at, so examples reach real rows and not only 404s."""

    user: Professional
    token: ApiToken
    raw_token: str
    ids: dict[str, list[int]]
    grant_id: int
    sent: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


async def seed_world(make: Factory) -> Target:
    user = await make.practitioner()
    child = await make.child(lead=user)
    own_grant = await make.grant(child, professional=user)
    colleague = await make.practitioner(grants=[child])
    await make.team(members=[user, colleague])
    posts = [
        await Post.create(child=child, author=author, kind=PostKind.UPDATE, body=f"note {n}")
        for n, author in enumerate((user, colleague, user))
    ]
    note = await Notification.create(recipient=user, kind="mention", child_id=child.id)
    token, raw = await issue_token(user, "fuzz")
    other = await make.practitioner()
    ids = {
        "child_id": [child.id],
        "post_id": [p.id for p in posts],
        "grant_id": [own_grant.id],
        "token_id": [token.id],
        "notification_id": [note.id],
        "professional_id": [colleague.id, other.id],
    }
    return Target(user, token, raw, ids, own_grant.id)


async def restore(target: Target) -> None:
    """Undo what would blind the rest of the run: a revoked token or the lead's own grant."""
    await ApiToken.filter(id=target.token.id).update(revoked_at=None)
    await Grant.filter(id=target.grant_id).update(revoked_at=None, expires_at=None)


def problems_in(response: httpx.Response) -> list[str]:
    found = []
    if LEAK.search(response.text):
        found.append(f"internal detail in body: {response.text[:300]!r}")
    return found


async def send(client: httpx.AsyncClient, target: Target, kwargs: dict[str, Any]) -> httpx.Response:
    kwargs.pop("base_url", None)
    cookies = kwargs.pop("cookies", None) or {}
    if cookies:
        kwargs.setdefault("headers", {})["cookie"] = "; ".join(
            f"{k}={v}" for k, v in cookies.items()
        )
    if isinstance(kwargs.get("data"), str | bytes):
        kwargs["content"] = kwargs.pop("data")
    response = await client.request(**kwargs)
    target.sent += 1
    target.statuses[response.status_code] = target.statuses.get(response.status_code, 0) + 1
    if kwargs["method"].upper() in {"DELETE", "POST"}:
        await restore(target)
    return response


def aim(case: Any, target: Target, pick: int) -> None:
    """Three times in four, point path parameters at seeded rows."""
    if pick == 0 or not case.path_parameters:
        return
    for name in list(case.path_parameters):
        if name in target.ids:
            known = target.ids[name]
            case.path_parameters[name] = known[pick % len(known)]


def run_operation(
    operation: Any,
    mode: GenerationMode,
    examples: int,
    round_: int,
    call: Callable[[dict[str, Any]], httpx.Response],
    target: Target,
) -> list[str]:
    """Run Hypothesis for one operation in this (worker) thread; returns failure messages."""
    failures: list[str] = []
    checks = POSITIVE_CHECKS if mode is GenerationMode.POSITIVE else NEGATIVE_CHECKS
    headers = {"authorization": f"Bearer {target.raw_token}"}

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @seed(round_)  # reproducible, and a new set of examples each round
    @given(case=operation.as_strategy(generation_mode=mode), pick=st.integers(0, 3))
    def fuzz(case: Any, pick: int) -> None:
        if mode is GenerationMode.POSITIVE:
            aim(case, target, pick)  # negative cases keep their invalid parameters
        elif any(v is None or v == [] or v == {} for v in (case.query or {}).values()):
            reject()  # a "negative" value that serialises to nothing sends a valid request
        kwargs = case.as_transport_kwargs(headers=headers)
        response = call(kwargs)
        message = "; ".join(problems_in(response))
        try:
            case.validate_response(response, checks=checks, headers=headers)
        except BaseException as error:  # schemathesis raises a (Base)FailureGroup
            message = f"{message}; {error}"
        if message:
            line = f"{mode.value} {kwargs['method']} {kwargs['url']} -> {response.status_code}"
            failures.append(f"{line}: {message[:1500]}")
            raise AssertionError(failures[-1])

    try:
        fuzz()
    except Unsatisfiable:
        pass  # nothing to negate in this operation (no parameters, no body)
    except BaseException as error:  # the shrunk failure is already in `failures`
        if not failures:  # something else broke: an error in the harness itself
            failures.append(f"{mode.value} {operation.label}: {error!r}")
    return failures[-1:]


async def test_fuzzed_api_answers_within_its_schema(app: Starlette, make: Factory) -> None:
    target = await seed_world(make)
    loop = asyncio.get_running_loop()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        document = (await client.get("/api/v1/openapi.json")).json()
        schema = schemathesis.openapi.from_dict(document)
        operations = []
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), result
            operations.append(result.ok())

        def call(kwargs: dict[str, Any]) -> httpx.Response:
            future = asyncio.run_coroutine_threadsafe(send(client, target, kwargs), loop)
            return future.result(timeout=60)

        def campaign() -> list[str]:
            """Rounds over every operation until the budget of requests is spent."""
            failures: list[str] = []
            for round_ in itertools.count():
                remaining = EXAMPLES - target.sent
                if remaining <= 0 or failures:
                    return failures
                each = max(4, remaining // (2 * len(operations)) + 1)
                for operation in operations:
                    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                        failures += run_operation(operation, mode, each, round_, call, target)
            return failures

        failures = await asyncio.to_thread(campaign)
    print(f"fuzz: {target.sent} requests, statuses {sorted(target.statuses.items())}")
    assert not failures, "\n\n".join(failures)
    assert target.sent >= EXAMPLES
    assert 500 not in target.statuses
