"""Getting a signed-in user over HTTP, the way a client does."""

from __future__ import annotations

from typing import Any

from tests.conftest import Inbox, code_in

PASSWORD = "rabbit-hole-2026"


async def signed_up(client: Any, inbox: Inbox, username: str = "alice") -> dict[str, Any]:
    """Sign up and verify `username`; return the verify body (user, access, refresh)."""
    email = f"{username}@example.com"
    resp = await client.post(
        "/api/auth/signup/",
        json={
            "first_name": username.title(),
            "last_name": "Tester",
            "username": username,
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
    return await resp.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
