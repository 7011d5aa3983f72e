"""The worker pool that isolated rewards run in (the worker side is in :mod:`vlmr1.worker`).

pebble's ProcessPool is used because it can do what ``concurrent.futures`` cannot:
kill the one worker that is stuck (and start a fresh one in its place), notice a
worker that died (abort, segfault, OOM kill) and fail only the task it held, and
recycle workers after N tasks so a leaky plugin cannot grow without bound. Each
worker also gets an address-space cap (RLIMIT_AS).

Items travel in small chunks, not one pebble task each: a pebble round trip costs
0.1-0.3 ms, more than a fast reward's whole check. The timeout stays per item: the
worker records in shared memory which item of its chunk it is on and since when,
and the parent kills a worker whose current item has run past ``timeout``. That
item gets "timeout" (or "crashed" if the worker died under it); the chunk's other
items are simply run again. Every chunk is watched, the first one of a fresh pool
included, and no item is blamed on a guess: a worker that dies before starting any
item of its chunk has its items run again one by one. Each worker leads its own
process group, and a kill takes the whole group, so a plugin's subprocess does not
outlive its worker. A chunk that stalls gives up its slot, and the next
chunk starts on a spare worker, so a few hung items do not hold up the batch.

Work crosses into a worker as ``(callable, args)``: callables pickle by reference
(module-level functions), so plugins registered in-process with
``Registry.add_plugin`` work as well as installed ones; nothing is looked up by
name in the worker.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import os
import signal
import sys
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .worker import _FIELDS, _PROGRESS, ItemError, _init_worker, _noop, failure_reason, run_chunk

__all__ = ["ItemError", "WorkerPool", "failure_reason"]

_SLOTS = 256  # concurrent chunks whose progress the parent can see
_ids = itertools.count()


@dataclass
class _Task:
    """One chunk's pebble task as the parent watches it."""

    sem: asyncio.Semaphore
    slot: int | None
    own: int  # idx[:own] are this task's; a stall hands the rest to a new chunk
    holding: bool = True  # still holds its place among the main pool's ``workers``
    j: int = -1  # the item its worker was on when last seen
    failure: Any = None


def _chunks(n: int, size: int, groups: Sequence[Any] | None) -> list[list[int]]:
    """Index runs of about ``size``; a run ends early or late (up to twice ``size``) at a group boundary."""
    chunks: list[list[int]] = []
    cur: list[int] = []
    for i in range(n):
        if cur and len(cur) >= size and (groups is None or groups[i] != groups[i - 1] or len(cur) >= 2 * size):
            chunks.append(cur)
            cur = []
        cur.append(i)
    if cur:
        chunks.append(cur)
    return chunks


