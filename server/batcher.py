"""Many concurrent requests' reads as one call: the DataLoader pattern, applied to the database
pool. A request hands its key to the batcher and awaits its own answer; the batcher gathers the
keys that arrive while the loop is busy and runs them through `read_many` in one executor hop
(core runs them as one statement). Under light load a batch is one key and goes at once; under
load, batches grow by themselves while the previous ones are in flight, so the executor hops and
database round trips per request shrink as the load grows.

Nothing is remembered between batches: every key is read by a call that starts after its request
arrived, so a batch sees every revocation committed before it, exactly as one read per request
would. Answers are per key: one key's error (an invalid token) fails that request only; a failure
of the whole call fails every request of that batch.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Batcher(Generic[K, V]):
    def __init__(
        self,
        read_many: Callable[[Sequence[K]], Sequence[V | Exception]],
        pool: Executor,
        *,
        limit: int,
        in_flight: int = 1,
    ) -> None:
        self._read_many = read_many
        self._pool = pool
        self._limit = limit
        self._in_flight = in_flight
        self._running = 0
        self._queue: list[tuple[K, asyncio.Future[V]]] = []
        self._scheduled = False

    async def read(self, key: K) -> V:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[V] = loop.create_future()
        self._queue.append((key, answer))
        if not self._scheduled and self._running < self._in_flight:
            # After the callbacks already due: requests parsed in this same loop turn join in.
            self._scheduled = True
            loop.call_soon(self._dispatch)
        return await answer

    def _dispatch(self) -> None:
        self._scheduled = False
        loop = asyncio.get_running_loop()
        while self._queue and self._running < self._in_flight:
            batch = [item for item in self._queue[: self._limit] if not item[1].done()]
            del self._queue[: self._limit]
            if not batch:
                continue
            keys = [key for key, _ in batch]
            try:
                # A fresh context: the batch serves many requests, and belongs to none of them.
                run = contextvars.Context().run
                work = loop.run_in_executor(self._pool, run, self._read_many, keys)
            except RuntimeError as exc:  # the pool is shut down: the app is stopping
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self._running += 1
            work.add_done_callback(lambda done, batch=batch: self._answer(batch, done))

    def _answer(self, batch: list[tuple[K, asyncio.Future[V]]], done: asyncio.Future) -> None:
        self._running -= 1
        if done.cancelled():  # the pool went away under it (shutdown): so do its requests
            for _, future in batch:
                future.cancel()
        else:
            failure = done.exception()
            answers = done.result() if failure is None else [failure] * len(batch)
            if len(answers) != len(batch):
                answers = [RuntimeError(f"{len(answers)} answers for {len(batch)} keys")] * len(
                    batch
                )
            for (_, future), answer in zip(batch, answers, strict=True):
                if future.done():  # its request was cancelled (the client went away)
                    continue
                if isinstance(answer, BaseException):
                    future.set_exception(answer)
                else:
                    future.set_result(answer)
        if self._queue:
            self._dispatch()
