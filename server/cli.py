"""The `jigsaw` command: serve, migrate, demo, create-user, create-token, mfa, audit,
backup, restore, init, partitions (server/cli_partitions.py), and the set-up commands in
server/cli_setup.py (create-agency, create-team, add-member, create-child)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click
from tortoise import Tortoise

from feeds.db import migrate_database, tortoise_config
from feeds.errors import DomainError
from feeds.models import Role, Sector
from server.cli_audit import archive_command
from server.cli_import import import_group
from server.cli_partitions import partitions_group
from server.cli_people import people_group
from server.cli_progress import StageBars
from server.cli_setup import COMMANDS as SETUP_COMMANDS
from server.settings import Settings, SettingsError, load_settings

T = TypeVar("T")
DEMO_PASSWORD = "jigsaw-demo"  # noqa: S105 - documented demo password, demo mode only


def _settings(demo: bool = False) -> Settings:
    try:
        settings = load_settings(demo=demo or None)
    except SettingsError as error:
        raise click.ClickException(str(error)) from None
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings


def run_with_db(settings: Settings, work: Callable[[], Awaitable[T]]) -> T:
    """Migrate, connect, run `work`, close: the shape of every command that touches data."""

    async def main() -> T:
        await migrate_database(settings.database_url)
        await Tortoise.init(config=tortoise_config(settings.database_url))
        try:
            return await work()
        finally:
            await Tortoise.close_connections()

    try:
        return asyncio.run(main())
    except DomainError as error:
        # Bad input (a duplicate email, a short password): a message, not a traceback.
        raise click.ClickException(error.message) from None


@click.group()
def main() -> None:
    """Jigsaw: a private microblog for the professionals around a child."""


@main.command()
def migrate() -> None:
    """Apply database migrations."""
    settings = _settings()
    run_with_db(settings, _noop)
    click.echo(f"Database is up to date: {_redacted(settings.database_url)}")


async def _noop() -> None:
    return None


def _redacted(url: str) -> str:
    head, _, tail = url.rpartition("@")
    return f"{head.split('://')[0]}://***@{tail}" if head else url


def _seed(settings: Settings, password: str) -> Any:
    """Seed demo data into an empty database (None when it has data already), then make
    the search index complete before anyone is told the URL."""
    from feeds.demo.seed import database_is_empty, seed_demo

    async def work() -> Any:
        summary = None
        if await database_is_empty():
            with click.progressbar(length=100, label="Seeding demo data") as bar:

                def progress(stage: str, done: int, total: int) -> None:
                    bar.label = f"Seeding {stage}"
                    bar.update(int(100 * done / max(total, 1)) - bar.pos)

                summary = await seed_demo(password, progress=progress)
        await _catch_up_search(settings)
        return summary

    return run_with_db(settings, work)


async def _catch_up_search(settings: Settings) -> None:
    """Index every post still waiting in the search outbox (and any the index lacks)."""
    from search.outbox import catch_up, pending
    from server.routes.search import index_from_env

    index = index_from_env(settings)
    try:
        await index.ensure_ready()
        with click.progressbar(length=1, label=f"Indexing posts for search ({index.name})") as bar:

            def progress(done: int, total: int) -> None:
                bar.length = max(total, 1)
                bar.update(done - bar.pos)

            await catch_up(index, progress)
    except Exception as error:  # an engine that is down must not stop the demo
        click.echo(f"Search index {index.name} unavailable ({type(error).__name__}).", err=True)
    if waiting := await pending():
        click.echo(f"{waiting} posts wait for the search index: it catches up while running.")


@main.command()
@click.option("--password", default=DEMO_PASSWORD, show_default=True)
def demo(password: str) -> None:
    """Seed realistic fictional demo data into an empty database."""
    summary = _seed(_settings(demo=True), password)
    if summary is None:
        raise click.ClickException("The database already has data: demo data not added.")
    _print_logins(summary, password)


def _print_logins(summary: Any, password: str) -> None:
    click.echo(
        f"Demo data: {summary.children} children, {summary.posts} posts, "
        f"{summary.professionals} professionals in {summary.agencies} agencies."
    )
    click.echo(f"Demo logins (password: {password}):")
    for login in summary.logins:
        click.echo(f"  {login.email:<34} {login.role:<13} {login.description}")


# Live sockets (docs/operations.md, "Live sockets"): uvicorn's sans-I/O websockets protocol
# (keepalive pings on timers, no task per socket) holding less per socket (server/ws_protocol.py),
# no compression (a zlib context per socket costs memory and opens a compression oracle),
# messages of 64 KiB at most.
UVICORN_WS_OPTIONS: dict[str, Any] = {
    "ws": "server.ws_protocol:LeanWebSocketProtocol",
    "ws_per_message_deflate": False,
    "ws_max_size": 64 * 1024,
    "ws_ping_interval": 20.0,
    "ws_ping_timeout": 20.0,
}


def uvicorn_ws_flags() -> list[str]:
    """UVICORN_WS_OPTIONS as `uvicorn` command-line flags (benchmarks start it that way)."""
    flags = []
    for name, value in UVICORN_WS_OPTIONS.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        flags += ["--" + name.replace("_", "-"), text]
    return flags


def uvicorn_proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn believes X-Forwarded-For/-Proto from exactly JIGSAW_TRUSTED_PROXIES (its own
    default trusts 127.0.0.1, so any local client could forge its address)."""
    trusted = ",".join(str(network) for network in settings.trusted_proxies)
    return {"proxy_headers": bool(trusted), "forwarded_allow_ips": trusted}


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--demo", "demo_mode", is_flag=True, help="Seed demo data when the database is empty."
)
def serve(host: str, port: int, workers: int, demo_mode: bool) -> None:
    """Run the web server (uvicorn)."""
    import uvicorn

    settings = _settings(demo=demo_mode)
    if demo_mode:
        summary = _seed(settings, DEMO_PASSWORD)
        if summary is not None:
            _print_logins(summary, DEMO_PASSWORD)
        else:
            click.echo(
                f"Demo database already seeded; logins as before, password {DEMO_PASSWORD}:"
                " admin@, manager@, practitioner@demo.jigsaw.test"
            )
        os.environ["JIGSAW_DEMO"] = "1"
    else:
        run_with_db(settings, _noop)
    click.echo(f"Jigsaw is running: open http://{host}:{port}/ (Ctrl+C to stop)")
    uvicorn.run(
        "server.asgi:app",
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        timeout_graceful_shutdown=10,
        **UVICORN_WS_OPTIONS,
        **uvicorn_proxy_options(settings),
    )


