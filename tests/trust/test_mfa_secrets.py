"""Authenticator secrets encrypted at rest with keys from the settings; older plain rows
are read and sealed on their next use; `jigsaw mfa rotate-keys` re-encrypts with the
newest key; and `jigsaw create-token` takes the account's second factor.

The command-line tests call the real `jigsaw` command in-process (click's runner) on the
test database, SQLite or PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import httpx
import pyotp
import pytest
from click.testing import CliRunner, Result
from cryptography.fernet import Fernet
from tortoise import Tortoise

from feeds.accounts.mfa_keys import SecretBox, UnreadableSecret
from feeds.accounts.passwords import hash_password
from feeds.db import tortoise_config
from feeds.models import ApiToken, AuditRecord, MfaFactor, Professional, RecoveryCode
from server.cli import main
from tests import db_backends
from tests.conftest import MFA_KEY, PASSWORD, Factory, api_login
from tests.mfa_helpers import code, enrolled

T = TypeVar("T")
BOX = SecretBox([MFA_KEY])


def stored(person: Professional) -> Awaitable[str]:
    return MfaFactor.get(professional_id=person.id).values_list("secret", flat=True)  # type: ignore[return-value]


async def test_the_stored_secret_never_holds_the_base32_secret(
    client: httpx.AsyncClient, make: Factory
) -> None:
    person = await make.professional()
    await api_login(client, person.email)
    started = await client.post("/api/v1/auth/mfa/enrol", json={"password": PASSWORD})
    secret = started.json()["secret"]
    column = await stored(person)
    assert column.startswith("fernet:") and secret not in column
    assert BOX.open(column) == secret
    body = {"code": code(secret), "password": PASSWORD}
    assert (await client.post("/api/v1/auth/mfa/confirm", json=body)).status_code == 200
    assert await stored(person) == column  # turning it on does not rewrite it
    client.cookies.clear()
    again = {"email": person.email, "password": PASSWORD, "code": code(secret, 1)}
    assert (await client.post("/api/v1/auth/login", json=again)).status_code == 200


async def test_a_secret_stored_in_plain_text_is_read_and_sealed_at_its_next_use(
    client: httpx.AsyncClient, make: Factory
) -> None:
    person = await make.professional()
    secret = await enrolled(person)  # as rows written before encryption
    assert await stored(person) == secret
    body = {"email": person.email, "password": PASSWORD, "code": code(secret)}
    assert (await client.post("/api/v1/auth/login", json=body)).status_code == 200
    column = await stored(person)
    assert column.startswith("fernet:") and secret not in column
    assert BOX.open(column) == secret


def test_a_box_opens_with_any_of_its_keys_and_seals_with_the_first() -> None:
    old, new = SecretBox([MFA_KEY]), SecretBox([Fernet.generate_key().decode(), MFA_KEY])
    sealed = old.seal("JBSWY3DPEHPK3PXP")
    assert new.open(sealed) == "JBSWY3DPEHPK3PXP"
    assert old.is_current(sealed) and not new.is_current(sealed)
    assert new.is_current(new.seal("JBSWY3DPEHPK3PXP"))
    with pytest.raises(UnreadableSecret):
        SecretBox([Fernet.generate_key().decode()]).open(sealed)


# --- The command line ---------------------------------------------------------------------


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path) -> dict[str, str | None]:
    if not database_url.startswith("sqlite"):
        asyncio.run(db_backends.truncate_postgres(database_url))
    return {
        "JIGSAW_DATABASE_URL": database_url,
        "JIGSAW_DATA_DIR": str(tmp_path),
        "JIGSAW_SECRET_KEY": "cli-test-secret-0123456789abcdef",
        "JIGSAW_MFA_KEYS": MFA_KEY,
        "JIGSAW_DEMO": None,
    }


def in_db(env: dict[str, str | None], work: Callable[[], Awaitable[T]]) -> T:
    async def run() -> T:
        await Tortoise.init(config=tortoise_config(str(env["JIGSAW_DATABASE_URL"])))
        try:
            return await work()
        finally:
            await Tortoise.close_connections()

    return asyncio.run(run())


def jigsaw(env: dict[str, str | None], *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, input=stdin)


def someone_with_mfa(env: dict[str, str | None], make: Factory | None = None) -> tuple[str, str]:
    """An enrolled professional (secret stored the old, plain way); email and secret."""

    async def work() -> tuple[str, str]:
        person = await (make or Factory()).professional()
        return person.email, await enrolled(person)

    return in_db(env, work)


def token_args(email: str) -> list[str]:
    return ["create-token", "--email", email, "--name", "deploy script"]


def test_create_token_refuses_an_account_with_mfa_without_a_code(
    cli_env: dict[str, str | None],
) -> None:
    email, secret = someone_with_mfa(cli_env)
    silent = jigsaw(cli_env, *token_args(email), stdin="")
    assert silent.exit_code == 1 and "give --code" in silent.output
    wrong = "000000" if code(secret) != "000000" else "111111"
    refused = jigsaw(cli_env, *token_args(email), "--code", wrong)
    assert refused.exit_code == 1 and "That code is not right" in refused.output
    assert "jgw_" not in silent.output + refused.output
    assert in_db(cli_env, lambda: ApiToken.all().count()) == 0
    failed = lambda: AuditRecord.filter(action="mfa.verify", outcome="failed").count()  # noqa: E731
    assert in_db(cli_env, failed) == 1


def test_create_token_takes_a_current_code_given_or_typed(
    cli_env: dict[str, str | None],
) -> None:
    email, secret = someone_with_mfa(cli_env)
    given = jigsaw(cli_env, *token_args(email), "--code", code(secret))
    assert given.exit_code == 0, given.output
    assert given.output.strip().splitlines()[-1].startswith("jgw_")
    typed = jigsaw(cli_env, *token_args(email), stdin=code(secret, 1) + "\n")
    assert typed.exit_code == 0, typed.output
    assert "two-step sign-in" in typed.output and code(secret, 1) not in typed.output
    assert in_db(cli_env, lambda: ApiToken.all().count()) == 2
    column = in_db(cli_env, lambda: MfaFactor.first().values_list("secret", flat=True))
    assert str(column).startswith("fernet:")  # sealed on its first use


def test_create_token_takes_a_recovery_code_once(cli_env: dict[str, str | None]) -> None:
    email, _ = someone_with_mfa(cli_env)

    async def add_recovery_code() -> None:
        person = await Professional.get(email=email)
        await RecoveryCode.create(professional=person, code_hash=hash_password("abcde-fghjk"))

    in_db(cli_env, add_recovery_code)
    assert jigsaw(cli_env, *token_args(email), "--code", "abcde-fghjk").exit_code == 0
    again = jigsaw(cli_env, *token_args(email), "--code", "abcde-fghjk")
    assert again.exit_code == 1 and "recovery code is not right" in again.output


def test_rotate_keys_reencrypts_every_secret_with_the_first_key(
    cli_env: dict[str, str | None],
) -> None:
    new_key = Fernet.generate_key().decode()
    make = Factory()
    plain_email, plain_secret = someone_with_mfa(cli_env, make)
    sealed_secret = pyotp.random_base32()

    async def sealed_with_the_old_key() -> str:
        person = await make.professional()
        await MfaFactor.create(professional=person, secret=BOX.seal(sealed_secret))
        return person.email

    sealed_email = in_db(cli_env, sealed_with_the_old_key)
    too_early = jigsaw({**cli_env, "JIGSAW_MFA_KEYS": new_key}, "mfa", "rotate-keys")
    assert too_early.exit_code == 1 and "put back the key" in too_early.output

    both = {**cli_env, "JIGSAW_MFA_KEYS": f"{new_key},{MFA_KEY}"}
    rotated = jigsaw(both, "mfa", "rotate-keys")
    assert rotated.exit_code == 0 and "Re-encrypted 2 authenticator secrets" in rotated.output
    assert "Re-encrypted 0" in jigsaw(both, "mfa", "rotate-keys").output
    columns = in_db(cli_env, lambda: MfaFactor.all().values_list("secret", flat=True))
    newest = SecretBox([new_key])
    assert sorted(newest.open(str(c)) for c in columns) == sorted([plain_secret, sealed_secret])
    for column in columns:
        with pytest.raises(UnreadableSecret):
            BOX.open(str(column))

    # Signing in with a code works with the new key alone.
    only_new = {**cli_env, "JIGSAW_MFA_KEYS": new_key}
    for email, secret in ((plain_email, plain_secret), (sealed_email, sealed_secret)):
        made = jigsaw(only_new, *token_args(email), "--code", code(secret))
        assert made.exit_code == 0, made.output


def test_new_key_prints_a_usable_key() -> None:
    result = CliRunner().invoke(main, ["mfa", "new-key"])
    assert result.exit_code == 0
    SecretBox([result.output.strip()])  # a well-formed Fernet key
