from __future__ import annotations

import os
import stat

import pytest

from core.secret import ensure_secret_key
from core.settings import Settings, SettingsError


def test_defaults_match_the_contract() -> None:
    s = Settings.from_env({})
    assert s.database_url == "sqlite:///.acctkit/acctkit.db"
    assert s.smtp_url == "smtp://127.0.0.1:1025"
    assert (s.access_ttl, s.refresh_ttl, s.code_ttl, s.reset_ttl) == (300, 86400, 600, 300)
    assert (s.argon2_time_cost, s.argon2_memory_kib, s.argon2_parallelism) == (2, 19456, 1)
    assert (s.resend_cooldown, s.code_max_attempts, s.password_min_length) == (60, 5, 8)
    assert s.ratelimit and s.avatar_max_bytes == 5242880 and s.trusted_proxies == ()


def test_environment_overrides() -> None:
    s = Settings.from_env(
        {
            "ACCTKIT_DATABASE_URL": "postgresql://u@h:5432/d",
            "ACCTKIT_ACCESS_TTL": "60",
            "ACCTKIT_RATELIMIT": "off",
            "ACCTKIT_TRUSTED_PROXIES": "10.0.0.1, 10.0.0.0/8",
            "ACCTKIT_PUBLIC_URL": "https://acct.example.com/",
            "ACCTKIT_JWT_ISSUER": "https://acct.example.com",
            "ACCTKIT_JWT_AUDIENCE": "shop",
        }
    )
    assert (s.jwt_issuer, s.jwt_audience) == ("https://acct.example.com", "shop")
    blank = Settings.from_env({"ACCTKIT_JWT_ISSUER": " ", "ACCTKIT_JWT_AUDIENCE": ""})
    assert (blank.jwt_issuer, blank.jwt_audience) == ("acctkit", "acctkit")
    assert s.database_url == "postgresql://u@h:5432/d" and s.access_ttl == 60
    assert s.ratelimit is False and s.trusted_proxies == ("10.0.0.1", "10.0.0.0/8")
    assert s.public_url == "https://acct.example.com"


@pytest.mark.parametrize(
    "env",
    [
        {"ACCTKIT_ACCESS_TTL": "soon"},
        {"ACCTKIT_RATELIMIT": "maybe"},
        {"ACCTKIT_CODE_TTL": "0"},
        # Taken as is, a name here made every signup, login and reset a 500 (server.clientip).
        {"ACCTKIT_TRUSTED_PROXIES": "10.0.0.1, proxy.internal"},
    ],
)
def test_bad_values_are_refused_with_the_variable_named(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match=next(iter(env))):
        Settings.from_env(env)


def test_dev_secret_is_generated_once_with_mode_0600(tmp_path) -> None:
    settings = Settings(data_dir=str(tmp_path / "state"))
    first = ensure_secret_key(settings)
    second = ensure_secret_key(settings)
    assert first.secret_key and first.secret_key == second.secret_key
    mode = stat.S_IMODE(os.stat(tmp_path / "state" / "secret").st_mode)
    assert mode == 0o600


def test_production_refuses_to_start_without_a_secret(tmp_path) -> None:
    with pytest.raises(SettingsError, match="production"):
        ensure_secret_key(Settings(env="production", data_dir=str(tmp_path)))
    with pytest.raises(SettingsError, match="32"):
        ensure_secret_key(Settings(env="production", secret_key="short"))
    assert not (tmp_path / "secret").exists()


def test_delivery_and_metrics_settings() -> None:
    d = Settings.from_env({})
    assert d.notice_retry_period == 432000 and d.metrics is False
    assert d.metrics_allow == ("127.0.0.0/8", "::1")
    s = Settings.from_env(
        {
            "ACCTKIT_NOTICE_RETRY_PERIOD": "3600",
            "ACCTKIT_METRICS": "on",
            "ACCTKIT_METRICS_ALLOW": "10.1.2.3, 192.168.0.0/16",
        }
    )
    assert (s.notice_retry_period, s.metrics) == (3600, True)
    assert s.metrics_allow == ("10.1.2.3", "192.168.0.0/16")
    with pytest.raises(SettingsError, match="ACCTKIT_METRICS_ALLOW"):
        Settings.from_env({"ACCTKIT_METRICS_ALLOW": "everyone"})
    with pytest.raises(SettingsError, match="ACCTKIT_NOTICE_RETRY_PERIOD"):
        Settings.from_env({"ACCTKIT_NOTICE_RETRY_PERIOD": "5"})


def test_relay_timeout_and_backoff_cap_settings() -> None:
    d = Settings.from_env({})
    assert (d.smtp_timeout, d.mail_backoff_cap) == (15, 900)
    s = Settings.from_env({"ACCTKIT_SMTP_TIMEOUT": "3", "ACCTKIT_MAIL_BACKOFF_CAP": "60"})
    assert (s.smtp_timeout, s.mail_backoff_cap) == (3, 60)
    with pytest.raises(SettingsError, match="ACCTKIT_SMTP_TIMEOUT"):
        Settings.from_env({"ACCTKIT_SMTP_TIMEOUT": "0"})
    with pytest.raises(SettingsError, match="ACCTKIT_MAIL_BACKOFF_CAP"):
        Settings.from_env({"ACCTKIT_MAIL_BACKOFF_CAP": "soon"})


def test_session_max_age_is_off_by_default_and_a_whole_number_of_seconds() -> None:
    assert Settings.from_env({}).session_max_age == 0
    assert Settings.from_env({"ACCTKIT_SESSION_MAX_AGE": "28800"}).session_max_age == 28800
    with pytest.raises(SettingsError, match="ACCTKIT_SESSION_MAX_AGE"):
        Settings.from_env({"ACCTKIT_SESSION_MAX_AGE": "-1"})
