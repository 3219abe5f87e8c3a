"""The tables. Times are stored as UTC epoch microseconds through one field type (see
`UTCDateTimeField`), identical on SQLite and PostgreSQL; no field has an import-time default."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import peewee as pw

from core.db import database, is_sqlite

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class UTCDateTimeField(pw.BigIntegerField):
    """Aware UTC datetimes in, aware UTC datetimes out, stored as integer microseconds.

    Peewee hands SQLite datetimes back as strings and drops or mangles offsets; integers round-trip
    exactly everywhere and compare correctly in SQL.
    """

    def db_value(self, value: datetime | None) -> int | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"{self.name}: expected an aware datetime, got {value!r}")
        return (value - EPOCH) // timedelta(microseconds=1)

    def python_value(self, value: int | None) -> datetime | None:
        if value is None:
            return None
        return EPOCH + timedelta(microseconds=int(value))


class NeverReusedAutoField(pw.AutoField):
    """An id never handed out twice. PostgreSQL sequences already behave so; SQLite needs
    AUTOINCREMENT, or a deleted user's id (and so its unexpired tokens) passes to the next user."""

    def ddl(self, ctx: pw.Context) -> pw.NodeList:
        node = super().ddl(ctx)
        return pw.NodeList((node, pw.SQL("AUTOINCREMENT"))) if is_sqlite() else node


class BaseModel(pw.Model):
    class Meta:
        database = database
        legacy_table_names = False


class SchemaVersion(BaseModel):
    version = pw.IntegerField()
    applied_at = UTCDateTimeField()


class User(BaseModel):
    id = NeverReusedAutoField()
    username = pw.CharField(max_length=150)
    username_key = pw.CharField(max_length=150, unique=True)
    # UTS #39 skeleton: look-alike usernames collide here. NULL only for a look-alike that
    # already existed when the column was added (see core/schema.py, version 2).
    username_skeleton = pw.TextField(null=True, unique=True)
    email = pw.CharField(max_length=254)
    email_key = pw.CharField(max_length=254, unique=True)
    first_name = pw.CharField(max_length=150, default="")
    last_name = pw.CharField(max_length=150, default="")
    password_hash = pw.CharField(max_length=255)
    email_verified = pw.BooleanField(default=False)
    token_version = pw.IntegerField(default=0)
    date_joined = UTCDateTimeField()
    last_login = UTCDateTimeField(null=True)


class Signup(BaseModel):
    """A pending signup: nothing here reserves the username or email until it is verified."""

    id = pw.CharField(primary_key=True, max_length=43)
    first_name = pw.CharField(max_length=150)
    last_name = pw.CharField(max_length=150)
    username = pw.CharField(max_length=150)
    username_key = pw.CharField(max_length=150, index=True)
    email = pw.CharField(max_length=254)
    email_key = pw.CharField(max_length=254, index=True)
    password_hash = pw.CharField(max_length=255)
    created_at = UTCDateTimeField()
    expires_at = UTCDateTimeField()
    attempts = pw.IntegerField(default=0)
    locked_at = UTCDateTimeField(null=True)
    verified_at = UTCDateTimeField(null=True)
    user = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")


class EmailChange(BaseModel):
    """A pending change of a user's address, confirmed by a code mailed to the new address."""

    id = pw.CharField(primary_key=True, max_length=43)
    user = pw.ForeignKeyField(User, on_delete="CASCADE", index=True)
    email = pw.CharField(max_length=254)
    email_key = pw.CharField(max_length=254, index=True)
    created_at = UTCDateTimeField()
    expires_at = UTCDateTimeField()
    attempts = pw.IntegerField(default=0)
    locked_at = UTCDateTimeField(null=True)
    verified_at = UTCDateTimeField(null=True)