class WorkerPool:
    """Lazily started pebble pools; ``workers=0`` runs everything inline (unsafe).

    At most ``workers`` chunks run at once on the main pool. A chunk whose current
    item has run ``stall_after`` seconds (a hang, until its timeout kills it) gives
    up its slot, and the next chunk starts on a spare worker from a second, lazily
    started pool of ``spare`` workers, used only while the main one is held up.
    ``stall_after`` is ten times the typical item time, at least 0.1 s (a second, or a
    quarter of the timeout when that is shorter, until a chunk has finished and the typical
    time is known), at most half the timeout.
    """

    def __init__(self, workers: int, timeout: float | None, max_tasks: int, memory_mb: int | None,
                 spare: int = 8, stall_after: float | None = None, chunk_s: float = 0.02) -> None:
        self.workers = int(workers)
        self.timeout = timeout
        self.max_tasks = int(max_tasks or 0)
        self.memory_mb = memory_mb
        self.spare = max(0, int(spare))
        self.fixed_stall = stall_after
        self.chunk_s = chunk_s
        self._pools: list[Any] = [None, None]
        self._inflight = [0, 0]
        self._slots: weakref.WeakKeyDictionary[Any, asyncio.Semaphore] = weakref.WeakKeyDictionary()
        self._free = list(range(_SLOTS))
        self._item_s = 0.001  # EWMA of seconds per item
        self._measured = False  # a chunk has finished: _item_s is a measurement
        self._pid = os.getpid()
        self._id = next(_ids)
        self._progress: Any = None
        self.counts = {"chunks": 0, "spare_chunks": 0, "stalls": 0, "kills": 0}
        # Run once in this process just before the first worker forks (rewards' warm-ups):
        # an engine whose items are all settled inline never pays for them.
        self.before_start: list[Callable[[], None]] = []

    @property
    def inline(self) -> bool:
        return self.workers <= 0

    @property
    def stall_after(self) -> float:
        if self.fixed_stall is not None:
            return self.fixed_stall
        cap = self.timeout / 2 if self.timeout else 5.0
        # Until a chunk has finished the typical item time is unknown, and a fresh worker's
        # first items are its slowest (a parser meeting its first shapes): calling them stalls
        # would fork spare workers that compete for the cores. Wait a second (a quarter of
        # the timeout when that is shorter) before the first measurement, 0.1 s after it.
        floor = 0.1 if self._measured else min(1.0, cap / 2)
        return min(max(floor, 10 * self._item_s), cap)

    def _ensure_progress(self) -> Any:
        """The shared array the workers report their progress in. It must exist before the
        first worker forks (every worker inherits it), and every chunk is watched through it."""
        if self._pid != os.getpid():  # a forked copy of the engine: never touch the parent's pools
            self._pools, self._inflight, self._pid = [None, None], [0, 0], os.getpid()
            self._slots = weakref.WeakKeyDictionary()
            self._progress, self._id, self._free = None, next(_ids), list(range(_SLOTS))
        if self._progress is None and sys.platform == "linux":
            self._progress = multiprocessing.RawArray("d", _FIELDS * _SLOTS)
            _PROGRESS[self._id] = self._progress
        return self._progress

    def _get(self, which: int = 0) -> Any:
        self._ensure_progress()
        broken = self._pools[which]
        if broken is not None and not broken.active:  # pebble gave up on it (a worker died before it
            self._pools[which] = None                  # could say which task it took): start afresh
            broken.stop()
        if self._pools[which] is None:
            from pebble import ProcessPool

            self._warm_up()

            method = "fork" if sys.platform == "linux" else None
            self._pools[which] = ProcessPool(
                max_workers=self.workers if which == 0 else self.spare,
                max_tasks=self.max_tasks,
                initializer=_init_worker,
                initargs=(self.memory_mb,),
                context=multiprocessing.get_context(method),
            )
        return self._pools[which]

    def _warm_up(self) -> None:
        pending, self.before_start = self.before_start, []
        for fn in pending:
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - a failed warm-up only costs speed
                import warnings

                warnings.warn(f"warm-up {getattr(fn, '__qualname__', fn)!r} failed ({type(exc).__name__}: {exc}); "
                              f"workers will load on first use", stacklevel=2)

    def start(self) -> list[int]:
        """Start the main pool's workers now (otherwise the first isolated task does); their pids."""
        if self.inline:
            return []
        pool = self._get(0)
        return sorted({f.result() for f in [pool.schedule(_noop) for _ in range(self.workers * 2)]})

    # -- running ------------------------------------------------------------------------
    async def map(self, fn: Callable[..., Any], items: Sequence[tuple], groups: Sequence[Any] | None = None) -> list[Any]:
        """``fn(*args)`` for each args: results, or failures (``ItemError``, ``TimeoutError``,
        pebble's ``ProcessExpired``) in their place. Never raises for an item. Adjacent items
        with equal ``groups`` keys stay in one chunk (one worker) where the size allows."""
        if not items:
            return []
        if self.inline:
            return [self._inline(fn, args) for args in items]
        size = max(1, min(64, int(self.chunk_s / max(self._item_s, 1e-6)), -(-len(items) // (2 * self.workers))))
        chunks = _chunks(len(items), size, groups)
        out: list[Any] = [None] * len(items)
        await asyncio.gather(*(self._run_chunk(fn, items, idx, out) for idx in chunks))
        return out

    @staticmethod
    def _inline(fn: Callable[..., Any], args: tuple) -> Any:
        try:
            return fn(*args)
        except MemoryError:
            return ItemError("MemoryError", "out of memory")
        except Exception as exc:
            return ItemError(type(exc).__name__, str(exc))

    def _slot(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        sem = self._slots.get(loop)
        if sem is None:
            sem = self._slots[loop] = asyncio.Semaphore(self.workers)
        return sem

    async def _run_chunk(self, fn: Callable[..., Any], items: Sequence[tuple], idx: list[int], out: list[Any]) -> None:
        """Run items ``idx`` as one task; on a kill or crash, blame the current item and rerun the rest.

        When the current item stalls, the chunk's items not yet started are split off into a
        chunk of their own (on a spare worker), so several hangs in one chunk overlap instead
        of costing one timeout after another.
        """
        spawned: list[asyncio.Future] = []
        try:
            while idx:
                idx = await self._attempt(fn, items, idx, out, spawned)
        except asyncio.CancelledError:
            for task in spawned:
                task.cancel()
            raise
        if spawned:
            await asyncio.gather(*spawned)

    async def _take_slot(self) -> int | None:
        """A progress slot for one chunk; waits for one rather than run a chunk unwatched."""
        progress = self._ensure_progress()
        if progress is None:  # no shared memory here (not Linux): pebble's backstop only
            return None
        while not self._free:
            await asyncio.sleep(0.01)
        slot = self._free.pop()
        progress[_FIELDS * slot: _FIELDS * slot + _FIELDS] = [-1.0, 0.0, 0.0]
        return slot

    def _progress_of(self, slot: int | None) -> tuple[int, float, int]:
        """(item the worker is on, since when, worker pid) for a slot; item -1: not started."""
        if slot is None or self._progress is None:
            return -1, 0.0, 0
        base = _FIELDS * slot
        return int(self._progress[base]), self._progress[base + 1], int(self._progress[base + 2])

    @staticmethod
    def _kill_group(pid: int) -> None:
        """Kill a worker's process group: the worker and whatever it started (a plugin's
        subprocess would otherwise outlive it as an orphan)."""
        if pid <= 1 or pid == os.getpid():
            return
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:  # already gone, or the worker could not lead a group of its own
            pass

    async def _attempt(self, fn: Callable[..., Any], items: Sequence[tuple], idx: list[int], out: list[Any],
                       spawned: list[asyncio.Future]) -> list[int]:
        """One pebble task for ``idx``; returns the items still to run."""
        sem = self._slot()
        await sem.acquire()
        try:
            slot = await self._take_slot()
        except BaseException:
            sem.release()
            raise
        which = 0 if self._inflight[0] < self.workers or self.spare == 0 or self._inflight[1] >= self.spare else 1
        self.counts["chunks"] += 1
        self.counts["spare_chunks"] += which
        self._inflight[which] += 1
        task = _Task(sem, slot, own=len(idx))
        try:
            backstop = (self.timeout * len(idx) + 5.0) if self.timeout else None
            raw = self._get(which).schedule(run_chunk, args=(self._id, slot if slot is not None else 0, fn, [items[i] for i in idx]),
                                            timeout=backstop)
            try:
                done = await self._watch(raw, task, fn, items, idx, out, spawned)
            except asyncio.CancelledError:
                raw.cancel()
                raise
            if done:
                return []
        finally:
            self._inflight[which] -= 1
            if slot is not None:
                self._free.append(slot)
            if task.holding:
                sem.release()
        return self._blame(task.failure, task.j, idx, task.own, fn, items, out, spawned)

    async def _watch(self, raw: Any, task: _Task, fn: Callable[..., Any], items: Sequence[tuple], idx: list[int],
                     out: list[Any], spawned: list[asyncio.Future]) -> bool:
        """Wait for a scheduled chunk, killing its worker when the current item runs past the
        timeout and handing the chunk's tail to a spare worker when it stalls. True when the
        results are in ``out``; False with ``task.failure`` set when the worker was lost."""
        from concurrent.futures.process import BrokenProcessPool

        from pebble import ProcessExpired

        started = time.perf_counter()
        future = asyncio.wrap_future(raw)
        while not (await asyncio.wait({future}, timeout=0.05))[0]:
            task.j, since, pid = self._progress_of(task.slot)
            if not (raw.running() and 0 <= task.j < len(idx) and since > 0):
                continue
            ran = time.time() - since
            if self.timeout and ran > self.timeout:
                task.failure = TimeoutError()
                self._kill_group(pid)
                raw.cancel()  # pebble replaces the worker
                self.counts["kills"] += 1
                return False
            if task.holding and self.spare and ran > self.stall_after:
                task.sem.release()  # let the next chunk start on a spare worker
                task.holding = False
                self.counts["stalls"] += 1
                if task.j + 1 < task.own:
                    spawned.append(asyncio.ensure_future(self._run_chunk(fn, items, idx[task.j + 1:task.own], out)))
                    task.own = task.j + 1
        try:
            results = future.result()
        except (ProcessExpired, BrokenProcessPool, TimeoutError, asyncio.TimeoutError) as exc:  # a crash, or the backstop
            task.failure = ProcessExpired("Abnormal termination") if isinstance(exc, BrokenProcessPool) else exc
            task.j, _, pid = self._progress_of(task.slot)
            self._kill_group(pid)
            return False
        except Exception as exc:  # the chunk could not run (arguments that do not pickle...)
            if task.own == 1:
                out[idx[0]] = ItemError(type(exc).__name__, str(exc))
            else:
                spawned.extend(asyncio.ensure_future(self._run_chunk(fn, items, [i], out)) for i in idx[:task.own])
            return True
        for i, r in zip(idx[:task.own], results):
            out[i] = r
        per_item = (time.perf_counter() - started) / len(idx)
        self._item_s = 0.8 * self._item_s + 0.2 * per_item if self._measured else per_item
        self._measured = True
        return True

    def _blame(self, failure: Any, j: int, idx: list[int], own: int, fn: Callable[..., Any], items: Sequence[tuple],
               out: list[Any], spawned: list[asyncio.Future]) -> list[int]:
        """Give a kill or crash to the item the worker was on; the items still to run."""
        if j < 0:  # it died before starting any item: no item is known to be at fault
            if own == 1:  # ... unless there is only one (its arguments killed the worker)
                out[idx[0]] = failure
                return []
            spawned.extend(asyncio.ensure_future(self._run_chunk(fn, items, [i], out)) for i in idx[:own])
            return []
        if j < own:  # the item the worker was on is to blame; the others did nothing wrong
            out[idx[j]] = failure
            return idx[:j] + idx[j + 1:own]
        return idx[:own]  # it died on an item a split-off chunk owns (and will judge): run ours again

    def close(self) -> None:
        pools, self._pools = self._pools, [None, None]
        if self._pid != os.getpid():
            return
        for pool in pools:
            if pool is not None:
                pool.stop()
        for pool in pools:
            if pool is not None:
                pool.join(timeout=5)
        _PROGRESS.pop(self._id, None)
