"""`acctkit outbox` shows what waits, fails and expired (recipients masked) and retries it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from core import db, mail, outbox, request_id
from core.context import Context
from core.models import Outbox
from tests.e2e.test_cli import run


def _seed(ctx: Context) -> None:
    token = request_id.bind("req-outage-7")
    try:
        with db.connection(), db.write_transaction():
            notice = mail.notice_mail(
                to="alice@example.com",
                name="Alice",
                subject="changed",
                lines=["x"],
                flow="password-changed",
                ref="pc1",
            )
            outbox.enqueue(ctx, notice)
            outbox.enqueue(
                ctx,
                mail.code_mail(
                    to="bob@example.org",
                    name="Bob",
                    code="123456",
                    flow="signup",
                    ref="sg-bob",
                    seq=1,
                    ttl=600,
                    expires_at=ctx.clock.now() + timedelta(seconds=600),
                    purpose="finish signing up",
                ),
            )
            outbox.enqueue(ctx, notice)
    finally:
        request_id.unbind(token)
    with db.connection():
        Outbox.update(attempts=4, last_error="connect: refused").where(Outbox.id == 1).execute()
        Outbox.update(status="expired", attempts=9, last_error="451 later").where(
            Outbox.id == 2
        ).execute()
        Outbox.update(status="sent").where(Outbox.id == 3).execute()


def test_outbox_lists_and_retries_unsent_mail(ctx: Context, tmp_path: Path) -> None:
    _seed(ctx)
    env = {"ACCTKIT_DATABASE_URL": ctx.settings.database_url, "ACCTKIT_SECRET_KEY": "k" * 40}
    listed = run(["outbox"], tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == 3  # header, the failing notice, the expired code mail; not the sent one
    failing, expired = lines[1].split(), lines[2].split()
    assert failing[:2] == ["1", "failing"] and failing[3:7] == [
        "4",
        "password-changed",
        "pc1",
        "req-outage-7",
    ]
    assert "a***@example.com" in lines[1] and "connect: refused" in lines[1]
    assert expired[:2] == ["2", "expired"] and "451 later" in lines[2]
    assert "alice@" not in listed.stdout and "bob@" not in listed.stdout

    only = run(["outbox", "--state", "expired"], tmp_path, env=env)
    assert [line.split()[0] for line in only.stdout.splitlines()[1:]] == ["2"]

    assert run(["outbox", "retry"], tmp_path, env=env).returncode == 2
    # The rows were written at the test clock's fixed past time: for the real clock of the
    # command, the code in mail 2 expired long ago.
    retried = run(["outbox", "retry", "--all"], tmp_path, env=env)
    assert retried.returncode == 0, retried.stderr
    assert "1 mail(s) due now" in retried.stdout
    assert "not retried 2: what it carries expired" in retried.stderr


def test_retry_one_revives_an_expired_notice_for_a_new_period(ctx: Context, tmp_path: Path) -> None:
    _seed(ctx)
    with db.connection():
        Outbox.update(status="expired").where(Outbox.id == 1).execute()
    env = {"ACCTKIT_DATABASE_URL": ctx.settings.database_url, "ACCTKIT_SECRET_KEY": "k" * 40}
    result = run(["outbox", "retry", "1", "3"], tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "not retried 3: already sent" in result.stderr
    with db.connection():
        row = Outbox.get_by_id(1)
    assert row.status == "pending" and row.give_up_at > row.created_at + timedelta(days=5)
