"""One frozen settings object, read from a mapping so tests never touch os.environ."""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

DEV_SECRET_WARNING = (
    "ACCTKIT_SECRET_KEY is not set: using a development key kept in {path}. "
    "Set ACCTKIT_SECRET_KEY (and ACCTKIT_ENV=production) for any real deployment."
)


class SettingsError(ValueError):
    """A setting has a value the service cannot start with."""


def _int(
    env: Mapping[str, str], name: str, default: int, minimum: int = 0, maximum: int | None = None
) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, not {value}")
    if maximum is not None and value > maximum:
        raise SettingsError(f"{name} must be at most {maximum}, not {value}")
    return value


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "on", "true", "yes"}:
        return True
    if lowered in {"0", "off", "false", "no"}:
        return False
    raise SettingsError(f"{name} must be on or off, not {raw!r}")


def _networks(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    networks = tuple(p.strip() for p in raw.split(",") if p.strip())
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise SettingsError(f"{name}: {network!r} is not an address or network") from None
    return networks


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in env.get(name, "").split(",") if item.strip())


JWT_ALGORITHMS = {"hs256": "HS256", "eddsa": "EdDSA", "rs256": "RS256"}


def _algorithm(raw: str) -> str:
    try:
        return JWT_ALGORITHMS[raw.strip().lower()]
    except KeyError:
        choices = ", ".join(JWT_ALGORITHMS.values())
        raise SettingsError(f"ACCTKIT_JWT_ALG must be one of {choices}, not {raw!r}") from None


def _origin(raw: str) -> str:
    """An origin as browsers send it: scheme://host[:port], no path, no trailing slash."""
    origin = raw.rstrip("/").lower()
    scheme, sep, rest = origin.partition("://")
    if not sep or scheme not in {"http", "https"} or not rest or "/" in rest:
        raise SettingsError(
            f"ACCTKIT_CORS_ORIGINS entries look like https://app.example.com, not {raw!r}"
        )
    return origin


REUSE_INTERVAL_MAX = 60
"""Okta's longest grace period for rotated refresh tokens: past a minute the window is no longer
about two tabs refreshing at once, it is a stolen token's free pass."""


