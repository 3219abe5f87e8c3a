"""End-to-end fixtures: the real service mailing the real devmail."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from core.clock import FrozenClock
from server.app import create_app
from tests.conftest import make_settings
from tests.devmail.conftest import Devmail, devmail, make_devmail

__all__ = ["devmail", "make_devmail"]


@pytest.fixture
async def service(
    aiohttp_client: Any, sqlite_url: str, clock: FrozenClock, devmail: Devmail
) -> TestClient:
    settings = make_settings(sqlite_url, smtp_url=f"smtp://127.0.0.1:{devmail.smtp_port}")
    return await aiohttp_client(create_app(settings, clock=clock, mail_poll_interval=0.05))
