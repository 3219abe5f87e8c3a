"""Avatar upload and serving over HTTP, with the real app."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator

import aiohttp
from PIL import Image

from tests import samples
from tests.conftest import Inbox
from tests.server.support import Account, problem, sign_up

MIB = 1024 * 1024


def form(data: bytes, filename: str = "avatar.png", content_type: str = "image/png"):
    body = aiohttp.FormData()
    body.add_field("avatar", data, filename=filename, content_type=content_type)
    return body


async def upload_raw(client, who: Account, data: bytes, content_type: str):  # type: ignore[no-untyped-def]
    return await client.put(
        "/api/me/avatar/", data=data, headers={**who.auth, "Content-Type": content_type}
    )


async def test_jpeg_with_gps_is_served_without_any_metadata(client, inbox: Inbox) -> None:
    alice = await sign_up(client, inbox)
    resp = await client.put(
        "/api/me/avatar/",
        data=form(samples.jpeg_with_gps(), "me.jpg", "image/jpeg"),
        headers=alice.auth,
    )
    assert resp.status == 200, await resp.text()
    user = await resp.json()
    assert user["avatar_url"] == f"/api/users/{alice.id}/avatar"
    me = await (await client.get("/api/me", headers=alice.auth)).json()
    assert me["avatar_url"] == user["avatar_url"]

    served = await client.get(user["avatar_url"])
    assert served.status == 200
    data = await served.read()
    assert served.headers["Content-Type"] == "image/jpeg"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Cache-Control"] == "public, no-cache"
    assert served.headers["ETag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    image = samples.opened(data)
    assert image.format == "JPEG" and max(image.size) <= 512
    exif = image.getexif()
    assert len(exif) == 0 and len(exif.get_ifd(0x8825)) == 0
    assert "exif" not in image.info
    assert b"Exif" not in data and b"AcmeCam" not in data and b"GPS" not in data


async def test_etag_and_if_none_match_give_304(client, inbox: Inbox) -> None:
    alice = await sign_up(client, inbox)
    png = samples.encoded(Image.new("RGBA", (40, 40), (0, 128, 0, 100)), "PNG")
    assert (await upload_raw(client, alice, png, "image/png")).status == 200
    url = f"/api/users/{alice.id}/avatar"
    first = await client.get(url)
    assert first.headers["Content-Type"] == "image/png"
    etag = first.headers["ETag"]
    for given in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = await client.get(url, headers={"If-None-Match": given})
        assert again.status == 304, given
        assert again.headers["ETag"] == etag
        assert await again.read() == b""
    stale = await client.get(url, headers={"If-None-Match": '"stale"'})
    assert stale.status == 200
    assert (await client.get(f"{url}/")).status == 200
    # A new picture: a new ETag, so caches holding the old one revalidate to it.
    assert (await upload_raw(client, alice, samples.jpeg_with_gps(), "image/jpeg")).status == 200
    changed = await client.get(url, headers={"If-None-Match": etag})
    assert changed.status == 200 and changed.headers["ETag"] != etag


async def test_text_file_named_png_is_invalid_image(client, inbox: Inbox) -> None:
    alice = await sign_up(client, inbox)
    resp = await client.put(
        "/api/me/avatar/",
        data=form(b"I am not a picture, whatever my name says.\n"),
        headers=alice.auth,
    )
    await problem(resp, 400, "invalid_image")
    resp = await upload_raw(client, alice, b"GIF89a but not really", "image/gif")
    await problem(resp, 400, "invalid_image")


async def test_png_bomb_is_invalid_image(client, inbox: Inbox) -> None:
    alice = await sign_up(client, inbox)
    bomb = samples.png_bomb()
    resp = await client.put("/api/me/avatar/", data=form(bomb), headers=alice.auth)
    await problem(resp, 400, "invalid_image")
    resp = await upload_raw(client, alice, bomb, "image/png")
    await problem(resp, 400, "invalid_image")
    assert (await client.get(f"/api/users/{alice.id}/avatar")).status == 404


async def test_six_mib_is_413_with_content_length_and_chunked(client, inbox: Inbox) -> None:
    alice = await sign_up(client, inbox)
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * (6 * MIB)
    await problem(await upload_raw(client, alice, big, "image/png"), 413, "too_large")
    await problem(
        await client.put("/api/me/avatar/", data=form(big), headers=alice.auth), 413, "too_large"
    )

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(6 * 16):
            yield b"\0" * (64 * 1024)

    resp = await client.put(
        "/api/me/avatar/", data=chunks(), headers={**alice.auth, "Content-Type": "image/jpeg"}
    )
    assert "Content-Length" not in resp.request_info.headers
    await problem(resp, 413, "too_large")

    boundary = "xyzzy"

    async def multipart_chunks() -> AsyncIterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="avatar"; '
            'filename="a.png"\r\nContent-Type: image/png\r\n\r\n'
        ).encode()
        for _ in range(6 * 16):
            yield b"\0" * (64 * 1024)
        yield f"\r\n--{boundary}--\r\n".encode()

    resp = await client.put(
        "/api/me/avatar/",
        data=multipart_chunks(),
        headers={**alice.auth, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    await problem(resp, 413, "too_large")


async def test_limit_follows_the_setting(make_client, inbox: Inbox) -> None:
    client = await make_client(avatar_max_bytes=10_000)
    alice = await sign_up(client, inbox)
    photo = samples.jpeg_with_gps()
    assert len(photo) > 10_000
    await problem(await upload_raw(client, alice, photo, "image/jpeg"), 413, "too_large")
    small = samples.encoded(Image.new("RGB", (20, 20), "blue"), "PNG")
    assert (await upload_raw(client, alice, small, "image/png")).status == 200


async def test_wrong_content_type_is_415(client, inbox: Inbox) -> None:
    alice = await sign_up(client, inbox)
    png = samples.encoded(Image.new("RGB", (20, 20)), "PNG")
    for content_type in ("application/octet-stream", "text/plain", "image/svg+xml", "image/bmp"):
        resp = await upload_raw(client, alice, png, content_type)
        await problem(resp, 415, "unsupported_media_type")
    resp = await client.put("/api/me/avatar/", json={"avatar": "x"}, headers=alice.auth)
    await problem(resp, 415, "unsupported_media_type")


async def test_raw_webp_and_gif_uploads(client, inbox: Inbox) -> None:
    alice = await sign_up(client, inbox)
    webp = samples.encoded(samples.gradient((1024, 768)), "WEBP")
    resp = await upload_raw(client, alice, webp, "image/webp")
    assert resp.status == 200, await resp.text()
    served = samples.opened(await (await client.get(f"/api/users/{alice.id}/avatar")).read())
    assert served.size == (512, 384)
    gif = samples.encoded(samples.gradient((300, 600), "P"), "GIF")
    resp = await upload_raw(client, alice, gif, "image/gif")
    assert resp.status == 200, await resp.text()
    served = samples.opened(await (await client.get(f"/api/users/{alice.id}/avatar")).read())
    assert served.size == (256, 512)


async def test_declared_type_does_not_decide_what_the_bytes_are(client, inbox: Inbox) -> None:
    alice = await sign_up(client, inbox)
    png = samples.encoded(Image.new("RGBA", (30, 30), (1, 2, 3, 0)), "PNG")
    resp = await upload_raw(client, alice, png, "image/jpeg")
    assert resp.status == 200
    served = await client.get(f"/api/users/{alice.id}/avatar")
    assert served.headers["Content-Type"] == "image/png"


async def test_multipart_without_the_avatar_field_is_400(client, inbox: Inbox) -> None:
    alice = await sign_up(client, inbox)
    body = aiohttp.FormData()
    body.add_field("picture", b"x", filename="x.png", content_type="image/png")
    body = await problem(
        await client.put("/api/me/avatar/", data=body, headers=alice.auth), 400, "invalid"
    )
    assert "avatar" in body["errors"]


async def test_delete_avatar_then_404(client, inbox: Inbox) -> None:
    alice = await sign_up(client, inbox)
    png = samples.encoded(Image.new("RGB", (20, 20)), "PNG")
    assert (await upload_raw(client, alice, png, "image/png")).status == 200
    resp = await client.delete("/api/me/avatar", headers=alice.auth)
    assert resp.status == 204
    await problem(await client.get(f"/api/users/{alice.id}/avatar"), 404, "avatar_not_found")
    me = await (await client.get("/api/me/", headers=alice.auth)).json()
    assert me["avatar_url"] is None
    assert (await client.delete("/api/me/avatar/", headers=alice.auth)).status == 204


async def test_avatar_routes_need_auth_and_unknown_users_are_404(client) -> None:
    png = samples.encoded(Image.new("RGB", (20, 20)), "PNG")
    resp = await client.put("/api/me/avatar/", data=png, headers={"Content-Type": "image/png"})
    await problem(resp, 401, "not_authenticated")
    await problem(await client.delete("/api/me/avatar/"), 401, "not_authenticated")
    for user_id in ("999", "0", "-1", "abc", "99999999999999999999", "%D9%A5"):
        await problem(await client.get(f"/api/users/{user_id}/avatar"), 404, "avatar_not_found")


async def test_uploads_run_off_the_event_loop(client, inbox: Inbox) -> None:
    """While a big photo is being decoded, the loop keeps answering other requests."""
    alice = await sign_up(client, inbox)
    photo = samples.encoded(samples.gradient((4000, 3000)), "PNG")
    upload = asyncio.ensure_future(upload_raw(client, alice, photo, "image/png"))
    health = await client.get("/healthz")
    assert health.status == 200
    assert (await upload).status == 200


async def test_malformed_multipart_is_a_400_not_a_500(client, inbox: Inbox) -> None:
    alice = await sign_up(client, inbox)
    for content_type, body in (
        ("multipart/form-data", b"--x\r\n\r\nhello"),
        ("multipart/form-data; boundary=x", b"no boundary anywhere"),
        ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data\r\n\r\nab"),
    ):
        resp = await client.put(
            "/api/me/avatar/", data=body, headers={**alice.auth, "Content-Type": content_type}
        )
        assert 400 <= resp.status < 500, (content_type, body, await resp.text())
        assert resp.content_type == "application/problem+json"


async def test_head_of_an_avatar(client, inbox: Inbox) -> None:
    alice = await sign_up(client, inbox)
    png = samples.encoded(Image.new("RGB", (20, 20)), "PNG")
    assert (await upload_raw(client, alice, png, "image/png")).status == 200
    resp = await client.head(f"/api/users/{alice.id}/avatar")
    assert resp.status == 200 and resp.headers["ETag"]
