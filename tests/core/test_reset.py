"""Reset links and password change in core, on SQLite and PostgreSQL, with the injected clock."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from core import accounts, email_change, errors, reset, sessions
from core.clock import FrozenClock
from core.context import Context
from core.db import connection
from core.models import Outbox, PasswordReset, RefreshToken, User
from core.users import UserView
from tests.conftest import FixedCodes

OLD = "vorpal-blade-snicker"
NEW = "frumious-bandersnatch"
LINK = re.compile(r"(\S+)/reset-password/([A-Za-z0-9_-]+)")


def uid_from_outbox(index: int = -1) -> str:
    """The UID as mailed: read from the text of the queued mail, the only place it exists."""
    with connection():
        mails = list(
            Outbox.select().where(Outbox.flow == "password-reset").order_by(Outbox.id.asc())
        )
    found = LINK.search(mails[index].text)
    assert found, mails[index].text
    return found.group(2)


def outbox(flow: str) -> list[Outbox]:
    with connection():
        return list(Outbox.select().where(Outbox.flow == flow).order_by(Outbox.id.asc()))


def resets() -> list[PasswordReset]:
    with connection():
        return list(PasswordReset.select().order_by(PasswordReset.created_at.asc()))


@pytest.fixture
def alice(ctx: Context) -> UserView:
    return accounts.create_user(
        ctx, username="alice", email="alice@example.com", password=OLD, first_name="Alice"
    )


def token_version(user_id: int) -> int:
    with connection():
        return User.get_by_id(user_id).token_version


# -- request ------------------------------------------------------------------------------------


def test_request_stores_only_a_keyed_hash_and_mails_the_link(ctx: Context, alice: UserView) -> None:
    answer = reset.request(ctx, "Alice@EXAMPLE.com")
    assert answer == reset.ResetRequested(detail=reset.REQUESTED_DETAIL)
    [row] = resets()
    [queued] = outbox("password-reset")
    uid = uid_from_outbox()
    assert len(uid) >= 43  # token_urlsafe(32): 256 bits, the contract wants at least 128
    expected = hmac.new(ctx.code_key, b"acctkit.core.reset:" + uid.encode(), hashlib.sha256)
    assert row.uid_hash == expected.hexdigest()
    assert uid not in row.uid_hash and uid != row.id
    assert row.user_id == alice.id
    assert row.created_at == ctx.clock.now()
    assert row.expires_at == row.created_at + timedelta(seconds=300)
    assert queued.to_addr == "alice@example.com"
    assert f"{ctx.settings.public_url}/reset-password/{uid}" in queued.text
    headers = json.loads(queued.headers)
    assert headers == {
        "X-Acctkit-Flow": "password-reset",
        "X-Acctkit-Ref": row.id,
        "X-Acctkit-Seq": "1",
    }


def test_unknown_email_gets_the_same_answer_and_nothing_is_stored(ctx: Context) -> None:
    assert reset.request(ctx, "nobody@example.com") == reset.ResetRequested(
        detail=reset.REQUESTED_DETAIL
    )
    assert resets() == [] and outbox("password-reset") == []


def test_malformed_email_is_invalid_per_field(ctx: Context) -> None:
    with pytest.raises(errors.InvalidInput) as raised:
        reset.request(ctx, "not an email")
    assert raised.value.errors == {"email": ["Enter a valid email address."]}


def test_per_email_limit_applies_to_unknown_addresses_too(ctx: Context, alice: UserView) -> None:
    for address in ("alice@example.com", "nobody@example.com"):
        for _ in range(3):
            reset.request(ctx, address, ip="192.0.2.1")
        with pytest.raises(errors.Throttled) as raised:
            reset.request(ctx, address.upper(), ip="192.0.2.2")
        assert raised.value.extra["retry_after"] >= 1


def test_per_ip_limit(ctx: Context) -> None:
    for i in range(10):
        reset.request(ctx, f"someone{i}@example.com", ip="198.51.100.7")
    with pytest.raises(errors.Throttled):
        reset.request(ctx, "someone-else@example.com", ip="198.51.100.7")
    reset.request(ctx, "someone-else@example.com", ip="198.51.100.8")


def test_a_newer_request_invalidates_the_older_uid(ctx: Context, alice: UserView) -> None:
    reset.request(ctx, "alice@example.com")
    older = uid_from_outbox()
    reset.request(ctx, "alice@example.com")
    newer = uid_from_outbox()
    assert older != newer
    with pytest.raises(errors.ResetInvalid):
        reset.check(ctx, older)
    with pytest.raises(errors.ResetInvalid):
        reset.confirm(ctx, older, NEW, NEW)
    assert reset.check(ctx, newer).valid
    reset.confirm(ctx, newer, NEW, NEW)


# -- check -------------------------------------------------------------------------------------


def test_check_answers_valid_and_never_consumes(
    ctx: Context, alice: UserView, clock: FrozenClock
) -> None:
    reset.request(ctx, "alice@example.com")
    uid = uid_from_outbox()
    expected = reset.ResetStatus(valid=True, expires_at=clock.now() + timedelta(seconds=300))
    for _ in range(3):
        assert reset.check(ctx, uid) == expected
    [row] = resets()
    assert row.used_at is None and row.invalidated_at is None
    reset.confirm(ctx, uid, NEW, NEW)


@pytest.mark.parametrize("uid", ["", "x" * 65, "not-a-real-uid", "confirm"])
def test_unknown_uid_is_invalid(ctx: Context, uid: str) -> None:
    with pytest.raises(errors.ResetInvalid):
        reset.check(ctx, uid)
    with pytest.raises(errors.ResetInvalid):
        reset.confirm(ctx, uid, NEW, "something else")


def test_expires_after_the_ttl(ctx: Context, alice: UserView, clock: FrozenClock) -> None:
    reset.request(ctx, "alice@example.com")
    uid = uid_from_outbox()
    clock.advance(299)
    assert reset.check(ctx, uid).valid
    clock.advance(2)
    with pytest.raises(errors.ResetExpired):
        reset.check(ctx, uid)
    with pytest.raises(errors.ResetExpired):
        reset.confirm(ctx, uid, NEW, NEW)
    assert ctx.passwords.verify(_hash(alice.id), OLD)


# -- confirm -----------------------------------------------------------------------------------


def _hash(user_id: int) -> str:
    with connection():
        return User.get_by_id(user_id).password_hash


def test_confirm_sets_the_password_revokes_logins_and_mails_a_notice(
    ctx: Context, alice: UserView
) -> None:
    before = sessions.login(ctx, "alice", OLD)
    version = token_version(alice.id)
    reset.request(ctx, "alice@example.com")
    uid = uid_from_outbox()
    reset.confirm(ctx, uid, NEW, NEW)

    assert ctx.passwords.verify(_hash(alice.id), NEW)
    assert token_version(alice.id) == version + 1
    with connection():
        assert not RefreshToken.select().where(RefreshToken.revoked_at.is_null()).exists()
    with pytest.raises(errors.TokenInvalid):
        sessions.refresh(ctx, before.refresh)
    with pytest.raises(errors.TokenInvalid):
        sessions.authenticate(ctx, before.access)
    with pytest.raises(errors.InvalidCredentials):
        sessions.login(ctx, "alice", OLD)
    sessions.login(ctx, "alice", NEW)

    [row] = resets()
    assert row.used_at == ctx.clock.now()
    [notice] = outbox("password-changed")
    assert notice.to_addr == "alice@example.com"
    assert json.loads(notice.headers)["X-Acctkit-Ref"] == row.id
    assert "changed" in notice.subject
    assert NEW not in notice.text and NEW not in notice.html


def test_single_use(ctx: Context, alice: UserView) -> None:
    reset.request(ctx, "alice@example.com")
    uid = uid_from_outbox()
    reset.confirm(ctx, uid, NEW, NEW)
    with pytest.raises(errors.ResetUsed):
        reset.check(ctx, uid)
    with pytest.raises(errors.ResetUsed):
        reset.confirm(ctx, uid, "another-fine-passphrase", "another-fine-passphrase")
    assert ctx.passwords.verify(_hash(alice.id), NEW)


def test_confirm_invalidates_other_outstanding_links(ctx: Context, alice: UserView) -> None:
    reset.request(ctx, "alice@example.com")
    uid = uid_from_outbox()
    # A second live link, as a request racing this confirm could leave behind.
    now = ctx.clock.now()
    with connection():
        PasswordReset.create(
            id="other",
            user=alice.id,
            uid_hash=reset.keyed_hash(ctx, "other-uid"),
            created_at=now,
            expires_at=now + timedelta(seconds=300),
        )
    assert reset.check(ctx, "other-uid").valid
    reset.confirm(ctx, uid, NEW, NEW)
    with pytest.raises(errors.ResetInvalid):
        reset.check(ctx, "other-uid")


def test_link_problems_come_before_password_problems(
    ctx: Context, alice: UserView, clock: FrozenClock
) -> None:
    with pytest.raises(errors.ResetInvalid):
        reset.confirm(ctx, "no-such-uid", "short", "different")
    reset.request(ctx, "alice@example.com")
    uid = uid_from_outbox()
    with pytest.raises(errors.PasswordMismatch) as mismatch:
        reset.confirm(ctx, uid, NEW, NEW + " ")
    assert mismatch.value.errors == {"re_new_password": ["The two passwords do not match."]}
    with pytest.raises(errors.InvalidInput) as weak:
        reset.confirm(ctx, uid, "password", "password")
    assert weak.value.errors == {"new_password": ["This password is too common."]}
    with pytest.raises(errors.InvalidInput) as similar:
        reset.confirm(ctx, uid, "alice-in-the-garden", "alice-in-the-garden")
    assert similar.value.errors is not None
    assert "The password is too similar to the username." in similar.value.errors["new_password"]
    clock.advance(301)
    with pytest.raises(errors.ResetExpired):
        reset.confirm(ctx, uid, "short", "different")


def test_password_with_spaces_is_kept_as_typed(ctx: Context, alice: UserView) -> None:
    spaced = "  mimsy borogoves  "
    reset.request(ctx, "alice@example.com")
    reset.confirm(ctx, uid_from_outbox(), spaced, spaced)
    sessions.login(ctx, "alice", spaced)
    with pytest.raises(errors.InvalidCredentials):
        sessions.login(ctx, "alice", spaced.strip())


def test_racing_confirms_exactly_one_wins(ctx: Context, alice: UserView) -> None:
    reset.request(ctx, "alice@example.com")
    uid = uid_from_outbox()
    candidates = [f"racing-password-{i}" for i in range(4)]

    def attempt(password: str) -> str:
        try:
            reset.confirm(ctx, uid, password, password)
        except errors.ResetUsed:
            return "used"
        return password

    with ThreadPoolExecutor(len(candidates)) as pool:
        outcomes = list(pool.map(attempt, candidates))
    winners = [o for o in outcomes if o != "used"]
    assert len(winners) == 1, outcomes
    assert ctx.passwords.verify(_hash(alice.id), winners[0])
    assert len(outbox("password-changed")) == 1


# -- change ------------------------------------------------------------------------------------


def test_change_password_gives_a_new_login_and_ends_every_other(
    ctx: Context, alice: UserView
) -> None:
    this = sessions.login(ctx, "alice", OLD)
    other = sessions.login(ctx, "alice", OLD)
    version = token_version(alice.id)
    pair = reset.change_password(ctx, alice.id, version, OLD, NEW)
    assert sessions.authenticate(ctx, pair.access).id == alice.id
    sessions.refresh(ctx, pair.refresh)
    for old in (this, other):
        with pytest.raises(errors.TokenInvalid):
            sessions.authenticate(ctx, old.access)
        with pytest.raises(errors.TokenInvalid):
            sessions.refresh(ctx, old.refresh)
    assert ctx.passwords.verify(_hash(alice.id), NEW)
    [notice] = outbox("password-changed")
    assert notice.to_addr == "alice@example.com" and NEW not in notice.text


def test_change_password_refusals(ctx: Context, alice: UserView) -> None:
    version = token_version(alice.id)
    with pytest.raises(errors.WrongPassword):
        reset.change_password(ctx, alice.id, version, "not-the-password", NEW)
    with pytest.raises(errors.InvalidInput) as weak:
        reset.change_password(ctx, alice.id, version, OLD, "x" * 1025)
    assert weak.value.errors == {
        "new_password": ["This password is too long: at most 1024 characters."]
    }
    with pytest.raises(errors.TokenInvalid):
        reset.change_password(ctx, alice.id, version + 7, OLD, NEW)
    assert ctx.passwords.verify(_hash(alice.id), OLD)
    assert outbox("password-changed") == []


def test_wrong_current_passwords_are_limited_like_failed_logins(
    ctx: Context, alice: UserView
) -> None:
    version = token_version(alice.id)
    for _ in range(10):
        with pytest.raises(errors.WrongPassword):
            reset.change_password(ctx, alice.id, version, "guess-guess-guess", NEW)
    with pytest.raises(errors.TooManyAttempts) as raised:
        reset.change_password(ctx, alice.id, version, OLD, NEW)
    assert raised.value.extra["retry_after"] >= 1


def test_change_password_kills_outstanding_reset_links(ctx: Context, alice: UserView) -> None:
    reset.request(ctx, "alice@example.com")
    uid = uid_from_outbox()
    reset.change_password(ctx, alice.id, token_version(alice.id), OLD, NEW)
    with pytest.raises(errors.ResetInvalid):
        reset.check(ctx, uid)


def test_an_email_change_kills_links_mailed_to_the_old_address(
    ctx: Context, alice: UserView
) -> None:
    reset.request(ctx, "alice@example.com")
    uid = uid_from_outbox()
    fixed = Context(ctx.settings, ctx.passwords, ctx.clock, FixedCodes(42917))
    email_change.request(fixed, alice.id, "alice@new.example", OLD)
    email_change.verify(ctx, alice.id, "042917")
    with pytest.raises(errors.ResetInvalid):
        reset.check(ctx, uid)
