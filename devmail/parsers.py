"""Parsing in worker processes, so that many SMTP connections use every core.

devmail is one asyncio thread, and parsing a message (devmail.parse, the stdlib `email`
package) is about 60% of what that thread spends on it. With one connection a message waits
for its reply anyway, so the loop parses it in place. With several, the loop hands each raw
message to one of a few `python -m devmail.parsers` processes over a pipe and stores the
result when it comes back; meanwhile it serves the other connections.

The wire between the two is frames of a 4-byte length and a body: raw bytes one way, and the
`ParsedMessage` as MessagePack (msgspec, a few microseconds either way) the other way, after
one status byte. A worker answers in the order it was asked. A message the worker cannot
encode (headers with raw 8-bit bytes survive parsing as lone surrogates, which MessagePack's
UTF-8 strings cannot carry) comes back as "parse it yourself", and a worker that dies hands its
unanswered messages back the same way: parsing in place is always the fallback, so no message
is lost to the pool.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import signal
import struct
import sys
from typing import BinaryIO

import msgspec

from devmail.parse import ParsedMessage, parse

log = logging.getLogger(__name__)

_LENGTH = struct.Struct("!I")
_REPLY = struct.Struct("!BI")  # status, body length
_JOIN_BELOW = 1 << 20  # bytes: a frame's length and body go out in one write
_PARSED = 0  # the body is the ParsedMessage
_YOURS = 1  # the worker could not send it back: parse it in place

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(ParsedMessage)


class _Worker:
    """One worker process and the messages it has been asked to parse, oldest first."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.pending: collections.deque[asyncio.Future[ParsedMessage | None]] = collections.deque()
        self.alive = True
        self.reader = asyncio.create_task(self._read_replies())

    def ask(self, raw: bytes) -> asyncio.Future[ParsedMessage | None]:
        assert self.process.stdin is not None
        future: asyncio.Future[ParsedMessage | None] = asyncio.get_running_loop().create_future()
        self.pending.append(future)
        if len(raw) < _JOIN_BELOW:  # one write, one system call: the copy costs less
            self.process.stdin.write(_LENGTH.pack(len(raw)) + raw)
        else:  # a big message is not copied once more while every connection waits
            self.process.stdin.write(_LENGTH.pack(len(raw)))
            self.process.stdin.write(raw)
        return future

    async def _read_replies(self) -> None:
        assert self.process.stdout is not None
        stdout = self.process.stdout
        try:
            while True:
                status, length = _REPLY.unpack(await stdout.readexactly(_REPLY.size))
                body = await stdout.readexactly(length)
                future = self.pending.popleft()
                if future.done():  # its connection went away meanwhile
                    continue
                future.set_result(_decoder.decode(body) if status == _PARSED else None)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # it exited; what it held is handed back below
        except (msgspec.DecodeError, IndexError) as exc:  # a frame nobody asked for
            log.warning("parser process %s answered out of turn: %r", self.process.pid, exc)
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        finally:
            self._give_back()

    def _give_back(self) -> None:
        """The worker is gone or out of step: its unanswered messages are parsed in place."""
        if self.alive:
            self.alive = False
            code = self.process.returncode
            log.warning("parser process %s stopped (%s); parsing in place", self.process.pid, code)
        while self.pending:
            future = self.pending.popleft()
            if not future.done():
                future.set_result(None)

    async def stop(self) -> None:
        self.alive = False
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 2.0)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()
        self.reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.reader
        self._give_back()


class ParserPool:
    """`processes` workers, each asked in turn by how few messages it has in hand."""

    def __init__(self, processes: int) -> None:
        if processes < 1:
            raise ValueError("a parser pool needs at least one process")
        self.processes = processes
        self._workers: list[_Worker] = []
        self.parsed = 0  # messages a worker parsed
        self.given_back = 0  # messages a worker handed back, parsed in place

    async def start(self) -> None:
        """Start the workers; one that cannot start is logged, and the loop parses instead."""
        for _ in range(self.processes):
            try:
                process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "devmail.parsers",
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                )
            except OSError as exc:
                log.warning("could not start a parser process (%s); parsing in place", exc)
                return
            self._workers.append(_Worker(process))

    async def close(self) -> None:
        workers, self._workers = self._workers, []
        await asyncio.gather(*(worker.stop() for worker in workers))

    @property
    def live(self) -> int:
        return sum(worker.alive for worker in self._workers)

    @property
    def in_hand(self) -> int:
        """Messages sent to a worker and not answered yet."""
        return sum(len(worker.pending) for worker in self._workers)

    @property
    def pids(self) -> list[int]:
        return [worker.process.pid for worker in self._workers if worker.alive]

    async def parse(self, raw: bytes) -> ParsedMessage | None:
        """`raw` parsed by the least busy worker; None: parse it yourself (no worker could)."""
        live = [worker for worker in self._workers if worker.alive]
        if not live:
            return None
        parsed = await min(live, key=lambda w: len(w.pending)).ask(raw)
        if parsed is None:
            self.given_back += 1
        else:
            self.parsed += 1
        return parsed


def serve(stdin: BinaryIO, stdout: BinaryIO) -> None:
    """The worker's side: answer every frame on stdin until it closes."""
    while True:
        head = stdin.read(_LENGTH.size)
        if len(head) < _LENGTH.size:
            return
        (length,) = _LENGTH.unpack(head)
        raw = stdin.read(length)
        if len(raw) < length:
            return
        try:
            status, body = _PARSED, _encoder.encode(parse(raw))
        except Exception:  # lone surrogates in a header, or a bug: the loop parses it
            status, body = _YOURS, b""
        stdout.write(_REPLY.pack(status, len(body)) + body)
        stdout.flush()


def main() -> None:
    # The parent stops workers by closing their stdin; Ctrl-C in a terminal reaches the
    # whole process group and must not print a traceback from here.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Frames go out on a private copy of stdout; anything else printed goes to stderr.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(sys.stdin.buffer, out)


if __name__ == "__main__":
    main()