@main.command("create-user")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--agency", required=True, help="Agency name (created if new).")
@click.option(
    "--sector",
    type=click.Choice([sector.value for sector in Sector]),
    default=Sector.SOCIAL_CARE.value,
    show_default=True,
)
@click.option(
    "--role",
    type=click.Choice([role.value for role in Role]),
    default="practitioner",
    show_default=True,
)
@click.option("--job-title", default="")
@click.password_option()
def create_user(
    email: str, name: str, agency: str, sector: str, role: str, job_title: str, password: str
) -> None:
    """Create a professional who can log in."""
    from feeds.accounts.people import do_create_professional

    async def work() -> str:
        person = await do_create_professional(
            email, name, agency, sector, role, job_title, password
        )
        return f"Created {person.email} ({person.role}) with handle @{person.handle}"

    click.echo(run_with_db(_settings(), work))


@main.command("create-token")
@click.option("--email", required=True, help="The professional the token acts as.")
@click.option("--name", required=True, help="What the token is for, e.g. 'my phone'.")
@click.option(
    "--code",
    default=None,
    help="When the account has two-step sign-in: a current code from its authenticator "
    "app, or one of its recovery codes (asked for when left out).",
)
def create_token(email: str, name: str, code: str | None) -> None:
    """Issue a personal access token (printed once; send it as Authorization: Bearer)."""
    from feeds.accounts.mfa import has_mfa
    from feeds.models import Professional
    from server.auth import issue_token

    settings = _settings()

    async def work() -> str:
        user = await Professional.get_or_none(email=email.strip().lower(), is_active=True)
        if user is None:
            raise click.ClickException(f"No active professional with email {email}.")
        if await has_mfa(user):
            await _check_second_factor(user, code, settings)
        _, raw = await issue_token(user, name)
        return raw

    click.echo(run_with_db(settings, work))


async def _check_second_factor(user: Any, code: str | None, settings: Settings) -> None:
    """A token is a credential like a session: it takes the account's second factor."""
    from feeds.audit.records import AuditContext
    from server.auth import LoginThrottled
    from server.mfa_auth import box_for, check_code_at_sign_in

    if not code:
        try:
            code = click.prompt(
                "This account uses two-step sign-in. Code from its app (or a recovery code)",
                hide_input=True,
            )
        except click.Abort:
            raise click.ClickException(
                "This account uses two-step sign-in: give --code (a current code from its "
                "app, or a recovery code)."
            ) from None
    text = str(code).strip()
    totp = text.replace(" ", "").isdigit()
    ctx = AuditContext(ip="", request_id="cli")
    try:
        await check_code_at_sign_in(
            user, text if totp else None, None if totp else text, ctx, box_for(settings)
        )
    except LoginThrottled as error:
        raise click.ClickException(
            f"Too many failed attempts: wait {error.retry_after} seconds and try again."
        ) from None


