"""The public token keys, so another service can check acctkit's tokens without any secret."""

from __future__ import annotations

from aiohttp import web

from core import errors
from server.keys import CONTEXT
from server.render import json_response

# Verifiers refetch after this long: a key added at the end of ACCTKIT_JWT_PRIVATE_KEYS is
# published at once, so it is known everywhere before it moves to the front and starts signing.
JWKS_MAX_AGE = 300


async def jwks(request: web.Request) -> web.Response:
    key_set = request.app[CONTEXT].keys.jwks()
    if key_set is None:
        raise errors.NoPublicKeys()
    return json_response(
        key_set,
        headers={"Cache-Control": f"public, max-age={JWKS_MAX_AGE}"},
    )
