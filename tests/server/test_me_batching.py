"""GET /api/me/ under concurrency: on PostgreSQL the reads of concurrent requests run as one
statement (server.batcher), on SQLite each runs on the loop. Either way every request gets its
own token's answer, and a revocation is seen by the next request."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from server.batcher import Batcher
from tests.conftest import Inbox
from tests.server.support import bearer, log_in, problem, sign_up


async def test_concurrent_requests_each_get_their_own_answer(
    database_url: str, make_client: Any, inbox: Inbox
) -> None:
    client = await make_client(database_url)
    alice, bob = await sign_up(client, inbox, "alice"), await sign_up(client, inbox, "bob")
    ended = await log_in(client, alice)
    resp = await client.post("/api/token/revoke/", json={"refresh": ended.refresh})
    assert resp.status == 204, await resp.text()
    expected = {
        alice.access: "alice",
        bob.access: "bob",
        ended.access: None,
        alice.refresh: None,  # wrong type
        "junk": None,
        "eyJhbGciOiJub25lIn0.e30.": None,  # alg none
        "e30.e30.e30": None,
    }
    tokens = list(expected) * 9

    async def me(token: str) -> str | None:
        resp = await client.get("/api/me/", headers=bearer(token))
        if resp.status == 200:
            return (await resp.json())["username"]
        await problem(resp, 401, "token_invalid")
        return None

    answers = await asyncio.gather(*(me(token) for token in tokens))
    assert answers == [expected[token] for token in tokens]


async def test_a_revocation_is_seen_by_the_next_request_under_load(
    database_url: str, make_client: Any, inbox: Inbox
) -> None:
    client = await make_client(database_url)
    alice = await sign_up(client, inbox)
    stop = asyncio.Event()

    async def busy() -> None:  # other requests keep batches in flight the whole time
        while not stop.is_set():
            await client.get("/api/me/", headers=alice.auth)

    load = [asyncio.create_task(busy()) for _ in range(8)]
    try:
        victim = await log_in(client, alice)
        assert (await client.get("/api/me/", headers=victim.auth)).status == 200
        resp = await client.post("/api/token/revoke/", json={"refresh": victim.refresh})
        assert resp.status == 204
        for _ in range(5):
            await problem(await client.get("/api/me/", headers=victim.auth), 401, "token_invalid")
    finally:
        stop.set()
        await asyncio.gather(*load)


class _Reads:
    """A read_many that records the batches it was given; 'bad' keys fail alone, 'boom' fails
    the whole call."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, keys: Sequence[str]) -> list[str | Exception]:
        self.gate.wait(5)
        self.batches.append(list(keys))
        if "boom" in keys:
            raise ConnectionError("the database went away")
        return [ValueError(key) if key == "bad" else key.upper() for key in keys]


@pytest.fixture
def pool() -> Any:
    with ThreadPoolExecutor(4) as executor:
        yield executor


async def test_batches_grow_under_load_and_answers_stay_per_key(pool: ThreadPoolExecutor) -> None:
    reads = _Reads()
    batcher: Batcher[str, str] = Batcher(reads, pool, limit=16)
    assert await batcher.read("a") == "A"  # light load: a batch of one, at once
    reads.gate.clear()  # hold the first batch so that the next requests queue behind it
    keys = [f"k{i}" for i in range(40)] + ["bad"]
    tasks = [asyncio.create_task(batcher.read(key)) for key in keys]
    await asyncio.sleep(0.05)
    reads.gate.set()
    answers = await asyncio.gather(*tasks, return_exceptions=True)
    assert answers[:-1] == [key.upper() for key in keys[:-1]]
    assert isinstance(answers[-1], ValueError)
    sizes = [len(batch) for batch in reads.batches[1:]]
    assert sum(sizes) == len(keys) and max(sizes) == 16 and len(sizes) <= 5, sizes


async def test_a_failed_call_fails_its_batch_only(pool: ThreadPoolExecutor) -> None:
    reads = _Reads()
    batcher: Batcher[str, str] = Batcher(reads, pool, limit=16)
    reads.gate.clear()
    first = [asyncio.create_task(batcher.read(key)) for key in ("x", "boom", "y")]
    await asyncio.sleep(0.05)
    cancelled = asyncio.create_task(batcher.read("gone"))
    later = asyncio.create_task(batcher.read("z"))
    await asyncio.sleep(0.01)
    cancelled.cancel()  # its client went away while it waited
    reads.gate.set()
    outcomes = await asyncio.gather(*first, return_exceptions=True)
    assert all(isinstance(o, ConnectionError) for o in outcomes)
    assert await later == "Z"
    with pytest.raises(asyncio.CancelledError):
        await cancelled


async def test_a_stopping_pool_fails_its_requests_instead_of_hanging_them() -> None:
    reads = _Reads()
    reads.gate.clear()
    pool = ThreadPoolExecutor(1)
    batcher: Batcher[str, str] = Batcher(reads, pool, limit=16)
    first = asyncio.create_task(batcher.read("held"))  # the pool's one thread waits at the gate
    await asyncio.sleep(0.05)
    queued = [asyncio.create_task(batcher.read(key)) for key in ("a", "b")]
    await asyncio.sleep(0.01)
    pool.shutdown(wait=False, cancel_futures=True)
    reads.gate.set()
    assert await first == "HELD"
    outcomes = await asyncio.wait_for(asyncio.gather(*queued, return_exceptions=True), 5)
    assert all(isinstance(o, RuntimeError) for o in outcomes), outcomes
    with pytest.raises(RuntimeError):
        await asyncio.wait_for(batcher.read("after"), 5)


async def test_a_batch_cancelled_in_the_pool_cancels_its_requests() -> None:
    reads = _Reads()
    reads.gate.clear()
    pool = ThreadPoolExecutor(1)
    batcher: Batcher[str, str] = Batcher(reads, pool, limit=16, in_flight=2)
    first = asyncio.create_task(batcher.read("held"))  # the pool's one thread waits at the gate
    await asyncio.sleep(0.05)
    waiting = asyncio.create_task(batcher.read("a"))  # its batch waits in the pool's queue
    await asyncio.sleep(0.01)
    pool.shutdown(wait=False, cancel_futures=True)
    reads.gate.set()
    assert await first == "HELD"
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(waiting, 5)
