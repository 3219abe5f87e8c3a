"""What a running devmail holds, kept in the aiohttp app under one typed key."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from aiohttp import web

from devmail.chaos import Chaos
from devmail.config import Config
from devmail.smtp import SmtpServer, SmtpStats
from devmail.store import Store


@dataclass
class DevmailServer:
    """Everything a running devmail holds; `smtp_port` is the bound one (useful with port 0)."""

    config: Config
    store: Store
    chaos: Chaos
    stats: SmtpStats = field(default_factory=SmtpStats)
    started: float = field(default_factory=time.monotonic)
    smtp: SmtpServer | None = None
    websockets: set[web.WebSocketResponse] = field(default_factory=set)
    _websockets_changed: asyncio.Condition | None = None

    @property
    def smtp_port(self) -> int:
        if self.smtp is None:
            raise RuntimeError("devmail's SMTP server is not running (is the app started?)")
        return self.smtp.port

    def _ws_condition(self) -> asyncio.Condition:
        if self._websockets_changed is None:
            self._websockets_changed = asyncio.Condition()
        return self._websockets_changed

    async def websockets_changed(self) -> None:
        condition = self._ws_condition()
        async with condition:
            condition.notify_all()

    async def wait_websockets(self, count: int) -> None:
        """Return once exactly `count` websocket subscribers are connected (for tests, tools)."""
        condition = self._ws_condition()
        async with condition:
            await condition.wait_for(lambda: len(self.websockets) == count)


DEVMAIL_KEY = web.AppKey("devmail", DevmailServer)
