"""Typed application state."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from core.context import Context
from core.settings import Settings
from core.users import UserView
from server.batcher import Batcher
from server.metrics import Metrics
from server.sender import OutboxSender

SETTINGS = web.AppKey("settings", Settings)
CONTEXT = web.AppKey("context", Context)
DB_POOL = web.AppKey("db_pool", ThreadPoolExecutor)
HASH_POOL = web.AppKey("hash_pool", ThreadPoolExecutor)
SENDER = web.AppKey("sender", OutboxSender)
METRICS = web.AppKey("metrics", Metrics)
ME_READS = web.AppKey("me_reads", Batcher[str, UserView])
