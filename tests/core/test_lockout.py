"""Failed-login throttling: keyed on the identifier as typed, per address and account-wide, the
same for known and unknown identifiers (SQLite and PostgreSQL)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from core import accounts, db, errors, ratelimit, reset, sessions
from core.clock import FrozenClock
from core.context import Context
from core.models import RateLimit
from core.sessions import Client

PASSWORD = "rabbit-hole-2026"
WRONG = "wrong-password-1"


@pytest.fixture
def alice(ctx: Context) -> int:
    return accounts.create_user(
        ctx, username="Alice", email="alice@example.com", password=PASSWORD
    ).id


def _attempt(ctx: Context, identifier: str, password: str, ip: str) -> tuple[str, int | None]:
    try:
        sessions.login(ctx, identifier, password, client=Client(ip=ip))
    except errors.AccountError as exc:
        return exc.code, exc.extra.get("retry_after")
    return "ok", None


def test_known_and_unknown_identifiers_see_the_same_answers(ctx: Context, alice: int) -> None:
    known = [_attempt(ctx, " ALICE ", WRONG, "198.51.100.1") for _ in range(12)]
    unknown = [_attempt(ctx, "nobody", WRONG, "198.51.100.2") for _ in range(12)]
    assert known == unknown
    assert [code for code, _ in known] == ["invalid_credentials"] * 10 + ["too_many_attempts"] * 2
    # Refused before the password is looked at: the right one is no different.
    assert _attempt(ctx, "alice", PASSWORD, "198.51.100.1") == known[-1]


def test_a_burst_from_one_address_does_not_lock_out_another(ctx: Context, alice: int) -> None:
    for _ in range(10):
        assert _attempt(ctx, "alice", WRONG, "203.0.113.66")[0] == "invalid_credentials"
    assert _attempt(ctx, "alice", PASSWORD, "203.0.113.66")[0] == "too_many_attempts"
    assert _attempt(ctx, "alice", PASSWORD, "192.0.2.10") == ("ok", None)
    # The noisy address stays throttled after the owner's success elsewhere.
    assert _attempt(ctx, "alice", PASSWORD, "203.0.113.66")[0] == "too_many_attempts"


@pytest.mark.parametrize("identifier", ["alice", "nobody"])
def test_at_most_100_consecutive_failures_across_addresses(
    ctx: Context, alice: int, clock: FrozenClock, identifier: str
) -> None:
    for n in range(100):
        assert _attempt(ctx, identifier, WRONG, f"10.1.{n // 10}.1")[0] == "invalid_credentials"
    code, retry = _attempt(ctx, identifier, PASSWORD, "10.2.0.1")
    assert code == "too_many_attempts" and retry is not None and retry > 0
    clock.advance(retry)
    expected = "ok" if identifier == "alice" else "invalid_credentials"
    assert _attempt(ctx, identifier, PASSWORD, "10.2.0.1")[0] == expected


def test_a_success_resets_the_consecutive_count(ctx: Context, alice: int) -> None:
    for n in range(99):
        _attempt(ctx, "alice", WRONG, f"10.3.{n // 9}.1")
    assert _attempt(ctx, "alice", PASSWORD, "10.4.0.1") == ("ok", None)
    # Without the reset the second of these would be failure 101.
    for ip in ("10.5.0.1", "10.5.0.2"):
        assert _attempt(ctx, "alice", WRONG, ip)[0] == "invalid_credentials"


def test_a_new_password_lets_a_locked_out_owner_back_in(ctx: Context, alice: int) -> None:
    signed_in = sessions.login(ctx, "alice", PASSWORD)  # say, on the owner's phone
    for n in range(100):
        _attempt(ctx, "alice@example.com", WRONG, f"10.6.{n // 10}.1")
    assert _attempt(ctx, "alice@example.com", PASSWORD, "10.7.0.1")[0] == "too_many_attempts"
    user = sessions.authenticate(ctx, signed_in.access)
    reset.change_password(ctx, user.id, user.token_version, PASSWORD, "new-" + PASSWORD)
    assert _attempt(ctx, "alice@example.com", "new-" + PASSWORD, "10.7.0.1") == ("ok", None)
    # The counts of single addresses are forgotten too (the owner's own typos among them).
    assert _attempt(ctx, "alice@example.com", "new-" + PASSWORD, "10.6.9.1") == ("ok", None)


def test_guesses_racing_past_the_peek_cannot_overspend_the_budget(ctx: Context, alice: int) -> None:
    """The peek is a plain read, so concurrent guesses all pass it; only one unit is left, and
    each failure must win it in its own write, so exactly one is answered as a wrong password."""
    for _ in range(9):
        _attempt(ctx, "alice", WRONG, "198.51.100.4")
    with ThreadPoolExecutor(6) as pool:
        codes = [
            f.result()[0]
            for f in [
                pool.submit(_attempt, ctx, "alice", f"{WRONG}-{i}", "198.51.100.4")
                for i in range(6)
            ]
        ]
    assert sorted(codes) == ["invalid_credentials"] + ["too_many_attempts"] * 5


def test_a_peek_writes_nothing(ctx: Context) -> None:
    with db.connection():
        assert ratelimit.peek(ctx, ratelimit.LOGIN_FAILURES_PER_IDENTIFIER, "x") is None
        assert (
            ratelimit.hit(ctx, ratelimit.LOGIN_FAILURES_PER_IDENTIFIER, "x", consume=False) is None
        )
        assert RateLimit.select().count() == 0


def test_identifiers_are_not_stored_in_clear(ctx: Context, alice: int) -> None:
    _attempt(ctx, "my-secret-password-typed-here", WRONG, "198.51.100.9")
    with db.connection():
        keys = [row.key for row in RateLimit.select()]
    assert keys and not any("secret" in key for key in keys)
    assert any(key.endswith(":198.51.100.9") for key in keys)
