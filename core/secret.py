"""The secret key and the token signing keys: from the environment in production, generated once
and kept on a laptop."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from core import keyring
from core.settings import DEV_SECRET_WARNING, Settings, SettingsError

log = logging.getLogger(__name__)


def ensure_secret_key(settings: Settings) -> Settings:
    """Return settings with a secret key, creating `<data_dir>/secret` (0600) in development,
    and with signing keys when the token algorithm needs them (see `ensure_signing_keys`), all
    loaded once here so a bad key file stops every command at start, not at the first login."""
    settings = ensure_signing_keys(_with_secret_key(settings))
    keyring.load(settings.require_secret(), settings.jwt_algorithm, settings.jwt_private_keys)
    return settings


def ensure_signing_keys(settings: Settings) -> Settings:
    """EdDSA and RS256 need ACCTKIT_JWT_PRIVATE_KEYS; in development one key is generated once
    into `<data_dir>/jwt-<alg>.pem` (0600), in production the service refuses to start."""
    if settings.jwt_algorithm == "HS256" or settings.jwt_private_keys:
        return settings
    if settings.production:
        raise SettingsError(
            f"ACCTKIT_ENV=production with ACCTKIT_JWT_ALG={settings.jwt_algorithm} refuses to "
            "start without ACCTKIT_JWT_PRIVATE_KEYS (comma-separated PEM files; make one with "
            "`openssl genpkey -algorithm ed25519 -out jwt.pem`)"
        )
    path = Path(settings.data_dir) / f"jwt-{settings.jwt_algorithm.lower()}.pem"
    _create_once(path, lambda: keyring.generate_pem(settings.jwt_algorithm).decode())
    log.warning(
        "ACCTKIT_JWT_PRIVATE_KEYS is not set: signing %s tokens with a development key kept in %s.",
        settings.jwt_algorithm,
        path,
    )
    return settings.replace(jwt_private_keys=(str(path),))


def _create_once(path: Path, make: Callable[[], str]) -> str:
    """The content of `path`, written with mode 0600 by whoever gets there first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text()
    content = make()
    with os.fdopen(fd, "w") as f:
        f.write(content)
    return content


def _with_secret_key(settings: Settings) -> Settings:
    if settings.secret_key:
        if len(settings.secret_key) < 32:
            raise SettingsError("ACCTKIT_SECRET_KEY must be at least 32 characters long")
        return settings
    if settings.production:
        raise SettingsError("ACCTKIT_ENV=production refuses to start without ACCTKIT_SECRET_KEY")
    path = Path(settings.data_dir) / "secret"
    key = _create_once(path, lambda: secrets.token_urlsafe(48) + "\n").strip()
    log.warning(DEV_SECRET_WARNING.format(path=path))
    return settings.replace(secret_key=key)
