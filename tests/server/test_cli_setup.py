"""Setting up an empty install from a shell: create-agency, create-team, create-user,
add-member, create-child, run with click's CliRunner against the test database."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
from click.testing import CliRunner, Result
from tortoise import Tortoise

from feeds.db import tortoise_config
from feeds.models import AuditRecord, Child, Grant, Team, TeamMember
from server.cli import main
from tests import db_backends
from tests.conftest import MFA_KEY

T = TypeVar("T")
PASSWORD = "a long enough password"


@pytest.fixture
def shell(database_url: str, tmp_path: Path) -> Callable[..., Result]:
    if db_backends.backend() == "postgres":
        asyncio.run(db_backends.truncate_postgres(database_url))
    env = {
        "JIGSAW_DATABASE_URL": database_url,
        "JIGSAW_DATA_DIR": str(tmp_path),
        "JIGSAW_SECRET_KEY": "cli-test-secret-0123456789abcdef",
        "JIGSAW_MFA_KEYS": MFA_KEY,
    }

    def run(*args: str) -> Result:
        return CliRunner().invoke(main, list(args), env=env, prog_name="jigsaw")

    return run


def query(database_url: str, work: Callable[[], Awaitable[T]]) -> T:
    async def inside() -> T:
        await Tortoise.init(config=tortoise_config(database_url))
        try:
            return await work()
        finally:
            await Tortoise.close_connections()

    return asyncio.run(inside())


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.output


def test_an_operator_sets_up_a_team_and_a_child_from_the_shell(
    shell: Callable[..., Result], database_url: str
) -> None:
    assert "Created agency Northgate Council" in ok(
        shell("create-agency", "--name", "Northgate Council", "--sector", "social_care")
    )
    ok(shell("create-team", "--name", "Children in need", "--agency", "northgate council"))
    for email in ("lead@example.test", "boss@example.test"):
        ok(
            shell(
                "create-user",
                *("--email", email, "--name", email.split("@")[0].title()),
                *("--agency", "Northgate Council", "--password", PASSWORD),
            )
        )
    assert "as manager" in ok(
        shell(
            "add-member", "--team", "Children in need", "--email", "boss@example.test", "--manager"
        )
    )
    out = ok(
        shell(
            "create-child",
            *("--name", "Leah Marsh", "--reference", "NG-1", "--date-of-birth", "2016-03-09"),
            *("--lead", "lead@example.test", "--team", "Children in need"),
        )
    )
    assert "Created child NG-1" in out

    async def check() -> None:
        child = await Child.get(reference="NG-1")
        holders = await Grant.filter(child_id=child.id).values_list("professional_id", "team_id")
        team = await Team.get(name="Children in need")
        assert set(holders) == {(child.lead_professional_id, None), (None, team.id)}
        assert await TeamMember.filter(team_id=team.id, is_manager=True).count() == 1
        record = await AuditRecord.get(action="child.create")
        assert record.actor_id is None and record.request_id == "system"

    query(database_url, check)


def test_the_setup_commands_fail_with_a_message(shell: Callable[..., Result]) -> None:
    ok(shell("create-agency", "--name", "Police", "--sector", "police"))
    again = shell("create-agency", "--name", "POLICE", "--sector", "police")
    assert again.exit_code == 1 and "already an agency called POLICE" in again.output
    no_agency = shell("create-team", "--name", "T", "--agency", "Nowhere")
    assert no_agency.exit_code == 1 and "No agency called Nowhere" in no_agency.output
    nobody = shell("add-member", "--team", "T", "--email", "x@example.test")
    assert nobody.exit_code == 1 and "No team called T" in nobody.output
    ok(
        shell(
            "create-user",
            *("--email", "lead@example.test", "--name", "Lead", "--agency", "Police"),
            *("--password", PASSWORD),
        )
    )
    child = ("--name", "A", "--date-of-birth", "2015-01-01", "--lead", "lead@example.test")
    ok(shell("create-child", "--reference", "P-1", *child))
    twice = shell("create-child", "--reference", " p-1 ", *child)
    assert twice.exit_code == 1 and "already has the reference p-1" in twice.output
    bad_date = shell(
        "create-child", "--reference", "P-2", *child[:2], "--date-of-birth", "1/1/15", *child[4:]
    )
    assert bad_date.exit_code == 1 and "YYYY-MM-DD" in bad_date.output
    assert "Traceback" not in bad_date.output
