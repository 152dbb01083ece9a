from __future__ import annotations

import pytest

from server.settings import SettingsError, load_settings
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
