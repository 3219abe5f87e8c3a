"""ACCTKIT_REFRESH_REUSE_INTERVAL: a refresh token presented again moments after it was spent
(two tabs refreshing at once) gets its successor instead of ending the login; later, or once the
successor was used, reuse ends the login as before. On SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from core import accounts, errors, sessions
from core.clock import FrozenClock
from core.context import Context
from core.settings import Settings, SettingsError

PASSWORD = "rabbit-hole-2026"


@pytest.fixture
def lenient(ctx: Context) -> Context:
    accounts.create_user(ctx, username="alice", email="alice@example.com", password=PASSWORD)
    return dataclasses.replace(ctx, settings=ctx.settings.replace(refresh_reuse_interval=10))


def test_a_second_refresh_within_the_interval_gets_the_same_successor(
    lenient: Context, clock: FrozenClock
) -> None:
    pair = sessions.login(lenient, "alice", PASSWORD)
    first_tab = sessions.refresh(lenient, pair.refresh)
    clock.advance(9)
    second_tab = sessions.refresh(lenient, pair.refresh)
    assert second_tab.refresh == first_tab.refresh  # one token between the two tabs
    assert second_tab.access != first_tab.access
    for access in (first_tab.access, second_tab.access):
        assert sessions.authenticate(lenient, access).login_id is not None
    # The login goes on: its token rotates once more, and the old one is now plain reuse.
    assert sessions.refresh(lenient, second_tab.refresh)
    with pytest.raises(errors.TokenReused):
        sessions.refresh(lenient, pair.refresh)


def test_past_the_interval_reuse_ends_the_login(lenient: Context, clock: FrozenClock) -> None:
    pair = sessions.login(lenient, "alice", PASSWORD)
    rotated = sessions.refresh(lenient, pair.refresh)
    clock.advance(10)
    with pytest.raises(errors.TokenReused):
        sessions.refresh(lenient, pair.refresh)
    with pytest.raises(errors.TokenInvalid):
        sessions.authenticate(lenient, rotated.access)


def test_once_the_successor_was_used_reuse_ends_the_login_even_within_it(
    lenient: Context, clock: FrozenClock
) -> None:
    pair = sessions.login(lenient, "alice", PASSWORD)
    rotated = sessions.refresh(lenient, pair.refresh)
    newest = sessions.refresh(lenient, rotated.refresh)
    clock.advance(1)
    with pytest.raises(errors.TokenReused):
        sessions.refresh(lenient, pair.refresh)
    with pytest.raises(errors.TokenInvalid):
        sessions.refresh(lenient, newest.refresh)


def test_a_revoked_login_stays_revoked_within_the_interval(lenient: Context) -> None:
    pair = sessions.login(lenient, "alice", PASSWORD)
    rotated = sessions.refresh(lenient, pair.refresh)
    sessions.revoke(lenient, rotated.refresh)
    with pytest.raises(errors.TokenInvalid):
        sessions.refresh(lenient, pair.refresh)


def test_two_racing_refreshes_both_succeed_with_one_successor(lenient: Context) -> None:
    pair = sessions.login(lenient, "alice", PASSWORD)
    barrier = threading.Barrier(2)

    def refresh() -> str:
        barrier.wait()
        return sessions.refresh(lenient, pair.refresh).refresh

    with ThreadPoolExecutor(2) as pool:
        results = [f.result() for f in [pool.submit(refresh) for _ in range(2)]]
    assert results[0] == results[1]
    assert [view.current for view in sessions.list_logins(lenient, 1)] == [False]


def test_by_default_the_first_reuse_ends_the_login(ctx: Context) -> None:
    """The contract's behaviour stays the default: the interval is opt-in."""
    assert Settings().refresh_reuse_interval == 0
    accounts.create_user(ctx, username="bob", email="bob@example.com", password=PASSWORD)
    pair = sessions.login(ctx, "bob", PASSWORD)
    sessions.refresh(ctx, pair.refresh)
    with pytest.raises(errors.TokenReused):
        sessions.refresh(ctx, pair.refresh)


@pytest.mark.parametrize(("raw", "value"), [("", 0), ("0", 0), ("10", 10), ("60", 60)])
def test_the_interval_is_read_from_the_environment(raw: str, value: int) -> None:
    env = {"ACCTKIT_REFRESH_REUSE_INTERVAL": raw}
    assert Settings.from_env(env).refresh_reuse_interval == value


@pytest.mark.parametrize("raw", ["61", "-1", "ten"])
def test_an_interval_that_is_a_free_pass_is_refused(raw: str) -> None:
    with pytest.raises(SettingsError, match="ACCTKIT_REFRESH_REUSE_INTERVAL"):
        Settings.from_env({"ACCTKIT_REFRESH_REUSE_INTERVAL": raw})
