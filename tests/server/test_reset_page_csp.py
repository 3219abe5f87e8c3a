"""The reset page's CSP admits exactly its own style sheet (by hash) and no script at all; every
page of the flow, refusals included, carries it."""

from __future__ import annotations

import base64
import hashlib
import re

from aiohttp.test_utils import TestClient

from tests.conftest import Inbox
from tests.server.test_reset_flow import create_user, link_in, request_reset


def _directives(csp: str) -> dict[str, str]:
    return {d.split()[0]: d.partition(" ")[2] for d in (x.strip() for x in csp.split(";")) if d}


async def test_the_csp_hashes_the_served_style_sheet_and_allows_no_inline_anything(
    client: TestClient, inbox: Inbox
) -> None:
    await create_user(client)
    await request_reset(client, "alice@example.com")
    _, uid = link_in(await inbox.next_to("alice@example.com"))
    for response in (
        await client.get(f"/reset-password/{uid}"),
        await client.get("/reset-password/not-a-real-link"),
    ):
        page = await response.text()
        csp = _directives(response.headers["Content-Security-Policy"])
        (style,) = re.findall(r"<style>(.*?)</style>", page, re.DOTALL)
        digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
        assert csp["style-src"] == f"'sha256-{digest}'"
        assert csp["default-src"] == "'none'" and "script-src" not in csp
        assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
        assert csp["frame-ancestors"] == "'none'" and csp["form-action"] == "'self'"
        assert " style=" not in page and "<script" not in page
