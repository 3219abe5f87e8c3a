"""The reference for GET /api/me/: a bare aiohttp app on the same number of worker processes,
with the same token check (PyJWT, HS256, the same pinned options) and a fixed body, no database.

    python bench/bare_app.py PORT WORKERS SECRET

It is what aiohttp itself allows on this machine; acctkit's /me is reported as a share of it.
The event loop is the one acctkit's `serve` uses (uvloop when installed), so the comparison is
like for like.
"""

from __future__ import annotations

import multiprocessing
import signal
import sys

import jwt
from aiohttp import web

BODY = (
    b'{"id":1,"username":"bench","email":"b@example.com","first_name":"","last_name":"",'
    b'"avatar_url":null,"date_joined":"2026-01-01T00:00:00Z","email_verified":true}'
)
OPTIONS = {"require": ["sub", "iat", "exp", "jti", "iss", "aud", "typ"]}


def make_app(secret: str) -> web.Application:
    async def me(request: web.Request) -> web.Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        try:
            claims = jwt.decode(
                token, secret, algorithms=["HS256"], audience="acctkit", issuer="acctkit",
                options=OPTIONS,
            )  # fmt: skip
        except jwt.PyJWTError:
            raise web.HTTPUnauthorized() from None
        if scheme.lower() != "bearer" or claims["typ"] != "access":
            raise web.HTTPUnauthorized()
        return web.Response(body=BODY, content_type="application/json")

    app = web.Application()
    app.router.add_get("/api/me/", me)
    return app


def _serve(port: int, secret: str) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    web.run_app(make_app(secret), host="127.0.0.1", port=port, reuse_port=True, print=None,
                access_log=None)  # fmt: skip


def main() -> None:
    port, workers, secret = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    procs = [
        multiprocessing.Process(target=_serve, args=(port, secret), daemon=True)
        for _ in range(workers)
    ]
    for proc in procs:
        proc.start()

    def stop(signum: int, frame: object) -> None:
        # The bench stops this process with SIGTERM, which skips multiprocessing's exit hook
        # for daemon children: without this, every run left two workers listening.
        for proc in procs:
            proc.terminate()

    signal.signal(signal.SIGTERM, stop)
    for proc in procs:
        proc.join()


if __name__ == "__main__":
    main()
