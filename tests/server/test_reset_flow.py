"""Password reset over HTTP, with the link read from the mail a real SMTP server received."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from email.message import EmailMessage
from typing import Any

import psycopg2
import pytest
from aiohttp.test_utils import TestClient

from core import accounts
from core.clock import FrozenClock
from core.outbox import pending_count
from core.users import UserView
from server.keys import CONTEXT
from tests.conftest import Inbox, body_text
from tests.locks import until_waiting_async
from tests.server.support import PASSWORD, problem, sign_up

OLD = "vorpal-blade-snicker"
NEW = "frumious-bandersnatch"
PUBLIC = "https://accounts.example.test"
LINK = re.compile(r"(https?://\S+)/reset-password/([A-Za-z0-9_-]+)")


async def create_user(
    client: TestClient, username: str = "alice", email: str = "alice@example.com"
) -> UserView:
    return await asyncio.to_thread(
        accounts.create_user,
        client.app[CONTEXT],
        username=username,
        email=email,
        password=OLD,
        first_name=username.title(),
    )


def link_in(message: EmailMessage) -> tuple[str, str]:
    found = LINK.search(body_text(message))
    assert found, body_text(message)
    return found.group(1), found.group(2)


async def request_reset(client: TestClient, email: str) -> Any:
    resp = await client.post("/api/auth/password/reset/", json={"email": email})
    assert resp.status == 202, await resp.text()
    return resp


async def mailed_uid(client: TestClient, inbox: Inbox, email: str = "alice@example.com") -> str:
    """Ask for a link and return the UID from the mail that this very request produced."""
    before = len(inbox.messages)
    await request_reset(client, email)
    mail = await inbox.wait_for(
        lambda m: (
            inbox.messages.index(m) >= before
            and m["X-Acctkit-Flow"] == "password-reset"
            and email in str(m["To"])
        )
    )
    return link_in(mail)[1]


async def login(client: TestClient, password: str, username: str = "alice") -> Any:
    return await client.post("/api/token/", json={"username": username, "password": password})


async def settle(client: TestClient) -> None:
    """Wait until the app's sender has delivered what it queued, so no mail is mid-flight to the
    inbox while the app and the inbox shut down."""
    for _ in range(200):
        if await asyncio.to_thread(pending_count) == 0:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.05)


@pytest.fixture
async def client(make_client: Any) -> AsyncIterator[TestClient]:
    client = await make_client()
    yield client
    await settle(client)


@pytest.fixture
async def public_client(make_client: Any) -> AsyncIterator[TestClient]:
    client = await make_client(public_url=PUBLIC)
    yield client
    await settle(client)


async def test_known_and_unknown_email_get_the_same_answer(public_client, inbox: Inbox) -> None:
    client = public_client
    await create_user(client)
    known = await client.post("/api/auth/password/reset/", json={"email": "alice@example.com"})
    unknown = await client.post("/api/auth/password/reset/", json={"email": "nobody@example.com"})
    assert known.status == unknown.status == 202
    assert known.content_type == unknown.content_type == "application/json"
    assert await known.read() == await unknown.read()
    assert "detail" in await known.json()

    mail = await inbox.next_to("alice@example.com", flow="password-reset")
    base, uid = link_in(mail)
    assert base == PUBLIC
    assert len(uid) >= 43
    assert mail["X-Acctkit-Seq"] == "1" and mail["X-Acctkit-Ref"]
    assert mail["X-Acctkit-Ref"] != uid and uid not in mail["X-Acctkit-Ref"]
    assert mail.get_body(("html",)) is not None
    await asyncio.sleep(0.3)  # the sender polls every 0.05 s: anything else queued is out by now
    assert [str(m["To"]) for m in inbox.messages] == ["alice@example.com"]


async def test_malformed_or_missing_email_is_400(client) -> None:
    for body in ({"email": "not an email"}, {}, {"email": 42}):
        resp = await client.post("/api/auth/password/reset/", json=body)
        assert resp.status == 400
        problem = await resp.json()
        assert problem["code"] == "invalid" and "email" in problem["errors"]


async def test_per_email_limit_is_429_with_retry_after_known_or_not(client, inbox) -> None:
    await create_user(client)
    for email in ("alice@example.com", "nobody@example.com"):
        for _ in range(3):
            await request_reset(client, email)
        resp = await client.post("/api/auth/password/reset/", json={"email": email})
        assert resp.status == 429
        assert int(resp.headers["Retry-After"]) >= 1
        assert (await resp.json())["code"] == "throttled"


async def test_per_ip_limit_is_429(client) -> None:
    for i in range(10):
        await request_reset(client, f"person{i}@example.com")
    resp = await client.post("/api/auth/password/reset/", json={"email": "one-more@example.com"})
    assert resp.status == 429
    assert (await resp.json())["code"] == "throttled"
    assert "Retry-After" in resp.headers


async def test_get_answers_valid_in_both_slash_forms_and_never_consumes(
    client, inbox: Inbox
) -> None:
    await create_user(client)
    uid = await mailed_uid(client, inbox)
    for path in (f"/api/auth/password/reset/{uid}/", f"/api/auth/password/reset/{uid}") * 2:
        resp = await client.get(path)
        assert resp.status == 200
        body = await resp.json()
        assert body["valid"] is True and body["expires_at"].endswith("Z")
    resp = await client.post(
        "/api/auth/password/reset/confirm/",
        json={"uid": uid, "new_password": NEW, "re_new_password": NEW},
    )
    assert resp.status == 204


async def test_unknown_uid_is_404(client) -> None:
    resp = await client.get("/api/auth/password/reset/nope/")
    assert resp.status == 404
    assert resp.content_type == "application/problem+json"
    assert (await resp.json())["code"] == "reset_invalid"
    # "confirm" is the POST route beside it, not a uid: GET there is 405 with an exact Allow.
    for path in ("/api/auth/password/reset/confirm/", "/api/auth/password/reset/confirm"):
        resp = await client.get(path)
        assert resp.status == 405 and resp.headers["Allow"] == "POST"
        assert (await resp.json())["code"] == "method_not_allowed"


async def test_expired_link_is_410(client, inbox: Inbox, clock: FrozenClock) -> None:
    await create_user(client)
    uid = await mailed_uid(client, inbox)
    clock.advance(301)
    resp = await client.get(f"/api/auth/password/reset/{uid}/")
    assert resp.status == 410
    assert (await resp.json())["code"] == "reset_expired"
    resp = await client.post(
        "/api/auth/password/reset/confirm",
        json={"uid": uid, "new_password": NEW, "re_new_password": NEW},
    )
    assert resp.status == 410
    assert (await resp.json())["code"] == "reset_expired"


async def test_confirm_changes_password_kills_old_tokens_and_mails_a_notice(
    client, inbox: Inbox
) -> None:
    await create_user(client)
    old = await (await login(client, OLD)).json()
    uid = await mailed_uid(client, inbox)
    resp = await client.post(
        "/api/auth/password/reset/confirm/",
        json={"uid": uid, "new_password": NEW, "re_new_password": NEW},
    )
    assert resp.status == 204
    assert await resp.read() == b""

    refreshed = await client.post("/api/token/refresh/", json={"refresh": old["refresh"]})
    assert refreshed.status == 401
    me = await client.get("/api/me/", headers={"Authorization": f"Bearer {old['access']}"})
    assert me.status == 401
    assert (await login(client, OLD)).status == 401
    assert (await login(client, NEW)).status == 200

    notice = await inbox.next_to("alice@example.com", flow="password-changed")
    assert "changed" in notice["Subject"]
    assert notice["X-Acctkit-Ref"] and notice["X-Acctkit-Seq"] == "1"
    assert NEW not in notice.as_string()

    again = await client.post(
        "/api/auth/password/reset/confirm/",
        json={"uid": uid, "new_password": "another-fine-phrase", "re_new_password": "x"},
    )
    assert again.status == 409
    assert (await again.json())["code"] == "reset_used"
    assert (await client.get(f"/api/auth/password/reset/{uid}/")).status == 409


async def test_older_uid_is_invalid_after_a_newer_request(client, inbox: Inbox) -> None:
    await create_user(client)
    older = await mailed_uid(client, inbox)
    newer = await mailed_uid(client, inbox)
    resp = await client.get(f"/api/auth/password/reset/{older}/")
    assert resp.status == 404
    assert (await resp.json())["code"] == "reset_invalid"
    resp = await client.post(
        "/api/auth/password/reset/confirm/",
        json={"uid": older, "new_password": NEW, "re_new_password": NEW},
    )
    assert resp.status == 404
    resp = await client.post(
        "/api/auth/password/reset/confirm/",
        json={"uid": newer, "new_password": NEW, "re_new_password": NEW},
    )
    assert resp.status == 204


async def test_mismatch_and_weak_passwords_are_400_and_never_echoed(client, inbox: Inbox) -> None:
    await create_user(client)
    uid = await mailed_uid(client, inbox)
    resp = await client.post(
        "/api/auth/password/reset/confirm/",
        json={"uid": uid, "new_password": NEW, "re_new_password": NEW.upper()},
    )
    assert resp.status == 400
    text = await resp.text()
    assert (await resp.json())["code"] == "password_mismatch"
    assert NEW not in text and NEW.upper() not in text
    resp = await client.post(
        "/api/auth/password/reset/confirm/",
        json={"uid": uid, "new_password": "Password1", "re_new_password": "Password1"},
    )
    assert resp.status == 400
    body = await resp.json()
    assert body["code"] == "invalid"
    assert body["errors"]["new_password"] == ["This password is too common."]
    assert "Password1" not in await resp.text()
    # Neither refusal used the link up.
    assert (await client.get(f"/api/auth/password/reset/{uid}/")).status == 200


async def test_a_dead_link_is_reported_before_any_password_problem(
    client, inbox: Inbox, clock: FrozenClock
) -> None:
    resp = await client.post(
        "/api/auth/password/reset/confirm/",
        json={"uid": "no-such-link", "new_password": "a", "re_new_password": "b"},
    )
    assert resp.status == 404
    await create_user(client)
    uid = await mailed_uid(client, inbox)
    clock.advance(301)
    resp = await client.post(
        "/api/auth/password/reset/confirm/",
        json={"uid": uid, "new_password": "a", "re_new_password": "b"},
    )
    assert resp.status == 410


async def test_racing_confirms_one_wins(client, inbox: Inbox) -> None:
    await create_user(client)
    uid = await mailed_uid(client, inbox)
    responses = await asyncio.gather(
        *[
            client.post(
                "/api/auth/password/reset/confirm/",
                json={"uid": uid, "new_password": p, "re_new_password": p},
            )
            for p in (NEW, "slithy-toves-gyre", "jabberwock-burbled")
        ]
    )
    assert sorted(r.status for r in responses) == [204, 409, 409]


async def test_openapi_lists_the_reset_routes(client) -> None:
    doc = await (await client.get("/api/openapi.json")).json()
    for path in (
        "/api/auth/password/reset/",
        "/api/auth/password/reset/{uid}/",
        "/api/auth/password/reset/confirm/",
        "/api/me/password/",
        "/reset-password/{uid}",
    ):
        assert path in doc["paths"], path
    page = doc["paths"]["/reset-password/{uid}"]
    assert "text/html" in page["get"]["responses"]["200"]["content"]
    assert "application/x-www-form-urlencoded" in page["post"]["requestBody"]["content"]


# What else locks the user and then touches its reset links, with the status it answers.
_USER_THEN_LINKS = {
    "account deletion": ("DELETE", "/api/me/", {"password": PASSWORD}, 204),
    "password change": (
        "POST",
        "/api/me/password/",
        {"current_password": PASSWORD, "new_password": "looking-glass-2027"},
        200,
    ),
    "a newer reset request": (
        "POST",
        "/api/auth/password/reset/",
        {"email": "alice@example.com"},
        202,
    ),
}


@pytest.mark.postgres
@pytest.mark.parametrize("rival", list(_USER_THEN_LINKS))
async def test_a_confirm_racing_what_locks_the_user_is_not_a_deadlock(
    postgres_url: str, make_client: Any, inbox: Inbox, rival: str
) -> None:
    """The confirm locked its link, then waited for the user row, which the rival held while it
    waited to delete or invalidate that link: PostgreSQL broke the deadlock by failing one of
    them, a 503. The row locks are lined up by holding the user row and letting the rival, then
    the confirm, queue behind it."""
    application = f"acctkit-{uuid.uuid4().hex[:12]}"
    client = await make_client(f"{postgres_url}&application_name={application}")
    alice = await sign_up(client, inbox)
    uid = await mailed_uid(client, inbox, alice.email)
    method, path, body, ok = _USER_THEN_LINKS[rival]
    holder = psycopg2.connect(postgres_url)
    try:
        holder.cursor().execute('SELECT id FROM "user" WHERE id = %s FOR UPDATE', (alice.id,))
        rivalling = asyncio.ensure_future(
            client.request(method, path, json=body, headers=alice.auth)
        )
        await until_waiting_async(application, 1)
        confirming = asyncio.ensure_future(
            client.post(
                "/api/auth/password/reset/confirm/",
                json={"uid": uid, "new_password": NEW, "re_new_password": NEW},
            )
        )
        await until_waiting_async(application, 2)
    finally:
        holder.rollback()
        holder.close()
    rivalled, confirmed = await rivalling, await confirming
    assert rivalled.status == ok, await rivalled.text()
    await problem(confirmed, 404, "reset_invalid")
    await settle(client)
