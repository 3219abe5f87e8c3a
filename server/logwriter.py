"""How `acctkit serve` writes its log: formatted where a record happens, written in batches.

The access log writes a line per request. Written at once (a StreamHandler), each line is a
write and a flush on the event loop thread; handed to a QueueListener thread, each line wakes
that thread, which then takes the GIL from the loop: 22% of the loop's GIL time on GET /api/me/
(py-spy, docs/performance.md). Here a record is formatted in the thread that logs it (so its
request id and time are its own) and appended to a deque; one writer thread wakes every
`interval` (or sooner when `max_lines` are waiting) and writes every waiting line in one
write. A line reaches stderr at most `interval` late; `close()` writes out the rest.
"""

from __future__ import annotations

import collections
import logging
import sys
import threading
from typing import TextIO


class BatchingHandler(logging.Handler):
    def __init__(
        self, stream: TextIO | None = None, *, interval: float = 0.1, max_lines: int = 4096
    ) -> None:
        super().__init__()
        self.stream = stream or sys.stderr
        self.interval = interval
        self.max_lines = max_lines
        self._lines: collections.deque[str] = collections.deque()
        self._wake = threading.Event()
        self._closing = False
        self._writer = threading.Thread(target=self._run, name="acctkit-log", daemon=True)
        self._writer.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.append(self.format(record))
        except Exception:
            self.handleError(record)
            return
        if len(self._lines) >= self.max_lines:
            self._wake.set()

    def _run(self) -> None:
        while not self._closing:
            self._wake.wait(self.interval)
            self._wake.clear()
            self._write_waiting()
        self._write_waiting()

    def _write_waiting(self) -> None:
        lines = self._lines
        batch = [lines.popleft() for _ in range(len(lines))]  # deque ends are thread-safe
        if not batch:
            return
        try:
            self.stream.write("\n".join(batch) + "\n")
            self.stream.flush()
        except (OSError, ValueError):  # stderr closed or gone: nothing else to tell it to
            pass

    def flush(self) -> None:
        self._write_waiting()

    def close(self) -> None:
        self._closing = True
        self._wake.set()
        if self._writer.is_alive() and threading.current_thread() is not self._writer:
            self._writer.join(timeout=5)
        self._write_waiting()
        super().close()


def configure(level: int, fmt: str) -> BatchingHandler:
    """Route every record of this process through one BatchingHandler, and skip the per-record
    work no line of ours prints (the logging HOWTO's "Optimization": caller frame, thread and
    process names)."""
    logging._srcfile = None  # type: ignore[attr-defined]  # documented switch: no findCaller()
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = BatchingHandler()
    handler.setFormatter(logging.Formatter(fmt))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    return handler
