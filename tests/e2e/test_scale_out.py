"""Two `acctkit serve` processes on one PostgreSQL database behind no sticky sessions: any step
of a flow may land on either, and each mail is delivered once although both run a sender."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import Inbox, code_in
from tests.e2e.serve import start_serve

pytestmark = pytest.mark.postgres


async def start_server(
    url: str, smtp_url: str, workdir: Path
) -> tuple[str, asyncio.subprocess.Process]:
    settings = {
        "ACCTKIT_DATABASE_URL": url,
        "ACCTKIT_SMTP_URL": smtp_url,
        "ACCTKIT_SECRET_KEY": "shared-secret-of-the-cluster-" + "k" * 20,
        "ACCTKIT_ARGON2_TIME_COST": "1",
        "ACCTKIT_ARGON2_MEMORY_KIB": "8",
    }
    return await start_serve(settings, workdir)


async def test_flows_cross_instances_and_mail_goes_out_once(
    postgres_url: str, inbox: Inbox, tmp_path: Path
) -> None:
    a, proc_a = await start_server(postgres_url, inbox.url, tmp_path)
    b, proc_b = await start_server(postgres_url, inbox.url, tmp_path)
    try:
        async with aiohttp.ClientSession() as http:
            refs = []
            for i in range(10):
                body = {
                    "first_name": "P",
                    "last_name": "Q",
                    "username": f"user{i}",
                    "email": f"user{i}@example.com",
                    "password": "rabbit-hole-2026",
                }
                async with http.post((a, b)[i % 2] + "/api/auth/signup/", json=body) as resp:
                    assert resp.status == 202
                    refs.append((await resp.json())["signup_id"])
            mails = [await inbox.wait_for(lambda m, r=r: m["X-Acctkit-Ref"] == r) for r in refs]
            for i, (ref, mail) in enumerate(zip(refs, mails, strict=True)):
                verify = {"signup_id": ref, "code": code_in(mail)}
                async with http.post(
                    (b, a)[i % 2] + "/api/auth/signup/verify/", json=verify
                ) as resp:
                    assert resp.status == 201, await resp.text()
                    tokens = await resp.json()
            async with http.post(
                a + "/api/token/refresh/", json={"refresh": tokens["refresh"]}
            ) as resp:
                assert resp.status == 200
            async with http.post(
                b + "/api/token/refresh/", json={"refresh": tokens["refresh"]}
            ) as resp:
                assert resp.status == 401 and (await resp.json())["code"] == "token_reused"
            # The reuse B detected ended the login: its access token is dead on A too.
            async with http.get(
                a + "/api/me/", headers={"Authorization": f"Bearer {tokens['access']}"}
            ) as resp:
                assert resp.status == 401
            login = {"username": "user9", "password": "rabbit-hole-2026"}
            async with http.post(b + "/api/token/", json=login) as resp:
                assert resp.status == 200
                tokens = await resp.json()
            async with http.post(
                a + "/api/auth/logout-all/", headers={"Authorization": f"Bearer {tokens['access']}"}
            ) as resp:
                assert resp.status == 204
            async with http.get(
                b + "/api/me/", headers={"Authorization": f"Bearer {tokens['access']}"}
            ) as resp:
                assert resp.status == 401
        await asyncio.sleep(1.5)  # let both senders poll again: nothing may be sent twice
        assert Counter(m["X-Acctkit-Ref"] for m in inbox.messages) == Counter(refs)
    finally:
        for proc in (proc_a, proc_b):
            proc.terminate()
            await proc.wait()
