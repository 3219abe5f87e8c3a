"""Look-alike usernames get the contract's 409 username_taken over HTTP."""

from __future__ import annotations

from tests.conftest import Inbox
from tests.server.support import PASSWORD, problem, sign_up


async def test_look_alikes_are_taken_at_signup_and_rename(client, inbox: Inbox) -> None:
    await sign_up(client, inbox, "admin")
    bob = await sign_up(client, inbox, "bob")
    for name in ("\u0430dmin", "adm\u0131n"):
        resp = await client.post(
            "/api/auth/signup/",
            json={
                "first_name": "E",
                "last_name": "V",
                "username": name,
                "email": "eve@example.com",
                "password": PASSWORD,
            },
        )
        body = await problem(resp, 409, "username_taken")
        assert body["errors"] == {"username": ["That username is already taken."]}
        resp = await client.patch("/api/me/", json={"username": name}, headers=bob.auth)
        await problem(resp, 409, "username_taken")
    resp = await client.patch("/api/me/", json={"username": "B\u043eb"}, headers=bob.auth)
    assert resp.status == 200 and (await resp.json())["username"] == "B\u043eb"
