"""Running the service: one process, or N processes sharing the port with SO_REUSEPORT.

SIGTERM drains: a worker stops accepting connections, lets in-flight requests finish (at most
SHUTDOWN_SECONDS), then its outbox sender finishes the mail it is sending and what is due (at most
server.sender.DRAIN_SECONDS), and the process exits 0. Anything left stays queued in the database
for the next start or another instance.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import logging
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
from typing import Any

from aiohttp import web

from core import db, request_id, schema
from core.settings import Settings

log = logging.getLogger("acctkit.serve")


SHUTDOWN_SECONDS = 30.0
LISTEN_ERRORS = {errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES}
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (Linux and macOS): the same aiohttp app answers GET /api/me/
    about 10% faster on it (docs/performance.md); the standard loop everywhere else."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _run_one(settings: Settings, hash_slots: Any = None) -> None:
    from server import logwriter
    from server.app import create_app
    from server.headers import hide_server_version

    request_id.install()
    hide_server_version()
    log_handler = logwriter.configure(logging.INFO, LOG_FORMAT)
    app = create_app(settings, hash_slots=hash_slots)
    # Everything alive now (modules, the app) lives as long as the process: keep it out of the
    # collector's sight, or each full collection walks it all on the event loop thread (a 50 ms
    # stall with a large heap; see docs/performance.md).
    gc.freeze()
    try:
        _run_app(app, settings)
        log.info("acctkit worker %s stopped", os.getpid())
    finally:
        log_handler.close()  # writes out what is still waiting


def _run_app(app: web.Application, settings: Settings) -> None:
    """aiohttp's run_app, with a port it cannot listen on said in one line (exit status 1)
    instead of a traceback: a forgotten process, an address not on this host, a low port."""
    from server import accesslog

    try:
        web.run_app(
            app,
            host=settings.host,
            port=settings.port,
            reuse_port=True,
            print=None,
            loop=new_event_loop(),
            **accesslog.RUNNER_OPTIONS,
            shutdown_timeout=SHUTDOWN_SECONDS,
        )
    except OSError as exc:
        if exc.errno not in LISTEN_ERRORS:
            raise
        log.error("cannot listen on %s:%s: %s", settings.host, settings.port, exc.strerror)
        raise SystemExit(1) from None


def migrate_now(settings: Settings) -> int:
    db.open_database(settings.database_url)
    try:
        return schema.migrate()
    finally:
        db.close_database()


def serve(settings: Settings, workers: int = 1) -> int:
    migrate_now(settings)  # once, before the workers race to do it
    log.info(
        "acctkit serving on http://%s:%s with %s worker(s)", settings.host, settings.port, workers
    )
    if workers <= 1:
        _run_one(settings)
        return 0
    if settings.metrics:
        # prometheus-client's multiprocess mode: each worker writes its counters to files in this
        # directory, and whichever worker answers a scrape adds them all up.
        metrics_dir = tempfile.mkdtemp(prefix="acctkit-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir  # read by prometheus-client itself
        settings = settings.replace(metrics_multiprocess_dir=metrics_dir)
    spawn = multiprocessing.get_context("spawn")
    hash_slots = spawn.Semaphore(os.cpu_count() or 2)  # never more hashes than cores, host-wide
    children = [
        spawn.Process(target=_run_one, args=(settings, hash_slots), daemon=False)
        for _ in range(workers)
    ]
    for child in children:
        child.start()

    def stop(signum: int, frame: object) -> None:
        for child in children:
            if child.is_alive() and child.pid:
                child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for child in children:
        child.join()
    if settings.metrics_multiprocess_dir:
        shutil.rmtree(settings.metrics_multiprocess_dir, ignore_errors=True)
    return 0 if all(c.exitcode in (0, -signal.SIGTERM) for c in children) else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(serve(Settings()))
