"""acctkit serve's log handler: every line, in order, written in batches, none lost at close."""

from __future__ import annotations

import io
import logging
import threading

from server.logwriter import BatchingHandler


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def test_lines_from_many_threads_arrive_whole_in_order_and_in_few_writes() -> None:
    stream = CountingStream()
    handler = BatchingHandler(stream, interval=0.05)
    handler.setFormatter(logging.Formatter("%(threadName)s %(message)s"))
    logger = logging.getLogger("test.logwriter")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)

    def burst(n: int) -> None:
        for i in range(2000):
            logger.info("line %d-%d", n, i)

    threads = [threading.Thread(target=burst, args=(n,), name=f"t{n}") for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    handler.close()
    logger.removeHandler(handler)

    lines = stream.getvalue().splitlines()
    assert len(lines) == 8000
    for n in range(4):
        mine = [line.split(" ", 1)[1] for line in lines if line.startswith(f"t{n} ")]
        assert mine == [f"line {n}-{i}" for i in range(2000)]
    assert stream.writes < 8000 / 10, stream.writes  # batched, not a write per line


def test_a_line_is_written_within_the_interval_without_close() -> None:
    stream = CountingStream()
    handler = BatchingHandler(stream, interval=0.02)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.handle(logging.makeLogRecord({"msg": "soon", "levelno": logging.INFO}))
    written = threading.Event()
    for _ in range(200):
        if stream.getvalue() == "soon\n":
            written.set()
            break
        threading.Event().wait(0.01)
    handler.close()
    assert written.is_set()
