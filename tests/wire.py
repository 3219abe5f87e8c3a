"""Requests as raw bytes, for what no HTTP client sends: malformed HTTP, on both servers."""

from __future__ import annotations

import asyncio
import json
from typing import Any

# Each kind of request that is not valid HTTP, against a GET route and a POST route.
MALFORMED_KINDS = (
    "control byte in a header",
    "control byte in the path",
    "bad length",
    "overlong header",
    "TLS to the plain port",
)


def malformed_request(kind: str, get_path: str, post_path: str) -> bytes:
    """One request of `kind`, carrying the word SECRET where it is refused."""
    get = f"GET {get_path} HTTP/1.1\r\nHost: x\r\n".encode()
    return {
        "control byte in a header": get + b"X-Bad: a\x01SECRET\r\n\r\n",
        "control byte in the path": get.replace(b" HTTP", b"\x01SECRET HTTP") + b"\r\n",
        "bad length": f"POST {post_path} HTTP/1.1\r\nHost: x\r\n".encode()
        + b"Content-Length: SECRET\r\n\r\n",
        "overlong header": get + b"X-Long: SECRET" + b"S" * 70_000 + b"\r\n\r\n",
        "TLS to the plain port": b"\x16\x03\x01SECRET\r\n\r\n",
    }[kind]


async def malformed_request_answer(host: str, port: int, request: bytes) -> dict[str, Any]:
    """Send `request` on a new connection and read the answer to the close: it must be a 400
    `malformed_request` problem document that quotes nothing of what was sent (the requests
    carry the word SECRET). Returns the document."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(request)
    await writer.drain()
    response = await reader.read()
    writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.split(b" ", 2)[1] == b"400", head
    assert b"content-type: application/problem+json" in head.lower(), head
    document: dict[str, Any] = json.loads(body)
    assert document["status"] == 400 and document["code"] == "malformed_request", document
    assert b"SECRET" not in body and b"\\x" not in body, body
    return document
