"""Logins, refresh rotation with reuse detection, revocation and the token checks."""

from __future__ import annotations

import dataclasses
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest

from core import accounts, db, errors, reset, sessions, signup, tokens
from core.context import Context
from core.models import Login, RefreshToken, User
from core.passwords import Passwords
from core.sessions import Client

PASSWORD = "rabbit-hole-2026"


@pytest.fixture
def alice(ctx: Context) -> int:
    return accounts.create_user(
        ctx, username="Alice", email="Alice@Example.com", password=PASSWORD
    ).id


def test_login_by_username_or_email_any_case(ctx: Context, alice: int) -> None:
    for identifier in ("alice", "ALICE", "alice@example.com", "ALICE@example.COM"):
        pair = sessions.login(ctx, identifier, PASSWORD)
        assert sessions.authenticate(ctx, pair.access).id == alice


def test_unknown_user_and_wrong_password_fail_alike(ctx: Context, alice: int) -> None:
    with pytest.raises(errors.InvalidCredentials) as unknown:
        sessions.login(ctx, "nobody", PASSWORD)
    with pytest.raises(errors.InvalidCredentials) as wrong:
        sessions.login(ctx, "alice", PASSWORD + "x")
    assert unknown.value.detail == wrong.value.detail


def test_claims_are_the_contracts(ctx: Context, alice: int) -> None:
    pair = sessions.login(ctx, "alice", PASSWORD)
    for token, typ, ttl in ((pair.access, "access", 300), (pair.refresh, "refresh", 86400)):
        claims = jwt.decode(token, options={"verify_signature": False})
        assert {"sub", "iat", "exp", "jti", "iss", "aud", "typ"} <= set(claims)
        assert claims["sub"] == str(alice) and claims["typ"] == typ
        assert claims["exp"] - claims["iat"] == ttl
        assert jwt.get_unverified_header(token)["alg"] == "HS256"


def _forge(ctx: Context, token: str, key: str | None = None, alg: str = "HS256", **changes):
    claims = {**jwt.decode(token, options={"verify_signature": False}), **changes}
    return jwt.encode(claims, key if key is not None else ctx.secret, algorithm=alg)


@pytest.mark.parametrize(
    "change",
    [{"iss": "evil"}, {"aud": "other"}, {"typ": "refresh"}, {"sub": "not-a-number"}],
)
def test_tampered_claims_are_refused(ctx: Context, alice: int, change: dict) -> None:
    access = sessions.login(ctx, "alice", PASSWORD).access
    with pytest.raises(errors.TokenInvalid):
        sessions.authenticate(ctx, _forge(ctx, access, **change))


def test_alg_none_and_wrong_key_are_refused(ctx: Context, alice: int) -> None:
    access = sessions.login(ctx, "alice", PASSWORD).access
    unsigned = _forge(ctx, access, key="", alg="none")
    with pytest.raises(errors.TokenInvalid):
        sessions.authenticate(ctx, unsigned)
    with pytest.raises(errors.TokenInvalid):
        sessions.authenticate(ctx, _forge(ctx, access, key="another-secret-of-32-characters!!"))


def test_access_token_expires_by_the_injected_clock(ctx: Context, alice: int, clock) -> None:
    access = sessions.login(ctx, "alice", PASSWORD).access
    clock.advance(299)
    sessions.authenticate(ctx, access)
    clock.advance(1)
    with pytest.raises(errors.TokenInvalid, match="expired"):
        sessions.authenticate(ctx, access)


def test_refresh_rotates_and_reuse_revokes_the_whole_login(ctx: Context, alice: int) -> None:
    first = sessions.login(ctx, "alice", PASSWORD)
    other_login = sessions.login(ctx, "alice", PASSWORD)
    second = sessions.refresh(ctx, first.refresh)
    third = sessions.refresh(ctx, second.refresh)
    with pytest.raises(errors.TokenReused):
        sessions.refresh(ctx, first.refresh)  # replayed: the family dies
    with pytest.raises(errors.TokenInvalid):
        sessions.refresh(ctx, third.refresh)
    assert sessions.refresh(ctx, other_login.refresh)  # another login is untouched
    with db.connection():
        family = RefreshToken.select().where(RefreshToken.revoked_at.is_null(False))
        assert family.count() == 3


def test_two_racing_refreshes_exactly_one_succeeds(ctx: Context, alice: int) -> None:
    pair = sessions.login(ctx, "alice", PASSWORD)
    barrier = threading.Barrier(2)

    def refresh() -> str:
        barrier.wait()
        try:
            sessions.refresh(ctx, pair.refresh)
            return "ok"
        except errors.AccountError as exc:
            return exc.code

    with ThreadPoolExecutor(2) as pool:
        results = sorted(f.result() for f in [pool.submit(refresh) for _ in range(2)])
    assert results == ["ok", "token_reused"]