class Code(BaseModel):
    """One mailed one-time code. `seq` numbers the codes of one ref; only the newest is live."""

    id = pw.AutoField()
    flow = pw.CharField(max_length=32)
    ref = pw.CharField(max_length=43)
    seq = pw.IntegerField()
    code_hash = pw.CharField(max_length=64)
    created_at = UTCDateTimeField()
    expires_at = UTCDateTimeField()
    superseded_at = UTCDateTimeField(null=True)
    used_at = UTCDateTimeField(null=True)

    class Meta:
        indexes = ((("flow", "ref", "seq"), True),)


class PasswordReset(BaseModel):
    id = pw.CharField(primary_key=True, max_length=43)
    user = pw.ForeignKeyField(User, on_delete="CASCADE", index=True)
    uid_hash = pw.CharField(max_length=64, unique=True)
    created_at = UTCDateTimeField()
    expires_at = UTCDateTimeField()
    used_at = UTCDateTimeField(null=True)
    invalidated_at = UTCDateTimeField(null=True)


class Login(BaseModel):
    """One signed-in session: a refresh-token family and every access token minted from it.

    Access tokens name their login (the `fam` claim), so revoking this row kills them at once on
    every instance, checked in the same indexed read as the user's `token_version`."""

    id = pw.CharField(primary_key=True, max_length=43)
    user = pw.ForeignKeyField(User, on_delete="CASCADE", index=True)
    created_at = UTCDateTimeField()
    last_used_at = UTCDateTimeField()
    ip = pw.CharField(max_length=64, null=True)
    user_agent = pw.CharField(max_length=255, null=True)
    revoked_at = UTCDateTimeField(null=True)


class RefreshToken(BaseModel):
    """One issued refresh token; `family` groups every token descended from one login."""

    jti = pw.CharField(primary_key=True, max_length=43)
    user = pw.ForeignKeyField(User, on_delete="CASCADE", index=True)
    family = pw.CharField(max_length=43, index=True)
    parent = pw.CharField(max_length=43, null=True)
    created_at = UTCDateTimeField()
    expires_at = UTCDateTimeField()
    spent_at = UTCDateTimeField(null=True)
    revoked_at = UTCDateTimeField(null=True)


class Avatar(BaseModel):
    user = pw.ForeignKeyField(User, primary_key=True, on_delete="CASCADE")
    content_type = pw.CharField(max_length=32)
    etag = pw.CharField(max_length=80)
    data = pw.BlobField()
    width = pw.IntegerField()
    height = pw.IntegerField()
    updated_at = UTCDateTimeField()


class Outbox(BaseModel):
    """A mail to deliver, written in the same transaction as the code or link it carries."""

    id = pw.AutoField()
    user = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")
    to_addr = pw.CharField(max_length=254)
    subject = pw.CharField(max_length=255)
    text = pw.TextField()
    html = pw.TextField()
    headers = pw.TextField()
    message_id = pw.CharField(max_length=255)
    flow = pw.CharField(max_length=32)
    ref = pw.CharField(max_length=43)
    seq = pw.IntegerField(default=1)
    status = pw.CharField(max_length=16, default="pending")
    attempts = pw.IntegerField(default=0)
    next_try_at = UTCDateTimeField()
    created_at = UTCDateTimeField()
    sent_at = UTCDateTimeField(null=True)
    last_error = pw.TextField(null=True)
    # Schema version 2: what the mail carries expires at `expires_at` (null for a notice); it is
    # retried until `give_up_at`; `claimed_by` names the sender whose lease next_try_at is.
    request_id = pw.CharField(max_length=128, null=True)
    expires_at = UTCDateTimeField(null=True)
    give_up_at = UTCDateTimeField(null=True)
    claimed_by = pw.CharField(max_length=64, null=True)

    class Meta:
        indexes = ((("status", "next_try_at"), False),)


class RateLimit(BaseModel):
    """Generic cell rate algorithm state: one theoretical arrival time per limited key."""

    key = pw.CharField(primary_key=True, max_length=255)
    tat = UTCDateTimeField()


ALL_MODELS: list[type[BaseModel]] = [
    SchemaVersion,
    User,
    Signup,
    EmailChange,
    Code,
    PasswordReset,
    Login,
    RefreshToken,
    Avatar,
    Outbox,
    RateLimit,
]
