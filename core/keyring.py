"""The keys that sign and verify tokens, and the key that hashes codes and reset UIDs.

Both come from ACCTKIT_SECRET_KEY through HKDF with distinct labels, so knowing one never gives
the other. With EdDSA or RS256 the tokens are signed with private keys read from PEM files
(ACCTKIT_JWT_PRIVATE_KEYS: the first signs, every one verifies) and anyone can check them with
the public keys alone (`jwks()`), without being able to mint tokens or codes.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed448, ed25519, rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from jwt.algorithms import HMACAlgorithm, OKPAlgorithm, RSAAlgorithm

from core import errors
from core.settings import SettingsError

ALGORITHMS = ("HS256", "EdDSA", "RS256")
RSA_MIN_BITS = 2048
_TOKEN_LABEL = b"acctkit/v1/token-signing"
_CODE_LABEL = b"acctkit/v1/code-and-uid-hmac"


def derive(secret: str, label: bytes) -> bytes:
    """A 256-bit key for one purpose; keys for different labels are independent."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(secret.encode())


def code_key(secret: str) -> bytes:
    return _derived(secret, _CODE_LABEL)


@functools.cache
def _derived(secret: str, label: bytes) -> bytes:
    return derive(secret, label)


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 JWK thumbprint: SHA-256 over the required members, sorted, no whitespace."""
    required = {"OKP": ("crv", "kty", "x"), "RSA": ("e", "kty", "n"), "oct": ("k", "kty")}
    members = {name: jwk[name] for name in required[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    digest = hashlib.sha256(canonical).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class SigningKey:
    kid: str
    algorithm: str
    signing: Any  # bytes (HS256) or a cryptography private key
    verifying: Any  # bytes (HS256) or the matching public key
    public_jwk: dict[str, str] | None  # None for a shared secret: it is never published


_REMEMBERED_HEADERS = 64


@dataclass(frozen=True)
class KeyRing:
    algorithm: str
    keys: tuple[SigningKey, ...]
    legacy: bytes | None = None  # HS256 only: verifies kid-less tokens from before keys had kids

    @property
    def signer(self) -> SigningKey:
        return self.keys[0]

    # The key each header segment names. Every token this ring signs has one of a few headers,
    # so decoding the header again for each request (a sixth of GET /api/me/'s CPU) is waste.
    # Bounded: headers crafted to differ (extra members) stop being remembered, not accepted.
    _by_header: dict[str, SigningKey] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def verifier(self, token: str) -> SigningKey:
        """The key named by the token's `kid`, for the configured algorithm only."""
        segment = token.partition(".")[0]
        known = self._by_header.get(segment)
        if known is not None:
            return known
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise errors.TokenInvalid(f"Token is invalid: {exc}.") from None
        key = self._named(header.get("kid"))
        if len(self._by_header) < _REMEMBERED_HEADERS:
            self._by_header[segment] = key
        return key

    def _named(self, kid: object) -> SigningKey:
        if kid is None and self.legacy is not None:
            return SigningKey("", self.algorithm, self.legacy, self.legacy, None)
        for key in self.keys:
            if key.kid == kid:
                return key
        raise errors.TokenInvalid("Token is signed by an unknown key.")

    def jwks(self) -> dict[str, list[dict[str, str]]] | None:
        """The public keys as a JWK Set, or None when tokens are signed with a shared secret."""
        if self.algorithm == "HS256":
            return None
        return {"keys": [dict(k.public_jwk or {}) for k in self.keys]}


@functools.cache
def load(secret: str, algorithm: str, pem_files: tuple[str, ...]) -> KeyRing:
    """Build the key ring, or raise SettingsError saying what is wrong with the key files."""
    if algorithm == "HS256":
        key = _derived(secret, _TOKEN_LABEL)
        jwk = HMACAlgorithm.to_jwk(key, as_dict=True)
        signing = SigningKey(thumbprint(jwk), "HS256", key, key, None)
        return KeyRing("HS256", (signing,), legacy=secret.encode())
    if algorithm not in ALGORITHMS:
        raise SettingsError(f"ACCTKIT_JWT_ALG must be one of {', '.join(ALGORITHMS)}")
    if not pem_files:
        raise SettingsError(f"ACCTKIT_JWT_ALG={algorithm} needs ACCTKIT_JWT_PRIVATE_KEYS")
    keys = tuple(_load_pem(Path(name), algorithm) for name in pem_files)
    if len({k.kid for k in keys}) != len(keys):
        raise SettingsError("ACCTKIT_JWT_PRIVATE_KEYS lists the same key twice")
    return KeyRing(algorithm, keys)


def _load_pem(path: Path, algorithm: str) -> SigningKey:
    try:
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise SettingsError(f"cannot read JWT key {path}: {exc.strerror}") from None
    except (ValueError, TypeError) as exc:
        raise SettingsError(f"{path} is not an unencrypted PEM private key ({exc})") from None
    public = private.public_key()
    if algorithm == "EdDSA" and isinstance(
        private, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey
    ):
        jwk = OKPAlgorithm.to_jwk(public, as_dict=True)
    elif algorithm == "RS256" and isinstance(private, rsa.RSAPrivateKey):
        if private.key_size < RSA_MIN_BITS:
            raise SettingsError(f"{path}: RS256 keys need at least {RSA_MIN_BITS} bits")
        jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
    else:
        kind = type(private).__name__.removesuffix("PrivateKey").lstrip("_")
        wanted = "an Ed25519 or Ed448" if algorithm == "EdDSA" else "an RSA"
        raise SettingsError(f"{path} holds a key of type {kind}; {algorithm} needs {wanted} key")
    kid = thumbprint(jwk)
    members = {k: str(jwk[k]) for k in ("kty", "crv", "x", "n", "e") if k in jwk}
    public_jwk = {**members, "kid": kid, "alg": algorithm, "use": "sig"}
    return SigningKey(kid, algorithm, private, public, public_jwk)


def generate_pem(algorithm: str) -> bytes:
    """A fresh private key in PKCS#8 PEM (what `openssl genpkey` writes), for development."""
    if algorithm == "EdDSA":
        private: Any = ed25519.Ed25519PrivateKey.generate()
    elif algorithm == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    else:
        raise SettingsError(f"no key file to generate for {algorithm}")
    return private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
