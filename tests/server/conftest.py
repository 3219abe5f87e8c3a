from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from core.clock import FrozenClock
from server.app import create_app
from tests.conftest import Inbox, make_settings


@pytest.fixture
def make_client(aiohttp_client: Any, sqlite_url: str, clock: FrozenClock, inbox: Inbox):
    """Build the real app on a real SQLite file, mailing to the real SMTP inbox."""

    async def make(database_url: str | None = None, **changes: Any) -> TestClient:
        settings = make_settings(database_url or sqlite_url, smtp_url=inbox.url, **changes)
        app = create_app(settings, clock=clock, mail_poll_interval=0.05)
        return await aiohttp_client(app)

    return make


@pytest.fixture
async def client(make_client: Any) -> TestClient:
    return await make_client()
