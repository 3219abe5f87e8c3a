# ruff: noqa: E501
"""The tables of schema version 1 (the first release) as its models created them, frozen, so
upgrade tests start from a real version-1 database however the models change later."""

from __future__ import annotations

SQLITE: list[str] = [
    'CREATE TABLE "schema_version" ("id" INTEGER NOT NULL PRIMARY KEY, "version" INTEGER NOT NULL, "applied_at" INTEGER NOT NULL)',
    'CREATE TABLE "user" ("id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "username" VARCHAR(150) NOT NULL, "username_key" VARCHAR(150) NOT NULL, "email" VARCHAR(254) NOT NULL, "email_key" VARCHAR(254) NOT NULL, "first_name" VARCHAR(150) NOT NULL, "last_name" VARCHAR(150) NOT NULL, "password_hash" VARCHAR(255) NOT NULL, "email_verified" INTEGER NOT NULL, "token_version" INTEGER NOT NULL, "date_joined" INTEGER NOT NULL, "last_login" INTEGER)',
    'CREATE UNIQUE INDEX "user_username_key" ON "user" ("username_key")',
    'CREATE UNIQUE INDEX "user_email_key" ON "user" ("email_key")',
    'CREATE TABLE "signup" ("id" VARCHAR(43) NOT NULL PRIMARY KEY, "first_name" VARCHAR(150) NOT NULL, "last_name" VARCHAR(150) NOT NULL, "username" VARCHAR(150) NOT NULL, "username_key" VARCHAR(150) NOT NULL, "email" VARCHAR(254) NOT NULL, "email_key" VARCHAR(254) NOT NULL, "password_hash" VARCHAR(255) NOT NULL, "created_at" INTEGER NOT NULL, "expires_at" INTEGER NOT NULL, "attempts" INTEGER NOT NULL, "locked_at" INTEGER, "verified_at" INTEGER, "user_id" INTEGER, FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE SET NULL)',
    'CREATE INDEX "signup_username_key" ON "signup" ("username_key")',
    'CREATE INDEX "signup_email_key" ON "signup" ("email_key")',
    'CREATE INDEX "signup_user_id" ON "signup" ("user_id")',
    'CREATE TABLE "email_change" ("id" VARCHAR(43) NOT NULL PRIMARY KEY, "user_id" INTEGER NOT NULL, "email" VARCHAR(254) NOT NULL, "email_key" VARCHAR(254) NOT NULL, "created_at" INTEGER NOT NULL, "expires_at" INTEGER NOT NULL, "attempts" INTEGER NOT NULL, "locked_at" INTEGER, "verified_at" INTEGER, FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "email_change_user_id" ON "email_change" ("user_id")',
    'CREATE INDEX "email_change_email_key" ON "email_change" ("email_key")',
    'CREATE TABLE "code" ("id" INTEGER NOT NULL PRIMARY KEY, "flow" VARCHAR(32) NOT NULL, "ref" VARCHAR(43) NOT NULL, "seq" INTEGER NOT NULL, "code_hash" VARCHAR(64) NOT NULL, "created_at" INTEGER NOT NULL, "expires_at" INTEGER NOT NULL, "superseded_at" INTEGER, "used_at" INTEGER)',
    'CREATE UNIQUE INDEX "code_flow_ref_seq" ON "code" ("flow", "ref", "seq")',
    'CREATE TABLE "password_reset" ("id" VARCHAR(43) NOT NULL PRIMARY KEY, "user_id" INTEGER NOT NULL, "uid_hash" VARCHAR(64) NOT NULL, "created_at" INTEGER NOT NULL, "expires_at" INTEGER NOT NULL, "used_at" INTEGER, "invalidated_at" INTEGER, FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "password_reset_user_id" ON "password_reset" ("user_id")',
    'CREATE UNIQUE INDEX "password_reset_uid_hash" ON "password_reset" ("uid_hash")',
    'CREATE TABLE "refresh_token" ("jti" VARCHAR(43) NOT NULL PRIMARY KEY, "user_id" INTEGER NOT NULL, "family" VARCHAR(43) NOT NULL, "parent" VARCHAR(43), "created_at" INTEGER NOT NULL, "expires_at" INTEGER NOT NULL, "spent_at" INTEGER, "revoked_at" INTEGER, FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "refresh_token_user_id" ON "refresh_token" ("user_id")',
    'CREATE INDEX "refresh_token_family" ON "refresh_token" ("family")',
    'CREATE TABLE "avatar" ("user_id" INTEGER NOT NULL PRIMARY KEY, "content_type" VARCHAR(32) NOT NULL, "etag" VARCHAR(80) NOT NULL, "data" BLOB NOT NULL, "width" INTEGER NOT NULL, "height" INTEGER NOT NULL, "updated_at" INTEGER NOT NULL, FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE CASCADE)',
    'CREATE TABLE "outbox" ("id" INTEGER NOT NULL PRIMARY KEY, "user_id" INTEGER, "to_addr" VARCHAR(254) NOT NULL, "subject" VARCHAR(255) NOT NULL, "text" TEXT NOT NULL, "html" TEXT NOT NULL, "headers" TEXT NOT NULL, "message_id" VARCHAR(255) NOT NULL, "flow" VARCHAR(32) NOT NULL, "ref" VARCHAR(43) NOT NULL, "seq" INTEGER NOT NULL, "status" VARCHAR(16) NOT NULL, "attempts" INTEGER NOT NULL, "next_try_at" INTEGER NOT NULL, "created_at" INTEGER NOT NULL, "sent_at" INTEGER, "last_error" TEXT, FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE SET NULL)',
    'CREATE INDEX "outbox_user_id" ON "outbox" ("user_id")',
    'CREATE INDEX "outbox_status_next_try_at" ON "outbox" ("status", "next_try_at")',
    'CREATE TABLE "rate_limit" ("key" VARCHAR(255) NOT NULL PRIMARY KEY, "tat" INTEGER NOT NULL)',
]

