"""A validly signed token is still outside input: odd claim values are a 401, never a crash."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from core import accounts, errors, sessions, tokens
from core.context import Context

PASSWORD = "rabbit-hole-2026"
# JSON can carry each of these; none is a NumericDate this service ever signs.
BAD_TIMES: list[Any] = [
    1e20,
    -1e20,
    10**20,
    -(10**20),
    -1,
    1767268800.5,
    float("inf"),
    float("nan"),
    "1767268800",
    True,
    False,
    None,
    [1767268800],
    {"t": 1},
]


@pytest.fixture
def access(ctx: Context) -> str:
    accounts.create_user(ctx, username="alice", email="alice@example.com", password=PASSWORD)
    return sessions.login(ctx, "alice", PASSWORD).access


def _forge(ctx: Context, token: str, **changes: Any) -> str:
    claims = {**jwt.decode(token, options={"verify_signature": False}), **changes}
    return jwt.encode(claims, ctx.secret, algorithm="HS256")


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
@pytest.mark.parametrize("value", BAD_TIMES, ids=repr)
def test_time_claims_out_of_range_are_token_invalid(
    ctx: Context, access: str, claim: str, value: Any
) -> None:
    forged = _forge(ctx, access, **{claim: value})
    with pytest.raises(errors.TokenInvalid):
        tokens.decode(ctx, forged)
    with pytest.raises(errors.TokenInvalid):
        sessions.authenticate(ctx, forged)


@pytest.mark.parametrize(
    "change",
    [
        {"sub": "9" * 25},
        {"sub": "0"},
        {"sub": "-3"},
        {"sub": "١٢"},  # Arabic-Indic digits: isdigit() but not ours
        {"sub": 1},
        {"ver": 2**40},
        {"ver": -1},
        {"ver": True},
        {"jti": "\ud800"},
        {"jti": 7},
        {"fam": "x" * 65},
        {"fam": ["a"]},
        {"typ": ["access"]},
    ],
    ids=repr,
)
def test_other_malformed_claims_are_token_invalid(ctx: Context, access: str, change: dict) -> None:
    with pytest.raises(errors.TokenInvalid):
        sessions.authenticate(ctx, _forge(ctx, access, **change))


def test_nbf_is_checked_by_the_injected_clock(ctx: Context, access: str, clock) -> None:
    now = int(clock.now().timestamp())
    with pytest.raises(errors.TokenInvalid, match="not valid yet"):
        sessions.authenticate(ctx, _forge(ctx, access, nbf=now + 60))
    assert sessions.authenticate(ctx, _forge(ctx, access, nbf=now)).id


def test_a_remembered_signature_never_outlives_expiry_or_revocation(
    ctx: Context, access: str, clock
) -> None:
    """Verified signatures are remembered (tokens._verified); expiry and revocation are not."""
    alice = sessions.authenticate(ctx, access).id
    assert sessions.authenticate(ctx, access).id == alice  # remembered now
    assert tokens._verified.cache_info().hits >= 1
    forged = _forge(ctx, access, sub="999")  # same header, other claims, our old-secret key
    tampered = access[:-4] + ("AAAA" if not access.endswith("AAAA") else "BBBB")
    with pytest.raises(errors.TokenInvalid):
        sessions.authenticate(ctx, tampered)
    with pytest.raises(errors.TokenInvalid):
        sessions.authenticate(ctx, forged)  # a signature for no such user
    with pytest.raises(errors.TokenInvalid):
        sessions.authenticate(ctx, tampered)  # a refusal was not remembered as a pass

    sessions.logout_all(ctx, alice)
    with pytest.raises(errors.TokenInvalid):
        sessions.authenticate(ctx, access)  # revoked: the database says so on every request

    fresh = sessions.login(ctx, "alice", PASSWORD).access
    assert sessions.authenticate(ctx, fresh).id == alice
    clock.advance(ctx.settings.access_ttl)
    with pytest.raises(errors.TokenInvalid, match="expired"):
        sessions.authenticate(ctx, fresh)  # expired: the clock says so on every request


def test_issuer_and_audience_come_from_the_settings(ctx: Context, access: str, clock) -> None:
    """A deployment names its own `iss` and `aud` (ACCTKIT_JWT_ISSUER, ACCTKIT_JWT_AUDIENCE):
    its tokens carry them, and a token of another issuer or audience is refused, even one
    verified (and remembered) a moment before under the old names."""
    assert sessions.authenticate(ctx, access).id  # verified and remembered as acctkit's
    shop = Context.create(
        ctx.settings.replace(jwt_issuer="https://acct.example.com", jwt_audience="shop"),
        clock=clock,
    )
    with pytest.raises(errors.TokenInvalid):
        sessions.authenticate(shop, access)
    own = sessions.login(shop, "alice", PASSWORD).access
    claims = jwt.decode(own, options={"verify_signature": False})
    assert (claims["iss"], claims["aud"]) == ("https://acct.example.com", "shop")
    assert sessions.authenticate(shop, own).id
    with pytest.raises(errors.TokenInvalid):
        sessions.authenticate(ctx, own)
