"""Ended records are deleted after the retention, and nothing anyone can still use is touched
(core/retention.py), on SQLite and PostgreSQL with the injected clock."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import pytest

from core import (
    accounts,
    db,
    email_change,
    errors,
    profile,
    ratelimit,
    reset,
    retention,
    schema,
    sessions,
    signup,
)
from core.clock import FrozenClock
from core.context import Context
from core.db import connection
from core.models import (
    Code,
    EmailChange,
    Login,
    PasswordReset,
    RateLimit,
    RefreshToken,
    Signup,
)
from tests.conftest import FixedCodes, make_settings
from tests.core.test_reset import uid_from_outbox
from tests.locks import until_waiting

PASSWORD = "rabbit-hole-2026"
DAY = 86400


def counts() -> dict[str, int]:
    with connection():
        return {
            model.__name__: model.select().count()
            for model in (RefreshToken, Login, Signup, EmailChange, PasswordReset, Code, RateLimit)
        }


@pytest.fixture
def alice(ctx: Context) -> int:
    return accounts.create_user(
        ctx, username="alice", email="alice@example.com", password=PASSWORD
    ).id


def test_nothing_that_has_not_ended_is_deleted(ctx: Context, clock: FrozenClock, alice) -> None:
    pair = sessions.login(ctx, "alice", PASSWORD)
    sessions.refresh(ctx, pair.refresh)
    started = signup.start(ctx, _request("bob"))
    reset.request(ctx, "alice@example.com")
    with connection():
        ratelimit.hit(ctx, ratelimit.SIGNUP_PER_IP, "192.0.2.1")
    before = counts()
    assert retention.purge(ctx).total == 0
    assert counts() == before
    assert started.signup_id and before["RefreshToken"] == 2 and before["Code"] == 1


def test_a_login_goes_once_its_tokens_have_expired_and_the_retention_passed(
    ctx: Context, clock: FrozenClock, alice
) -> None:
    old = sessions.login(ctx, "alice", PASSWORD)
    sessions.refresh(ctx, old.refresh)  # one spent token and one live one in the family
    clock.advance(ctx.settings.refresh_ttl + ctx.settings.record_retention - 60)
    fresh = sessions.login(ctx, "alice", PASSWORD)
    assert retention.purge(ctx).total == 0  # expired, but not for the whole retention yet

    clock.advance(120)
    purged = retention.purge(ctx)
    assert (purged.refresh_tokens, purged.logins) == (2, 1)
    with connection():
        assert [row.id for row in Login.select()] == [
            sessions.authenticate(ctx, fresh.access).login_id
        ]
    # The login begun since is untouched: its tokens work, and it is the one listed.
    assert sessions.refresh(ctx, fresh.refresh).access
    assert [view.id for view in sessions.list_logins(ctx, alice)] == [
        sessions.authenticate(ctx, fresh.access).login_id
    ]


def test_a_spent_token_is_kept_until_it_expires_so_its_reuse_is_still_caught(
    ctx: Context, clock: FrozenClock, alice
) -> None:
    first = sessions.login(ctx, "alice", PASSWORD)
    second = sessions.refresh(ctx, first.refresh)
    clock.advance(ctx.settings.refresh_ttl - 60)
    assert retention.purge(ctx).total == 0
    with pytest.raises(errors.TokenReused):
        sessions.refresh(ctx, first.refresh)  # reuse: the whole login is revoked
    with pytest.raises(errors.TokenInvalid):
        sessions.refresh(ctx, second.refresh)


def test_a_login_stays_while_an_access_token_of_it_may_still_be_used(
    ctx: Context, clock: FrozenClock, alice
) -> None:
    """An access token names its login, and one whose login is gone is refused: so a login
    goes only after its last access token expired, even with an access TTL longer than the
    refresh TTL and no retention at all."""
    settings = ctx.settings.replace(refresh_ttl=60, access_ttl=600, record_retention=0)
    short = dataclasses.replace(ctx, settings=settings)
    pair = sessions.login(short, "alice", PASSWORD)
    clock.advance(61)
    purged = retention.purge(short)
    assert (purged.refresh_tokens, purged.logins) == (1, 0)
    assert sessions.authenticate(short, pair.access).id == alice
    clock.advance(540)
    assert retention.purge(short).logins == 1
    with pytest.raises(errors.TokenInvalid):
        sessions.authenticate(short, pair.access)


def test_a_signup_and_its_codes_go_after_expiry_and_retention(ctx: Context, clock) -> None:
    old = signup.start(dataclasses.replace(ctx, random=FixedCodes(111111)), _request("bob"))
    clock.advance(signup.SIGNUP_TTL.total_seconds() + ctx.settings.record_retention + 1)
    new = signup.start(dataclasses.replace(ctx, random=FixedCodes(222222)), _request("carol"))
    purged = retention.purge(ctx)
    assert (purged.signups, purged.codes, purged.total) == (1, 1, 2)
    with connection():
        assert [row.id for row in Signup.select()] == [new.signup_id]
        assert [row.ref for row in Code.select()] == [new.signup_id]
    with pytest.raises(errors.SignupNotFound):
        signup.verify(ctx, old.signup_id, "111111")
    assert signup.verify(ctx, new.signup_id, "222222").user.username == "carol"


def test_a_verified_signup_goes_too_and_the_account_stays(ctx: Context, clock) -> None:
    started = signup.start(dataclasses.replace(ctx, random=FixedCodes(333333)), _request("dora"))
    user = signup.verify(ctx, started.signup_id, "333333").user
    clock.advance(signup.SIGNUP_TTL.total_seconds() + ctx.settings.record_retention + 1)
    assert retention.purge(ctx).signups == 1  # its copy of the password hash goes with it
    assert sessions.login(ctx, "dora", PASSWORD) and sessions.me(ctx, user.id).username == "dora"


def test_an_email_change_and_its_codes_go_after_expiry_and_retention(
    ctx: Context, clock: FrozenClock, alice
) -> None:
    email_change.request(
        dataclasses.replace(ctx, random=FixedCodes(444444)), alice, "new@example.com", PASSWORD
    )
    clock.advance(email_change.CHANGE_TTL.total_seconds() + ctx.settings.record_retention + 1)
    purged = retention.purge(ctx)
    assert (purged.email_changes, purged.codes) == (1, 1)
    assert counts()["EmailChange"] == 0 and counts()["Code"] == 0


def test_a_reset_link_says_expired_through_the_retention_then_is_unknown(
    ctx: Context, clock: FrozenClock, alice
) -> None:
    reset.request(ctx, "alice@example.com")
    uid = uid_from_outbox()
    clock.advance(ctx.settings.reset_ttl + ctx.settings.record_retention - 1)
    assert retention.purge(ctx).password_resets == 0
    with pytest.raises(errors.ResetExpired):
        reset.confirm(ctx, uid, "new-password-123", "new-password-123")
    clock.advance(2)
    assert retention.purge(ctx).password_resets == 1
    with pytest.raises(errors.ResetInvalid):
        reset.confirm(ctx, uid, "new-password-123", "new-password-123")


def test_a_rate_limit_row_goes_only_once_it_limits_nothing(ctx: Context, clock) -> None:
    limit = ratelimit.RESET_PER_EMAIL  # 3 per 900 s
    with connection():
        for _ in range(3):
            assert ratelimit.hit(ctx, limit, "busy@example.com") is None
        assert ratelimit.hit(ctx, limit, "busy@example.com") is not None  # exhausted
        ratelimit.hit(ctx, limit, "quiet@example.com")
        clock.advance(limit.period + ctx.settings.record_retention + 1)
        ratelimit.hit(ctx, limit, "busy@example.com")  # used again: its row is current
    assert retention.purge(ctx).rate_limits == 1
    with connection():
        assert [row.key for row in RateLimit.select()] == ["reset-email:busy@example.com"]


def test_an_exhausted_limit_is_never_purged_while_it_holds(ctx: Context, clock) -> None:
    """With no retention at all, a row still goes only after its arrival time: until then it
    is what refuses the next request."""
    bare = dataclasses.replace(ctx, settings=ctx.settings.replace(record_retention=0))
    limit = ratelimit.RESET_PER_EMAIL
    with connection():
        for _ in range(4):
            ratelimit.hit(bare, limit, "busy@example.com")
    clock.advance(1)
    assert retention.purge(bare).rate_limits == 0
    with connection():
        assert ratelimit.hit(bare, limit, "busy@example.com") is not None


def test_purge_deletes_in_batches_until_nothing_is_left(
    ctx: Context, clock: FrozenClock, alice
) -> None:
    _ended_logins(ctx, clock, 7)
    purged = retention.purge(ctx, batch=3)
    assert (purged.refresh_tokens, purged.logins) == (7, 7)
    assert counts()["Login"] == 0 and counts()["RefreshToken"] == 0
    assert str(purged) == "7 refresh tokens, 7 logins"


def test_instances_purging_at_once_delete_each_row_once(
    ctx: Context, clock: FrozenClock, alice
) -> None:
    """Every instance's sender purges; on PostgreSQL each skips the rows another holds."""
    _ended_logins(ctx, clock, 40)
    barrier = threading.Barrier(3)

    def purge() -> retention.Purged:
        barrier.wait()
        return retention.purge(ctx, batch=4)

    with ThreadPoolExecutor(3) as pool:
        results = [f.result() for f in [pool.submit(purge) for _ in range(3)]]
    left = counts()
    # A pass that meets only rows another holds ends early; the next hour's pass takes the rest.
    retention.purge(ctx)
    assert sum(r.refresh_tokens for r in results) == 40 - left["RefreshToken"]
    assert counts()["RefreshToken"] == 0 and counts()["Login"] == 0


