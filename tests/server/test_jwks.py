"""Public-key tokens over HTTP: the JWK Set, verification by another JOSE library from that set
alone, rotation across a restart, and the 404 when tokens are signed with a shared secret."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from joserfc import jwt as jose_jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from tests.conftest import Inbox
from tests.server.support import bearer, log_in, problem, sign_up


def pem(path: Path, alg: str) -> str:
    private: Any = (
        ed25519.Ed25519PrivateKey.generate()
        if alg == "EdDSA"
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    path.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(path)


@pytest.mark.parametrize("path", ["/.well-known/jwks.json", "/.well-known/jwks.json/"])
async def test_hs256_has_no_public_keys(client, path: str) -> None:
    body = await problem(await client.get(path), 404, "no_public_keys")
    assert "HS256" in body["detail"]


# joserfc warns that RFC 9864 prefers "Ed25519" to "EdDSA"; the contract names EdDSA.
@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")
@pytest.mark.parametrize("alg", ["EdDSA", "RS256"])
async def test_another_jose_library_verifies_tokens_from_the_jwks_alone(
    make_client, inbox: Inbox, tmp_path: Path, alg: str
) -> None:
    client = await make_client(jwt_algorithm=alg, jwt_private_keys=(pem(tmp_path / "k.pem", alg),))
    account = await sign_up(client, inbox)
    for path in ("/.well-known/jwks.json", "/.well-known/jwks.json/"):
        resp = await client.get(path)
        assert resp.status == 200
        assert resp.headers["Cache-Control"] == "public, max-age=300"
        key_set = await resp.json()
    (published,) = key_set["keys"]
    assert published["use"] == "sig" and published["alg"] == alg and published["kid"]
    assert {"crv", "x"} <= set(published) if alg == "EdDSA" else {"n", "e"} <= set(published)
    assert not {"d", "p", "q"} & set(published)

    keys = KeySet.import_key_set(key_set)
    registry = JWSRegistry(algorithms=[alg])
    for token, typ in ((account.access, "access"), (account.refresh, "refresh")):
        verified = jose_jwt.decode(token, keys, algorithms=[alg], registry=registry)
        assert verified.header["kid"] == published["kid"]
        assert verified.claims["sub"] == str(account.id) and verified.claims["typ"] == typ
    tampered = account.access[:-4] + ("AAAA" if not account.access.endswith("AAAA") else "BBBB")
    with pytest.raises(BadSignatureError):
        jose_jwt.decode(tampered, keys, algorithms=[alg], registry=registry)
    assert (await client.get("/api/me/", headers=account.auth)).status == 200


async def test_rotation_across_a_restart(make_client, inbox: Inbox, tmp_path: Path) -> None:
    old, new = pem(tmp_path / "old.pem", "EdDSA"), pem(tmp_path / "new.pem", "EdDSA")
    before = await make_client(jwt_algorithm="EdDSA", jwt_private_keys=(old,))
    account = await sign_up(before, inbox)
    old_kid = jwt.get_unverified_header(account.access)["kid"]
    await before.close()

    rotated = await make_client(jwt_algorithm="EdDSA", jwt_private_keys=(new, old))
    assert (await rotated.get("/api/me/", headers=account.auth)).status == 200
    resp = await rotated.post("/api/token/refresh/", json={"refresh": account.refresh})
    assert resp.status == 200, await resp.text()
    fresh = await log_in(rotated, account)
    new_kid = jwt.get_unverified_header(fresh.access)["kid"]
    assert new_kid != old_kid
    assert jwt.get_unverified_header((await resp.json())["access"])["kid"] == new_kid
    kids = [k["kid"] for k in (await (await rotated.get("/.well-known/jwks.json")).json())["keys"]]
    assert kids == [new_kid, old_kid]
    await rotated.close()

    after = await make_client(jwt_algorithm="EdDSA", jwt_private_keys=(new,))
    assert (await after.get("/api/me/", headers=fresh.auth)).status == 200
    resp = await after.get("/api/me/", headers=account.auth)
    body = await problem(resp, 401, "token_invalid")
    assert "unknown key" in body["detail"]
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_token_with_an_unknown_kid_is_401(make_client, tmp_path: Path) -> None:
    client = await make_client(
        jwt_algorithm="EdDSA", jwt_private_keys=(pem(tmp_path / "k.pem", "EdDSA"),)
    )
    stranger = ed25519.Ed25519PrivateKey.generate()
    claims = {"sub": "1", "iat": 0, "exp": 2**40, "jti": "x", "iss": "acctkit", "aud": "acctkit"}
    token = jwt.encode({**claims, "typ": "access", "ver": 0}, stranger, "EdDSA", {"kid": "nope"})
    await problem(await client.get("/api/me/", headers=bearer(token)), 401, "token_invalid")
    resp = await client.post("/api/token/verify/", json={"token": token})
    await problem(resp, 401, "token_invalid")