def test_revoke_logs_out_one_login(ctx: Context, alice: int) -> None:
    pair = sessions.login(ctx, "alice", PASSWORD)
    sessions.revoke(ctx, pair.refresh)
    with pytest.raises(errors.TokenInvalid):
        sessions.refresh(ctx, pair.refresh)
    with pytest.raises(errors.TokenInvalid):
        sessions.revoke(ctx, pair.refresh)


def test_logout_all_kills_access_and_refresh_tokens_at_once(ctx: Context, alice: int) -> None:
    a = sessions.login(ctx, "alice", PASSWORD)
    b = sessions.login(ctx, "alice", PASSWORD)
    sessions.logout_all(ctx, alice)
    for pair in (a, b):
        with pytest.raises(errors.TokenInvalid):
            sessions.authenticate(ctx, pair.access)
        with pytest.raises(errors.TokenInvalid):
            sessions.refresh(ctx, pair.refresh)
    assert sessions.authenticate(ctx, sessions.login(ctx, "alice", PASSWORD).access)


def test_verify_accepts_live_tokens_and_refuses_spent_ones(ctx: Context, alice: int) -> None:
    pair = sessions.login(ctx, "alice", PASSWORD)
    sessions.verify(ctx, pair.access)
    sessions.verify(ctx, pair.refresh)
    sessions.refresh(ctx, pair.refresh)
    with pytest.raises(errors.TokenInvalid):
        sessions.verify(ctx, pair.refresh)
    with pytest.raises(errors.TokenInvalid):
        sessions.verify(ctx, "not.a.jwt")


def test_older_argon2_parameters_are_upgraded_at_login(ctx: Context, alice: int) -> None:
    stronger = ctx.settings.replace(argon2_time_cost=2, argon2_memory_kib=16)
    upgraded = dataclasses.replace(ctx, settings=stronger, passwords=Passwords(stronger))
    with db.connection():
        before = User.get_by_id(alice).password_hash
    assert "t=1" in before and "m=8," in before
    sessions.login(upgraded, "alice", PASSWORD)
    with db.connection():
        after = User.get_by_id(alice).password_hash
    assert "t=2" in after and "m=16," in after and after.startswith("$argon2id$")
    sessions.login(upgraded, "alice", PASSWORD)  # the new hash verifies


def test_failed_logins_lock_the_account_for_a_while(ctx: Context, alice: int, clock) -> None:
    for _ in range(10):
        with pytest.raises(errors.InvalidCredentials):
            sessions.login(ctx, "alice", "wrong-password-1")
    with pytest.raises(errors.TooManyAttempts) as info:
        sessions.login(ctx, "alice", PASSWORD)
    assert info.value.extra["retry_after"] > 0
    clock.advance(info.value.extra["retry_after"])
    assert sessions.login(ctx, "alice", PASSWORD)


def test_rate_limits_can_be_turned_off(ctx: Context, alice: int) -> None:
    off = dataclasses.replace(ctx, settings=ctx.settings.replace(ratelimit=False))
    for _ in range(15):
        with pytest.raises(errors.InvalidCredentials):
            sessions.login(off, "alice", "wrong-password-1")
    assert sessions.login(off, "alice", PASSWORD)


def test_token_decode_rejects_garbage_types(ctx: Context) -> None:
    for junk in ("", "a.b.c", "x" * 50):
        with pytest.raises(errors.TokenInvalid):
            tokens.decode(ctx, junk)


def _dead(ctx: Context, access: str) -> bool:
    try:
        sessions.authenticate(ctx, access)
    except errors.TokenInvalid:
        return True
    return False


def test_revoking_a_login_kills_its_access_token_at_once(ctx: Context, alice: int) -> None:
    mine, other = sessions.login(ctx, "alice", PASSWORD), sessions.login(ctx, "alice", PASSWORD)
    sessions.revoke(ctx, mine.refresh)
    assert _dead(ctx, mine.access)
    assert not _dead(ctx, other.access)


def test_refresh_reuse_kills_every_access_token_of_the_login(ctx: Context, alice: int) -> None:
    first = sessions.login(ctx, "alice", PASSWORD)
    other = sessions.login(ctx, "alice", PASSWORD)
    second = sessions.refresh(ctx, first.refresh)
    with pytest.raises(errors.TokenReused):
        sessions.refresh(ctx, first.refresh)
    assert _dead(ctx, first.access) and _dead(ctx, second.access)
    with pytest.raises(errors.TokenInvalid):
        sessions.verify(ctx, second.access)
    assert not _dead(ctx, other.access)


def test_ending_a_login_kills_its_tokens_and_only_the_owner_can(ctx: Context, alice: int) -> None:
    bob = accounts.create_user(ctx, username="bob", email="bob@example.com", password=PASSWORD)
    mine = sessions.login(ctx, "alice", PASSWORD)
    phone = sessions.login(ctx, "alice", PASSWORD)
    bobs = sessions.login(ctx, "bob", PASSWORD)
    phone_id = sessions.authenticate(ctx, phone.access).login_id
    bobs_id = sessions.authenticate(ctx, bobs.access).login_id
    assert phone_id and bobs_id
    for user_id, login_id in ((alice, bobs_id), (alice, "no-such-login"), (bob.id, phone_id)):
        with pytest.raises(errors.SessionNotFound):
            sessions.end_login(ctx, user_id, login_id)
    sessions.end_login(ctx, alice, phone_id)
    assert _dead(ctx, phone.access)
    with pytest.raises(errors.TokenInvalid):
        sessions.refresh(ctx, phone.refresh)
    with pytest.raises(errors.SessionNotFound):
        sessions.end_login(ctx, alice, phone_id)
    assert not _dead(ctx, mine.access) and not _dead(ctx, bobs.access)


