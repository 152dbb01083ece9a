"""One frozen Settings object, read once from JIGSAW_* environment variables."""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from datetime import timedelta
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from urllib.parse import urlsplit

from starlette.config import Config
from starlette.datastructures import Secret

from feeds.accounts.mfa_keys import SecretBox
from server.sso_settings import DEFAULT_MFA_AMR, LOOPBACK, LocalPasswords, OidcSettings

DEMO_SECRET = "jigsaw-demo-secret-not-for-production"  # noqa: S105 - refused outside demo
# A fixed Fernet key for demo mode and tests (its derivation is public: refused outside demo).
DEMO_MFA_KEY = base64.urlsafe_b64encode(hashlib.sha256(b"jigsaw-demo-mfa-key").digest()).decode()


class SettingsError(ValueError):
    """The environment asks for something unsafe or malformed."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    data_dir: Path
    secret_key: Secret
    demo: bool = False
    https: bool = False
    allowed_origins: tuple[str, ...] = ()
    session_idle: timedelta = timedelta(minutes=30)
    session_absolute: timedelta = timedelta(hours=12)
    page_size: int = 20
    event_retention: timedelta = timedelta(days=30)  # websocket replay reaches this far
    break_glass: timedelta = timedelta(hours=4)  # how long emergency access lasts
    # Proxies whose X-Forwarded-For is believed (none by default): server/client_address.py
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()
    # Ed25519 key signing audit checkpoints: a file path or base64; unset = generated into
    # the data dir (feeds/audit/keys.py). Checkpoints go to audit_checkpoint_path.
    audit_signing_key: Secret | None = None
    audit_checkpoint_file: Path | None = None
    # Fernet keys for authenticator secrets at rest: the first encrypts, all decrypt.
    mfa_keys: tuple[Secret, ...] = (Secret(DEMO_MFA_KEY),)
    # Single sign-on through the authority's OpenID Connect provider (off when None), and
    # who may still sign in with a password here (server/sso_settings.py).
    oidc: OidcSettings | None = None
    local_passwords: LocalPasswords = LocalPasswords.ALL
    # A PostgreSQL hot standby for the heavy reads (feeds/replica.py), and how stale a read
    # from it may be before reads go to the primary instead.
    database_replica_url: str | None = None
    replica_max_lag: float = 5.0

    @property
    def session_cookie(self) -> str:
        # The __Host- prefix pins the cookie to this exact origin over https.
        return "__Host-jigsaw_session" if self.https else "jigsaw_session"

    @property
    def audit_checkpoint_path(self) -> Path:
        return self.audit_checkpoint_file or self.data_dir / "audit-checkpoints.jsonl"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


BREAK_GLASS_HOURS = (1, 72)


def _break_glass(config: Config) -> timedelta:
    """JIGSAW_BREAK_GLASS_HOURS: a whole number of hours from 1 to 72 (default 4)."""
    raw = config("JIGSAW_BREAK_GLASS_HOURS", default="4").strip()
    low, high = BREAK_GLASS_HOURS
    if not (raw.isascii() and raw.isdigit() and low <= int(raw) <= high):
        raise SettingsError(
            f"JIGSAW_BREAK_GLASS_HOURS must be a whole number of hours from {low} to {high}"
            f" (got {raw!r})"
        )
    return timedelta(hours=int(raw))


def _trusted_proxies(config: Config) -> tuple[IPv4Network | IPv6Network, ...]:
    """JIGSAW_TRUSTED_PROXIES: comma-separated addresses or CIDR networks (default none)."""
    raw = config("JIGSAW_TRUSTED_PROXIES", default="")
    networks = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            networks.append(ip_network(item, strict=False))
        except ValueError:
            raise SettingsError(
                f"JIGSAW_TRUSTED_PROXIES must list IP addresses or networks (got {item!r})"
            ) from None
    return tuple(networks)


def _mfa_keys(config: Config, is_demo: bool) -> tuple[Secret, ...]:
    """JIGSAW_MFA_KEYS: comma-separated Fernet keys, newest first; demo mode has its own."""
    raw = config("JIGSAW_MFA_KEYS", default="")
    keys = tuple(key.strip() for key in raw.split(",") if key.strip())
    if not keys and is_demo:
        return (Secret(DEMO_MFA_KEY),)
    if not keys or (DEMO_MFA_KEY in keys and not is_demo):
        raise SettingsError(
            "JIGSAW_MFA_KEYS must be set outside demo mode, and not to the demo key: one or "
            "more Fernet keys, comma-separated, newest first (`jigsaw mfa new-key` makes one)"
        )
    try:
        SecretBox(keys)
    except ValueError:
        raise SettingsError(
            "JIGSAW_MFA_KEYS holds a malformed key: each is 32 url-safe base64 bytes"
        ) from None
    return tuple(Secret(key) for key in keys)


REPLICA_MAX_LAG = (0.5, 300.0)


def _replica_url(config: Config, database_url: str) -> str | None:
    """JIGSAW_DATABASE_REPLICA_URL: a PostgreSQL standby of JIGSAW_DATABASE_URL (optional)."""
    raw = config("JIGSAW_DATABASE_REPLICA_URL", default="").strip()
    if not raw:
        return None
    postgres = ("postgres://", "postgresql://", "asyncpg://")
    if not raw.startswith(postgres) or not database_url.startswith(postgres):
        raise SettingsError(
            "JIGSAW_DATABASE_REPLICA_URL must be a postgres:// URL, and JIGSAW_DATABASE_URL"
            " PostgreSQL too (SQLite has no replicas)"
        )
    return raw


def _replica_max_lag(config: Config) -> float:
    """JIGSAW_REPLICA_MAX_LAG_SECONDS: from 0.5 to 300 seconds (default 5)."""
    raw = config("JIGSAW_REPLICA_MAX_LAG_SECONDS", default="5").strip()
    low, high = REPLICA_MAX_LAG
    try:
        seconds = float(raw)
    except ValueError:
        seconds = float("nan")
    if not low <= seconds <= high:  # NaN fails too
        raise SettingsError(
            f"JIGSAW_REPLICA_MAX_LAG_SECONDS must be a number of seconds from {low} to {high:g}"
            f" (got {raw!r})"
        )
    return seconds


def _default_database_url(data_dir: Path) -> str:
    return f"sqlite://{data_dir / 'jigsaw.sqlite3'}"


def load_settings(
    environ: dict[str, str] | None = None,
    *,
    demo: bool | None = None,
    need_secret: bool = True,
) -> Settings:
    """Read settings from the environment; refuse the demo secret unless in demo mode
    and refuse missing MFA keys, unless in demo mode or `need_secret=False` (commands such
    as `jigsaw audit verify` use neither)."""
    config = Config(environ=environ if environ is not None else dict(os.environ))
    data_dir = Path(config("JIGSAW_DATA_DIR", default=".data")).resolve()
    is_demo = demo if demo is not None else config("JIGSAW_DEMO", cast=bool, default=False)
    secret = Secret(config("JIGSAW_SECRET_KEY", default=DEMO_SECRET))
    if str(secret) == DEMO_SECRET and not is_demo and need_secret:
        raise SettingsError(
            "JIGSAW_SECRET_KEY must be set (a long random string) outside demo mode"
        )
    origins = config("JIGSAW_ALLOWED_ORIGINS", default="")
    oidc = _oidc(config)
    database_url = config("JIGSAW_DATABASE_URL", default=_default_database_url(data_dir))
    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        secret_key=secret,
        demo=is_demo,
        https=config("JIGSAW_HTTPS", cast=bool, default=False),
        allowed_origins=tuple(o.strip().rstrip("/") for o in origins.split(",") if o.strip()),
        session_idle=timedelta(minutes=config("JIGSAW_SESSION_IDLE_MINUTES", cast=int, default=30)),
        session_absolute=timedelta(
            hours=config("JIGSAW_SESSION_ABSOLUTE_HOURS", cast=int, default=12)
        ),
        event_retention=timedelta(days=config("JIGSAW_EVENT_RETENTION_DAYS", cast=int, default=30)),
        break_glass=_break_glass(config),
        trusted_proxies=_trusted_proxies(config),
        audit_signing_key=Secret(config("JIGSAW_AUDIT_SIGNING_KEY", default="")),
        audit_checkpoint_file=_optional_path(config("JIGSAW_AUDIT_CHECKPOINT_FILE", default="")),
        mfa_keys=_mfa_keys(config, is_demo or not need_secret),
        oidc=oidc,
        local_passwords=_local_passwords(config, with_provider=oidc is not None),
        database_replica_url=_replica_url(config, database_url),
        replica_max_lag=_replica_max_lag(config),
    )


def _optional_path(raw: str) -> Path | None:
    return Path(raw).expanduser().resolve() if raw.strip() else None


def _words(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _check_issuer(issuer: str) -> str:
    parts = urlsplit(issuer)
    plain_http_ok = parts.scheme == "http" and parts.hostname in LOOPBACK
    if parts.scheme != "https" and not plain_http_ok:
        raise SettingsError(
            f"JIGSAW_OIDC_ISSUER must be an https URL (plain http only on loopback; got {issuer!r})"
        )
    return issuer.rstrip("/")


def _oidc(config: Config) -> OidcSettings | None:
    """The provider, when JIGSAW_OIDC_ISSUER is set (it then needs a client id)."""
    issuer = config("JIGSAW_OIDC_ISSUER", default="").strip()
    if not issuer:
        return None
    client_id = config("JIGSAW_OIDC_CLIENT_ID", default="").strip()
    if not client_id:
        raise SettingsError("JIGSAW_OIDC_CLIENT_ID must be set when JIGSAW_OIDC_ISSUER is")
    return OidcSettings(
        issuer=_check_issuer(issuer),
        client_id=client_id,
        client_secret=Secret(config("JIGSAW_OIDC_CLIENT_SECRET", default="")),
        name=config("JIGSAW_OIDC_NAME", default="").strip() or "your organisation",
        mfa_amr=_words(config("JIGSAW_OIDC_MFA_AMR", default=",".join(DEFAULT_MFA_AMR))),
        mfa_acr=_words(config("JIGSAW_OIDC_MFA_ACR", default="")),
        redirect_uri=config("JIGSAW_OIDC_REDIRECT_URI", default="").strip(),
    )


def _local_passwords(config: Config, with_provider: bool) -> LocalPasswords:
    """JIGSAW_LOCAL_PASSWORDS: all (default), admins or none; fewer than all needs a provider."""
    raw = config("JIGSAW_LOCAL_PASSWORDS", default="all").strip().lower()
    try:
        chosen = LocalPasswords(raw)
    except ValueError:
        raise SettingsError(
            f"JIGSAW_LOCAL_PASSWORDS must be all, admins or none (got {raw!r})"
        ) from None
    if chosen != LocalPasswords.ALL and not with_provider:
        raise SettingsError(
            "JIGSAW_LOCAL_PASSWORDS other than all needs JIGSAW_OIDC_ISSUER: nobody could sign in"
        )
    return chosen
