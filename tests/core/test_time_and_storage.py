"""Times round-trip exactly through the database on both backends (DESIGN.md cause 8)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from core import db
from core.context import Context
from core.models import RateLimit


def test_aware_utc_datetimes_round_trip(ctx: Context) -> None:
    moment = datetime(2026, 3, 29, 1, 59, 59, 999999, tzinfo=UTC)
    with db.connection():
        RateLimit.create(key="k", tat=moment)
        back = RateLimit.get_by_id("k").tat
    assert back == moment
    assert back.tzinfo is not None and back.utcoffset() == timedelta(0)


def test_other_offsets_are_stored_as_the_same_instant(ctx: Context) -> None:
    tehran = timezone(timedelta(hours=3, minutes=30))
    moment = datetime(2025, 7, 6, 12, 0, tzinfo=tehran)
    with db.connection():
        RateLimit.create(key="k", tat=moment)
        assert RateLimit.get_by_id("k").tat == moment.astimezone(UTC)
        assert RateLimit.select().where(RateLimit.tat < moment + timedelta(seconds=1)).count() == 1


def test_naive_datetimes_are_refused(ctx: Context) -> None:
    with db.connection(), pytest.raises(ValueError, match="aware"):
        RateLimit.create(key="k", tat=datetime(2026, 1, 1))
