"""JWT access and refresh tokens (SimpleJWT's claim set), signed with the key ring's first key
(HS256, EdDSA or RS256, named by `kid`) and decoded with the algorithm pinned to the key the `kid`
names. Expiry is checked against the injected clock, not the machine's."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import jwt

from core import errors
from core.context import Context
from core.keyring import SigningKey

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TokenType = Literal["access", "refresh"]
REQUIRED_CLAIMS = ["sub", "iat", "exp", "jti", "iss", "aud", "typ", "ver"]


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str


@dataclass(frozen=True)
class Claims:
    user_id: int
    typ: TokenType
    jti: str
    issued_at: datetime
    expires_at: datetime
    token_version: int
    family: str | None


def encode(
    ctx: Context,
    *,
    typ: TokenType,
    user_id: int,
    token_version: int,
    jti: str,
    family: str | None = None,
    not_after: datetime | None = None,
    issued: tuple[datetime, datetime] | None = None,
) -> tuple[str, datetime]:
    """Sign a token that expires after its type's TTL, or at `not_after` if that comes first.
    With `issued` (issued at, expires at), sign again a token issued before: same claims."""
    if issued is not None:
        now, expires_at = issued
    else:
        now = ctx.clock.now()
        ttl = ctx.settings.access_ttl if typ == "access" else ctx.settings.refresh_ttl
        expires_at = now + timedelta(seconds=ttl)
    if not_after is not None:
        expires_at = min(expires_at, not_after)
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
        "jti": jti,
        "iss": ctx.settings.jwt_issuer,
        "aud": ctx.settings.jwt_audience,
        "typ": typ,
        "ver": token_version,
    }
    if family is not None:
        claims["fam"] = family
    key = ctx.keys.signer
    token = jwt.encode(claims, key.signing, algorithm=key.algorithm, headers={"kid": key.kid})
    return token, expires_at


def decode(ctx: Context, token: str, typ: TokenType | None = None) -> Claims:
    """Verify signature, algorithm, issuer, audience, type and expiry, or raise TokenInvalid."""
    if not isinstance(token, str) or not token:
        raise errors.TokenInvalid("Token is missing.")
    if not token.isascii():  # a compact JWS is base64url and dots; a header's stray byte is not
        raise errors.TokenInvalid("Token is malformed.")
    key = _Verifier(ctx.keys.verifier(token))
    try:
        claims, not_before = _verified(
            token, key, ctx.settings.jwt_audience, ctx.settings.jwt_issuer
        )
    except jwt.PyJWTError as exc:
        raise errors.TokenInvalid(f"Token is invalid: {exc}.") from None
    if claims.typ not in ("access", "refresh") or (typ is not None and claims.typ != typ):
        raise errors.TokenInvalid(f"Token has wrong type: expected {typ}.")
    now = ctx.clock.now()
    if not_before is not None and now < not_before:
        raise errors.TokenInvalid("Token is not valid yet.")
    if now >= claims.expires_at:
        raise errors.TokenInvalid("Token is expired.")
    return claims


VERIFIED_TOKENS = 4096
"""How many verified tokens' payloads a process remembers (a few MB at most)."""


class _Verifier:
    """A key as a cache key: its kid, algorithm and, for a shared secret, the secret itself (the
    kid-less legacy key has no kid of its own). SigningKey is not hashable (its JWK is a dict)."""

    __slots__ = ("identity", "key")

    def __init__(self, key: SigningKey) -> None:
        self.key = key
        material = key.verifying if isinstance(key.verifying, bytes) else None
        self.identity = (key.kid, key.algorithm, material)

    def __hash__(self) -> int:
        return hash(self.identity)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Verifier) and other.identity == self.identity


@functools.lru_cache(maxsize=VERIFIED_TOKENS)
def _verified(
    token: str, verifier: _Verifier, audience: str, issuer: str
) -> tuple[Claims, datetime | None]:
    """The claims (and `nbf`) of a token whose signature, algorithm, issuer and audience check
    out, and whose claims are well formed.

    A client sends the same access token for its whole life, and a token's signature is as
    valid on its 1000th request as on its first: verifying it again was a third of GET
    /api/me/'s CPU. So the answer is remembered (at most VERIFIED_TOKENS), keyed by the token,
    the key that verified it, the audience and the issuer. Refusals raise and are never
    remembered, so junk tokens cannot evict anything. Only what the token itself says is
    remembered: expiry and type are checked against the clock, and every revocation check
    (token version, login ended, account deleted) against the database, on every request."""
    key = verifier.key
    payload = jwt.decode(
        token,
        key.verifying,
        algorithms=[key.algorithm],
        audience=audience,
        issuer=issuer,
        options={
            "require": REQUIRED_CLAIMS,
            "verify_exp": False,
            "verify_iat": False,
            "verify_nbf": False,
        },
    )
    return _claims(payload), _time(payload, "nbf") if "nbf" in payload else None


# A signed token is still outside input: a claim of the wrong type or size must be a 401, never
# an OverflowError from datetime or an integer too large for the database.
_MAX_TIME = 253402300799  # 9999-12-31T23:59:59Z, the last second a datetime can hold
_MAX_ID = 2**63 - 1
_MAX_VERSION = 2**31 - 1


def _int(payload: dict[str, Any], name: str, high: int) -> int:
    value = payload[name]
    if type(value) is not int or not 0 <= value <= high:  # bool and float are not claims we sign
        raise errors.TokenInvalid(f"Token claim {name!r} is malformed.")
    return value


def _time(payload: dict[str, Any], name: str) -> datetime:
    return EPOCH + timedelta(seconds=_int(payload, name, _MAX_TIME))


def _str(payload: dict[str, Any], name: str) -> str:
    value = payload[name]
    if not isinstance(value, str) or not 0 < len(value) <= 64 or not value.isascii():
        raise errors.TokenInvalid(f"Token claim {name!r} is malformed.")
    return value


def _claims(payload: dict[str, Any]) -> Claims:
    sub = payload["sub"]
    if not isinstance(sub, str) or not sub.isascii() or not sub.isdigit() or len(sub) > 19:
        raise errors.TokenInvalid("Token claim 'sub' is malformed.")
    user_id = int(sub)
    if not 0 < user_id <= _MAX_ID:
        raise errors.TokenInvalid("Token claim 'sub' is malformed.")
    return Claims(
        user_id=user_id,
        typ=payload["typ"],
        jti=_str(payload, "jti"),
        issued_at=_time(payload, "iat"),
        expires_at=_time(payload, "exp"),
        token_version=_int(payload, "ver", _MAX_VERSION),
        family=_str(payload, "fam") if "fam" in payload else None,
    )