def test_logins_are_listed_with_where_they_came_from(ctx: Context, alice: int, clock) -> None:
    laptop = sessions.login(
        ctx, "alice", PASSWORD, client=Client(ip="192.0.2.7", user_agent="curl/8.5\x00\udc80")
    )
    clock.advance(60)
    phone = sessions.login(ctx, "alice", PASSWORD, client=Client(ip="2001:db8::1"))
    clock.advance(60)
    gone = sessions.login(ctx, "alice", PASSWORD)
    sessions.revoke(ctx, gone.refresh)
    me = sessions.authenticate(ctx, laptop.access).login_id
    views = sessions.list_logins(ctx, alice, me)
    assert [(v.ip, v.user_agent, v.current) for v in views] == [
        ("2001:db8::1", None, False),
        ("192.0.2.7", "curl/8.5", True),
    ]
    clock.advance(30)
    sessions.refresh(ctx, laptop.refresh)  # a refresh is a use; an access-token check is not
    sessions.authenticate(ctx, phone.access)
    views = sessions.list_logins(ctx, alice, me)
    assert [v.id for v in views] == [me, sessions.authenticate(ctx, phone.access).login_id]
    assert views[0].last_used_at == clock.now() and views[0].created_at < views[0].last_used_at
    assert views[1].last_used_at == views[1].created_at
    clock.advance(86400)  # every refresh token has lapsed: nothing is live
    assert sessions.list_logins(ctx, alice, me) == []


def test_authenticate_is_one_read_and_writes_nothing(
    ctx: Context, alice: int, caplog: pytest.LogCaptureFixture
) -> None:
    pair = sessions.login(ctx, "alice", PASSWORD)
    with db.connection():
        before = [(r.id, r.last_used_at) for r in Login.select()]
    with caplog.at_level(logging.DEBUG, logger="peewee"):
        sessions.authenticate(ctx, pair.access)
    queries = [r.getMessage() for r in caplog.records if r.name == "peewee"]
    assert len(queries) == 1, queries
    assert "SELECT" in queries[0] and '"login"' in queries[0]
    with db.connection():
        assert [(r.id, r.last_used_at) for r in Login.select()] == before


def test_access_tokens_from_before_logins_keep_the_version_rule(ctx: Context, alice: int) -> None:
    """Minted by the previous release: no `fam` claim, so no login to check, only the version."""
    legacy, _ = tokens.encode(ctx, typ="access", user_id=alice, token_version=0, jti="old")
    assert sessions.authenticate(ctx, legacy).login_id is None
    sessions.logout_all(ctx, alice)
    assert _dead(ctx, legacy)


@pytest.mark.parametrize("bad", ["a\x00b", "\x00", "a b", "é", "x" * 44, ""])
def test_what_is_no_id_of_ours_is_not_found_without_a_lookup(
    ctx: Context, alice: int, bad: str
) -> None:
    """PostgreSQL refuses a NUL in a query outright (a 500 from DELETE /api/me/sessions/a%00b/);
    a string that cannot be an id acctkit issued is simply not found, on both databases."""
    with pytest.raises(errors.SessionNotFound):
        sessions.end_login(ctx, alice, bad)
    with pytest.raises(errors.SignupNotFound):
        signup.verify(ctx, bad, "123456")
    with pytest.raises(errors.InvalidCredentials):
        sessions.login(ctx, f"alice{bad}" if bad else "\x00", PASSWORD)


def test_a_login_checking_a_password_that_changes_meanwhile_is_refused(
    ctx: Context, alice: int
) -> None:
    """The owner changes a stolen password while a login with it is being checked (argon2
    takes tens of milliseconds). That login used to go on and get tokens of the new token
    version, which the change had just revoked everything below. The re-authenticating flows
    already compared the hash under the row lock; the login now does too."""
    new = "frumious-bandersnatch"

    class ChangedMidway(Passwords):
        def verify(self, password_hash: str, password: str) -> bool:
            checked = super().verify(password_hash, password)
            reset.change_password(ctx, alice, 0, PASSWORD, new)  # the owner, meanwhile
            return checked

    thief = dataclasses.replace(ctx, passwords=ChangedMidway(ctx.settings))
    with pytest.raises(errors.InvalidCredentials):
        sessions.login(thief, "alice", PASSWORD)
    with pytest.raises(errors.InvalidCredentials):
        sessions.login(ctx, "alice", PASSWORD)
    assert sessions.login(ctx, "alice", new).access
