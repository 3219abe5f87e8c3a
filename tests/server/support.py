"""A signed-in user made the way a client makes one (signup, the code from the mail the real
SMTP inbox received, verify), and the problem-document assertion every HTTP test uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient

from tests.conftest import Inbox, code_in

PASSWORD = "rabbit-hole-2026"


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    email: str
    access: str
    refresh: str

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.access)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def sign_up(client: TestClient, inbox: Inbox, name: str = "alice") -> Account:
    email = f"{name}@example.com"
    resp = await client.post(
        "/api/auth/signup/",
        json={
            "first_name": name.title(),
            "last_name": "Liddell",
            "username": name,
            "email": email,
            "password": PASSWORD,
        },
    )
    assert resp.status == 202, await resp.text()
    signup_id = (await resp.json())["signup_id"]
    mail = await inbox.wait_for(lambda m: m["X-Acctkit-Ref"] == signup_id)
    resp = await client.post(
        "/api/auth/signup/verify/", json={"signup_id": signup_id, "code": code_in(mail)}
    )
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    return Account(body["user"]["id"], name, email, body["access"], body["refresh"])


async def log_in(client: TestClient, who: Account) -> Account:
    """A fresh login, for tests that move the clock past the access token's 5 minutes."""
    resp = await client.post("/api/token/", json={"username": who.username, "password": PASSWORD})
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    return Account(who.id, who.username, who.email, body["access"], body["refresh"])


async def problem(resp: Any, status: int, code: str) -> dict[str, Any]:
    """Assert `resp` is an RFC 9457 problem document of the contract with this status and code."""
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/problem+json"
    body = await resp.json()
    assert body["status"] == status and body["code"] == code, body
    assert body["type"] == "about:blank" and body["title"] and body["detail"]
    return body
