"""The service's batcher, against an engine whose batches end when the test says so.

Requests that arrive while a batch is scored wait and become the next batch together;
each request gets back its own rows, in order; a batch that has run ``overlap_after``
seconds no longer holds the queue. Real HTTP and a real engine are in tests/test_serve.py;
here the timing is under the test's control, so the counts are exact.
"""

from __future__ import annotations

import asyncio

from vlmr1.engine import BatchResult
from vlmr1.plugins.serve.batcher import Batcher
from vlmr1.types import Sample, Verdict


class GatedEngine:
    """Scores a sample as float(its completion); each batch waits for its gate."""

    names = ["value"]

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.gates: list[asyncio.Event] = []
        self.started = asyncio.Event()

    async def ascore(self, samples):
        self.batches.append([s.completion for s in samples])
        gate = asyncio.Event()
        self.gates.append(gate)
        self.started.set()
        await gate.wait()
        values = [float(s.completion) for s in samples]
        return BatchResult({"value": values}, {"value": ["ok"] * len(values)}, values,
                           {"value": [Verdict(v, "ok") for v in values]})


def _samples(k: int, n: int = 3) -> list[Sample]:
    return [Sample(completion=str(100 * k + j), solution=None) for j in range(n)]


async def _until(predicate, timeout: float = 5.0) -> None:
    async def poll():
        while not predicate():
            await asyncio.sleep(0.001)
    await asyncio.wait_for(poll(), timeout)


async def _one_running_and_queued(batch_rows: int, queued: int):
    """A batcher with one request's batch running (held by its gate) and ``queued`` more
    requests waiting behind it."""
    engine = GatedEngine()
    batcher = Batcher(engine, batch_rows=batch_rows, overlap_after=60.0)
    batcher.start()
    first = asyncio.ensure_future(batcher.score(_samples(0)))
    await _until(lambda: len(engine.batches) == 1)
    later = [asyncio.ensure_future(batcher.score(_samples(k))) for k in range(1, queued + 1)]
    await _until(lambda: batcher.queued_rows == 3 * queued)
    return engine, batcher, first, later


def test_requests_arriving_during_a_batch_become_the_next_batch_together():
    async def run():
        engine, batcher, first, later = await _one_running_and_queued(512, 8)
        assert len(engine.batches) == 1  # nothing overlaps the running batch
        engine.gates[0].set()
        assert (await first).total == [0.0, 1.0, 2.0]
        await _until(lambda: len(engine.batches) == 2)
        engine.gates[1].set()
        results = await asyncio.gather(*later)
        await batcher.close()
        return engine, results

    engine, results = asyncio.run(run())
    assert len(engine.batches) == 2 and len(engine.batches[1]) == 24  # the eight waiting requests: one batch
    for k, got in enumerate(results, start=1):
        assert got.total == [100.0 * k + j for j in range(3)]  # each its own rows, in order
        assert got.metrics["engine/batch_rows"] == 24.0


def test_a_batch_past_overlap_after_no_longer_holds_the_queue():
    async def run():
        engine = GatedEngine()
        batcher = Batcher(engine, overlap_after=0.05)
        batcher.start()
        slow = asyncio.ensure_future(batcher.score(_samples(0)))
        await _until(lambda: len(engine.batches) == 1)
        quick = asyncio.ensure_future(batcher.score(_samples(1)))
        await _until(lambda: len(engine.batches) == 2)  # started while the first still runs
        assert not engine.gates[0].is_set()
        engine.gates[1].set()
        assert (await quick).total == [100.0, 101.0, 102.0]
        assert not slow.done()
        engine.gates[0].set()
        assert (await slow).total == [0.0, 1.0, 2.0]
        await batcher.close()

    asyncio.run(run())


def test_a_batch_that_rows_would_overflow_is_split():
    async def run():
        engine, batcher, first, later = await _one_running_and_queued(6, 3)
        engine.gates[0].set()
        await _until(lambda: len(engine.batches) == 2)
        engine.gates[1].set()
        await _until(lambda: len(engine.batches) == 3)
        engine.gates[2].set()
        await asyncio.gather(first, *later)
        await batcher.close()
        return engine

    engine = asyncio.run(run())
    assert [len(b) for b in engine.batches] == [3, 6, 3]  # at most batch_rows each, whole requests
