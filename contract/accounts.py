"""Every request and response body of the accounts API (shared/API.md), declared once.

The server decodes requests into these, encodes its answers from them and publishes them in its
OpenAPI document; a client decodes answers with `msgspec.json.decode(data, type=UserOut)`.
Field names are the contract's: clients written for djoser and SimpleJWT depend on them.

Unknown fields in a request are ignored (a client may send back the UserOut it got); optional
fields are UNSET when absent, so "not sent" and "sent" never blur.
"""

from __future__ import annotations

from typing import ClassVar

from msgspec import UNSET, Struct, UnsetType

from contract.fields import Code, Email, Name, NewPassword, Text, Timestamp, Username

# Requests


class SignupRequest(Struct, frozen=True):
    first_name: Name
    last_name: Name
    username: Username
    email: Email
    password: NewPassword


class SignupVerify(Struct, frozen=True):
    signup_id: Text
    code: Code


class SignupResend(Struct, frozen=True):
    signup_id: Text


class LoginRequest(Struct, frozen=True):
    """SimpleJWT's body: the username field may hold an email address; `email` works too."""

    one_of_required: ClassVar[tuple[str, ...]] = ("username", "email")

    password: Text
    username: Text | UnsetType = UNSET
    email: Text | UnsetType = UNSET

    @property
    def identifier(self) -> str:
        """`username` if it holds something, else `email`."""
        if self.username:
            return self.username
        return self.email if isinstance(self.email, str) else ""


class RefreshRequest(Struct, frozen=True):
    """POST /api/token/refresh/ and /api/token/revoke/."""

    refresh: Text


class TokenVerifyRequest(Struct, frozen=True):
    token: Text


class ProfilePatch(Struct, frozen=True):
    """PATCH /api/me/: any of the names and the username; an empty body changes nothing.

    `email` and `password` are accepted only unchanged (a client echoing its UserOut); a new
    value is refused with a pointer to POST /api/me/email/ or /api/me/password/.
    """

    first_name: Name | UnsetType = UNSET
    last_name: Name | UnsetType = UNSET
    username: Username | UnsetType = UNSET
    email: Email | UnsetType = UNSET
    password: Text | UnsetType = UNSET


class DeleteAccount(Struct, frozen=True):
    password: Text


class PasswordChange(Struct, frozen=True):
    current_password: Text
    new_password: NewPassword


class EmailChangeRequest(Struct, frozen=True):
    email: Email
    password: Text


class EmailChangeVerify(Struct, frozen=True):
    code: Code


class ResetRequest(Struct, frozen=True):
    email: Email


class ResetConfirm(Struct, frozen=True):
    uid: Text
    new_password: NewPassword
    re_new_password: Text


# Responses


class UserOut(Struct, frozen=True):
    id: int
    username: str
    email: str
    first_name: str
    last_name: str
    avatar_url: str | None
    date_joined: Timestamp
    email_verified: bool


class TokenPair(Struct, frozen=True):
    access: str
    refresh: str


class SignupStarted(Struct, frozen=True):
    signup_id: str
    email: str
    expires_at: Timestamp
    resend_after: Timestamp
    seq: int
    """Which code the mail carries (its X-Acctkit-Seq): 1, then 2 after one resend, ..."""


class CodeSent(Struct, frozen=True):
    expires_at: Timestamp
    resend_after: Timestamp
    seq: int


class SignupVerified(Struct, frozen=True):
    user: UserOut
    access: str
    refresh: str


class Detail(Struct, frozen=True):
    detail: str


class ResetStatus(Struct, frozen=True):
    valid: bool
    expires_at: Timestamp


class Status(Struct, frozen=True):
    status: str


class Session(Struct, frozen=True):
    """One login (a refresh-token family) of the signed-in user; `current` is the caller's."""

    id: str
    created_at: Timestamp
    last_used_at: Timestamp
    ip: str | None
    user_agent: str | None
    current: bool


class Jwk(Struct, frozen=True, omit_defaults=True):
    """A public signing key (RFC 7517); `kid` is its RFC 7638 thumbprint."""

    kty: str
    kid: str
    alg: str
    use: str = "sig"
    crv: str | UnsetType = UNSET
    x: str | UnsetType = UNSET
    n: str | UnsetType = UNSET
    e: str | UnsetType = UNSET


class JwkSet(Struct, frozen=True):
    keys: list[Jwk]


class Empty(Struct, frozen=True):
    """`{}`: SimpleJWT's answer to a token that verifies."""


class Problem(Struct, frozen=True, omit_defaults=True):
    """RFC 9457 problem document; `code` is stable and machine-readable (shared/API.md)."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: dict[str, list[str]] | UnsetType = UNSET
    attempts_left: int | UnsetType = UNSET
    retry_after: int | UnsetType = UNSET
