"""One exception per failure, each with the stable `code` and HTTP `status` of the contract.

core never imports HTTP code; `status` is just a number the server layer renders.
"""

from __future__ import annotations

from typing import Any, ClassVar


class AccountError(Exception):
    code: ClassVar[str] = "error"
    status: ClassVar[int] = 400
    title: ClassVar[str] = "Request failed"
    default_detail: ClassVar[str] = "The request could not be completed."

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: dict[str, list[str]] | None = None,
        **extra: Any,
    ) -> None:
        self.detail = detail or self.default_detail
        self.errors = errors
        self.extra = extra
        super().__init__(self.detail)


class InvalidInput(AccountError):
    code = "invalid"
    status = 400
    title = "Invalid input"
    default_detail = "Some fields are invalid."


class ParseError(AccountError):
    code = "parse_error"
    status = 400
    title = "Malformed request body"
    default_detail = "The request body is not valid JSON."


class UsernameTaken(AccountError):
    code = "username_taken"
    status = 409
    title = "Username taken"
    default_detail = "That username is already taken."


class EmailTaken(AccountError):
    code = "email_taken"
    status = 409
    title = "Email taken"
    default_detail = "An account with that email address already exists."


class SignupNotFound(AccountError):
    code = "signup_not_found"
    status = 404
    title = "Signup not found"
    default_detail = "No pending signup has that id."


class CodeInvalid(AccountError):
    code = "code_invalid"
    status = 400
    title = "Invalid code"
    default_detail = "That code is not correct."


class CodeExpired(AccountError):
    code = "code_expired"
    status = 410
    title = "Code expired"
    default_detail = "That code has expired. Ask for a new one."


class CodeSuperseded(AccountError):
    code = "code_superseded"
    status = 409
    title = "Code superseded"
    default_detail = "That code was replaced by a newer one. Use the code from the latest mail."


class TooManyAttempts(AccountError):
    code = "too_many_attempts"
    status = 429
    title = "Too many attempts"
    default_detail = "Too many attempts. Try again later."


class ResendTooSoon(AccountError):
    code = "resend_too_soon"
    status = 429
    title = "Resend too soon"
    default_detail = "A code was sent moments ago. Wait before asking for another."


class Throttled(AccountError):
    code = "throttled"
    status = 429
    title = "Too many requests"
    default_detail = "Too many requests. Try again later."


class InvalidCredentials(AccountError):
    code = "invalid_credentials"
    status = 401
    title = "Invalid credentials"
    default_detail = "No active account found with the given credentials."


class NotAuthenticated(AccountError):
    code = "not_authenticated"
    status = 401
    title = "Not authenticated"
    default_detail = "Authentication credentials were not provided."


class TokenInvalid(AccountError):
    code = "token_invalid"
    status = 401
    title = "Invalid token"
    default_detail = "Token is invalid or expired."


class TokenReused(AccountError):
    code = "token_reused"
    status = 401
    title = "Refresh token reused"
    default_detail = "This refresh token was already used; the whole login has been revoked."


class WrongPassword(AccountError):
    code = "wrong_password"
    status = 403
    title = "Wrong password"
    default_detail = "The password is not correct."


class PasswordMismatch(AccountError):
    code = "password_mismatch"
    status = 400
    title = "Passwords do not match"
    default_detail = "The two passwords do not match."


class ResetInvalid(AccountError):
    code = "reset_invalid"
    status = 404
    title = "Invalid reset link"
    default_detail = "This password reset link is not valid."


class ResetExpired(AccountError):
    code = "reset_expired"
    status = 410
    title = "Reset link expired"
    default_detail = "This password reset link has expired. Ask for a new one."


class ResetUsed(AccountError):
    code = "reset_used"
    status = 409
    title = "Reset link used"
    default_detail = "This password reset link was already used."


class InvalidImage(AccountError):
    code = "invalid_image"
    status = 400
    title = "Invalid image"
    default_detail = "The upload is not a valid PNG, JPEG, WebP or GIF image."


class TooLarge(AccountError):
    code = "too_large"
    status = 413
    title = "Payload too large"
    default_detail = "The request body is too large."


class UnsupportedMediaType(AccountError):
    code = "unsupported_media_type"
    status = 415
    title = "Unsupported media type"
    default_detail = "The request body has a content type this route does not accept."


class NotFound(AccountError):
    code = "not_found"
    status = 404
    title = "Not found"
    default_detail = "Nothing is here."


class MethodNotAllowed(AccountError):
    code = "method_not_allowed"
    status = 405
    title = "Method not allowed"
    default_detail = "This route does not accept that method."


class EmailChangeNotFound(AccountError):
    code = "email_change_not_found"
    status = 404
    title = "No pending email change"
    default_detail = "There is no pending email change to confirm. Ask for a new code."


class AvatarNotFound(AccountError):
    code = "avatar_not_found"
    status = 404
    title = "No avatar"
    default_detail = "This user has no avatar."


class SessionNotFound(AccountError):
    code = "session_not_found"
    status = 404
    title = "Session not found"
    default_detail = "You have no live session with that id."


class NoPublicKeys(AccountError):
    code = "no_public_keys"
    status = 404
    title = "No public keys"
    default_detail = (
        "Tokens are signed with a shared secret (ACCTKIT_JWT_ALG=HS256): there are no public keys."
    )


class DatabaseUnavailable(AccountError):
    """The database failed under a request: unreachable, restarted, or a transaction it
    aborted. Nothing of the request was committed; the client may retry."""

    code = "database_unavailable"
    status = 503
    title = "Service Unavailable"
    default_detail = "The service lost its database for a moment; nothing was changed. Retry."


class NotReady(AccountError):
    code = "not_ready"
    status = 503
    title = "Service Unavailable"
    default_detail = "The service cannot reach its database."