POSTGRES: list[str] = [
    'CREATE TABLE "schema_version" ("id" SERIAL NOT NULL PRIMARY KEY, "version" INTEGER NOT NULL, "applied_at" BIGINT NOT NULL)',
    'CREATE TABLE "user" ("id" SERIAL NOT NULL PRIMARY KEY, "username" VARCHAR(150) NOT NULL, "username_key" VARCHAR(150) NOT NULL, "email" VARCHAR(254) NOT NULL, "email_key" VARCHAR(254) NOT NULL, "first_name" VARCHAR(150) NOT NULL, "last_name" VARCHAR(150) NOT NULL, "password_hash" VARCHAR(255) NOT NULL, "email_verified" BOOLEAN NOT NULL, "token_version" INTEGER NOT NULL, "date_joined" BIGINT NOT NULL, "last_login" BIGINT)',
    'CREATE UNIQUE INDEX "user_username_key" ON "user" ("username_key")',
    'CREATE UNIQUE INDEX "user_email_key" ON "user" ("email_key")',
    'CREATE TABLE "signup" ("id" VARCHAR(43) NOT NULL PRIMARY KEY, "first_name" VARCHAR(150) NOT NULL, "last_name" VARCHAR(150) NOT NULL, "username" VARCHAR(150) NOT NULL, "username_key" VARCHAR(150) NOT NULL, "email" VARCHAR(254) NOT NULL, "email_key" VARCHAR(254) NOT NULL, "password_hash" VARCHAR(255) NOT NULL, "created_at" BIGINT NOT NULL, "expires_at" BIGINT NOT NULL, "attempts" INTEGER NOT NULL, "locked_at" BIGINT, "verified_at" BIGINT, "user_id" INTEGER, FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE SET NULL)',
    'CREATE INDEX "signup_username_key" ON "signup" ("username_key")',
    'CREATE INDEX "signup_email_key" ON "signup" ("email_key")',
    'CREATE INDEX "signup_user_id" ON "signup" ("user_id")',
    'CREATE TABLE "email_change" ("id" VARCHAR(43) NOT NULL PRIMARY KEY, "user_id" INTEGER NOT NULL, "email" VARCHAR(254) NOT NULL, "email_key" VARCHAR(254) NOT NULL, "created_at" BIGINT NOT NULL, "expires_at" BIGINT NOT NULL, "attempts" INTEGER NOT NULL, "locked_at" BIGINT, "verified_at" BIGINT, FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "email_change_user_id" ON "email_change" ("user_id")',
    'CREATE INDEX "email_change_email_key" ON "email_change" ("email_key")',
    'CREATE TABLE "code" ("id" SERIAL NOT NULL PRIMARY KEY, "flow" VARCHAR(32) NOT NULL, "ref" VARCHAR(43) NOT NULL, "seq" INTEGER NOT NULL, "code_hash" VARCHAR(64) NOT NULL, "created_at" BIGINT NOT NULL, "expires_at" BIGINT NOT NULL, "superseded_at" BIGINT, "used_at" BIGINT)',
    'CREATE UNIQUE INDEX "code_flow_ref_seq" ON "code" ("flow", "ref", "seq")',
    'CREATE TABLE "password_reset" ("id" VARCHAR(43) NOT NULL PRIMARY KEY, "user_id" INTEGER NOT NULL, "uid_hash" VARCHAR(64) NOT NULL, "created_at" BIGINT NOT NULL, "expires_at" BIGINT NOT NULL, "used_at" BIGINT, "invalidated_at" BIGINT, FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "password_reset_user_id" ON "password_reset" ("user_id")',
    'CREATE UNIQUE INDEX "password_reset_uid_hash" ON "password_reset" ("uid_hash")',
    'CREATE TABLE "refresh_token" ("jti" VARCHAR(43) NOT NULL PRIMARY KEY, "user_id" INTEGER NOT NULL, "family" VARCHAR(43) NOT NULL, "parent" VARCHAR(43), "created_at" BIGINT NOT NULL, "expires_at" BIGINT NOT NULL, "spent_at" BIGINT, "revoked_at" BIGINT, FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "refresh_token_user_id" ON "refresh_token" ("user_id")',
    'CREATE INDEX "refresh_token_family" ON "refresh_token" ("family")',
    'CREATE TABLE "avatar" ("user_id" INTEGER NOT NULL PRIMARY KEY, "content_type" VARCHAR(32) NOT NULL, "etag" VARCHAR(80) NOT NULL, "data" BYTEA NOT NULL, "width" INTEGER NOT NULL, "height" INTEGER NOT NULL, "updated_at" BIGINT NOT NULL, FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE CASCADE)',
    'CREATE TABLE "outbox" ("id" SERIAL NOT NULL PRIMARY KEY, "user_id" INTEGER, "to_addr" VARCHAR(254) NOT NULL, "subject" VARCHAR(255) NOT NULL, "text" TEXT NOT NULL, "html" TEXT NOT NULL, "headers" TEXT NOT NULL, "message_id" VARCHAR(255) NOT NULL, "flow" VARCHAR(32) NOT NULL, "ref" VARCHAR(43) NOT NULL, "seq" INTEGER NOT NULL, "status" VARCHAR(16) NOT NULL, "attempts" INTEGER NOT NULL, "next_try_at" BIGINT NOT NULL, "created_at" BIGINT NOT NULL, "sent_at" BIGINT, "last_error" TEXT, FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE SET NULL)',
    'CREATE INDEX "outbox_user_id" ON "outbox" ("user_id")',
    'CREATE INDEX "outbox_status_next_try_at" ON "outbox" ("status", "next_try_at")',
    'CREATE TABLE "rate_limit" ("key" VARCHAR(255) NOT NULL PRIMARY KEY, "tat" BIGINT NOT NULL)',
]
