"""PUT/DELETE /api/me/avatar/ and GET /api/users/{id}/avatar.

Uploads come as multipart/form-data (field `avatar`) or as a raw image body. Either way the size
limit is enforced while reading, so an oversized or endless body is refused with 413 without being
held in memory; what the bytes are is decided by core (Pillow), never by a name or a header.

Serving: `Cache-Control: public, no-cache` with a strong ETag. The avatar URL stays the same when
the picture changes, so caches must revalidate each time; an unchanged avatar costs a 304.
"""

from __future__ import annotations

from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from core import avatars, errors, profile, users
from server.auth import authenticated
from server.body import read_limited
from server.calls import call, call_hashing
from server.keys import SETTINGS

FIELD = "avatar"
MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around the image
CHUNK = 64 * 1024
CACHE_CONTROL = "public, no-cache"
MAX_USER_ID = 2**31 - 1

_BINARY = {"type": "string", "contentMediaType": "application/octet-stream"}
UPLOAD_CONTENT: dict[str, Any] = {
    "multipart/form-data": {
        "schema": {"type": "object", "properties": {FIELD: _BINARY}, "required": [FIELD]}
    },
    **{t: {"schema": _BINARY} for t in avatars.ACCEPTED_CONTENT_TYPES},
}
"""The request body as the OpenAPI document describes it."""


async def read_upload(request: web.Request) -> bytes:
    """The uploaded image's bytes, whichever of the two accepted forms the request uses."""
    limit = request.app[SETTINGS].avatar_max_bytes
    content_type = request.content_type
    if content_type in avatars.ACCEPTED_CONTENT_TYPES:
        return await read_limited(request, limit)
    if content_type == "multipart/form-data":
        return await _read_multipart_field(request, FIELD, limit)
    raise errors.UnsupportedMediaType(
        "Send the avatar as multipart/form-data (field 'avatar') or as a raw "
        f"{', '.join(avatars.ACCEPTED_CONTENT_TYPES)} body, not {content_type!r}."
    )


async def _read_multipart_field(request: web.Request, name: str, limit: int) -> bytes:
    """Read parts in chunks, counting every byte, until the part called `name` is complete.

    Parts are read raw: a Content-Encoding on a part is not undone, so it cannot smuggle a
    compression bomb past the limit (the bytes then simply are not an image).
    """
    budget = limit + MULTIPART_OVERHEAD
    if request.content_length is not None and request.content_length > budget:
        raise errors.TooLarge(f"The body is over the limit of {limit} bytes.")
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise errors.InvalidInput(errors={name: ["Nested multipart is not accepted."]})
            chunks: list[bytes] = []
            size = 0
            while chunk := await part.read_chunk(CHUNK):
                size += len(chunk)
                budget -= len(chunk)
                if size > limit or budget < 0:
                    raise errors.TooLarge(f"The body is over the limit of {limit} bytes.")
                chunks.append(chunk)
            if part.name == name:
                return b"".join(chunks)
    except (ValueError, AssertionError, RuntimeError, HttpProcessingError) as exc:
        raise errors.ParseError(f"The multipart body is malformed: {exc}.") from None
    raise errors.InvalidInput(errors={name: ["This field is required."]})


async def put_avatar(request: web.Request) -> users.UserView:
    user = await authenticated(request)
    data = await read_upload(request)
    # Decoding and re-encoding is CPU work: the hash pool, like argon2.
    return await call_hashing(request, profile.set_avatar, user.id, data)


async def delete_avatar(request: web.Request) -> None:
    user = await authenticated(request)
    await call(request, profile.remove_avatar, user.id)


def _user_id(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) <= MAX_USER_ID:
        raise errors.AvatarNotFound()
    return int(raw)


def _matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison, as If-None-Match requires."""
    if not if_none_match:
        return False
    candidates = [c.strip().removeprefix("W/") for c in if_none_match.split(",")]
    return "*" in candidates or etag in candidates


async def get_avatar(request: web.Request) -> web.Response:
    stored = await call(request, profile.avatar, _user_id(request.match_info["id"]))
    headers = {
        "ETag": stored.etag,
        "Cache-Control": CACHE_CONTROL,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    if _matches(request.headers.get("If-None-Match"), stored.etag):
        return web.Response(status=304, headers=headers)
    return web.Response(body=stored.data, content_type=stored.content_type, headers=headers)
