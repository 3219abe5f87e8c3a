"""How long a login lives, and where the keys that check its tokens come from (SECURITY.md)."""

from __future__ import annotations

import base64
import dataclasses

import jwt
import pytest

from core import accounts, errors, sessions
from core.context import Context

PASSWORD = "rabbit-hole-2026"


@pytest.fixture
def alice(ctx: Context) -> int:
    return accounts.create_user(ctx, username="alice", email="a@example.com", password=PASSWORD).id


def test_a_login_left_unused_for_the_refresh_ttl_is_over(ctx: Context, alice: int, clock) -> None:
    """The inactivity timeout: each refresh moves a login's end one refresh TTL (1 day) ahead;
    a login not refreshed within it cannot come back, and needs the password again."""
    pair = sessions.login(ctx, "alice", PASSWORD)
    clock.advance(86399)
    pair = sessions.refresh(ctx, pair.refresh)  # still inside the day: rotates
    clock.advance(86400)
    with pytest.raises(errors.TokenInvalid, match="expired"):
        sessions.refresh(ctx, pair.refresh)
    assert sessions.list_logins(ctx, alice) == []


def test_without_a_session_lifetime_a_login_refreshed_in_time_goes_on(
    ctx: Context, alice: int, clock
) -> None:
    pair = sessions.login(ctx, "alice", PASSWORD)
    for _ in range(10):  # five days, refreshed twice a day
        clock.advance(43200)
        pair = sessions.refresh(ctx, pair.refresh)
    assert len(sessions.list_logins(ctx, alice)) == 1


def test_a_login_ends_at_the_session_lifetime_however_often_it_refreshes(
    ctx: Context, alice: int, clock
) -> None:
    """GoTrue's timebox: ACCTKIT_SESSION_MAX_AGE bounds a login from its start. No refresh token
    outlives that end, so the login lapses then and needs the password again."""
    ctx = dataclasses.replace(ctx, settings=dataclasses.replace(ctx.settings, session_max_age=3600))
    started = clock.now()
    pair = sessions.login(ctx, "alice", PASSWORD)
    for _ in range(3):
        clock.advance(1000)
        pair = sessions.refresh(ctx, pair.refresh)
    claims = jwt.decode(pair.refresh, options={"verify_signature": False})
    assert claims["exp"] == int(started.timestamp()) + 3600  # not 3000 s + the refresh TTL
    assert len(sessions.list_logins(ctx, alice)) == 1
    clock.advance(600)  # 3,600 s after the login began
    with pytest.raises(errors.TokenInvalid, match="expired"):
        sessions.refresh(ctx, pair.refresh)
    assert sessions.list_logins(ctx, alice) == []
    sessions.login(ctx, "alice", PASSWORD)  # the password begins a new one
    assert len(sessions.list_logins(ctx, alice)) == 1


def test_keys_offered_in_a_tokens_header_are_never_used(ctx: Context, alice: int) -> None:
    """ASVS 9.1.3: the verifying key comes from the configured key ring only. A token signed with
    the attacker's own key, naming that key in `jwk` or `jku` and borrowing the real `kid`, is
    refused."""
    genuine = sessions.login(ctx, "alice", PASSWORD).access
    claims = jwt.decode(genuine, options={"verify_signature": False})
    own_key = b"attacker-key-of-at-least-32-bytes!!"
    jwk = {"kty": "oct", "k": base64.urlsafe_b64encode(own_key).rstrip(b"=").decode()}
    for headers in (
        {"kid": ctx.keys.signer.kid, "jwk": jwk},
        {"kid": ctx.keys.signer.kid, "jku": "https://attacker.example/jwks.json"},
        {"jwk": jwk},
    ):
        forged = jwt.encode(claims, own_key, algorithm="HS256", headers=headers)
        with pytest.raises(errors.TokenInvalid):
            sessions.authenticate(ctx, forged)
    assert sessions.authenticate(ctx, genuine).id == alice


def test_login_and_refresh_ids_are_long_random_values(ctx: Context, alice: int) -> None:
    """ASVS 7.2.3 / 800-63B 7.1: what names a login and a refresh token holds at least 128 bits
    from `secrets` (token_urlsafe: 6 bits a character) and never repeats."""
    pairs = [sessions.login(ctx, "alice", PASSWORD) for _ in range(5)]
    claims = [jwt.decode(p.refresh, options={"verify_signature": False}) for p in pairs]
    families = {c["fam"] for c in claims}
    jtis = {c["jti"] for c in claims}
    assert len(families) == len(jtis) == 5
    assert all(len(f) * 6 >= 128 for f in families)
    assert all(len(j) * 6 >= 128 for j in jtis)
