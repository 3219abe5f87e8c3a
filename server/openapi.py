"""The OpenAPI 3.1 document, generated from the route table at request time."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from aiohttp import web

from server.render import json_response

DT = {"type": "string", "format": "date-time"}
S = {"type": "string"}

SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem document",
        "properties": {
            "type": S,
            "title": S,
            "status": {"type": "integer"},
            "detail": S,
            "code": S,
            "errors": {"type": "object", "additionalProperties": {"type": "array", "items": S}},
            "attempts_left": {"type": "integer"},
            "retry_after": {"type": "integer"},
        },
        "required": ["type", "title", "status", "detail", "code"],
    },
    "UserOut": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "username": S,
            "email": S,
            "first_name": S,
            "last_name": S,
            "avatar_url": {"type": ["string", "null"]},
            "date_joined": DT,
            "email_verified": {"type": "boolean"},
        },
    },
    "TokenPair": {"type": "object", "properties": {"access": S, "refresh": S}},
    "SignupStarted": {
        "type": "object",
        "properties": {
            "signup_id": S,
            "email": S,
            "expires_at": DT,
            "resend_after": DT,
            "seq": {"type": "integer", "description": "the code's number (X-Acctkit-Seq)"},
        },
    },
    "CodeSent": {
        "type": "object",
        "properties": {"expires_at": DT, "resend_after": DT, "seq": {"type": "integer"}},
    },
    "SignupVerified": {
        "type": "object",
        "properties": {"user": {"$ref": "#/components/schemas/UserOut"}, "access": S, "refresh": S},
    },
    "Status": {"type": "object", "properties": {"status": S}},
    "AvatarImage": {
        "type": "string",
        "contentMediaType": "image/*",
        "description": "PNG when the picture has transparency, else JPEG; at most 512x512, "
        "no metadata. Cache-Control: public, no-cache with a strong ETag.",
    },
    "Detail": {"type": "object", "properties": {"detail": S}},
    "ResetStatus": {
        "type": "object",
        "properties": {"valid": {"type": "boolean"}, "expires_at": DT},
    },
}


# What server.body answers for any route that reads a JSON body (the contract's conventions).
BODY_ERRORS = {400: "invalid, parse_error", 413: "too_large", 415: "unsupported_media_type"}


def _errors(route: Any) -> dict[int, str]:
    """The route's own problem codes plus those every JSON-body route can answer."""
    errors = dict(route.errors)
    if route.body is not None:
        for status, codes in BODY_ERRORS.items():
            mine = [c.strip() for c in errors.get(status, "").split(",") if c.strip()]
            extra = [c for c in codes.split(", ") if c not in mine]
            errors[status] = ", ".join(mine + extra)
    return errors


def _operation(route: Any) -> dict[str, Any]:
    status, schema = route.ok
    ok: dict[str, Any] = {"description": "Success"}
    if schema:
        ok["content"] = {route.produces: {"schema": {"$ref": f"#/components/schemas/{schema}"}}}
    elif status != 204 and route.produces == "application/json":
        ok["content"] = {"application/json": {"schema": {"type": "object"}}}
    elif status != 204:
        ok["content"] = {route.produces: {"schema": {"type": "string"}}}
    responses: dict[str, Any] = {str(status): ok}
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    if route.produces == "text/html":  # pages render their own errors as pages
        problem = {"text/html": {"schema": {"type": "string"}}}
    for code_status, codes in sorted(_errors(route).items()):
        responses[str(code_status)] = {"description": f"code: {codes}", "content": problem}
    slug = re.sub(r"[^a-z0-9]+", "_", route.path.lower()).strip("_")
    operation_id = f"{route.method.lower()}_{slug}"
    op: dict[str, Any] = {
        "summary": route.summary,
        "tags": [route.tag],
        "operationId": operation_id,
        "responses": responses,
    }
    params = re.findall(r"{(\w+)}", route.path)
    if params:
        op["parameters"] = [
            {"name": p, "in": "path", "required": True, "schema": S} for p in params
        ]
    if route.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": route.body}},
        }
    if route.raw_body is not None:
        op["requestBody"] = {"required": True, "content": route.raw_body}
    if route.auth:
        op["security"] = [{"bearer": []}]
    return op


@cache
def document() -> dict[str, Any]:
    from server.routes import ROUTES

    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    paths["/api/openapi.json"] = {
        "get": {
            "summary": "This document",
            "tags": ["ops"],
            "operationId": "get_openapi",
            "responses": {"200": {"description": "OpenAPI 3.1"}},
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "acctkit",
            "version": "0.1.0",
            "description": "Accounts: signup with an emailed code, JWT login, password reset, "
            "profile. Every path also answers without (or with) its trailing slash.",
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


async def openapi_json(request: web.Request) -> web.Response:
    return json_response(document())
