"""The signing key: from the environment in production, generated once and kept on a laptop."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from core.settings import DEV_SECRET_WARNING, Settings, SettingsError

log = logging.getLogger(__name__)


def ensure_secret_key(settings: Settings) -> Settings:
    """Return settings with a secret key, creating `<data_dir>/secret` (0600) in development."""
    if settings.secret_key:
        if len(settings.secret_key) < 32:
            raise SettingsError("ACCTKIT_SECRET_KEY must be at least 32 characters long")
        return settings
    if settings.production:
        raise SettingsError("ACCTKIT_ENV=production refuses to start without ACCTKIT_SECRET_KEY")
    path = Path(settings.data_dir) / "secret"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text().strip()
    else:
        key = secrets.token_urlsafe(48)
        with os.fdopen(fd, "w") as f:
            f.write(key + "\n")
    log.warning(DEV_SECRET_WARNING.format(path=path))
    return settings.replace(secret_key=key)
