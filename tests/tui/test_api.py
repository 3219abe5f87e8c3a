"""tui.client on its own, against the real service and devmail: what the panes rely on."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web

import contract.accounts
from core.clock import FrozenClock
from tests.tui.conftest import PASSWORD, Devmail, make_user
from tui.client import MASK, AccountsClient, ApiProblem, HttpLog, MailClient, mask, uid_from


def test_mask_hides_secrets_at_any_depth_and_keeps_codes() -> None:
    body = {"password": "p", "code": "042917", "nested": [{"refresh": "r", "token": "t"}]}
    assert mask(body) == {
        "password": MASK,
        "code": "042917",
        "nested": [{"refresh": MASK, "token": MASK}],
    }


@pytest.mark.parametrize(
    "pasted",
    ["http://127.0.0.1:8000/reset-password/AbC_123-x", "/reset-password/AbC_123-x/", " AbC_123-x "],
)
def test_uid_from_a_link_or_a_bare_uid(pasted: str) -> None:
    assert uid_from(pasted) == "AbC_123-x"


async def test_problem_documents_become_api_problems(accounts: str) -> None:
    client = AccountsClient(accounts)
    try:
        with pytest.raises(ApiProblem) as caught:
            await client.signup_start(
                first_name="A", last_name="B", username="a b", email="nope", password="x"
            )
        problem = caught.value
        assert (problem.status, problem.code) == (400, "invalid")
        assert {"username", "email", "password"} <= set(problem.errors)
        assert client.log.entries[-1].status == 400
    finally:
        await client.close()


async def test_unreachable_service_is_a_problem_with_status_0_and_a_log_entry() -> None:
    log = HttpLog()
    client = AccountsClient("http://127.0.0.1:9", log)
    try:
        with pytest.raises(ApiProblem) as caught:
            await client.healthz()
        assert (caught.value.status, caught.value.code) == (0, "unreachable")
        assert log.entries[-1].status is None and log.entries[-1].error
    finally:
        await client.close()


async def test_concurrent_401s_share_one_refresh(
    accounts: str, devmail: Devmail, clock: FrozenClock
) -> None:
    """A refresh token is single use: two refreshes would look like theft and end the login."""
    await make_user(accounts, devmail, "alice")
    client = AccountsClient(accounts)
    try:
        await client.login("alice", PASSWORD)
        clock.advance(301)
        users = await asyncio.gather(client.me(), client.me(), client.me())
        assert {u.username for u in users} == {"alice"}
        refreshes = [e for e in client.log.entries if e.path == "/api/token/refresh/"]
        assert [e.status for e in refreshes] == [200]
    finally:
        await client.close()


async def test_a_failed_refresh_ends_the_login(accounts: str, devmail: Devmail) -> None:
    await make_user(accounts, devmail, "alice")
    here, elsewhere = AccountsClient(accounts), AccountsClient(accounts)
    try:
        await here.login("alice", PASSWORD)
        await elsewhere.login("alice", PASSWORD)
        await elsewhere.logout_all()
        with pytest.raises(ApiProblem) as caught:
            await here.me()
        assert caught.value.status == 401
        assert not here.logged_in
        assert [(e.path, e.status) for e in list(here.log.entries)[-3:]] == [
            ("/api/token/", 200),
            ("/api/me/", 401),
            ("/api/token/refresh/", 401),
        ]
    finally:
        await here.close()
        await elsewhere.close()


async def test_mail_events_start_connected_then_report_new_mail(
    accounts: str, devmail: Devmail
) -> None:
    mail = MailClient(devmail.url)
    events = mail.events()
    try:
        first = await anext(events)
        assert (first.type, first.summary) == ("connected", None)
        await make_user(accounts, devmail, "bob")
        new = await asyncio.wait_for(anext(events), 10)
        assert new.type == "new" and new.summary is not None
        assert new.summary.to_text == "bob@example.com" and new.summary.flow == "signup"
        latest = await mail.latest("to:bob@example.com", wait=5)
        assert latest is not None and latest.summary.id == new.summary.id
        assert latest.summary.codes[0] in latest.text
        assert await mail.latest("to:nobody@example.com") is None
    finally:
        await events.aclose()
        await mail.close()


async def test_a_reset_uid_in_a_path_is_masked_in_the_log(accounts: str) -> None:
    client = AccountsClient(accounts)
    uid = "S3cretUidThatMustNotBeLogged"
    try:
        with pytest.raises(ApiProblem):
            await client.reset_check(uid)
        entry = client.log.entries[-1]
        assert uid not in entry.url and uid not in entry.path
        assert entry.path.startswith("/api/auth/password/reset/S3cr")
    finally:
        await client.close()


async def test_answers_are_decoded_with_the_contract_and_a_broken_one_names_its_field(
    accounts: str, devmail: Devmail, aiohttp_server: Any
) -> None:
    """The accounts client hands back the contract's own Structs; a service that answers outside
    the contract (here a stand-in that sends a number where a string belongs) is an ApiProblem
    naming the field, not a KeyError inside a screen."""
    await make_user(accounts, devmail, "typed")
    client = AccountsClient(accounts)
    try:
        await client.login("typed", PASSWORD)
        me = await client.me()
        assert isinstance(me, contract.accounts.UserOut) and me.username == "typed"
        assert me.date_joined.tzinfo is not None
    finally:
        await client.close()

    number = await _healthz_refusal(aiohttp_server, web.json_response({"status": 7}))
    assert number.code == "unexpected_body" and "$.status" in number.detail
    not_utf8 = web.Response(body=b'{"status": "\xff\xfe"}', content_type="application/json")
    assert (await _healthz_refusal(aiohttp_server, not_utf8)).code == "unexpected_body"


async def _healthz_refusal(aiohttp_server: Any, answer: web.Response) -> ApiProblem:
    """What the accounts client raises when a stand-in service answers /healthz with `answer`."""

    async def healthz(request: web.Request) -> web.Response:
        return answer

    broken = web.Application()
    broken.router.add_get("/healthz", healthz)
    server = await aiohttp_server(broken)
    client = AccountsClient(str(server.make_url("")).rstrip("/"))
    try:
        with pytest.raises(ApiProblem) as caught:
            await client.healthz()
        return caught.value
    finally:
        await client.close()
