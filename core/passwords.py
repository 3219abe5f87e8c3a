"""Argon2id hashing with the configured cost, a dummy verification for unknown users, and
rehashing of hashes made with older parameters (argon2-cffi's verify-then-rehash pattern)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from core.settings import Settings

T = TypeVar("T")


class Passwords:
    def __init__(self, settings: Settings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            type=Type.ID,
        )
        # Unknown users are checked against this, so "no such user" costs what a real check costs.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
        self._executor: Executor | None = None

    def run_in(self, executor: Executor | None) -> None:
        """Compute hashes in `executor` while the calling thread waits, or inline (None).

        The server hands it a pool of low-priority threads: then only argon2 itself runs at low
        priority, and the database work of a login around it runs at the normal one."""
        self._executor = executor

    def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            return fn(*args)
        return self._executor.submit(fn, *args).result()

    def hash(self, password: str) -> str:
        return self._run(self._hasher.hash, password)

    def verify(self, password_hash: str, password: str) -> bool:
        return self._run(self._verify, password_hash, password)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def verify_dummy(self, password: str) -> None:
        self.verify(self._dummy_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True