@main.command()
def reindex() -> None:
    """Rebuild the search index from the database (visible posts only)."""
    from search.outbox import reindex as rebuild
    from server.routes.search import index_from_env

    settings = _settings()

    async def work() -> str:
        index = index_from_env(settings)
        await index.ensure_ready()
        with click.progressbar(length=1, label=f"Indexing posts ({index.name})") as bar:

            def progress(done: int, total: int) -> None:
                bar.length = max(total, 1)
                bar.update(done - bar.pos)

            count = await rebuild(index, progress)
        return f"Indexed {count} posts ({index.name})."

    click.echo(run_with_db(settings, work))


@main.group("mfa")
def mfa_group() -> None:
    """Two-step sign-in: the keys that encrypt authenticator secrets at rest."""


@mfa_group.command("new-key")
def mfa_new_key() -> None:
    """Print a new random key for JIGSAW_MFA_KEYS (put it first in the list)."""
    from cryptography.fernet import Fernet

    click.echo(Fernet.generate_key().decode())


@mfa_group.command("rotate-keys")
def mfa_rotate_keys() -> None:
    """Re-encrypt every authenticator secret with the first key in JIGSAW_MFA_KEYS."""
    from feeds.accounts.mfa_keys import UnreadableSecret, do_rotate
    from server.mfa_auth import box_for

    settings = _settings()

    async def work() -> int:
        try:
            return await do_rotate(box_for(settings))
        except UnreadableSecret:
            raise click.ClickException(
                "A stored secret opens with none of the keys in JIGSAW_MFA_KEYS: put back "
                "the key it was encrypted with (after the new one) and run this again."
            ) from None

    changed = run_with_db(settings, work)
    click.echo(
        f"Re-encrypted {changed} authenticator secret{'' if changed == 1 else 's'} with the "
        "first key; every secret now opens with it alone, so older keys can be removed."
    )


@main.group()
def audit() -> None:
    """The audit log: verify its hash chain and signed checkpoints; show the public key;
    archive old months (PostgreSQL)."""


def _audit_settings() -> Settings:
    # Verifying reads the log and the checkpoints; it never uses JIGSAW_SECRET_KEY.
    try:
        return load_settings(need_secret=False)
    except SettingsError as error:
        raise click.ClickException(str(error)) from None


@audit.command("verify")
@click.option(
    "--public-key",
    default="",
    help="The published public key (base64 or a file); default: that of the configured key.",
)
@click.option(
    "--checkpoints",
    "how_many",
    default=0,
    type=click.IntRange(0),
    help="Check only the latest N checkpoints (default: all of them).",
)
def audit_verify(public_key: str, how_many: int) -> None:
    """Check the hash chain of sealed records, then the latest signed checkpoints.

    Exit status: 0 intact, 1 tampering found, 2 intact as far as it could check (no
    public key, or no checkpoints)."""
    from feeds.audit import keys
    from feeds.audit.verify import verify_log

    settings = _audit_settings()
    try:
        key = (
            keys.load_public_key(public_key)
            if public_key
            else keys.verifying_key(str(settings.audit_signing_key or ""), settings.data_dir)
        )
    except (DomainError, ValueError) as error:
        raise click.ClickException(f"Cannot read the key: {error}") from None
    report = run_with_db(
        settings, lambda: verify_log(key, settings.audit_checkpoint_path, how_many)
    )
    for line in report.lines():
        click.echo(line, err=not report.ok)
    if not report.ok:
        raise SystemExit(1)
    if report.unchecked:
        raise SystemExit(2)


@audit.command("public-key")
def audit_public_key() -> None:
    """Print the public key that verifies the signed audit checkpoints (base64)."""
    from feeds.audit import keys

    settings = _audit_settings()
    try:
        private = keys.signing_key(str(settings.audit_signing_key or ""), settings.data_dir)
    except (DomainError, ValueError) as error:
        raise click.ClickException(f"Cannot read the key: {error}") from None
    click.echo(keys.public_key_text(private.public_key()))


for _command in SETUP_COMMANDS:
    main.add_command(_command)
main.add_command(import_group)
main.add_command(partitions_group)
audit.add_command(archive_command)
main.add_command(people_group)


def run_ops(work: Callable[[StageBars], Coroutine[Any, Any, T]]) -> T:
    """Run a backup/restore operation with progress bars; its refusals are messages."""
    from server.ops.manifest import BackupError

    bars = StageBars()
    try:
        return asyncio.run(work(bars))
    except (BackupError, DomainError) as error:
        raise click.ClickException(getattr(error, "message", str(error))) from None
    finally:
        bars.close()


PG_BIN_HELP = (
    "Directory holding pg_dump/pg_restore (default: /usr/lib/postgresql/<server version>/bin"
    " when present, else PATH)."
)


