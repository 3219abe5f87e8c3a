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
        }
    )
    assert s.database_url == "postgresql://u@h:5432/d" and s.access_ttl == 60
    assert s.ratelimit is False and s.trusted_proxies == ("10.0.0.1", "10.0.0.0/8")
    assert s.public_url == "https://acct.example.com"


@pytest.mark.parametrize(
    "env",
    [{"ACCTKIT_ACCESS_TTL": "soon"}, {"ACCTKIT_RATELIMIT": "maybe"}, {"ACCTKIT_CODE_TTL": "0"}],
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
