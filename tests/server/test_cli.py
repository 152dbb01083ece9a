"""The `jigsaw` command, run as a user runs it: a real process on a temporary SQLite database.

Each command runs in a subprocess (as does the API probe that checks its results), because
Tortoise caches SQL per connection name for the whole process: mixing these SQLite databases
into a pytest process that talks to PostgreSQL would break one or the other.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MFA_KEY

SECRET = "cli-test-secret-0123456789abcdef"
PASSWORD = "a long enough password"
PROBE = """
import asyncio, json, sys
import httpx
from server.app import create_app
from server.settings import load_settings

async def main(calls):
    app = create_app(load_settings())
    results = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            for method, path, body, token in calls:
                headers = {"authorization": f"Bearer {token}"} if token else {}
                r = await c.request(method, path, json=body, headers=headers)
                results.append([r.status_code, r.json()])
    print(json.dumps(results))

asyncio.run(main(json.loads(sys.argv[1])))
"""


def environment(data_dir: Path, secret: str | None = SECRET, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIGSAW_")}
    env["JIGSAW_DATA_DIR"] = str(data_dir)
    if secret is not None:
        env["JIGSAW_SECRET_KEY"] = secret
        env["JIGSAW_MFA_KEYS"] = MFA_KEY
    return {**env, **extra}


def python(env: dict[str, str], code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run Python code in a fresh process; every argument comes from this test module."""
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def jigsaw(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return python(env, "from server.cli import main; main(prog_name='jigsaw')", *args)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def fails_clearly(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr + result.stdout
    assert f"Error: {message}" in result.stderr


def api(env: dict[str, str], *calls: tuple[str, str, Any, str | None]) -> list[Any]:
    """[status, json] for each (method, path, json body, bearer token), in one app."""
    result = python(env, PROBE, json.dumps(calls))
    assert result.returncode == 0, result.stderr
    answer: list[Any] = json.loads(result.stdout)
    return answer


def create_user(env: dict[str, str], email: str, *extra: str) -> subprocess.CompletedProcess[str]:
    args = ["--email", email, "--name", "Ann Okafor", "--agency", "Northgate Children's Services"]
    return jigsaw(env, "create-user", *args, "--password", PASSWORD, *extra)


def login(email: str, password: str = PASSWORD) -> tuple[str, str, Any, None]:
    return ("POST", "/api/v1/auth/login", {"email": email, "password": password}, None)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return environment(tmp_path / "data")


def test_migrate_creates_the_database_and_is_idempotent(
    env: dict[str, str], tmp_path: Path
) -> None:
    out = ok(jigsaw(env, "migrate"))
    database = tmp_path / "data" / "jigsaw.sqlite3"
    assert f"Database is up to date: sqlite://{database}" in out
    assert database.stat().st_size > 0
    assert "Database is up to date" in ok(jigsaw(env, "migrate"))


def test_create_user_creates_a_login_that_works(env: dict[str, str]) -> None:
    out = ok(create_user(env, "Ann.Okafor@Example.test", "--role", "manager"))
    assert out.strip() == "Created ann.okafor@example.test (manager) with handle @ann.okafor"
    # The wrong password first: after a login the probe's cookies would need a CSRF header.
    bad, good = api(env, login("ann.okafor@example.test", "no"), login("ann.okafor@example.test"))
    assert good[0] == 200, good
    assert good[1]["me"]["email"] == "ann.okafor@example.test"
    assert good[1]["me"]["role"] == "manager"
    assert good[1]["me"]["agency"] == "Northgate Children's Services"
    assert bad[0] == 401


def test_create_token_prints_a_token_that_authenticates_the_api(env: dict[str, str]) -> None:
    ok(create_user(env, "ann@example.test"))
    out = ok(jigsaw(env, "create-token", "--email", "ANN@example.test", "--name", "my phone"))
    token = out.strip()
    assert token.startswith("jgw_")
    assert len(token) > 40
    assert "\n" not in token
    me, forged, anonymous = api(
        env,
        ("GET", "/api/v1/me", None, token),
        ("GET", "/api/v1/me", None, token[:-2] + "xx"),
        ("GET", "/api/v1/me", None, None),
    )
    assert me == [200, me[1]]
    assert me[1]["email"] == "ann@example.test"
    assert forged[0] == 401
    assert anonymous[0] == 401


def test_create_token_for_an_unknown_email_fails_clearly(env: dict[str, str]) -> None:
    ok(jigsaw(env, "migrate"))
    result = jigsaw(env, "create-token", "--email", "nobody@example.test", "--name", "x")
    fails_clearly(result, "No active professional with email nobody@example.test.")
    assert "jgw_" not in result.stdout


def test_create_user_refuses_a_duplicate_email_without_a_traceback(env: dict[str, str]) -> None:
    ok(create_user(env, "ann@example.test"))
    fails_clearly(
        create_user(env, "ANN@example.test"),
        "There is already an account with the email ann@example.test.",
    )


def test_create_user_refuses_a_short_password_without_a_traceback(env: dict[str, str]) -> None:
    args = ["--email", "bo@example.test", "--name", "Bo", "--agency", "Vale Health"]
    result = jigsaw(env, "create-user", *args, "--password", "short")
    fails_clearly(result, "Passwords are at least 12 characters.")


def test_create_user_offers_only_known_sectors(env: dict[str, str]) -> None:
    result = create_user(env, "cy@example.test", "--sector", "astrology")
    assert result.returncode == 2
    assert "Invalid value for '--sector'" in result.stderr
    assert "health" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["migrate"],
        ["create-token", "--email", "a@example.test", "--name", "x"],
        [
            "create-user",
            "--email",
            "a@example.test",
            "--name",
            "A",
            "--agency",
            "B",
            "--password",
            PASSWORD,
        ],
        ["serve", "--port", "1"],
    ],
    ids=["migrate", "create-token", "create-user", "serve"],
)
def test_outside_demo_mode_a_secret_key_is_required(tmp_path: Path, args: list[str]) -> None:
    result = jigsaw(environment(tmp_path, secret=None), *args)
    fails_clearly(result, "JIGSAW_SECRET_KEY must be set")
    assert not (tmp_path / "jigsaw.sqlite3").exists()


def test_demo_seeds_data_and_prints_the_demo_logins(tmp_path: Path) -> None:
    env = environment(tmp_path, secret=None)
    out = ok(jigsaw(env, "demo"))
    assert "Demo logins (password: jigsaw-demo):" in out
    for email in (
        "admin@demo.jigsaw.test",
        "manager@demo.jigsaw.test",
        "practitioner@demo.jigsaw.test",
    ):
        assert email in out
    [answer] = api(
        {**env, "JIGSAW_DEMO": "1"}, login("practitioner@demo.jigsaw.test", "jigsaw-demo")
    )
    assert answer[0] == 200, answer
    fails_clearly(jigsaw(env, "demo"), "The database already has data: demo data not added.")
