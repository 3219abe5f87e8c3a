"""What every service function needs besides its arguments: settings, the clock, randomness and
the password hasher. Injected, so tests move time and pick codes without patching anything."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Protocol

from core.clock import Clock, SystemClock
from core.passwords import Passwords
from core.settings import Settings


class Randomness(Protocol):
    def randbelow(self, exclusive_upper_bound: int) -> int: ...

    def token_urlsafe(self, nbytes: int | None = None) -> str: ...


@dataclass(frozen=True)
class Context:
    settings: Settings
    passwords: Passwords
    clock: Clock = field(default_factory=SystemClock)
    random: Randomness = field(default=secrets)  # type: ignore[assignment]

    @classmethod
    def create(cls, settings: Settings, *, clock: Clock | None = None) -> Context:
        settings.require_secret()
        return cls(settings=settings, passwords=Passwords(settings), clock=clock or SystemClock())

    @property
    def secret(self) -> bytes:
        return self.settings.require_secret().encode()
