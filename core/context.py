"""What every service function needs besides its arguments: settings, the clock, randomness and
the password hasher. Injected, so tests move time and pick codes without patching anything."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Protocol

from core import keyring
from core.clock import Clock, SystemClock
from core.passwords import Passwords
from core.settings import Settings


class Randomness(Protocol):
    def randbelow(self, exclusive_upper_bound: int) -> int: ...

    def token_urlsafe(self, nbytes: int | None = None) -> str: ...


_ISSUED_ID = re.compile(r"[A-Za-z0-9_-]{1,43}")


def is_issued_id(value: object) -> bool:
    """Whether `value` looks like an id acctkit hands out (`random.token_urlsafe`: signups,
    logins, email changes). Anything else names nothing, so it is answered "not found" without
    a lookup; PostgreSQL refuses some strings outright (a NUL: a 500 from DELETE
    /api/me/sessions/a%00b/)."""
    return isinstance(value, str) and _ISSUED_ID.fullmatch(value) is not None


@dataclass(frozen=True)
class Context:
    settings: Settings
    passwords: Passwords
    clock: Clock = field(default_factory=SystemClock)
    random: Randomness = field(default=secrets)  # type: ignore[assignment]

    @classmethod
    def create(cls, settings: Settings, *, clock: Clock | None = None) -> Context:
        keyring.load(settings.require_secret(), settings.jwt_algorithm, settings.jwt_private_keys)
        return cls(settings=settings, passwords=Passwords(settings), clock=clock or SystemClock())

    @property
    def secret(self) -> bytes:
        """The raw ACCTKIT_SECRET_KEY. New keys are derived from it (`keys`, `code_key`); used
        directly only for what was keyed with it before the split (kid-less HS256 tokens, codes
        in flight) and for the reset page's CSRF tokens."""
        return self.settings.require_secret().encode()

    @property
    def keys(self) -> keyring.KeyRing:
        """The token keys (loaded once per settings; Context.create loads them up front)."""
        s = self.settings
        return keyring.load(s.require_secret(), s.jwt_algorithm, s.jwt_private_keys)

    @property
    def code_key(self) -> bytes:
        """The HMAC key of codes and reset UIDs, derived apart from the token keys."""
        return keyring.code_key(self.settings.require_secret())
