"""Profile edits, avatar storage, email change and account deletion against the database (both
backends), through core's service functions."""

from __future__ import annotations

import json

import pytest

from core import accounts, codes, email_change, errors, outbox, profile, sessions, users
from core.context import Context
from core.db import connection, write_transaction
from core.mail import Mail
from core.models import (
    Avatar,
    Code,
    EmailChange,
    Outbox,
    PasswordReset,
    RefreshToken,
    Signup,
    User,
)
from tests import samples
from tests.conftest import FixedCodes

PASSWORD = "rabbit-hole-2026"


def make_user(ctx: Context, name: str = "alice") -> users.UserView:
    return accounts.create_user(
        ctx,
        username=name,
        email=f"{name}@example.com",
        password=PASSWORD,
        first_name=name.title(),
        last_name="Liddell",
    )


def outbox_rows(to: str) -> list[Outbox]:
    with connection():
        return list(Outbox.select().where(Outbox.to_addr == to).order_by(Outbox.id))


def test_update_trims_validates_and_keeps_username_unique(ctx: Context) -> None:
    alice = make_user(ctx)
    make_user(ctx, "bob")
    view = profile.update(
        ctx, alice.id, profile.ProfileChanges(first_name="  Alicia ", username="Alice.L")
    )
    assert (view.first_name, view.username, view.last_name) == ("Alicia", "Alice.L", "Liddell")
    with pytest.raises(errors.UsernameTaken):
        profile.update(ctx, alice.id, profile.ProfileChanges(username="BOB"))
    with pytest.raises(errors.InvalidInput) as caught:
        profile.update(ctx, alice.id, profile.ProfileChanges(first_name=" ", username="no spaces"))
    assert set(caught.value.errors or {}) == {"first_name", "username"}
    # Only the case changes: the key is the user's own.
    assert profile.update(ctx, alice.id, profile.ProfileChanges(username="ALICE.l")).username


def test_update_refuses_email_and_password_changes_but_not_an_echoed_email(ctx: Context) -> None:
    alice = make_user(ctx)
    same = profile.update(ctx, alice.id, profile.ProfileChanges(email="ALICE@example.com"))
    assert same.email == "alice@example.com"
    with pytest.raises(errors.InvalidInput) as caught:
        profile.update(
            ctx, alice.id, profile.ProfileChanges(email="new@example.com", password="x" * 12)
        )
    assert set(caught.value.errors or {}) == {"email", "password"}


def test_unique_index_backs_the_username_check(ctx: Context, monkeypatch) -> None:
    """Two edits racing past the check: the index decides, and the loser gets username_taken."""
    alice = make_user(ctx)
    make_user(ctx, "bob")
    monkeypatch.setattr(users, "ensure_username_free", lambda *a, **k: None)
    with pytest.raises(errors.UsernameTaken):
        profile.update(ctx, alice.id, profile.ProfileChanges(username="Bob"))
    with connection():
        assert User.get_by_id(alice.id).username == "alice"


def test_avatar_is_stored_served_and_removed(ctx: Context) -> None:
    alice = make_user(ctx)
    with pytest.raises(errors.AvatarNotFound):
        profile.avatar(ctx, alice.id)
    view = profile.set_avatar(ctx, alice.id, samples.jpeg_with_gps())
    assert view.avatar_url == f"/api/users/{alice.id}/avatar"
    stored = profile.avatar(ctx, alice.id)
    assert isinstance(stored.data, bytes) and stored.content_type == "image/jpeg"
    assert samples.opened(stored.data).size == (512, 341)
    replaced = profile.set_avatar(
        ctx, alice.id, samples.encoded(samples.gradient((50, 50), "RGBA"), "PNG")
    )
    assert replaced.avatar_url is not None
    assert profile.avatar(ctx, alice.id).etag != stored.etag
    profile.remove_avatar(ctx, alice.id)
    profile.remove_avatar(ctx, alice.id)
    with pytest.raises(errors.AvatarNotFound):
        profile.avatar(ctx, alice.id)
    assert sessions.me(ctx, alice.id).avatar_url is None


