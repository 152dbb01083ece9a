"""When the provider's sign-in counts as multi-factor (then ours is not asked for)."""

from __future__ import annotations

import pytest

from feeds.sso.identities import ProviderClaims, provider_did_mfa
from server.sso_settings import DEFAULT_MFA_AMR


def claims(amr: tuple[str, ...] = (), acr: str = "") -> ProviderClaims:
    return ProviderClaims(issuer="https://idp.example", subject="s", amr=amr, acr=acr)


@pytest.mark.parametrize(
    ("amr", "acr", "mfa_acr", "expected"),
    [
        (("pwd", "otp"), "", (), True),
        (("mfa",), "", (), True),
        (("hwk",), "", (), True),
        (("pwd",), "", (), False),
        ((), "", (), False),
        (("pwd",), "gold", ("gold",), True),  # the configured level vouches for it
        (("pwd",), "bronze", ("gold",), False),
        (("pwd",), "", ("",), False),  # an empty acr is never a level
    ],
)
def test_provider_mfa_by_amr_or_configured_acr(
    amr: tuple[str, ...], acr: str, mfa_acr: tuple[str, ...], expected: bool
) -> None:
    assert provider_did_mfa(claims(amr, acr), DEFAULT_MFA_AMR, mfa_acr) is expected
