"""The batched /me read: one statement for many tokens, each token judged exactly as the single
read judges it, on both backends."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import accounts, authentication, db, errors, profile, sessions, tokens
from core.clock import FrozenClock
from core.context import Context
from core.models import User
from core.users import UserView

PASSWORD = "rabbit-hole-2026"


def _user(ctx: Context, name: str) -> int:
    email = f"{name}@example.com"
    return accounts.create_user(ctx, username=name, email=email, password=PASSWORD).id


def _single(ctx: Context, token: str) -> object:
    try:
        return authentication.me_by_token(ctx, token)
    except errors.AccountError as exc:
        return (type(exc), exc.detail)


def _batched(ctx: Context, batch: list[str]) -> list[object]:
    answers = authentication.me_by_tokens(ctx, batch)
    return [a if not isinstance(a, Exception) else (type(a), a.detail) for a in answers]


def test_every_token_gets_the_single_reads_answer(ctx: Context, clock: FrozenClock) -> None:
    alice, bob, carol, dave = (_user(ctx, n) for n in ("alice", "bob", "carol", "dave"))
    a1 = sessions.login(ctx, "alice", PASSWORD)
    a2 = sessions.login(ctx, "alice", PASSWORD)
    b1 = sessions.login(ctx, "bob", PASSWORD)
    c1 = sessions.login(ctx, "carol", PASSWORD)
    d1 = sessions.login(ctx, "dave", PASSWORD)
    legacy, _ = tokens.encode(ctx, typ="access", user_id=bob, token_version=0, jti="old")
    stale, _ = tokens.encode(ctx, typ="access", user_id=alice, token_version=0, jti="x")
    bobs_login = sessions.authenticate(ctx, b1.access).login_id
    borrowed, _ = tokens.encode(  # alice's id with bob's login: the login is not hers
        ctx, typ="access", user_id=alice, token_version=0, jti="y", family=bobs_login
    )
    nowhere, _ = tokens.encode(  # a login that never existed
        ctx, typ="access", user_id=alice, token_version=0, jti="z", family="no-such-login"
    )
    sessions.revoke(ctx, a2.refresh)  # a2's login ended: its access token dies with it
    sessions.logout_all(ctx, carol)  # carol's version moved on: c1 dies, and so would `stale`
    profile.delete_account(ctx, dave, PASSWORD)  # dave is gone
    clock.advance(1)
    batch = [
        a1.access,
        a2.access,
        b1.access,
        legacy,
        c1.access,
        d1.access,
        a1.refresh,  # wrong type
        "not-a-token",
        a1.access,  # the same token twice in one batch
        stale,
        borrowed,
        nowhere,
    ]
    answers = _batched(ctx, batch)
    assert answers == [_single(ctx, token) for token in batch]
    ok = [a for a in answers if isinstance(a, UserView)]
    assert [view.id for view in ok] == [alice, bob, bob, alice, alice]
    refused = [a for a in answers if not isinstance(a, UserView)]
    assert {kind for kind, _ in refused} == {errors.TokenInvalid}  # type: ignore[misc]
    assert len(refused) == 7
    assert _batched(ctx, ["", "junk"]) == [_single(ctx, ""), _single(ctx, "junk")]  # no read


def test_a_revocation_is_seen_by_the_next_batch(ctx: Context) -> None:
    _user(ctx, "alice")
    pair = sessions.login(ctx, "alice", PASSWORD)
    assert isinstance(authentication.me_by_tokens(ctx, [pair.access])[0], UserView)
    sessions.revoke(ctx, pair.refresh)
    (answer,) = authentication.me_by_tokens(ctx, [pair.access])
    assert isinstance(answer, errors.TokenInvalid)


def test_a_batch_has_a_limit(ctx: Context) -> None:
    _user(ctx, "alice")
    access = sessions.login(ctx, "alice", PASSWORD).access
    full = authentication.me_by_tokens(ctx, [access] * authentication.BATCH_LIMIT)
    assert all(isinstance(a, UserView) for a in full)
    with pytest.raises(ValueError):
        authentication.me_by_tokens(ctx, [access] * (authentication.BATCH_LIMIT + 1))


_TOKENISH = st.one_of(
    st.text(max_size=30),
    st.from_regex(
        r"[A-Za-z0-9_\-]{0,24}\.[A-Za-z0-9_\-]{0,48}\.[A-Za-z0-9_\-]{0,24}", fullmatch=True
    ),
    st.builds(
        lambda header, body: f"{header}.{body}.",
        st.sampled_from(["eyJhbGciOiJub25lIn0", "eyJhbGciOiJIUzI1NiIsImtpZCI6IngifQ", "e30"]),
        st.sampled_from(["e30", "eyJzdWIiOiIxIn0", "bnVsbA", "W10"]),
    ),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(junk=st.lists(_TOKENISH, max_size=6), position=st.integers(0, 6))
def test_junk_beside_a_good_token_changes_nothing(
    ctx: Context, junk: list[str], position: int
) -> None:
    """Whatever a client sends as a token, its answer is the single read's, and a good token in
    the same batch still gets its view."""
    with db.connection():
        known = User.select().where(User.username == "alice").exists()
    if not known:
        _user(ctx, "alice")
    good = sessions.login(ctx, "alice", PASSWORD).access
    batch = [*junk]
    batch.insert(min(position, len(batch)), good)
    answers = _batched(ctx, batch)
    assert answers == [_single(ctx, token) for token in batch]
    assert any(isinstance(a, UserView) for a in answers)