def _reuse_interval(env: Mapping[str, str]) -> int:
    value = _int(env, "ACCTKIT_REFRESH_REUSE_INTERVAL", 0)
    if value > REUSE_INTERVAL_MAX:
        raise SettingsError(
            f"ACCTKIT_REFRESH_REUSE_INTERVAL must be at most {REUSE_INTERVAL_MAX}, not {value}"
        )
    return value


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///.acctkit/acctkit.db"
    secret_key: str | None = None
    env: str = "development"
    data_dir: str = ".acctkit"
    smtp_url: str = "smtp://127.0.0.1:1025"
    mail_from: str = "acctkit <no-reply@localhost>"
    public_url: str = "http://127.0.0.1:8000"
    access_ttl: int = 300
    refresh_ttl: int = 86400
    refresh_reuse_interval: int = 0  # seconds a spent refresh token still gets its successor
    session_max_age: int = 0  # seconds a login may last however often it refreshes; 0: no limit
    code_ttl: int = 600
    reset_ttl: int = 300
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19456
    argon2_parallelism: int = 1
    resend_cooldown: int = 60
    code_max_attempts: int = 5
    password_min_length: int = 8
    ratelimit: bool = True
    avatar_max_bytes: int = 5 * 1024 * 1024
    trusted_proxies: tuple[str, ...] = ()
    notice_retry_period: int = 5 * 86400
    smtp_timeout: int = 15
    mail_backoff_cap: int = 900
    outbox_retention: int = 7 * 86400
    record_retention: int = 7 * 86400  # seconds ended records are kept (core/retention.py)
    metrics: bool = False
    metrics_allow: tuple[str, ...] = ("127.0.0.0/8", "::1")
    metrics_multiprocess_dir: str = ""  # set by `serve --workers N`, never from the environment
    jwt_issuer: str = "acctkit"
    jwt_audience: str = "acctkit"
    jwt_algorithm: str = "HS256"
    jwt_private_keys: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()
    host: str = "127.0.0.1"
    port: int = 8000

    @property
    def production(self) -> bool:
        return self.env == "production"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build settings from ACCTKIT_* variables; unknown or empty ones keep their defaults."""
        d = cls()
        return cls(
            database_url=env.get("ACCTKIT_DATABASE_URL") or d.database_url,
            secret_key=env.get("ACCTKIT_SECRET_KEY") or None,
            env=(env.get("ACCTKIT_ENV") or d.env).strip().lower(),
            data_dir=env.get("ACCTKIT_DATA_DIR") or d.data_dir,
            smtp_url=env.get("ACCTKIT_SMTP_URL") or d.smtp_url,
            mail_from=env.get("ACCTKIT_MAIL_FROM") or d.mail_from,
            public_url=(env.get("ACCTKIT_PUBLIC_URL") or d.public_url).rstrip("/"),
            access_ttl=_int(env, "ACCTKIT_ACCESS_TTL", d.access_ttl, 1),
            refresh_ttl=_int(env, "ACCTKIT_REFRESH_TTL", d.refresh_ttl, 1),
            refresh_reuse_interval=_reuse_interval(env),
            session_max_age=_int(env, "ACCTKIT_SESSION_MAX_AGE", d.session_max_age),
            code_ttl=_int(env, "ACCTKIT_CODE_TTL", d.code_ttl, 1),
            reset_ttl=_int(env, "ACCTKIT_RESET_TTL", d.reset_ttl, 1),
            argon2_time_cost=_int(env, "ACCTKIT_ARGON2_TIME_COST", d.argon2_time_cost, 1),
            argon2_memory_kib=_int(env, "ACCTKIT_ARGON2_MEMORY_KIB", d.argon2_memory_kib, 8),
            argon2_parallelism=_int(env, "ACCTKIT_ARGON2_PARALLELISM", d.argon2_parallelism, 1),
            resend_cooldown=_int(env, "ACCTKIT_RESEND_COOLDOWN", d.resend_cooldown),
            code_max_attempts=_int(env, "ACCTKIT_CODE_MAX_ATTEMPTS", d.code_max_attempts, 1),
            password_min_length=_int(env, "ACCTKIT_PASSWORD_MIN_LENGTH", d.password_min_length, 1),
            ratelimit=_flag(env, "ACCTKIT_RATELIMIT", d.ratelimit),
            avatar_max_bytes=_int(env, "ACCTKIT_AVATAR_MAX_BYTES", d.avatar_max_bytes, 1),
            trusted_proxies=_networks(env, "ACCTKIT_TRUSTED_PROXIES", d.trusted_proxies),
            notice_retry_period=_int(env, "ACCTKIT_NOTICE_RETRY_PERIOD", d.notice_retry_period, 60),
            smtp_timeout=_int(env, "ACCTKIT_SMTP_TIMEOUT", d.smtp_timeout, 1),
            mail_backoff_cap=_int(env, "ACCTKIT_MAIL_BACKOFF_CAP", d.mail_backoff_cap, 1),
            outbox_retention=_int(env, "ACCTKIT_OUTBOX_RETENTION", d.outbox_retention, 60),
            record_retention=_int(env, "ACCTKIT_RECORD_RETENTION", d.record_retention),
            metrics=_flag(env, "ACCTKIT_METRICS", d.metrics),
            metrics_allow=_networks(env, "ACCTKIT_METRICS_ALLOW", d.metrics_allow),
            jwt_algorithm=_algorithm(env.get("ACCTKIT_JWT_ALG") or d.jwt_algorithm),
            jwt_private_keys=_list(env, "ACCTKIT_JWT_PRIVATE_KEYS"),
            jwt_issuer=(env.get("ACCTKIT_JWT_ISSUER") or "").strip() or d.jwt_issuer,
            jwt_audience=(env.get("ACCTKIT_JWT_AUDIENCE") or "").strip() or d.jwt_audience,
            cors_origins=tuple(_origin(o) for o in _list(env, "ACCTKIT_CORS_ORIGINS")),
            host=env.get("ACCTKIT_HOST") or d.host,
            port=_int(env, "ACCTKIT_PORT", d.port, 1, 65535),
        )

    def replace(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def require_secret(self) -> str:
        if not self.secret_key:
            raise SettingsError("no secret key: call core.secret.ensure_secret_key first")
        return self.secret_key