@pytest.mark.postgres
def test_a_purge_racing_the_deletion_of_an_account_is_not_a_deadlock(
    postgres_url: str, clock: FrozenClock
) -> None:
    """The purge locks the ended signups of a batch, then deletes their codes; deleting an
    account deleted its signup's codes, then the signup (which the purge held): PostgreSQL
    failed one of them. Lined up behind a held code of another signup in the purge's batch, one
    that comes first in the purge's delete: the purge waits there holding both signups, then
    the deletion comes."""
    application = f"acctkit-{uuid.uuid4().hex[:12]}"
    db.open_database(f"{postgres_url}&application_name={application}")
    try:
        schema.migrate()
        ctx = Context.create(make_settings(postgres_url), clock=clock)
        other = signup.start(ctx, _request("erin")).signup_id
        first = "-" * 22  # before any other id, in the index as in the table
        with connection():
            Signup.update(id=first).where(Signup.id == other).execute()
            Code.update(ref=first).where(Code.ref == other).execute()
        started = signup.start(
            dataclasses.replace(ctx, random=FixedCodes(333333)), _request("dora")
        )
        dora = signup.verify(ctx, started.signup_id, "333333").user.id
        clock.advance(signup.SIGNUP_TTL.total_seconds() + ctx.settings.record_retention + 1)
        holder = psycopg2.connect(postgres_url)
        with ThreadPoolExecutor(2) as pool:
            try:
                holder.cursor().execute("SELECT id FROM code WHERE ref = %s FOR UPDATE", (first,))
                purging = pool.submit(retention.purge, ctx)
                until_waiting(application, 1)
                deleting = pool.submit(profile.delete_account, ctx, dora, PASSWORD)
                until_waiting(application, 2)
            finally:
                holder.rollback()
                holder.close()
            purged, deleted = purging.result(), deleting.result()
        assert (purged.signups, purged.codes, deleted) == (2, 2, None)
        assert counts()["Signup"] == 0 and counts()["Code"] == 0
    finally:
        db.close_database()


def _request(username: str) -> signup.SignupRequest:
    return signup.SignupRequest(
        first_name=username.title(),
        last_name="Example",
        username=username,
        email=f"{username}@example.com",
        password=PASSWORD,
    )


def _ended_logins(ctx: Context, clock: FrozenClock, count: int) -> None:
    """`count` logins of alice, then the clock past their tokens' expiry and the retention."""
    for _ in range(count):
        sessions.login(ctx, "alice", PASSWORD)
    clock.advance(ctx.settings.refresh_ttl + ctx.settings.record_retention + 1)
