"""Login throttling through the real app behind a trusted proxy: the client address comes from
X-Forwarded-For, as it would behind a load balancer."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from core.clock import FrozenClock
from tests.conftest import Inbox
from tests.server.support import PASSWORD, problem, sign_up

WRONG = "wrong-password-1"


@pytest.fixture
async def proxied(make_client: Any) -> TestClient:
    # The test client connects from 127.0.0.1: that is the trusted proxy.
    return await make_client(trusted_proxies=("127.0.0.1/32",))


async def _login(client: TestClient, username: str, password: str, ip: str) -> tuple[int, Any]:
    resp = await client.post(
        "/api/token/",
        json={"username": username, "password": password},
        headers={"X-Forwarded-For": ip},
    )
    if resp.status == 429:
        body = await problem(resp, 429, "too_many_attempts")
        assert int(resp.headers["Retry-After"]) == body["retry_after"] >= 1
        return 429, resp.headers["Retry-After"]
    if resp.status == 401:
        await problem(resp, 401, "invalid_credentials")
    return resp.status, None


async def test_known_and_unknown_usernames_see_identical_answers(proxied, inbox: Inbox) -> None:
    await sign_up(proxied, inbox)
    known = [await _login(proxied, "alice", WRONG, "198.51.100.1") for _ in range(12)]
    unknown = [await _login(proxied, "mallory", WRONG, "198.51.100.2") for _ in range(12)]
    assert known == unknown
    assert [status for status, _ in known] == [401] * 10 + [429] * 2
    assert await _login(proxied, "alice", PASSWORD, "198.51.100.1") == known[-1]


async def test_the_right_password_from_another_address_works_after_a_burst(
    proxied, inbox: Inbox
) -> None:
    await sign_up(proxied, inbox)
    for _ in range(10):
        assert (await _login(proxied, "alice", WRONG, "203.0.113.66"))[0] == 401
    assert (await _login(proxied, "alice", PASSWORD, "203.0.113.66"))[0] == 429
    assert (await _login(proxied, "ALICE@example.com ", WRONG, "203.0.113.66"))[0] == 401
    assert (await _login(proxied, "alice", PASSWORD, "192.0.2.10"))[0] == 200


async def test_the_100_failure_bound_holds_across_addresses(
    proxied, inbox: Inbox, clock: FrozenClock
) -> None:
    await sign_up(proxied, inbox)
    for who in ("alice", "mallory"):
        for n in range(100):
            status, _ = await _login(proxied, who, WRONG, f"10.{n // 10}.0.{1 + (who == 'alice')}")
            assert status == 401, (who, n)
        status, retry = await _login(proxied, who, PASSWORD, "192.0.2.77")
        assert status == 429, who
    clock.advance(int(retry))
    assert (await _login(proxied, "alice", PASSWORD, "192.0.2.77"))[0] == 200
