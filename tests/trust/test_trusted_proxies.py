"""Issue 14: X-Forwarded-For is believed only from proxies named in JIGSAW_TRUSTED_PROXIES.

uvicorn trusted it from 127.0.0.1 by default, so any local client could forge the address
in the audit log and dodge the per-address login throttle.
"""

from __future__ import annotations

from dataclasses import replace
from ipaddress import ip_network

import httpx
import pytest

from feeds import audit
from feeds.accounts.throttle import ADDRESS_CEILING
from feeds.audit.actions import AuditAction, AuditOutcome
from feeds.audit.records import AuditContext
from feeds.models import AuditRecord
from server.cli import uvicorn_proxy_options
from server.settings import Settings, SettingsError, load_settings
from tests.conftest import MFA_KEY, PASSWORD, Factory

PEER = "127.0.0.1"  # what httpx's ASGITransport reports as the direct peer
FORGED = "203.0.113.9"


@pytest.fixture
def trusted(request: pytest.FixtureRequest) -> str:
    return getattr(request, "param", "")


@pytest.fixture
def settings(settings: Settings, trusted: str) -> Settings:
    proxies = tuple(ip_network(p.strip()) for p in trusted.split(",") if p.strip())
    return replace(settings, trusted_proxies=proxies)


async def login_ip(client: httpx.AsyncClient, email: str, forwarded: str) -> str:
    response = await client.post(
        "/api/v1/auth/login",
        json={"email": email, "password": PASSWORD},
        headers={"x-forwarded-for": forwarded},
    )
    assert response.status_code == 200, response.text
    record = await AuditRecord.filter(action="login", actor_email=email).order_by("-id").first()
    assert record is not None
    return record.ip


async def test_a_forged_forwarded_for_is_ignored_by_default(
    client: httpx.AsyncClient, make: Factory
) -> None:
    person = await make.professional()
    assert await login_ip(client, person.email, FORGED) == PEER


@pytest.mark.parametrize(
    ("trusted", "forwarded", "expected"),
    [
        ("127.0.0.1", FORGED, FORGED),
        ("127.0.0.0/8, 10.0.0.0/8", f"{FORGED}, 10.1.2.3", FORGED),  # two trusted hops
        ("127.0.0.1", f"{FORGED}, 198.51.100.1", "198.51.100.1"),  # only the last hop vouched
        ("127.0.0.1", "not-an-address", PEER),
        ("10.0.0.0/8", FORGED, PEER),  # the peer itself is not a trusted proxy
    ],
    indirect=["trusted"],
)
async def test_forwarded_for_is_believed_from_trusted_proxies_only(
    client: httpx.AsyncClient, make: Factory, trusted: str, forwarded: str, expected: str
) -> None:
    person = await make.professional()
    assert await login_ip(client, person.email, forwarded) == expected


async def fail_from(address: str, count: int) -> None:
    ctx = AuditContext(ip=address, request_id="seed")
    for n in range(count):
        await audit.record(
            AuditAction.LOGIN, ctx, actor_email=f"nobody{n}@x.test", outcome=AuditOutcome.FAILED
        )


async def attempt(client: httpx.AsyncClient, forwarded: str) -> int:
    response = await client.post(
        "/api/v1/auth/login",
        json={"email": "someone@x.test", "password": "wrong"},
        headers={"x-forwarded-for": forwarded},
    )
    return response.status_code


async def test_forging_forwarded_for_does_not_dodge_the_address_throttle(
    client: httpx.AsyncClient,
) -> None:
    await fail_from(PEER, ADDRESS_CEILING)
    assert await attempt(client, "198.51.100.8") == 429


@pytest.mark.parametrize("trusted", ["127.0.0.1"], indirect=True)
async def test_behind_a_trusted_proxy_the_throttle_keys_on_the_real_client(
    client: httpx.AsyncClient, trusted: str
) -> None:
    await fail_from("198.51.100.7", ADDRESS_CEILING)
    assert await attempt(client, "198.51.100.7") == 429
    assert await attempt(client, "198.51.100.8") == 401


def test_trusted_proxies_setting_is_parsed_and_checked() -> None:
    base = {"JIGSAW_SECRET_KEY": "s" * 40, "JIGSAW_MFA_KEYS": MFA_KEY}
    assert load_settings(base).trusted_proxies == ()
    parsed = load_settings({**base, "JIGSAW_TRUSTED_PROXIES": "10.0.0.0/8, ::1 ,192.0.2.7"})
    assert [str(n) for n in parsed.trusted_proxies] == ["10.0.0.0/8", "::1/128", "192.0.2.7/32"]
    with pytest.raises(SettingsError, match="JIGSAW_TRUSTED_PROXIES"):
        load_settings({**base, "JIGSAW_TRUSTED_PROXIES": "localhost"})


def test_serve_tells_uvicorn_the_same_proxies() -> None:
    base = {"JIGSAW_SECRET_KEY": "s" * 40, "JIGSAW_MFA_KEYS": MFA_KEY}
    assert uvicorn_proxy_options(load_settings(base)) == {
        "proxy_headers": False,
        "forwarded_allow_ips": "",
    }
    settings = load_settings({**base, "JIGSAW_TRUSTED_PROXIES": "10.0.0.0/8,192.0.2.7"})
    assert uvicorn_proxy_options(settings) == {
        "proxy_headers": True,
        "forwarded_allow_ips": "10.0.0.0/8,192.0.2.7/32",
    }
