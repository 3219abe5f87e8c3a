"""The real service on an ephemeral port, served from a background thread's event loop.

For clients that drive it from the outside and synchronously (schemathesis, a Hypothesis test):
the app, its SQLite file and the SMTP inbox that catches its mail all live on that loop; the test
thread talks to it over real sockets.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import aiohttp
from aiohttp import web
from aiosmtpd.smtp import SMTP

from core.settings import Settings
from server.app import create_app
from tests.conftest import Inbox, code_in

T = TypeVar("T")
PASSWORD = "rabbit-hole-2026"


class LiveService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.inbox = Inbox()
        self.port = 0
        self.answered: list[tuple[str, str, int]] = []  # (method, path, status) of every answer

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def __enter__(self) -> LiveService:
        self.thread.start()
        self.run(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        self.run(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    async def _start(self) -> None:
        self.inbox.condition = asyncio.Condition()  # bound to this loop
        self.smtp = await self.loop.create_server(
            lambda: SMTP(self.inbox, hostname="inbox.test"), host="127.0.0.1", port=0
        )
        self.inbox.port = self.smtp.sockets[0].getsockname()[1]
        settings = self.settings.replace(smtp_url=self.inbox.url)
        app = create_app(settings, mail_poll_interval=0.05)

        async def record(request: web.Request, response: web.StreamResponse) -> None:
            self.answered.append((request.method, request.path, response.status))

        app.on_response_prepare.append(record)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _stop(self) -> None:
        await self.runner.cleanup()
        self.smtp.close()
        await self.smtp.wait_closed()

    async def _request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, str, bytes]:
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, self.url + path, data=body, headers=headers) as resp,
        ):
            return resp.status, resp.content_type, await resp.read()

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str, bytes]:
        """(status, content type, body) of one real HTTP exchange."""
        return self.run(self._request(method, path, body, headers or {}))

    def post_json(self, path: str, value: object) -> tuple[int, Any]:
        status, _, body = self.request(
            "POST", path, json.dumps(value).encode(), {"Content-Type": "application/json"}
        )
        return status, json.loads(body) if body else None

    def sign_up(self, name: str) -> str:
        """A verified account made as a client makes one; returns its email address."""
        email = f"{name}@example.com"
        fields = {"first_name": "A", "last_name": "B", "username": name, "email": email}
        status, started = self.post_json("/api/auth/signup/", {**fields, "password": PASSWORD})
        assert status == 202, started
        deadline = time.monotonic() + 10
        while not (mail := [m for m in self.inbox.messages if m["To"] == email]):
            assert time.monotonic() < deadline, "no signup mail"
            time.sleep(0.02)
        status, verified = self.post_json(
            "/api/auth/signup/verify/",
            {"signup_id": started["signup_id"], "code": code_in(mail[-1])},
        )
        assert status == 201, verified
        return email

    def log_in(self, email: str) -> str:
        """A fresh access token (by email: a fuzzer may have renamed the user)."""
        status, pair = self.post_json("/api/token/", {"username": email, "password": PASSWORD})
        assert status == 200, pair
        return pair["access"]