def test_invalid_upload_leaves_the_old_avatar(ctx: Context) -> None:
    alice = make_user(ctx)
    profile.set_avatar(ctx, alice.id, samples.jpeg_with_gps())
    with pytest.raises(errors.InvalidImage):
        profile.set_avatar(ctx, alice.id, samples.png_bomb())
    assert profile.avatar(ctx, alice.id).content_type == "image/jpeg"


def with_codes(ctx: Context, *values: int) -> Context:
    return Context(ctx.settings, ctx.passwords, ctx.clock, FixedCodes(*values))


def test_email_change_switches_after_the_code_and_notifies_the_old_address(ctx: Context) -> None:
    alice = make_user(ctx)
    fixed = with_codes(ctx, 42917)
    sent = email_change.request(fixed, alice.id, " alice@NEW.example ", PASSWORD)
    assert sent.expires_at > ctx.clock.now()
    [code_mail] = outbox_rows("alice@new.example")
    assert json.loads(code_mail.headers)["X-Acctkit-Flow"] == "email-change"
    assert "042917" in code_mail.text
    view = email_change.verify(ctx, alice.id, "042-917")
    assert view.email == "alice@new.example" and view.email_verified
    [notice] = outbox_rows("alice@example.com")
    assert notice.flow == "email-change" and notice.ref == code_mail.ref
    assert "042917" not in notice.text and "alice@new.example" in notice.text
    with pytest.raises(errors.EmailChangeNotFound):
        email_change.verify(ctx, alice.id, "042917")


def test_email_change_refusals(ctx: Context) -> None:
    alice = make_user(ctx)
    make_user(ctx, "bob")
    with pytest.raises(errors.WrongPassword):
        email_change.request(ctx, alice.id, "new@example.com", "wrong-password-1")
    with pytest.raises(errors.InvalidInput):
        email_change.request(ctx, alice.id, "not an address", PASSWORD)
    with pytest.raises(errors.InvalidInput):
        email_change.request(ctx, alice.id, "Alice@Example.com", PASSWORD)
    with pytest.raises(errors.EmailTaken):
        email_change.request(ctx, alice.id, "BOB@example.com", PASSWORD)
    with pytest.raises(errors.EmailChangeNotFound):
        email_change.verify(ctx, alice.id, "123456")


def test_second_request_supersedes_even_for_another_address(ctx: Context) -> None:
    alice = make_user(ctx)
    email_change.request(with_codes(ctx, 111111), alice.id, "one@example.com", PASSWORD)
    with pytest.raises(errors.ResendTooSoon) as caught:
        email_change.request(ctx, alice.id, "two@example.com", PASSWORD)
    assert 1 <= caught.value.extra["retry_after"] <= 60
    ctx.clock.advance(61)  # type: ignore[attr-defined]
    email_change.request(with_codes(ctx, 222222), alice.id, "two@example.com", PASSWORD)
    with pytest.raises(errors.CodeSuperseded):
        email_change.verify(ctx, alice.id, "111111")
    assert email_change.verify(ctx, alice.id, "222222").email == "two@example.com"
    with connection():
        assert EmailChange.select().where(EmailChange.user == alice.id).count() == 1


def test_address_taken_meanwhile_is_409_at_verify_and_the_index_backs_it(
    ctx: Context, monkeypatch
) -> None:
    alice = make_user(ctx)
    email_change.request(with_codes(ctx, 333333), alice.id, "carol@example.com", PASSWORD)
    make_user(ctx, "carol")
    with pytest.raises(errors.EmailTaken):
        email_change.verify(ctx, alice.id, "333333")
    monkeypatch.setattr(users, "ensure_email_free", lambda *a, **k: None)
    with pytest.raises(errors.EmailTaken):
        email_change.verify(ctx, alice.id, "333333")
    with connection():
        assert User.get_by_id(alice.id).email == "alice@example.com"


