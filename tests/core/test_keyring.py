"""Token keys: HKDF separation, RFC 7638 kids, PEM loading, rotation, and refusing what it must."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from core import errors, keyring, sessions
from core.context import Context
from core.secret import ensure_secret_key
from core.settings import Settings, SettingsError
from tests.conftest import make_settings

SECRET = "test-secret-" + "x" * 40


def write_pem(path: Path, private: object) -> str:
    path.write_bytes(
        private.private_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(path)


def ed_key(tmp_path: Path, name: str) -> str:
    return write_pem(tmp_path / f"{name}.pem", ed25519.Ed25519PrivateKey.generate())


@pytest.mark.parametrize("alg", ["EdDSA", "RS256"])
def test_kid_is_the_rfc_7638_thumbprint_as_joserfc_computes_it(tmp_path: Path, alg: str) -> None:
    from joserfc.jwk import KeySet

    private = (
        ed25519.Ed25519PrivateKey.generate()
        if alg == "EdDSA"
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    ring = keyring.load(SECRET, alg, (write_pem(tmp_path / "k.pem", private),))
    published = ring.jwks()["keys"][0]  # type: ignore[index]
    assert KeySet.import_key_set({"keys": [published]}).keys[0].thumbprint() == published["kid"]
    assert "d" not in published and "p" not in published  # public members only
    assert published["use"] == "sig" and published["alg"] == alg


def test_code_key_and_token_key_are_independent() -> None:
    ring = keyring.load(SECRET, "HS256", ())
    code = keyring.code_key(SECRET)
    assert len(code) == 32 and len(ring.signer.signing) == 32
    assert code != ring.signer.signing
    assert SECRET.encode() not in (code, ring.signer.signing)
    assert keyring.code_key(SECRET + "y") != code


def test_eddsa_tokens_carry_the_kid_of_the_first_key(ctx: Context, tmp_path: Path) -> None:
    first, second = ed_key(tmp_path, "a"), ed_key(tmp_path, "b")
    settings = ctx.settings.replace(jwt_algorithm="EdDSA", jwt_private_keys=(first, second))
    ed = Context.create(settings, clock=ctx.clock)
    token, _ = _access(ed)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA"
    assert header["kid"] == ed.keys.keys[0].kid != ed.keys.keys[1].kid
    public = [k["x"] for k in ed.keys.jwks()["keys"]]  # type: ignore[index]
    assert len(public) == 2
    verifying = ed.keys.keys[0].verifying
    options = {"verify_exp": False}
    assert jwt.decode(token, verifying, ["EdDSA"], audience="acctkit", options=options)["jti"]


def _access(ctx: Context) -> tuple[str, object]:
    from core import tokens

    return tokens.encode(ctx, typ="access", user_id=1, token_version=0, jti="j1")


def test_rotation_old_tokens_verify_until_their_key_is_dropped(
    ctx: Context, tmp_path: Path
) -> None:
    from core import tokens

    old, new = ed_key(tmp_path, "old"), ed_key(tmp_path, "new")
    before = Context.create(
        ctx.settings.replace(jwt_algorithm="EdDSA", jwt_private_keys=(old,)), clock=ctx.clock
    )
    old_token, _ = _access(before)
    rotated = Context.create(before.settings.replace(jwt_private_keys=(new, old)), clock=ctx.clock)
    assert tokens.decode(rotated, old_token).user_id == 1
    new_token, _ = _access(rotated)
    assert jwt.get_unverified_header(new_token)["kid"] == rotated.keys.keys[0].kid
    assert (
        jwt.get_unverified_header(new_token)["kid"] != jwt.get_unverified_header(old_token)["kid"]
    )
    after = Context.create(rotated.settings.replace(jwt_private_keys=(new,)), clock=ctx.clock)
    assert tokens.decode(after, new_token).user_id == 1
    with pytest.raises(errors.TokenInvalid, match="unknown key"):
        tokens.decode(after, old_token)


def test_algorithm_is_pinned_to_the_key_the_kid_names(ctx: Context, tmp_path: Path) -> None:
    """The classic confusion: an HS256 token keyed with the public key, naming the EdDSA kid."""
    from core import tokens

    ed = Context.create(
        ctx.settings.replace(jwt_algorithm="EdDSA", jwt_private_keys=(ed_key(tmp_path, "k"),)),
        clock=ctx.clock,
    )
    good, _ = _access(ed)
    claims = jwt.decode(good, options={"verify_signature": False})
    public = ed.keys.signer.verifying.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    kid = ed.keys.signer.kid
    hs = jwt.encode(claims, public, algorithm="HS256", headers={"kid": kid})
    with pytest.raises(errors.TokenInvalid):
        tokens.decode(ed, hs)
    none = jwt.encode(claims, None, algorithm="none", headers={"kid": kid})
    with pytest.raises(errors.TokenInvalid):
        tokens.decode(ed, none)
    with pytest.raises(errors.TokenInvalid, match="unknown key"):
        tokens.decode(ctx, good)  # an HS256 service does not know the EdDSA kid


def test_hs256_tokens_from_before_kids_still_verify(ctx: Context) -> None:
    """Tokens issued before the upgrade have no kid and were keyed with the raw secret."""
    from core import tokens

    token, _ = _access(ctx)
    claims = jwt.decode(token, options={"verify_signature": False})
    legacy = jwt.encode(claims, ctx.secret, algorithm="HS256")
    assert tokens.decode(ctx, legacy).user_id == 1
    with pytest.raises(errors.TokenInvalid):
        tokens.decode(ctx, jwt.encode(claims, ctx.keys.signer.signing, algorithm="HS256"))


@pytest.mark.parametrize(
    ("make", "alg", "message"),
    [
        (lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), "EdDSA", "RSA"),
        (lambda: ed25519.Ed25519PrivateKey.generate(), "RS256", "Ed25519"),
        (lambda: ec.generate_private_key(ec.SECP256R1()), "EdDSA", "type EC;"),
        (lambda: rsa.generate_private_key(public_exponent=65537, key_size=1024), "RS256", "2048"),
    ],
)
def test_wrong_keys_are_refused_with_the_file_named(tmp_path: Path, make, alg, message) -> None:
    path = write_pem(tmp_path / "k.pem", make())
    with pytest.raises(SettingsError, match=message) as exc:
        keyring.load(SECRET, alg, (path,))
    assert "k.pem" in str(exc.value)


def test_unreadable_and_garbage_key_files(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read"):
        keyring.load(SECRET, "EdDSA", (str(tmp_path / "missing.pem"),))
    (tmp_path / "junk.pem").write_text("not a key")
    with pytest.raises(SettingsError, match="not an unencrypted PEM"):
        keyring.load(SECRET, "EdDSA", (str(tmp_path / "junk.pem"),))
    same = ed_key(tmp_path, "same")
    with pytest.raises(SettingsError, match="twice"):
        keyring.load(SECRET, "EdDSA", (same, same))


def test_production_refuses_asymmetric_without_keys(tmp_path: Path) -> None:
    settings = Settings(
        env="production", secret_key=SECRET, jwt_algorithm="EdDSA", data_dir=str(tmp_path)
    )
    with pytest.raises(SettingsError, match="ACCTKIT_JWT_PRIVATE_KEYS") as exc:
        ensure_secret_key(settings)
    assert "openssl genpkey" in str(exc.value)
    assert not list(tmp_path.iterdir())


def test_development_generates_one_key_and_keeps_it(tmp_path: Path) -> None:
    settings = Settings(secret_key=SECRET, jwt_algorithm="EdDSA", data_dir=str(tmp_path))
    first = ensure_secret_key(settings)
    second = ensure_secret_key(settings)
    assert first.jwt_private_keys == second.jwt_private_keys == (str(tmp_path / "jwt-eddsa.pem"),)
    assert stat.S_IMODE(os.stat(first.jwt_private_keys[0]).st_mode) == 0o600
    assert keyring.load(SECRET, "EdDSA", first.jwt_private_keys).signer.algorithm == "EdDSA"


def test_settings_read_algorithm_keys_and_origins() -> None:
    s = Settings.from_env(
        {
            "ACCTKIT_JWT_ALG": "eddsa",
            "ACCTKIT_JWT_PRIVATE_KEYS": " /k/new.pem, /k/old.pem ,",
            "ACCTKIT_CORS_ORIGINS": "https://App.example.com/, http://localhost:5173",
        }
    )
    assert s.jwt_algorithm == "EdDSA"
    assert s.jwt_private_keys == ("/k/new.pem", "/k/old.pem")
    assert s.cors_origins == ("https://app.example.com", "http://localhost:5173")
    assert Settings.from_env({}).jwt_algorithm == "HS256"
    with pytest.raises(SettingsError, match="ACCTKIT_JWT_ALG"):
        Settings.from_env({"ACCTKIT_JWT_ALG": "ES256"})
    with pytest.raises(SettingsError, match="ACCTKIT_CORS_ORIGINS"):
        Settings.from_env({"ACCTKIT_CORS_ORIGINS": "*"})


def test_sessions_work_end_to_end_with_rs256(ctx: Context, tmp_path: Path) -> None:
    from core import accounts

    key = write_pem(
        tmp_path / "rsa.pem", rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    rs = Context.create(
        make_settings(ctx.settings.database_url, jwt_algorithm="RS256", jwt_private_keys=(key,)),
        clock=ctx.clock,
    )
    user = accounts.create_user(
        rs, username="rsa", email="rsa@example.com", password="rabbit-hole-2026"
    )
    pair = sessions.login(rs, "rsa", "rabbit-hole-2026")
    assert jwt.get_unverified_header(pair.access)["alg"] == "RS256"
    assert sessions.authenticate(rs, pair.access).id == user.id
    assert sessions.refresh(rs, pair.refresh).access


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
@pytest.mark.parametrize(
    ("alg", "args"),
    [("EdDSA", ["-algorithm", "ed25519"]), ("RS256", ["-algorithm", "RSA"])],
)
def test_the_documented_openssl_command_makes_a_usable_key(
    tmp_path: Path, alg: str, args: list[str]
) -> None:
    path = tmp_path / "jwt.pem"
    subprocess.run(["openssl", "genpkey", *args, "-out", str(path)], check=True, timeout=60)
    ring = keyring.load(SECRET, alg, (str(path),))
    token = jwt.encode({"sub": "1"}, ring.signer.signing, alg, {"kid": ring.signer.kid})
    assert jwt.decode(token, ring.verifier(token).verifying, [alg]) == {"sub": "1"}


def test_the_header_to_key_memory_is_exact_and_bounded() -> None:
    """verifier() remembers the key each header segment names; a forged header is never taken for
    a known one, and headers crafted to differ fill the memory to its bound and no further."""
    ring = keyring.KeyRing("HS256", keyring.load(SECRET, "HS256", ()).keys)
    kid = ring.signer.kid

    def token(**header: object) -> str:
        return jwt.encode({"sub": "1"}, ring.signer.signing, algorithm="HS256", headers=header)

    genuine = token(kid=kid)
    assert ring.verifier(genuine) is ring.signer
    assert ring.verifier(genuine) is ring.signer  # remembered, same answer
    with pytest.raises(errors.TokenInvalid, match="unknown key"):
        ring.verifier(token(kid="someone-else"))
    with pytest.raises(errors.TokenInvalid, match="unknown key"):
        ring.verifier(token(kid="someone-else"))  # refusals are never remembered as keys
    for n in range(200):
        assert ring.verifier(token(kid=kid, n=n)) is ring.signer
    assert len(ring._by_header) == keyring._REMEMBERED_HEADERS
