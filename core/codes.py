"""The life cycle of a mailed one-time code, shared by signup and email change.

A code is generated once, here, as a 6-character string of digits; only its keyed hash is stored,
and the caller renders the mail from the same value in the same transaction. Each new code for a
ref supersedes the earlier ones, and an earlier code is recognised as such (`code_superseded`)
rather than being reported as simply wrong.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from core import errors
from core.context import Context
from core.models import Code

CODE_LENGTH = 6
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212]+")


class CodeOwner(Protocol):
    """A Signup or an EmailChange: the row that counts wrong attempts and can be locked."""

    id: str
    attempts: int
    locked_at: datetime | None

    def save(self) -> int: ...


@dataclass(frozen=True)
class IssuedCode:
    code: str
    seq: int
    expires_at: datetime


def generate(ctx: Context) -> str:
    return f"{ctx.random.randbelow(10**CODE_LENGTH):0{CODE_LENGTH}d}"


def normalise(submitted: str) -> str:
    """Strip the spaces and hyphens people paste with a code ("042 917", "042-917")."""
    return _SEPARATORS.sub("", submitted)


def keyed_hash(ctx: Context, flow: str, ref: str, code: str, *, key: bytes | None = None) -> str:
    message = f"{flow}:{ref}:{code}".encode()
    return hmac.new(key or ctx.code_key, message, hashlib.sha256).hexdigest()


def issue(ctx: Context, flow: str, ref: str) -> IssuedCode:
    """Supersede every earlier code of `ref` and store a new one (inside a write transaction)."""
    now = ctx.clock.now()
    latest = Code.select().where(Code.flow == flow, Code.ref == ref).order_by(Code.seq.desc())
    previous = latest.first()
    seq = previous.seq + 1 if previous else 1
    Code.update(superseded_at=now).where(
        Code.flow == flow, Code.ref == ref, Code.superseded_at.is_null()
    ).execute()
    code = generate(ctx)
    expires_at = now + timedelta(seconds=ctx.settings.code_ttl)
    Code.create(
        flow=flow,
        ref=ref,
        seq=seq,
        code_hash=keyed_hash(ctx, flow, ref, code),
        created_at=now,
        expires_at=expires_at,
    )
    return IssuedCode(code=code, seq=seq, expires_at=expires_at)


def latest(flow: str, ref: str) -> Code | None:
    query = Code.select().where(Code.flow == flow, Code.ref == ref).order_by(Code.seq.desc())
    return query.first()


def consume(
    ctx: Context, owner: CodeOwner, flow: str, submitted: str
) -> errors.AccountError | None:
    """Check `submitted` against the codes of `owner` and mark the live one used if it matches.

    Call inside a write transaction that has locked `owner`. A failure is returned, not raised,
    so the caller can commit the attempt count before raising it.
    """
    now = ctx.clock.now()
    max_attempts = ctx.settings.code_max_attempts
    if owner.locked_at is not None:
        return errors.TooManyAttempts("Too many wrong codes: this request is locked.")
    code = normalise(submitted)
    candidates = list(
        Code.select().where(Code.flow == flow, Code.ref == owner.id).order_by(Code.seq.desc())
    )
    match = None
    if len(code) == CODE_LENGTH and code.isascii() and code.isdigit():
        # Codes mailed before the code key was derived apart were keyed with the raw secret; they
        # live minutes, and a mailed code must never turn "wrong" under an upgrade.
        digests = [keyed_hash(ctx, flow, owner.id, code, key=k) for k in (None, ctx.secret)]
        match = next(
            (c for c in candidates if any(hmac.compare_digest(c.code_hash, d) for d in digests)),
            None,
        )
    if match is not None and match.used_at is None:
        if match.superseded_at is not None:
            newest = candidates[0].seq
            return errors.CodeSuperseded(
                f"That is code #{match.seq}; code #{newest} replaced it. Use the latest mail.",
                seq=match.seq,
                current_seq=newest,
            )
        if now >= match.expires_at:
            return errors.CodeExpired()
        match.used_at = now
        match.save()
        return None
    owner.attempts += 1
    left = max(max_attempts - owner.attempts, 0)
    if left == 0:
        owner.locked_at = now
    owner.save()
    return errors.CodeInvalid(
        f"That code is not correct. {left} attempt(s) left.", attempts_left=left
    )
