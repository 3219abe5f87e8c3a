"""DELETE /api/me/ over HTTP; the database is then checked row by row through core's models."""

from __future__ import annotations

import asyncio

from PIL import Image

from core.db import connection, write_transaction
from core.models import (
    Avatar,
    Code,
    EmailChange,
    Outbox,
    PasswordReset,
    RefreshToken,
    Signup,
    User,
)
from tests import samples
from tests.conftest import Inbox
from tests.server.support import PASSWORD, Account, problem, sign_up


def _add_password_reset(user_id: int, clock) -> None:  # type: ignore[no-untyped-def]
    with connection(), write_transaction():
        PasswordReset.create(
            id="reset-1",
            user=user_id,
            uid_hash="0" * 64,
            created_at=clock.now(),
            expires_at=clock.now(),
        )


def _rows_of(user_id: int, email_change_ids: list[str]) -> dict[str, int]:
    with connection():
        return {
            "user": User.select().where(User.id == user_id).count(),
            "refresh": RefreshToken.select().where(RefreshToken.user == user_id).count(),
            "reset": PasswordReset.select().where(PasswordReset.user == user_id).count(),
            "email_change": EmailChange.select().where(EmailChange.user == user_id).count(),
            "email_change_codes": Code.select()
            .where(Code.flow == "email-change", Code.ref.in_(email_change_ids or ["-"]))
            .count(),
            "signup": Signup.select().where(Signup.user == user_id).count(),
            "avatar": Avatar.select().where(Avatar.user == user_id).count(),
            "pending_mail": Outbox.select()
            .where(Outbox.user == user_id, Outbox.status == "pending")
            .count(),
        }


def _email_change_ids(user_id: int) -> list[str]:
    with connection():
        return [c.id for c in EmailChange.select().where(EmailChange.user == user_id)]


async def _full_account(client, inbox: Inbox, clock) -> Account:  # type: ignore[no-untyped-def]
    alice = await sign_up(client, inbox)
    png = samples.encoded(Image.new("RGB", (20, 20), "red"), "PNG")
    resp = await client.put(
        "/api/me/avatar/", data=png, headers={**alice.auth, "Content-Type": "image/png"}
    )
    assert resp.status == 200
    await asyncio.to_thread(_add_password_reset, alice.id, clock)
    inbox.refuse = True  # the code mail stays pending in the outbox
    resp = await client.post(
        "/api/me/email/",
        json={"email": "new@example.com", "password": PASSWORD},
        headers=alice.auth,
    )
    assert resp.status == 202
    return alice


async def test_delete_removes_the_user_and_everything_of_it(client, inbox: Inbox, clock) -> None:
    bob = await sign_up(client, inbox, "bob")
    alice = await _full_account(client, inbox, clock)
    changes = await asyncio.to_thread(_email_change_ids, alice.id)
    before = await asyncio.to_thread(_rows_of, alice.id, changes)
    assert all(before.values()), before

    await problem(
        await client.delete("/api/me/", json={"password": "wrong-password"}, headers=alice.auth),
        403,
        "wrong_password",
    )
    resp = await client.delete("/api/me/", json={"password": PASSWORD}, headers=alice.auth)
    assert resp.status == 204, await resp.text()

    after = await asyncio.to_thread(_rows_of, alice.id, changes)
    assert not any(after.values()), after
    await problem(await client.get("/api/me/", headers=alice.auth), 401, "token_invalid")
    resp = await client.post("/api/token/refresh/", json={"refresh": alice.refresh})
    await problem(resp, 401, "token_invalid")
    resp = await client.post("/api/token/", json={"username": "alice", "password": PASSWORD})
    await problem(resp, 401, "invalid_credentials")
    await problem(await client.get(f"/api/users/{alice.id}/avatar"), 404, "avatar_not_found")
    assert (await client.get("/api/me/", headers=bob.auth)).status == 200


async def test_the_freed_username_and_id_do_not_hand_over_the_old_token(
    client, inbox: Inbox, clock
) -> None:
    alice = await sign_up(client, inbox)
    resp = await client.delete("/api/me", json={"password": PASSWORD}, headers=alice.auth)
    assert resp.status == 204
    clock.advance(1)
    again = await sign_up(client, inbox)  # same username and email are free again
    await problem(await client.get("/api/me/", headers=alice.auth), 401, "token_invalid")
    me = await (await client.get("/api/me/", headers=again.auth)).json()
    assert me["username"] == "alice"


async def test_delete_needs_the_password_and_auth(client, inbox: Inbox) -> None:
    alice = await sign_up(client, inbox)
    body = await problem(await client.delete("/api/me/", headers=alice.auth), 400, "invalid")
    assert "password" in body["errors"]
    await problem(
        await client.delete("/api/me/", json={"password": PASSWORD}), 401, "not_authenticated"
    )
    me = await client.get("/api/me/", headers=alice.auth)
    assert me.status == 200


async def test_delete_on_postgresql(postgres_url: str, make_client, inbox: Inbox, clock) -> None:
    client = await make_client(postgres_url)
    alice = await _full_account(client, inbox, clock)
    changes = await asyncio.to_thread(_email_change_ids, alice.id)
    resp = await client.delete("/api/me/", json={"password": PASSWORD}, headers=alice.auth)
    assert resp.status == 204
    after = await asyncio.to_thread(_rows_of, alice.id, changes)
    assert not any(after.values()), after
    await problem(await client.get("/api/me/", headers=alice.auth), 401, "token_invalid")
