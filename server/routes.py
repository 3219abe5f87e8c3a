"""The route table: one list that registers every route in both slash forms (the contract forbids
redirects) and from which the OpenAPI document is generated, so the two cannot drift apart."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from server.handlers import avatars, health, me, profile, reset, reset_page, signup, tokens

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def obj(required: tuple[str, ...] = (), **props: Any) -> dict[str, Any]:
    """A JSON-schema object of string fields unless a property says otherwise."""
    return {
        "type": "object",
        "properties": {
            k: v if isinstance(v, dict) else {"type": "string"} for k, v in props.items()
        },
        "required": list(required),
    }


STR: dict[str, Any] = {"type": "string"}
# What core.policy accepts, said in the schema so generated clients and fuzzers know it too.
NAME: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 150}
USERNAME: dict[str, Any] = {"type": "string", "maxLength": 150, "pattern": r"^[\w.@+-]+$"}
EMAIL: dict[str, Any] = {"type": "string", "format": "email", "maxLength": 254}
NEW_PASSWORD: dict[str, Any] = {
    "type": "string",
    "minLength": 8,
    "maxLength": 1024,
    "description": "not common, not like the username or the email's local part",
}
CODE: dict[str, Any] = {
    "type": "string",
    "pattern": r"^[\s\-]*(\d[\s\-]*){6}$",
    "description": "6 digits as a string (leading zeros matter); spaces and hyphens ignored",
}


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    auth: bool = False
    body: dict[str, Any] | None = None
    ok: tuple[int, str | None] = (200, None)  # status and a components/schemas name
    errors: dict[int, str] = field(default_factory=dict)  # status -> the codes it can carry
    raw_body: dict[str, Any] | None = None  # non-JSON request content (avatars)
    produces: str = "application/json"


ROUTES: list[Route] = [
    Route(
        "POST",
        "/api/auth/signup/",
        signup.start,
        "Start a signup; a code is mailed",
        "signup",
        body=obj(
            ("first_name", "last_name", "username", "email", "password"),
            first_name=NAME,
            last_name=NAME,
            username=USERNAME,
            email=EMAIL,
            password=NEW_PASSWORD,
        ),
        ok=(202, "SignupStarted"),
        errors={400: "invalid", 409: "username_taken, email_taken", 429: "throttled"},
    ),
    Route(
        "POST",
        "/api/auth/signup/verify/",
        signup.verify,
        "Verify the code; creates the user",
        "signup",
        body=obj(("signup_id", "code"), signup_id=STR, code=CODE),
        ok=(201, "SignupVerified"),
        errors={
            400: "code_invalid, invalid",
            404: "signup_not_found",
            410: "code_expired",
            409: "code_superseded, username_taken, email_taken",
            429: "too_many_attempts",
        },
    ),
    Route(
        "POST",
        "/api/auth/signup/resend/",
        signup.resend,
        "Mail a new code",
        "signup",
        body=obj(("signup_id",), signup_id=STR),
        ok=(202, "CodeSent"),
        errors={404: "signup_not_found", 429: "resend_too_soon, too_many_attempts"},
    ),
    Route(
        "POST",
        "/api/token/",
        tokens.obtain,
        "Log in: obtain access and refresh tokens",
        "tokens",
        body=obj(("password",), username=STR, email=STR, password=STR),
        ok=(200, "TokenPair"),
        errors={401: "invalid_credentials", 429: "too_many_attempts"},
    ),
    Route(
        "POST",
        "/api/token/refresh/",
        tokens.refresh,
        "Rotate a refresh token",
        "tokens",
        body=obj(("refresh",), refresh=STR),
        ok=(200, "TokenPair"),
        errors={401: "token_invalid, token_reused"},
    ),
    Route(
        "POST",
        "/api/token/verify/",
        tokens.verify,
        "Check a token",
        "tokens",
        body=obj(("token",), token=STR),
        ok=(200, None),
        errors={401: "token_invalid"},
    ),
    Route(
        "POST",
        "/api/token/revoke/",
        tokens.revoke,
        "Log out of one login",
        "tokens",
        body=obj(("refresh",), refresh=STR),
        ok=(204, None),
        errors={401: "token_invalid"},
    ),
    Route(
        "POST",
        "/api/auth/logout-all/",
        tokens.logout_all,
        "Revoke every token of the user",
        "tokens",
        auth=True,
        ok=(204, None),
        errors={401: "not_authenticated, token_invalid"},
    ),
    Route(
        "GET",
        "/api/me/",
        me.get_me,
        "The signed-in user",
        "me",
        auth=True,
        ok=(200, "UserOut"),
        errors={401: "not_authenticated, token_invalid"},
    ),
    Route("GET", "/healthz", health.healthz, "Liveness", "ops", ok=(200, "Status")),
    Route(
        "GET",
        "/readyz",
        health.readyz,
        "Readiness (checks the database)",
        "ops",
        ok=(200, "Status"),
        errors={503: "not_ready"},
    ),
    # profile (issue 5)
    Route(
        "PATCH",
        "/api/me/",
        profile.update_me,
        "Edit names and username (unknown fields are ignored)",
        "me",
        auth=True,
        body=obj((), first_name=NAME, last_name=NAME, username=USERNAME),
        ok=(200, "UserOut"),
        errors={
            400: "invalid",
            401: "not_authenticated, token_invalid",
            409: "username_taken",
        },
    ),
    Route(
        "DELETE",
        "/api/me/",
        profile.delete_me,
        "Delete the account and everything that belongs to it",
        "me",
        auth=True,
        body=obj(("password",), password=STR),
        ok=(204, None),
        errors={
            400: "invalid",
            401: "not_authenticated, token_invalid",
            403: "wrong_password",
            429: "too_many_attempts",
        },
    ),
    Route(
        "PUT",
        "/api/me/avatar/",
        avatars.put_avatar,
        "Upload an avatar (re-encoded to at most 512x512, metadata stripped)",
        "me",
        auth=True,
        raw_body=avatars.UPLOAD_CONTENT,
        ok=(200, "UserOut"),
        errors={
            400: "invalid_image, invalid, parse_error",
            401: "not_authenticated, token_invalid",
            413: "too_large",
            415: "unsupported_media_type",
        },
    ),
    Route(
        "DELETE",
        "/api/me/avatar/",
        avatars.delete_avatar,
        "Remove the avatar",
        "me",
        auth=True,
        ok=(204, None),
        errors={401: "not_authenticated, token_invalid"},
    ),
    Route(
        "GET",
        "/api/users/{id}/avatar",
        avatars.get_avatar,
        "A user's avatar (ETag; If-None-Match answers 304)",
        "me",
        ok=(200, "AvatarImage"),
        produces="image/*",
        errors={404: "avatar_not_found"},
    ),
    Route(
        "POST",
        "/api/me/email/",
        profile.request_email_change,
        "Ask to change the email address; a code is mailed to the new address",
        "me",
        auth=True,
        body=obj(("email", "password"), email=EMAIL, password=STR),
        ok=(202, "CodeSent"),
        errors={
            400: "invalid",
            401: "not_authenticated, token_invalid",
            403: "wrong_password",
            409: "email_taken",
            429: "resend_too_soon, too_many_attempts",
        },
    ),
    Route(
        "POST",
        "/api/me/email/verify/",
        profile.verify_email_change,
        "Confirm the new email address with the mailed code",
        "me",
        auth=True,
        body=obj(("code",), code=CODE),
        ok=(200, "UserOut"),
        errors={
            400: "code_invalid, invalid",
            401: "not_authenticated, token_invalid",
            404: "email_change_not_found",
            409: "code_superseded, email_taken",
            410: "code_expired",
            429: "too_many_attempts",
        },
    ),
    # password reset and change (issue 4)
    Route(
        "POST",
        "/api/auth/password/reset/",
        reset.request_link,
        "Mail a password reset link (same answer whether or not the address has an account)",
        "password",
        body=obj(("email",), email=EMAIL),
        ok=(202, "Detail"),
        errors={400: "invalid", 429: "throttled"},
    ),
    Route(
        "GET",
        "/api/auth/password/reset/{uid}/",
        reset.check,
        "Is this reset link usable? Never consumes it",
        "password",
        ok=(200, "ResetStatus"),
        errors={404: "reset_invalid", 409: "reset_used", 410: "reset_expired"},
    ),
    Route(
        "POST",
        "/api/auth/password/reset/confirm/",
        reset.confirm,
        "Set a new password with a reset link; every login is revoked",
        "password",
        body=obj(
            ("uid", "new_password", "re_new_password"),
            uid=STR,
            new_password=NEW_PASSWORD,
            re_new_password=STR,
        ),
        ok=(204, None),
        errors={
            400: "password_mismatch, invalid",
            404: "reset_invalid",
            409: "reset_used",
            410: "reset_expired",
        },
    ),
    Route(
        "POST",
        "/api/me/password/",
        reset.change_password,
        "Change the password; returns a new login and revokes every other",
        "password",
        auth=True,
        body=obj(
            ("current_password", "new_password"), current_password=STR, new_password=NEW_PASSWORD
        ),
        ok=(200, "TokenPair"),
        errors={
            400: "invalid",
            401: "not_authenticated, token_invalid",
            403: "wrong_password",
            429: "too_many_attempts",
        },
    ),
    Route(
        "GET",
        "/reset-password/{uid}",
        reset_page.show,
        "The page a mailed reset link opens: a form for the new password",
        "password",
        ok=(200, None),
        errors={404: "invalid link", 409: "used link", 410: "expired link"},
        produces="text/html",
    ),
    Route(
        "POST",
        "/reset-password/{uid}",
        reset_page.submit,
        "The reset page's form posts here; answers with a page",
        "password",
        raw_body={
            "application/x-www-form-urlencoded": {
                "schema": obj(
                    ("csrf_token", "new_password", "re_new_password"),
                    csrf_token=STR,
                    new_password=STR,
                    re_new_password=STR,
                )
            }
        },
        ok=(200, None),
        errors={
            400: "field errors (form shown again)",
            403: "form not from this page",
            404: "invalid link",
            409: "used link",
            410: "expired link",
            415: "not a form",
        },
        produces="text/html",
    ),
]


def both_slash_forms(path: str) -> list[str]:
    other = path[:-1] if path.endswith("/") else path + "/"
    return [path, other]


def add_routes(app: web.Application) -> None:
    from server.openapi import openapi_json

    routes = [*ROUTES, Route("GET", "/api/openapi.json", openapi_json, "This document", "ops")]
    for route in routes:
        for path in both_slash_forms(route.path):
            if route.method == "GET":
                app.router.add_get(path, route.handler)
            else:
                app.router.add_route(route.method, path, route.handler)