def test_locked_change_can_be_replaced_after_the_code_ttl(ctx: Context) -> None:
    alice = make_user(ctx)
    email_change.request(with_codes(ctx, 444444), alice.id, "new@example.com", PASSWORD)
    for _ in range(ctx.settings.code_max_attempts):
        with pytest.raises(errors.CodeInvalid):
            email_change.verify(ctx, alice.id, "000000")
    with pytest.raises(errors.TooManyAttempts):
        email_change.verify(ctx, alice.id, "444444")
    ctx.clock.advance(61)  # type: ignore[attr-defined]
    with pytest.raises(errors.TooManyAttempts) as caught:
        email_change.request(ctx, alice.id, "new@example.com", PASSWORD)
    assert caught.value.extra["retry_after"] > 0
    ctx.clock.advance(ctx.settings.code_ttl)  # type: ignore[attr-defined]
    email_change.request(with_codes(ctx, 555555), alice.id, "new@example.com", PASSWORD)
    assert email_change.verify(ctx, alice.id, "555555").email == "new@example.com"


def test_delete_account_removes_everything_that_belongs_to_the_user(ctx: Context) -> None:
    alice = make_user(ctx)
    bob = make_user(ctx, "bob")
    with connection():
        user = User.get_by_id(alice.id)
    with connection(), write_transaction():
        sessions.issue_pair(ctx, user)
        PasswordReset.create(
            id="r1",
            user=alice.id,
            uid_hash="h" * 64,
            created_at=ctx.clock.now(),
            expires_at=ctx.clock.now(),
        )
        signup = Signup.create(
            id="s1",
            first_name="A",
            last_name="L",
            username="alice",
            username_key="alice",
            email="alice@example.com",
            email_key="alice@example.com",
            password_hash="x",
            created_at=ctx.clock.now(),
            expires_at=ctx.clock.now(),
            user=alice.id,
        )
        codes.issue(ctx, "signup", signup.id)
        outbox.enqueue(ctx, Mail("alice@example.com", "s", "t", "h", "test", "r"), user=user)
        sent = outbox.enqueue(ctx, Mail("alice@example.com", "s", "t", "h", "test", "r"), user=user)
        Outbox.update(status="sent").where(Outbox.id == sent).execute()
        outbox.enqueue(ctx, Mail("bob@example.com", "s", "t", "h", "test", "b"))
    profile.set_avatar(ctx, alice.id, samples.jpeg_with_gps())
    email_change.request(ctx, alice.id, "alice@new.example", PASSWORD)
    with pytest.raises(errors.WrongPassword):
        profile.delete_account(ctx, alice.id, "not-the-password")
    profile.delete_account(ctx, alice.id, PASSWORD)
    with connection():
        assert User.get_or_none(User.id == alice.id) is None
        for model in (RefreshToken, PasswordReset, EmailChange, Avatar):
            assert model.select().where(model.user == alice.id).count() == 0, model
        assert Signup.select().count() == 0
        assert Code.select().count() == 0
        rows = list(Outbox.select().order_by(Outbox.id))
        assert [(r.to_addr, r.status, r.user_id) for r in rows if r.to_addr.startswith("b")] == [
            ("bob@example.com", "pending", None)
        ]
        kept = [r for r in rows if r.to_addr.startswith("alice")]
        assert [(r.status, r.user_id) for r in kept] == [("sent", None)]
    assert sessions.me(ctx, bob.id).username == "bob"
    with pytest.raises(errors.TokenInvalid):
        profile.delete_account(ctx, alice.id, PASSWORD)


def test_deleted_users_token_does_not_pass_for_the_next_user_with_the_same_id(
    ctx: Context,
) -> None:
    """Plain SQLite rowids reuse the highest id after a delete; ours never do (AUTOINCREMENT),
    and a token older than its user is refused besides."""
    alice = make_user(ctx)
    with connection(), write_transaction():
        pair = sessions.issue_pair(ctx, User.get_by_id(alice.id))
    profile.delete_account(ctx, alice.id, PASSWORD)
    ctx.clock.advance(1)  # type: ignore[attr-defined]
    mallory = make_user(ctx, "mallory")
    assert mallory.id != alice.id
    with pytest.raises(errors.TokenInvalid):
        sessions.authenticate(ctx, pair.access)
    with connection(), write_transaction():
        own = sessions.issue_pair(ctx, User.get_by_id(mallory.id))
    assert sessions.authenticate(ctx, own.access).id == mallory.id
