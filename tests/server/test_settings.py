from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from server.settings import DEMO_MFA_KEY, SettingsError, load_settings
from server.sso_settings import LocalPasswords
from tests.conftest import MFA_KEY


def test_default_secret_is_refused_outside_demo_mode() -> None:
    with pytest.raises(SettingsError, match="JIGSAW_SECRET_KEY"):
        load_settings({})


def test_demo_mode_defaults_to_sqlite_under_the_data_dir(tmp_path: object) -> None:
    settings = load_settings({"JIGSAW_DATA_DIR": str(tmp_path)}, demo=True)
    assert settings.database_url == f"sqlite://{tmp_path}/jigsaw.sqlite3"
    assert settings.session_cookie == "jigsaw_session"


def test_https_uses_a_host_prefixed_cookie() -> None:
    settings = load_settings(
        {
            "JIGSAW_SECRET_KEY": "s" * 40,
            "JIGSAW_MFA_KEYS": MFA_KEY,
            "JIGSAW_HTTPS": "true",
            "JIGSAW_DATABASE_URL": "postgres://u@h/db",
        }
    )
    assert settings.session_cookie == "__Host-jigsaw_session"
    assert not settings.is_sqlite


SECRET = {"JIGSAW_SECRET_KEY": "s" * 40}


def test_mfa_keys_are_required_outside_demo_mode() -> None:
    with pytest.raises(SettingsError, match="JIGSAW_MFA_KEYS must be set"):
        load_settings(SECRET)
    with pytest.raises(SettingsError, match="JIGSAW_MFA_KEYS must be set"):
        load_settings({**SECRET, "JIGSAW_MFA_KEYS": DEMO_MFA_KEY})  # its derivation is public


def test_a_malformed_mfa_key_is_refused_without_echoing_it() -> None:
    with pytest.raises(SettingsError, match="malformed") as refused:
        load_settings({**SECRET, "JIGSAW_MFA_KEYS": f"{MFA_KEY}, not-a-key"})
    assert MFA_KEY not in str(refused.value)


def test_mfa_keys_are_read_newest_first_and_demo_mode_has_a_fixed_one() -> None:
    older = Fernet.generate_key().decode()
    settings = load_settings({**SECRET, "JIGSAW_MFA_KEYS": f" {MFA_KEY} ,{older},"})
    assert [str(key) for key in settings.mfa_keys] == [MFA_KEY, older]
    assert MFA_KEY not in repr(settings)  # Secret hides the value
    demo = load_settings({}, demo=True)
    assert [str(key) for key in demo.mfa_keys] == [DEMO_MFA_KEY]


OIDC = {
    **SECRET,
    "JIGSAW_MFA_KEYS": MFA_KEY,
    "JIGSAW_OIDC_ISSUER": "https://login.council.example/",
    "JIGSAW_OIDC_CLIENT_ID": "jigsaw",
}


def test_single_sign_on_is_off_unless_an_issuer_is_set() -> None:
    settings = load_settings({**SECRET, "JIGSAW_MFA_KEYS": MFA_KEY})
    assert settings.oidc is None
    assert settings.local_passwords == LocalPasswords.ALL


def test_single_sign_on_settings_are_read() -> None:
    settings = load_settings(
        {**OIDC, "JIGSAW_LOCAL_PASSWORDS": "Admins", "JIGSAW_OIDC_MFA_ACR": "silver, gold"}
    )
    assert settings.oidc is not None
    assert settings.oidc.issuer == "https://login.council.example"  # no trailing slash
    assert settings.oidc.mfa_acr == ("silver", "gold")
    assert "mfa" in settings.oidc.mfa_amr
    assert settings.local_passwords == LocalPasswords.ADMINS


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"JIGSAW_OIDC_ISSUER": "http://login.council.example"}, "must be an https URL"),
        ({"JIGSAW_OIDC_CLIENT_ID": ""}, "JIGSAW_OIDC_CLIENT_ID must be set"),
        ({"JIGSAW_LOCAL_PASSWORDS": "some"}, "must be all, admins or none"),
        ({"JIGSAW_OIDC_ISSUER": "", "JIGSAW_LOCAL_PASSWORDS": "none"}, "needs JIGSAW_OIDC_ISSUER"),
    ],
)
def test_unsafe_single_sign_on_settings_are_refused(change: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings({**OIDC, **change})


def test_plain_http_issuer_is_allowed_on_loopback_only() -> None:
    settings = load_settings({**OIDC, "JIGSAW_OIDC_ISSUER": "http://127.0.0.1:9000"})
    assert settings.oidc is not None and settings.oidc.issuer == "http://127.0.0.1:9000"
