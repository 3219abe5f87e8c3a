"""Log lines: addresses masked in production (kept while developing), query parameters never."""

from __future__ import annotations

import logging

import pytest

from core import redaction
from core.settings import Settings


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("alice@example.com", "a***@example.com"),
        ("Bob.Smith+tag@mail.example.org", "B***@mail.example.org"),
        ("x@y", "x***@y"),
        ("no-at-sign", "***"),
        ("@example.com", "***"),
        ("", "***"),
    ],
)
def test_address_keeps_one_character_and_the_domain(given: str, shown: str) -> None:
    assert redaction.address(given) == shown


def test_only_production_masks() -> None:
    production = Settings(env="production")
    assert redaction.recipient(production, "alice@example.com") == "a***@example.com"
    assert redaction.recipient(Settings(), "alice@example.com") == "alice@example.com"
    reply = "550 5.1.1 <alice@example.com>: Recipient address rejected (bob@x.org)"
    assert redaction.addresses_in(production, reply) == (
        "550 5.1.1 <a***@example.com>: Recipient address rejected (b***@x.org)"
    )
    assert redaction.addresses_in(Settings(), reply) == reply


def test_peewee_query_log_keeps_the_sql_and_drops_the_parameters(
    caplog: pytest.LogCaptureFixture,
) -> None:
    redaction.quiet_query_parameters()
    redaction.quiet_query_parameters()  # idempotent
    assert len(logging.getLogger("peewee").filters) >= 1
    with caplog.at_level(logging.DEBUG, logger="peewee"):
        logging.getLogger("peewee").debug(("SELECT 1 WHERE a = ? AND b = ?", ["s3cret", 7]))
    (record,) = caplog.records
    assert record.getMessage() == "SELECT 1 WHERE a = ? AND b = ? [2 parameters]"
    assert "s3cret" not in caplog.text
