"""The contract package on its own: its numbers are core's, its Structs decode what a client
receives, and it stays plain declarations (no web, terminal or database import)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import msgspec
import pytest

from contract import accounts, fields
from core import policy
from core.settings import Settings


def test_published_limits_are_the_ones_core_enforces() -> None:
    assert fields.NAME_MAX == policy.NAME_MAX
    assert fields.USERNAME_MAX == policy.USERNAME_MAX
    assert fields.EMAIL_MAX == policy.EMAIL_MAX
    assert fields.PASSWORD_MAX == policy.PASSWORD_MAX
    assert Settings().password_min_length == fields.PASSWORD_MIN_DEFAULT


def test_a_client_decodes_answers_with_the_structs() -> None:
    user = b"""{"id": 17, "username": "alice", "email": "alice@example.com", "first_name": "Alice",
      "last_name": "Liddell", "avatar_url": null, "date_joined": "2026-01-01T12:00:00Z",
      "email_verified": true, "added_later": 1}"""
    out = msgspec.json.decode(user, type=accounts.UserOut)
    assert out.date_joined == datetime(2026, 1, 1, 12, tzinfo=UTC) and out.avatar_url is None
    started = msgspec.json.decode(
        b'{"signup_id": "s", "email": "a@b.c", "expires_at": "2026-01-01T12:10:00Z",'
        b' "resend_after": "2026-01-01T12:01:00+00:00", "seq": 2}',
        type=accounts.SignupStarted,
    )
    assert started.seq == 2
    problem = msgspec.json.decode(
        b'{"type": "about:blank", "title": "t", "status": 400, "detail": "d", "code": "invalid",'
        b' "errors": {"code": ["x"]}, "attempts_left": 3}',
        type=accounts.Problem,
    )
    assert problem.errors == {"code": ["x"]} and problem.retry_after is msgspec.UNSET
    with pytest.raises(msgspec.ValidationError):  # a timestamp without a zone is not ours
        msgspec.json.decode(
            b'{"valid": true, "expires_at": "2026-01-01T12:00:00"}', type=accounts.ResetStatus
        )


def test_problems_encode_without_the_fields_they_lack() -> None:
    problem = accounts.Problem("about:blank", "Too many", 429, "Wait.", "throttled", retry_after=5)
    assert msgspec.json.decode(msgspec.json.encode(problem)) == {
        "type": "about:blank",
        "title": "Too many",
        "status": 429,
        "detail": "Wait.",
        "code": "throttled",
        "retry_after": 5,
    }


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("fine text, spaces & ünïcode 🐇", None),
        ("nul\x00", "Control characters are not allowed."),
        ("esc\x1b[31m", "Control characters are not allowed."),
        ("c1\x9b", "Control characters are not allowed."),
        ("\ud800", "Not valid Unicode (a lone surrogate)."),
    ],
)
def test_one_character_rule_for_every_string(value: str, reason: str | None) -> None:
    assert fields.refused_character(value) == reason


def test_the_contract_imports_nothing_of_the_service() -> None:
    code = (
        "import sys, contract.accounts, contract.fields\n"
        "bad = {'core', 'server', 'tui', 'devmail', 'aiohttp', 'textual', 'peewee'}\n"
        "print(sorted(bad & {m.split('.')[0] for m in sys.modules}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
