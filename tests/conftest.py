"""Shared fixtures: a real migrated database per test, the real app, and one-line factories."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from starlette.applications import Starlette
from starlette.datastructures import Secret

from feeds.accounts.passwords import hash_password
from feeds.clock import utcnow
from feeds.models import Agency, Child, Grant, Professional, Role, Sector, Team, TeamMember
from server.app import create_app
from server.settings import Settings
from tests import db_backends
from tests.live_server import running_server

# The PostgreSQL pass of `make test` runs only the tests that use the `database_backend`
# fixture (tests/backend_passes.py); pytester checks that on a small suite.
pytest_plugins = ["tests.backend_passes", "pytester"]

PASSWORD = "correct horse battery staple"
PASSWORD_HASH = hash_password(PASSWORD)
# The key authenticator secrets are encrypted with (JIGSAW_MFA_KEYS), new for each run;
# servers started in a subprocess get it through the environment.
MFA_KEY = Fernet.generate_key().decode()


@pytest.fixture(scope="session")
def database_backend() -> str:
    """sqlite or postgres (JIGSAW_TEST_BACKEND). Everything that uses the database backend
    depends on this fixture: the PostgreSQL pass selects tests by it."""
    return db_backends.backend()


@pytest.fixture(scope="session")
def database_source(
    database_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path | str]:
    """A migrated SQLite template file, or a migrated PostgreSQL database URL."""
    if database_backend == "postgres":
        url = db_backends.create_postgres_database()
        yield url
        db_backends.drop_postgres_database(url)
    else:
        yield db_backends.create_sqlite_template(tmp_path_factory.mktemp("template"))


@pytest.fixture
def database_url(database_source: Path | str, tmp_path: Path) -> str:
    if isinstance(database_source, Path):
        return db_backends.sqlite_copy(database_source, tmp_path)
    return database_source


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        secret_key=Secret("test-secret-key-0123456789"),
        mfa_keys=(Secret(MFA_KEY),),
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    if not settings.is_sqlite:
        await db_backends.truncate_postgres(settings.database_url)
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


def client_for(app: Starlette, address: str = "127.0.0.1") -> httpx.AsyncClient:
    """A client of the app in-process, calling from `address` (the peer the app sees)."""
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as c:
        yield c


async def api_login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> None:
    """Log in through the API; later unsafe calls carry the CSRF header like the web app."""
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    client.headers["x-csrftoken"] = response.json()["csrf_token"]


class Factory:
    """One-line builders for the domain: make.practitioner(grants=[child])."""

    def __init__(self) -> None:
        self.n = 0

    def _next(self) -> int:
        self.n += 1
        return self.n

    async def agency(self, sector: Sector = Sector.SOCIAL_CARE) -> Agency:
        return await Agency.create(name=f"Agency {self._next()}", sector=sector)

    async def professional(
        self, role: Role = Role.PRACTITIONER, agency: Agency | None = None, **fields: Any
    ) -> Professional:
        n = self._next()
        defaults = {
            "email": f"person{n}@example.test",
            "name": f"Person {n}",
            "handle": f"person{n}",
            "job_title": "Social worker",
            "password_hash": PASSWORD_HASH,
        }
        return await Professional.create(
            agency=agency or await self.agency(), role=role, **{**defaults, **fields}
        )

    async def practitioner(
        self,
        grants: Sequence[Child] = (),
        **fields: Any,
    ) -> Professional:
        person = await self.professional(**fields)
        for child in grants:
            await self.grant(child, professional=person)
        return person

    async def manager_of(self, *children: Child) -> Professional:
        """A manager around these children: manages a team that holds a grant for each."""
        person = await self.professional(role=Role.MANAGER)
        team = await self.team(managers=[person])
        for child in children:
            await self.grant(child, team=team)
        return person

    async def child(self, lead: Professional | None = None) -> Child:
        n = self._next()
        return await Child.create(
            display_name=f"Child {n}", reference=f"T-{n:06d}", lead_professional=lead
        )

    async def team(
        self,
        members: Sequence[Professional] = (),
        managers: Sequence[Professional] = (),
    ) -> Team:
        team = await Team.create(name=f"Team {self._next()}", agency=await self.agency())
        for person in members:
            await TeamMember.create(team=team, professional=person)
        for person in managers:
            await TeamMember.create(team=team, professional=person, is_manager=True)
        return team

    async def grant(
        self,
        child: Child,
        professional: Professional | None = None,
        team: Team | None = None,
        expired: bool = False,
        revoked: bool = False,
    ) -> Grant:
        now = utcnow()
        return await Grant.create(
            child=child,
            professional=professional,
            team=team,
            expires_at=now - timedelta(hours=1) if expired else None,
            revoked_at=now - timedelta(minutes=5) if revoked else None,
        )


@pytest.fixture
async def live(settings: Settings) -> AsyncIterator[str]:
    """The app served on a loopback port (real websockets): its address."""
    async with running_server(settings) as address:
        yield address


@pytest.fixture
def make(app: Starlette) -> Factory:
    return Factory()
