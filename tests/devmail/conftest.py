"""devmail fixtures: the real catcher (SMTP and HTTP) on ephemeral loopback ports, and mail
builders shaped like what acctkit sends. Nothing of devmail is mocked."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import pytest
from aiohttp.test_utils import TestClient

from devmail.api import DEVMAIL_KEY, DevmailServer, create_app
from devmail.config import Config


@dataclass
class Devmail:
    client: TestClient
    server: DevmailServer

    @property
    def smtp_port(self) -> int:
        return self.server.smtp_port

    async def send(
        self,
        message: EmailMessage | bytes,
        *,
        sender: str | None = None,
        recipients: list[str] | None = None,
        **options: Any,
    ) -> None:
        """Deliver over real SMTP with aiosmtplib (a new connection per call)."""
        if isinstance(message, bytes):
            sender = sender or "sender@example.com"
            recipients = recipients or ["rcpt@example.com"]
        await aiosmtplib.send(
            message,
            hostname="127.0.0.1",
            port=self.smtp_port,
            sender=sender,
            recipients=recipients,
            start_tls=False,
            use_tls=False,
            **options,
        )

    async def json(self, path: str, status: int = 200, **params: Any) -> Any:
        response = await self.client.get(path, params=params)
        assert response.status == status, await response.text()
        return await response.json()


MakeDevmail = Callable[..., Awaitable[Devmail]]


async def eventually(check: Callable[[], object], timeout: float = 10.0) -> bool:
    """True as soon as `check()` is, False if it is not within `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


@pytest.fixture
def make_devmail(aiohttp_client: Any) -> MakeDevmail:
    """Start a devmail with Config fields changed; ports are always ephemeral."""

    async def make(**changes: Any) -> Devmail:
        config = Config(smtp_port=0, http_port=0, **changes)
        app = create_app(config)
        client = await aiohttp_client(app)
        return Devmail(client, app[DEVMAIL_KEY])

    return make


@pytest.fixture
async def devmail(make_devmail: MakeDevmail) -> Devmail:
    return await make_devmail()


def code_mail(
    to: str = "alice@example.com",
    code: str = "042917",
    *,
    flow: str | None = "signup",
    ref: str | None = "sg_1",
    seq: int | None = 1,
    subject: str | None = None,
) -> EmailMessage:
    """A mail shaped like acctkit's verification mail: text plus an HTML alternative."""
    message = EmailMessage()
    message["From"] = "acctkit <no-reply@localhost>"
    message["To"] = to
    message["Subject"] = subject or f"Your acctkit code: {code}"
    if flow is not None:
        message["X-Acctkit-Flow"] = flow
    if ref is not None:
        message["X-Acctkit-Ref"] = ref
    if seq is not None:
        message["X-Acctkit-Seq"] = str(seq)
    message.set_content(f"Your verification code is {code}. It expires in 10 minutes.\n")
    message.add_alternative(
        f"<html><body><p>Your verification code is <strong>{code}</strong>.</p>"
        "<p>It expires in 10 minutes.</p></body></html>\n",
        subtype="html",
    )
    return message


def plain_mail(
    to: str = "bob@example.com", subject: str = "hello", body: str = "hi\n"
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Sender <sender@example.com>"
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    return message
