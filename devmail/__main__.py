"""`python -m devmail` / `acctkit devmail`: run the catcher until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from aiohttp import web

from devmail.api import DEVMAIL_KEY, create_app
from devmail.config import DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_MAX_MESSAGES, Config


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="devmail",
        description="Catch every mail sent over SMTP and show it over a Mailpit-compatible API.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address for both ports")
    parser.add_argument("--smtp-port", type=int, default=1025, help="0 picks a free port")
    parser.add_argument("--http-port", type=int, default=8025, help="0 picks a free port")
    parser.add_argument("--db", metavar="PATH", help="keep messages in this SQLite file")
    parser.add_argument(
        "--max",
        type=int,
        default=DEFAULT_MAX_MESSAGES,
        help="keep the newest N messages, 0 for no limit (default %(default)s)",
    )
    parser.add_argument(
        "--max-message-bytes",
        type=int,
        default=DEFAULT_MAX_MESSAGE_BYTES,
        help="refuse larger messages with 552, 0 for no limit (default %(default)s)",
    )
    parser.add_argument(
        "--auth", action="store_true", help="offer SMTP AUTH (PLAIN, LOGIN); any login succeeds"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = Config(
            host=args.host,
            smtp_port=args.smtp_port,
            http_port=args.http_port,
            db_path=args.db,
            max_messages=args.max,
            max_message_bytes=args.max_message_bytes,
            auth=args.auth,
        )
    except ValueError as exc:
        parser.error(str(exc))
    try:
        asyncio.run(serve(config))
    except OSError as exc:
        print(f"devmail: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


async def serve(config: Config) -> None:
    """Run until a signal; prints one line with the bound ports once both are listening."""
    app = create_app(config)
    # handler_cancellation: a long-poll whose client went away stops waiting at once.
    runner = web.AppRunner(app, handle_signals=False, handler_cancellation=True)
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.host, config.http_port)
        await site.start()
        http_port = runner.addresses[0][1]
        host = f"[{config.host}]" if ":" in config.host else config.host
        smtp_port = app[DEVMAIL_KEY].smtp_port
        print(f"devmail: SMTP on {host}:{smtp_port}, HTTP on http://{host}:{http_port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    sys.exit(main())
