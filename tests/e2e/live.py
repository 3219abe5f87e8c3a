"""The service and devmail on real loopback sockets, as `acctkit serve` runs the service.

pytest-aiohttp's test server uses aiohttp's default access logger; these fixtures use the runner
options `acctkit serve` passes (server.accesslog.RUNNER_OPTIONS), so the access log under test is
the one a deployment writes, and a browser can reach both servers. devmail's own HTTP API is run
without an access log: its queries name addresses, and it is not the service whose log is judged.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from core.clock import FrozenClock
from core.settings import Settings
from devmail.api import DEVMAIL_KEY
from devmail.api import create_app as create_devmail
from devmail.config import Config
from server import accesslog
from server.app import create_app
from tests.conftest import make_settings


def _listening() -> tuple[socket.socket, str]:
    """A bound socket first, so the service's public URL (the base of mailed links) is known."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock, f"http://127.0.0.1:{sock.getsockname()[1]}"


async def _start(app: web.Application, sock: socket.socket, **options: Any) -> web.AppRunner:
    runner = web.AppRunner(app, **options)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    return runner


@dataclass
class Live:
    url: str
    mail_url: str
    settings: Settings
    clock: FrozenClock
    http: aiohttp.ClientSession

    async def call(
        self, method: str, path: str, status: int, token: str | None = None, **kwargs: Any
    ) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.request(
            method, self.url + path, headers=headers, **kwargs
        ) as response:
            text = await response.text()
            assert response.status == status, f"{method} {path}: {response.status} {text}"
            if response.content_type.endswith("json"):
                return await response.json(content_type=None)
            return text

    async def latest_mail(self, to: str, after: str | None = None) -> dict[str, Any]:
        """The newest mail to `to` (newer than `after`), waiting for it to arrive."""
        params = {"query": f"to:{to}", "wait": "10"}
        if after:
            params["after"] = after
        async with self.http.get(f"{self.mail_url}/api/v1/message/latest", params=params) as r:
            assert r.status == 200, await r.text()
            return await r.json()


@pytest.fixture
async def live(tmp_path: Path, clock: FrozenClock) -> AsyncIterator[Live]:
    devmail_app = create_devmail(Config(smtp_port=0, http_port=0))
    mail_sock, mail_url = _listening()
    mail_runner = await _start(devmail_app, mail_sock, access_log=None, handler_cancellation=True)
    sock, url = _listening()
    settings = make_settings(
        f"sqlite:///{tmp_path}/acctkit.db",
        smtp_url=f"smtp://127.0.0.1:{devmail_app[DEVMAIL_KEY].smtp_port}",
        public_url=url,
        env="production",
    )
    app = create_app(settings, clock=clock, mail_poll_interval=0.05)
    runner = await _start(app, sock, **accesslog.RUNNER_OPTIONS)
    async with aiohttp.ClientSession() as http:
        yield Live(url, mail_url, settings, clock, http)
    await runner.cleanup()
    await mail_runner.cleanup()
