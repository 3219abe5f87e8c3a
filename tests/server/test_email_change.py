"""POST /api/me/email/ and /api/me/email/verify/ over HTTP, with codes read from the mail the
real SMTP inbox received."""

from __future__ import annotations

from tests.conftest import Inbox, body_text, code_in
from tests.server.support import PASSWORD, Account, log_in, problem, sign_up

NEW = "alice@wonderland.example"


async def ask(client, who: Account, email: str = NEW, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return await client.post(
        "/api/me/email/", json={"email": email, "password": password}, headers=who.auth
    )


async def confirm(client, who: Account, code: str):  # type: ignore[no-untyped-def]
    return await client.post("/api/me/email/verify/", json={"code": code}, headers=who.auth)


def other_than(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def test_happy_path_switches_and_notifies_the_old_address(client, inbox: Inbox) -> None:
    alice = await sign_up(client, inbox)
    resp = await ask(client, alice)
    assert resp.status == 202, await resp.text()
    sent = await resp.json()
    assert set(sent) == {"expires_at", "resend_after", "seq"} and sent["seq"] == 1
    assert sent["expires_at"].endswith("Z")
    mail = await inbox.next_to(NEW, flow="email-change")
    assert mail["X-Acctkit-Seq"] == "1" and mail["X-Acctkit-Ref"]
    resp = await confirm(client, alice, code_in(mail))
    assert resp.status == 200, await resp.text()
    user = await resp.json()
    assert user["email"] == NEW and user["email_verified"] is True and user["id"] == alice.id
    notice = await inbox.next_to(alice.email, flow="email-change")
    assert notice["X-Acctkit-Ref"] == mail["X-Acctkit-Ref"]
    text = body_text(notice)
    assert NEW in text and code_in(mail) not in text
    assert "verification code" not in text
    me = await (await client.get("/api/me/", headers=alice.auth)).json()
    assert me["email"] == NEW
    login = await client.post("/api/token/", json={"email": NEW, "password": PASSWORD})
    assert login.status == 200
    # The change is done: nothing is pending any more.
    await problem(await confirm(client, alice, code_in(mail)), 404, "email_change_not_found")


async def test_second_request_supersedes_the_first_code(client, inbox: Inbox, clock) -> None:
    alice = await sign_up(client, inbox)
    assert (await ask(client, alice)).status == 202
    first = await inbox.next_to(NEW, flow="email-change", seq=1)
    resp = await ask(client, alice)
    body = await problem(resp, 429, "resend_too_soon")
    assert 1 <= int(resp.headers["Retry-After"]) <= 60 and body["retry_after"] >= 1
    clock.advance(61)
    assert (await ask(client, alice)).status == 202
    second = await inbox.next_to(NEW, flow="email-change", seq=2)
    assert second["X-Acctkit-Ref"] == first["X-Acctkit-Ref"]
    if code_in(first) != code_in(second):
        await problem(await confirm(client, alice, code_in(first)), 409, "code_superseded")
    assert (await confirm(client, alice, code_in(second))).status == 200


async def test_a_request_for_another_address_supersedes_too(client, inbox: Inbox, clock) -> None:
    alice = await sign_up(client, inbox)
    assert (await ask(client, alice, "typo@wonderlnd.example")).status == 202
    typo = await inbox.next_to("typo@wonderlnd.example", flow="email-change")
    clock.advance(61)
    assert (await ask(client, alice)).status == 202
    right = await inbox.next_to(NEW, flow="email-change", seq=2)
    if code_in(typo) != code_in(right):
        await problem(await confirm(client, alice, code_in(typo)), 409, "code_superseded")
    user = await (await confirm(client, alice, code_in(right))).json()
    assert user["email"] == NEW


async def test_expired_code_is_410(client, inbox: Inbox, clock) -> None:
    alice = await sign_up(client, inbox)
    assert (await ask(client, alice)).status == 202
    code = code_in(await inbox.next_to(NEW, flow="email-change"))
    clock.advance(601)
    alice = await log_in(client, alice)  # the access token has expired too
    await problem(await confirm(client, alice, code), 410, "code_expired")
    me = await (await client.get("/api/me/", headers=alice.auth)).json()
    assert me["email"] == alice.email


async def test_wrong_codes_count_down_then_lock(client, inbox: Inbox) -> None:
    alice = await sign_up(client, inbox)
    assert (await ask(client, alice)).status == 202
    real = code_in(await inbox.next_to(NEW, flow="email-change"))
    lefts = []
    for _ in range(5):
        body = await problem(await confirm(client, alice, other_than(real)), 400, "code_invalid")
        lefts.append(body["attempts_left"])
    assert lefts == [4, 3, 2, 1, 0]
    await problem(await confirm(client, alice, real), 429, "too_many_attempts")
    resp = await ask(client, alice)
    await problem(resp, 429, "too_many_attempts")
    assert int(resp.headers["Retry-After"]) > 0


async def test_code_as_number_and_pasted_with_spaces(client, inbox: Inbox) -> None:
    alice = await sign_up(client, inbox)
    assert (await ask(client, alice)).status == 202
    code = code_in(await inbox.next_to(NEW, flow="email-change"))
    resp = await client.post("/api/me/email/verify/", json={"code": int(code)}, headers=alice.auth)
    await problem(resp, 400, "invalid")
    assert (await confirm(client, alice, f" {code[:3]} {code[3:]} ")).status == 200


async def test_refusals(client, inbox: Inbox) -> None:
    alice = await sign_up(client, inbox)
    bob = await sign_up(client, inbox, "bob")
    await problem(await ask(client, alice, password="not-my-password"), 403, "wrong_password")
    body = await problem(await ask(client, alice, email="not an address"), 400, "invalid")
    assert "email" in body["errors"]
    await problem(await ask(client, alice, email="BOB@example.com"), 409, "email_taken")
    await problem(await confirm(client, alice, "123456"), 404, "email_change_not_found")
    resp = await client.post("/api/me/email/", json={"email": NEW, "password": PASSWORD})
    await problem(resp, 401, "not_authenticated")
    resp = await client.post("/api/me/email/", json={"email": NEW}, headers=alice.auth)
    assert "password" in (await problem(resp, 400, "invalid"))["errors"]
    assert bob.id != alice.id


async def test_address_taken_meanwhile_is_409_at_verify(client, inbox: Inbox) -> None:
    alice = await sign_up(client, inbox)
    assert (await ask(client, alice, "carol@example.com")).status == 202
    code = code_in(await inbox.next_to("carol@example.com", flow="email-change"))
    await sign_up(client, inbox, "carol")
    await problem(await confirm(client, alice, code), 409, "email_taken")
    me = await (await client.get("/api/me/", headers=alice.auth)).json()
    assert me["email"] == alice.email


async def test_email_change_on_postgresql(postgres_url: str, make_client, inbox: Inbox) -> None:
    client = await make_client(postgres_url)
    alice = await sign_up(client, inbox)
    assert (await ask(client, alice)).status == 202
    code = code_in(await inbox.next_to(NEW, flow="email-change"))
    assert (await (await confirm(client, alice, code)).json())["email"] == NEW
    await inbox.next_to(alice.email, flow="email-change")
