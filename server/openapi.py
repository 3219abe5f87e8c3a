"""The OpenAPI 3.1 document, generated from a route table and the contract's Structs.

It is built once per app from the running Settings, so a limit a setting decides (the password's
minimum length) is published with the value the server enforces. The route table is handed in
by the app factory: this module does not know where routes come from.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from aiohttp import web

from contract import accounts
from contract.fields import SETTING_KEY
from core import errors
from core.settings import Settings
from server.route import Route, struct_of

REF = "#/components/schemas/{name}"
TEXT = {"type": "string"}


def _ref(kind: type[msgspec.Struct]) -> dict[str, str]:
    return {"$ref": REF.format(name=kind.__name__)}


def _apply_settings(node: Any, settings: Settings) -> None:
    """Write the running value of every setting-decided limit into the schema."""
    if isinstance(node, dict):
        setting = node.get(SETTING_KEY)
        if isinstance(setting, str):
            node["minLength"] = getattr(settings, setting.removeprefix("ACCTKIT_").lower())
        for value in node.values():
            _apply_settings(value, settings)
    elif isinstance(node, list):
        for value in node:
            _apply_settings(value, settings)


def schemas(routes: list[Route], settings: Settings) -> dict[str, Any]:
    kinds: list[type[msgspec.Struct]] = [accounts.Problem]
    for route in routes:
        for kind in (route.body, struct_of(route.ok[1])):
            if kind is not None and kind not in kinds:
                kinds.append(kind)
    _, components = msgspec.json.schema_components(kinds, ref_template=REF)
    for kind in kinds:
        one_of = getattr(kind, "one_of_required", ())
        if one_of:  # "username or email": any one of these fields must be there
            components[kind.__name__]["anyOf"] = [{"required": [name]} for name in one_of]
    _apply_settings(components, settings)
    return components


def _problem(status: int, codes: list[str]) -> dict[str, Any]:
    schema = {
        **_ref(accounts.Problem),
        "properties": {"status": {"const": status}, "code": {"enum": codes}},
    }
    return {
        "description": "code: " + ", ".join(codes),
        "content": {"application/problem+json": {"schema": schema}},
    }


def _success(route: Route) -> dict[str, Any]:
    status, kind = route.ok
    ok: dict[str, Any] = {"description": "Success"}
    if status == 204:
        pass
    elif kind is not None and struct_of(kind) is not kind:
        ok["content"] = {
            route.produces: {"schema": {"type": "array", "items": _ref(struct_of(kind))}}
        }
    elif kind is not None:
        ok["content"] = {route.produces: {"schema": _ref(kind)}}
    elif route.produces == "application/json":
        ok["content"] = {route.produces: {"schema": {"type": "object"}}}
    else:
        ok["content"] = {route.produces: {"schema": {**TEXT, "contentMediaType": route.produces}}}
    return ok


def operation(route: Route) -> dict[str, Any]:
    responses: dict[str, Any] = {str(route.ok[0]): _success(route)}
    for status, codes in route.problems().items():
        responses[str(status)] = _problem(status, codes)
    for status, page in sorted(route.pages.items()):
        responses[str(status)] = {"description": page, "content": {"text/html": {"schema": TEXT}}}
    slug = re.sub(r"[^a-z0-9]+", "_", route.template.lower()).strip("_")
    op: dict[str, Any] = {
        "summary": route.summary,
        "tags": [route.tag],
        "operationId": f"{route.method.lower()}_{slug}",
        "responses": dict(sorted(responses.items())),
    }
    params = re.findall(r"{(\w+)}", route.template)
    if params:
        op["parameters"] = [
            {"name": p, "in": "path", "required": True, "schema": TEXT} for p in params
        ]
    if route.body is not None:
        op["requestBody"] = {
            "required": not route.body_optional,
            "content": {"application/json": {"schema": _ref(route.body)}},
        }
    if route.raw_body is not None:
        op["requestBody"] = {"required": True, "content": route.raw_body}
    if route.auth:
        op["security"] = [{"bearer": []}]
    return op


def document(routes: list[Route], settings: Settings) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.template, {})[route.method.lower()] = operation(route)
    components = schemas(routes, settings)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "acctkit",
            "version": "0.1.0",
            "description": "Accounts: signup with an emailed code, JWT login, password reset, "
            "profile. Every path also answers without (or with) its trailing slash. Every error "
            "is an RFC 9457 problem document; a method a path does not document answers 405 "
            f"`{errors.MethodNotAllowed.code}` with an Allow header, and an unknown path 404 "
            f"`{errors.NotFound.code}`.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


def document_route(routes: list[Route], settings: Settings) -> Route:
    """GET /api/openapi.json for `routes` (and itself), encoded once."""

    async def openapi_json(request: web.Request) -> web.Response:
        return web.Response(body=encoded, content_type="application/json")

    itself = Route("GET", "/api/openapi.json", openapi_json, "This document", "ops", database=False)
    encoded = msgspec.json.encode(document([*routes, itself], settings))
    return itself
