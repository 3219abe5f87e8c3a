"""JWT access and refresh tokens (SimpleJWT's claim set), signed with HS256 and decoded with the
algorithm pinned. Expiry is checked against the injected clock, not the machine's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import jwt

from core import errors
from core.context import Context

ALGORITHM = "HS256"
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
) -> tuple[str, datetime]:
    now = ctx.clock.now()
    ttl = ctx.settings.access_ttl if typ == "access" else ctx.settings.refresh_ttl
    expires_at = now + timedelta(seconds=ttl)
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
    return jwt.encode(claims, ctx.secret, algorithm=ALGORITHM), expires_at


def decode(ctx: Context, token: str, typ: TokenType | None = None) -> Claims:
    """Verify signature, algorithm, issuer, audience, type and expiry, or raise TokenInvalid."""
    if not isinstance(token, str) or not token:
        raise errors.TokenInvalid("Token is missing.")
    try:
        payload = jwt.decode(
            token,
            ctx.secret,
            algorithms=[ALGORITHM],
            audience=ctx.settings.jwt_audience,
            issuer=ctx.settings.jwt_issuer,
            options={"require": REQUIRED_CLAIMS, "verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError as exc:
        raise errors.TokenInvalid(f"Token is invalid: {exc}.") from None
    try:
        claims = Claims(
            user_id=int(payload["sub"]),
            typ=payload["typ"],
            jti=str(payload["jti"]),
            issued_at=datetime.fromtimestamp(int(payload["iat"]), ctx.clock.now().tzinfo),
            expires_at=datetime.fromtimestamp(int(payload["exp"]), ctx.clock.now().tzinfo),
            token_version=int(payload["ver"]),
            family=payload.get("fam"),
        )
    except (TypeError, ValueError):
        raise errors.TokenInvalid("Token has malformed claims.") from None
    if claims.typ not in ("access", "refresh") or (typ is not None and claims.typ != typ):
        raise errors.TokenInvalid(f"Token has wrong type: expected {typ}.")
    if ctx.clock.now() >= claims.expires_at:
        raise errors.TokenInvalid("Token is expired.")
    return claims
