"""The wrong-code causes of DESIGN.md, each designed out and tested on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from core import codes, db, errors, signup
from core.context import Context
from core.models import Code, Outbox, Signup, User
from tests.conftest import FixedCodes

REQUEST = signup.SignupRequest(
    first_name="Alice",
    last_name="Liddell",
    username="alice",
    email="alice@example.com",
    password="rabbit-hole-2026",
)


def with_codes(ctx: Context, *values: int) -> Context:
    return dataclasses.replace(ctx, random=FixedCodes(*values))


def mailed_code(signup_id: str, seq: int = 1) -> str:
    """The code as the queued mail carries it (the text a person reads)."""
    import re

    with db.connection():
        row = Outbox.get((Outbox.ref == signup_id) & (Outbox.seq == seq))
    return re.search(r"verification code is (\d{6})", row.text).group(1)


def test_code_is_generated_once_and_the_mail_carries_the_stored_one(ctx: Context) -> None:
    started = signup.start(with_codes(ctx, 123456, 654321), REQUEST)
    code = mailed_code(started.signup_id)
    assert code == "123456"  # the first generated value is the mailed one; no second draw
    with db.connection():
        stored = Code.get(Code.ref == started.signup_id)
    assert stored.code_hash == codes.keyed_hash(ctx, "signup", started.signup_id, code)
    assert code not in stored.code_hash
    assert signup.verify(ctx, started.signup_id, code).user.username == "alice"


def test_leading_zeros_survive_from_generation_to_verification(ctx: Context) -> None:
    started = signup.start(with_codes(ctx, 42917), REQUEST)
    code = mailed_code(started.signup_id)
    assert code == "042917"
    with pytest.raises(errors.CodeInvalid):
        signup.verify(ctx, started.signup_id, "42917")
    assert signup.verify(ctx, started.signup_id, "042917").user.email == "alice@example.com"


def test_mail_and_code_are_in_the_same_transaction(ctx: Context) -> None:
    """If storing the signup fails, neither the code nor the mail survives."""
    started = signup.start(ctx, REQUEST)
    with db.connection():
        assert Outbox.select().where(Outbox.ref == started.signup_id).count() == 1
    # A signup id that collides aborts the transaction: no orphan mail or code remains.
    collide = dataclasses.replace(ctx, random=_Colliding(started.signup_id))
    with pytest.raises(Exception):  # noqa: B017 - the database's own IntegrityError
        signup.start(collide, dataclasses.replace(REQUEST, email="other@example.com"))
    with db.connection():
        assert Outbox.select().count() == 1
        assert Code.select().count() == 1


class _Colliding(FixedCodes):
    def __init__(self, taken: str) -> None:
        super().__init__()
        self.taken = taken

    def token_urlsafe(self, nbytes: int | None = None) -> str:
        return self.taken


def test_resend_supersedes_and_older_code_says_so(ctx: Context, clock) -> None:
    started = signup.start(with_codes(ctx, 111111, 222222), REQUEST)
    clock.advance(ctx.settings.resend_cooldown)
    signup.resend(with_codes(ctx, 222222), started.signup_id)
    with pytest.raises(errors.CodeSuperseded) as info:
        signup.verify(ctx, started.signup_id, "111111")
    assert info.value.extra == {"seq": 1, "current_seq": 2}
    assert signup.verify(ctx, started.signup_id, "222222")


def test_racing_resends_serialize_into_distinct_sequence_numbers(ctx: Context, clock) -> None:
    started = signup.start(ctx, REQUEST)
    clock.advance(3600)
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def resend() -> None:
        barrier.wait()
        try:
            signup.resend(ctx, started.signup_id)
            outcomes.append("sent")
        except errors.ResendTooSoon:
            outcomes.append("too_soon")

    with ThreadPoolExecutor(8) as pool:
        for future in [pool.submit(resend) for _ in range(8)]:
            future.result()
    assert sorted(outcomes) == ["sent"] + ["too_soon"] * 7
    with db.connection():
        seqs = [c.seq for c in Code.select().where(Code.ref == started.signup_id)]
        live = Code.select().where(Code.ref == started.signup_id, Code.superseded_at.is_null())
        assert sorted(seqs) == [1, 2]
        assert live.count() == 1


def test_racing_verify_with_the_right_code_creates_one_user(ctx: Context) -> None:
    started = signup.start(ctx, REQUEST)
    code = mailed_code(started.signup_id)
    barrier = threading.Barrier(6)

    def verify() -> str:
        barrier.wait()
        try:
            signup.verify(ctx, started.signup_id, code)
            return "ok"
        except errors.AccountError as exc:
            return exc.code

    with ThreadPoolExecutor(6) as pool:
        results = [f.result() for f in [pool.submit(verify) for _ in range(6)]]
    assert sorted(results) == ["ok"] + ["signup_not_found"] * 5
    with db.connection():
        assert User.select().count() == 1


def test_expiry_uses_the_injected_clock(ctx: Context, clock) -> None:
    started = signup.start(ctx, REQUEST)
    code = mailed_code(started.signup_id)
    clock.advance(ctx.settings.code_ttl - 1)
    clock.advance(1)
    with pytest.raises(errors.CodeExpired):
        signup.verify(ctx, started.signup_id, code)
    with db.connection():
        assert Signup.get_by_id(started.signup_id).attempts == 0  # expiry is not a wrong guess


def test_wrong_attempts_are_committed_even_though_verify_raises(ctx: Context) -> None:
    started = signup.start(with_codes(ctx, 500000), REQUEST)
    for left in (4, 3, 2, 1, 0):
        with pytest.raises(errors.CodeInvalid) as info:
            signup.verify(ctx, started.signup_id, "000001")
        assert info.value.extra["attempts_left"] == left
    with pytest.raises(errors.TooManyAttempts):
        signup.verify(ctx, started.signup_id, "500000")
    with pytest.raises(errors.TooManyAttempts):
        signup.resend(ctx, started.signup_id)


@pytest.mark.parametrize("typed", ["123 456", "123-456", " 123456\n", "123\u2013456"])
def test_pasted_code_is_normalised(ctx: Context, typed: str) -> None:
    started = signup.start(with_codes(ctx, 123456), REQUEST)
    assert signup.verify(ctx, started.signup_id, typed).user.username == "alice"


def test_a_code_mailed_before_the_key_split_still_matches(ctx: Context) -> None:
    """Codes were keyed with the raw secret before the upgrade; one in flight must still match."""
    started = signup.start(with_codes(ctx, 42917), REQUEST)
    legacy = codes.keyed_hash(ctx, "signup", started.signup_id, "042917", key=ctx.secret)
    assert legacy != codes.keyed_hash(ctx, "signup", started.signup_id, "042917")
    with db.connection():
        Code.update(code_hash=legacy).where(Code.ref == started.signup_id).execute()
    assert signup.verify(ctx, started.signup_id, "042917").user.username == REQUEST.username
