"""`python -m devmail` / `acctkit devmail`: run the catcher until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Callable

from aiohttp import web

from devmail import chaos
from devmail.accesslog import AccessLogger
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
    parser.add_argument(
        "--allowed-hosts",
        default="",
        metavar="NAMES",
        help="comma-separated host names to answer besides localhost, *.localhost and IP"
        " addresses while bound to a loopback address (a guard against DNS rebinding)",
    )
    parser.add_argument(
        "--parsers",
        type=int,
        default=max(1, (os.cpu_count() or 1) - 1),
        metavar="N",
        help="processes that parse mail while several connections deliver, 0 for none"
        " (default: one per core but the loop's, %(default)s)",
    )
    chaos = parser.add_argument_group(
        "faults on demand",
        "change them later with PUT /api/v1/chaos (STAGE: Connect,"
        " Authentication, Sender (MAIL), Recipient (RCPT), Data; PERCENT 0-100)",
    )
    chaos.add_argument(
        "--chaos-triggers",
        metavar="STAGE:CODE:PERCENT,...",
        help="answer that share of commands at STAGE with CODE (4xx/5xx), as in Mailpit,"
        " e.g. Sender:451:50,Data:552:100",
    )
    chaos.add_argument(
        "--chaos-disconnect", metavar="STAGE:PERCENT", help="hang up at STAGE, no answer"
    )
    chaos.add_argument(
        "--chaos-latency",
        metavar="MS[:STAGE[:PERCENT]]",
        help="wait MS before answering at STAGE (default Data, 100%%)",
    )
    chaos.add_argument(
        "--chaos-seed", type=int, metavar="N", help="repeatable random draws for the shares"
    )
    return parser


def config_from(args: argparse.Namespace) -> Config:
    """The Config the parsed flags describe; ValueError with a sentence for bad values."""
    triggers = None
    flags = (args.chaos_triggers, args.chaos_disconnect, args.chaos_latency, args.chaos_seed)
    if any(flag is not None for flag in flags):
        triggers = chaos.parse_triggers(args.chaos_triggers or "")
        if args.chaos_disconnect:
            triggers = chaos.with_disconnect(triggers, args.chaos_disconnect)
        if args.chaos_latency:
            triggers = chaos.with_latency(triggers, args.chaos_latency)
        if args.chaos_seed is not None:
            triggers = chaos.with_seed(triggers, args.chaos_seed)
    return Config(
        host=args.host,
        smtp_port=args.smtp_port,
        http_port=args.http_port,
        db_path=args.db,
        max_messages=args.max,
        max_message_bytes=args.max_message_bytes,
        auth=args.auth,
        chaos=triggers,
        parsers=args.parsers,
        allowed_hosts=tuple(name.strip() for name in args.allowed_hosts.split(",") if name.strip()),
    )


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where it is installed (acctkit depends on it off Windows), else asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from(args)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(serve(config))
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
    runner = web.AppRunner(
        app, handle_signals=False, handler_cancellation=True, access_log_class=AccessLogger
    )
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
