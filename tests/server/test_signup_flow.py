"""Signup over HTTP, with the code read from the mail a real SMTP server received."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import Inbox, code_in

ALICE = {
    "first_name": "Alice",
    "last_name": "Liddell",
    "username": "alice",
    "email": "alice@example.com",
    "password": "rabbit-hole-2026",
}


async def start(client, **changes):  # type: ignore[no-untyped-def]
    resp = await client.post("/api/auth/signup/", json={**ALICE, **changes})
    assert resp.status == 202, await resp.text()
    return await resp.json()


async def test_signup_mails_a_code_that_creates_the_account(client, inbox: Inbox) -> None:
    started = await start(client)
    assert started["email"] == "alice@example.com"
    assert started["expires_at"].endswith("Z") and started["resend_after"].endswith("Z")
    assert started["seq"] == 1
    mail = await inbox.next_to("alice@example.com", flow="signup")
    assert mail["X-Acctkit-Ref"] == started["signup_id"]
    assert mail["X-Acctkit-Seq"] == "1"
    assert mail.get_body(("html",)) is not None
    resp = await client.post(
        "/api/auth/signup/verify/", json={"signup_id": started["signup_id"], "code": code_in(mail)}
    )
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    assert body["user"]["username"] == "alice"
    assert body["user"]["email_verified"] is True
    assert body["user"]["avatar_url"] is None
    me = await client.get("/api/me/", headers={"Authorization": f"Bearer {body['access']}"})
    assert me.status == 200
    assert (await me.json())["id"] == body["user"]["id"]


async def test_no_user_exists_until_verified(client, inbox: Inbox) -> None:
    await start(client)
    resp = await client.post(
        "/api/token/", json={"username": "alice", "password": ALICE["password"]}
    )
    assert resp.status == 401
    assert (await resp.json())["code"] == "invalid_credentials"


async def test_second_pending_signup_with_same_email_is_allowed_first_verified_wins(
    client, inbox: Inbox
) -> None:
    first = await start(client)
    second = await start(client, username="alice2")
    mails = [
        await inbox.wait_for(lambda m, ref=s["signup_id"]: m["X-Acctkit-Ref"] == ref)
        for s in (first, second)
    ]
    ok = await client.post(
        "/api/auth/signup/verify/",
        json={"signup_id": second["signup_id"], "code": code_in(mails[1])},
    )
    assert ok.status == 201
    lost = await client.post(
        "/api/auth/signup/verify/",
        json={"signup_id": first["signup_id"], "code": code_in(mails[0])},
    )
    assert lost.status == 409
    assert (await lost.json())["code"] == "email_taken"


async def test_taken_username_and_email_are_409_at_start_case_insensitively(
    client, inbox: Inbox
) -> None:
    started = await start(client)
    mail = await inbox.next_to("alice@example.com")
    await client.post(
        "/api/auth/signup/verify/", json={"signup_id": started["signup_id"], "code": code_in(mail)}
    )
    resp = await client.post(
        "/api/auth/signup/", json={**ALICE, "username": "ALICE", "email": "new@example.com"}
    )
    assert resp.status == 409
    assert (await resp.json())["code"] == "username_taken"
    resp = await client.post(
        "/api/auth/signup/", json={**ALICE, "username": "bob", "email": "Alice@EXAMPLE.com"}
    )
    assert resp.status == 409
    assert (await resp.json())["code"] == "email_taken"


async def test_invalid_fields_are_reported_per_field(client) -> None:
    resp = await client.post(
        "/api/auth/signup/",
        json={
            "first_name": "",
            "last_name": "L",
            "username": "no spaces!",
            "email": "nope",
            "password": "password",
        },
    )
    assert resp.status == 400
    assert resp.content_type == "application/problem+json"
    body = await resp.json()
    assert body["code"] == "invalid"
    assert set(body["errors"]) == {"first_name", "username", "email", "password"}
    assert any("common" in r for r in body["errors"]["password"])


@pytest.mark.postgres
async def test_a_username_long_once_spelt_out_is_400_not_500_on_postgres(
    make_client, postgres_url: str
) -> None:
    """Nine U+FDFA are 162 letters once NFKC spells them out; the key column holds 150."""
    client = await make_client(postgres_url)
    body = {
        "first_name": "A",
        "last_name": "L",
        "username": "\ufdfa" * 9,
        "email": "a@example.com",
        "password": "vorpal-blade-snicker",
    }
    resp = await client.post("/api/auth/signup/", json=body)
    assert resp.status == 400, await resp.text()
    assert set((await resp.json())["errors"]) == {"username"}


async def test_code_as_json_number_is_refused(client, inbox: Inbox) -> None:
    started = await start(client)
    resp = await client.post(
        "/api/auth/signup/verify/", json={"signup_id": started["signup_id"], "code": 42917}
    )
    assert resp.status == 400
    body = await resp.json()
    assert body["code"] == "invalid" and "code" in body["errors"]


async def test_wrong_code_counts_down_then_locks(client, inbox: Inbox) -> None:
    started = await start(client)
    real = code_in(await inbox.next_to("alice@example.com"))
    wrong = f"{(int(real) + 1) % 1_000_000:06d}"
    lefts = []
    for _ in range(5):
        resp = await client.post(
            "/api/auth/signup/verify/", json={"signup_id": started["signup_id"], "code": wrong}
        )
        assert resp.status == 400
        lefts.append((await resp.json())["attempts_left"])
    assert lefts == [4, 3, 2, 1, 0]
    resp = await client.post(
        "/api/auth/signup/verify/", json={"signup_id": started["signup_id"], "code": real}
    )
    assert resp.status == 429
    assert (await resp.json())["code"] == "too_many_attempts"


async def test_resend_supersedes_and_has_cooldown(client, inbox: Inbox, clock) -> None:
    started = await start(client)
    sid = started["signup_id"]
    first = code_in(await inbox.next_to("alice@example.com", seq=1))
    resp = await client.post("/api/auth/signup/resend/", json={"signup_id": sid})
    assert resp.status == 429
    assert (await resp.json())["code"] == "resend_too_soon"
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    clock.advance(61)
    resp = await client.post("/api/auth/signup/resend/", json={"signup_id": sid})
    assert resp.status == 202, await resp.text()
    assert (await resp.json())["seq"] == 2
    second_mail = await inbox.next_to("alice@example.com", seq=2)
    second = code_in(second_mail)
    if second != first:
        resp = await client.post("/api/auth/signup/verify/", json={"signup_id": sid, "code": first})
        assert resp.status == 409
        assert (await resp.json())["code"] == "code_superseded"
    resp = await client.post("/api/auth/signup/verify/", json={"signup_id": sid, "code": second})
    assert resp.status == 201


async def test_expired_code_is_410(client, inbox: Inbox, clock) -> None:
    started = await start(client)
    code = code_in(await inbox.next_to("alice@example.com"))
    clock.advance(601)
    resp = await client.post(
        "/api/auth/signup/verify/", json={"signup_id": started["signup_id"], "code": code}
    )
    assert resp.status == 410
    assert (await resp.json())["code"] == "code_expired"


async def test_pasted_code_with_spaces_and_hyphen_works(client, inbox: Inbox) -> None:
    started = await start(client)
    code = code_in(await inbox.next_to("alice@example.com"))
    resp = await client.post(
        "/api/auth/signup/verify/",
        json={"signup_id": started["signup_id"], "code": f" {code[:3]}-{code[3:]} "},
    )
    assert resp.status == 201


async def test_unknown_signup_is_404(client) -> None:
    for path in ("/api/auth/signup/verify/", "/api/auth/signup/resend/"):
        resp = await client.post(path, json={"signup_id": "nope", "code": "123456"})
        assert resp.status == 404
        assert (await resp.json())["code"] == "signup_not_found"


async def test_twenty_racing_verifications_for_one_username_make_one_user(
    client, inbox: Inbox
) -> None:
    signups = [await start(client, email=f"racer{i}@example.com") for i in range(20)]
    codes = {}
    for s in signups:
        mail = await inbox.wait_for(lambda m, ref=s["signup_id"]: m["X-Acctkit-Ref"] == ref)
        codes[s["signup_id"]] = code_in(mail)
    responses = await asyncio.gather(
        *[
            client.post("/api/auth/signup/verify/", json={"signup_id": sid, "code": code})
            for sid, code in codes.items()
        ]
    )
    statuses = sorted(r.status for r in responses)
    assert statuses == [201] + [409] * 19
    bodies = [await r.json() for r in responses if r.status == 409]
    assert {b["code"] for b in bodies} == {"username_taken"}
