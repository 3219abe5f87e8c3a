"""Running the service: one process, or N processes sharing the port with SO_REUSEPORT."""

from __future__ import annotations

import logging
import multiprocessing
import signal
import sys

from aiohttp import web

from core import db, schema
from core.settings import Settings

log = logging.getLogger("acctkit.serve")


def _run_one(settings: Settings) -> None:
    from server.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        reuse_port=True,
        print=None,
        access_log_format='%a "%r" %s %b %Tfs',
    )


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
    spawn = multiprocessing.get_context("spawn")
    children = [
        spawn.Process(target=_run_one, args=(settings,), daemon=False) for _ in range(workers)
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
    return 0 if all(c.exitcode in (0, -signal.SIGTERM) for c in children) else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(serve(Settings()))