@main.command()
@click.argument("dest", type=click.Path(path_type=Path, file_okay=False))
@click.option("--pg-bin", type=click.Path(path_type=Path, file_okay=False), help=PG_BIN_HELP)
def backup(dest: Path, pg_bin: Path | None) -> None:
    """Back up the database into DEST, a new directory: one data file and manifest.json.

    Safe while the server runs: the copy is one consistent snapshot."""
    from server.ops.backup import do_backup

    settings = _settings()
    manifest = run_ops(lambda bars: do_backup(settings, dest, bars, pg_bin))
    counts = manifest.counts
    click.echo(
        f"Backup written to {dest}: {manifest.file} ({manifest.size} bytes, "
        f"SHA-256 {manifest.sha256}), {counts.get('post', 0)} posts, "
        f"{counts.get('child', 0)} children, {counts.get('audit_record', 0)} audit records."
    )


@main.command()
@click.argument("source", type=click.Path(path_type=Path, exists=True))
@click.option("--pg-bin", type=click.Path(path_type=Path, file_okay=False), help=PG_BIN_HELP)
def restore(source: Path, pg_bin: Path | None) -> None:
    """Restore the backup in SOURCE into the configured database, which must be empty.

    Checks the file's SHA-256 and the restored rows against the manifest, then migrates
    and rebuilds velocity and the search index."""
    from server.ops.backup import do_restore

    settings = _settings()
    done = run_ops(lambda bars: do_restore(settings, source, bars, pg_bin))
    rebuilt, audit_verdict = done.rebuilt, done.audit
    click.echo(
        f"Restored {source} into {_redacted(settings.database_url)}: SHA-256 and "
        f"{len(done.manifest.counts)} tables' row counts match the manifest "
        f"(backup of {done.manifest.created_at})."
    )
    click.echo(
        f"Rebuilt: {rebuilt.tally_days} velocity tally days ({rebuilt.flagged_children} "
        f"children flagged), {rebuilt.indexed_posts} posts indexed ({rebuilt.index_name})."
    )
    if rebuilt.search_error:
        click.echo(
            f"Warning: search index {rebuilt.index_name} unavailable ({rebuilt.search_error});"
            " run `jigsaw reindex` once it is up.",
            err=True,
        )
    if audit_verdict.ok:
        click.echo(f"Audit chain intact: {audit_verdict.checked} records verified.")
    else:
        click.echo(
            f"Warning: audit chain check stopped at record {audit_verdict.first_bad_id} "
            f"({audit_verdict.reason}); run `jigsaw audit verify`.",
            err=True,
        )


NEXT_STEPS = """
Next steps (docs/operations.md, "From an empty server to the first post"):
  jigsaw create-agency --name NAME --sector SECTOR          one per partner agency
  jigsaw create-user --email EMAIL --name NAME --agency NAME [--role manager]
  jigsaw create-team --name NAME --agency NAME
  jigsaw add-member --team TEAM --email EMAIL [--manager]
  jigsaw create-child --name N --reference R --date-of-birth YYYY-MM-DD --lead EMAIL
  jigsaw import children FILE.csv --by {email} --reason WHY   (or people; --dry-run first)
  jigsaw serve                                               then sign in as {email}
"""


def _read_password(password_file: Any) -> str:
    if password_file is None:
        return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    line: str = password_file.readline()
    return line.rstrip("\r\n")


@main.command("init")
@click.option("--email", required=True, help="The first administrator's email (their login).")
@click.option("--name", required=True)
@click.option("--agency", required=True, help="The administrator's organisation (created).")
@click.option(
    "--sector",
    type=click.Choice([sector.value for sector in Sector]),
    default=Sector.SOCIAL_CARE.value,
    show_default=True,
)
@click.option("--job-title", default="Administrator", show_default=True)
@click.option(
    "--password-file",
    type=click.File("r"),
    help="Read the password from this file's first line (- for stdin) instead of prompting.",
)
def init(
    email: str, name: str, agency: str, sector: str, job_title: str, password_file: Any
) -> None:
    """First run of a real installation: migrate, create the first administrator."""
    from feeds.accounts.first_admin import check_no_admin, do_create_first_admin

    settings = _settings()
    run_with_db(settings, check_no_admin)  # before asking for a password
    password = _read_password(password_file)

    async def work() -> str:
        admin = await do_create_first_admin(email, name, agency, sector, job_title, password)
        return admin.email

    address = run_with_db(settings, work)
    click.echo(f"Database ready: {_redacted(settings.database_url)}")
    click.echo(f"Created the first administrator, {address}.")
    click.echo(NEXT_STEPS.format(email=address).rstrip())
