"""The worker pool that isolated rewards run in, and how its failures are named.

pebble's ProcessPool is used because it can do what ``concurrent.futures`` cannot:
kill the one worker that is stuck (and start a fresh one in its place), notice a
worker that died (abort, segfault, OOM kill) and fail only the task it held, and
recycle workers after N tasks so a leaky plugin cannot grow without bound. Each
worker also gets an address-space cap (RLIMIT_AS).

Items travel in small chunks, not one pebble task each: a pebble round trip costs
0.1-0.3 ms, more than a fast verifier's whole check. The timeout stays per item: the
worker records in shared memory which item of its chunk it is on and since when,
and the parent kills a worker whose current item has run past ``timeout``. That
item gets "timeout" (or "crashed" if the worker died under it); the chunk's other
items are simply run again. A chunk that stalls gives up its slot, and the next
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
from typing import Any

__all__ = ["ItemError", "WorkerPool", "failure_reason"]

_SLOTS = 256  # concurrent chunks whose progress the parent can see
_PROGRESS: dict[int, Any] = {}  # pool id -> shared array, inherited by forked workers
_ids = itertools.count()


def _page_size() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 4096


def _init_worker(memory_mb: int | None) -> None:
    """Runs once in each new worker: ignore Ctrl-C (the parent handles it), no fault
    handler stack dumps (a crash is reported as "crashed: SIGSEGV"), and cap memory.

    The cap is ``memory_mb`` of headroom above the address space the worker already
    has when it starts: a worker forked from a trainer inherits gigabytes of mapped
    (shared, copy-on-write) memory, and a cap below that would break every task.
    """
    import faulthandler

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    faulthandler.disable()
    if not memory_mb or sys.platform != "linux":
        return
    import resource

    try:
        with open("/proc/self/statm") as fh:
            current = int(fh.read().split()[0]) * _page_size()
    except OSError:  # pragma: no cover
        current = 0
    limit = current + int(memory_mb) * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


class ItemError:
    """An item's exception, reduced to names and text so it always pickles back."""

    __slots__ = ("message", "type")

    def __init__(self, type_: str, message: str) -> None:
        self.type, self.message = type_, message

    def __reduce__(self) -> Any:
        return (ItemError, (self.type, self.message))


def run_chunk(pool_id: int, slot: int, fn: Callable[..., Any], chunk: Sequence[tuple]) -> list[Any]:
    """In a worker: ``fn(*args)`` for each args, recording progress for the parent."""
    progress = _PROGRESS.get(pool_id)
    out: list[Any] = []
    for j, args in enumerate(chunk):
        if progress is not None:
            progress[2 * slot + 1] = time.time()
            progress[2 * slot] = j
        try:
            out.append(fn(*args))
        except MemoryError:
            out.append(ItemError("MemoryError", "out of memory"))
        except Exception as exc:  # the item's own failure; the chunk goes on
            out.append(ItemError(type(exc).__name__, str(exc)))
    if progress is not None:
        progress[2 * slot] = len(chunk)
    try:  # results that cannot cross back fail alone, not the chunk
        import pickle

        pickle.dumps(out)
    except Exception:
        out = [_picklable(r) for r in out]
    return out


def _picklable(value: Any) -> Any:
    import pickle

    try:
        pickle.dumps(value)
        return value
    except Exception as exc:
        return ItemError(type(exc).__name__, f"result cannot be sent back: {exc}")


def _noop() -> int:
    return os.getpid()


def failure_reason(failure: Any) -> tuple[str, dict[str, Any]]:
    """A short reason and details for an item that gave no result."""
    from pebble import ProcessExpired

    if isinstance(failure, (TimeoutError, asyncio.TimeoutError)):
        return "timeout", {}
    if isinstance(failure, ProcessExpired):
        code = failure.exitcode
        details: dict[str, Any] = {"exitcode": code}
        if code is not None and code < 0:
            try:
                details["signal"] = signal.Signals(-code).name
            except ValueError:
                details["signal"] = -code
        return "crashed", details
    if isinstance(failure, ItemError):
        name, msg = failure.type, failure.message
    else:
        name, msg = type(failure).__name__, str(failure)
    if name == "MemoryError":
        return "memory", {}
    msg = msg.replace("\n", " ")
    if len(msg) > 200:
        msg = msg[:197] + "..."
    return f"error: {name}: {msg}", {"exception": name}


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

    def _get(self, which: int = 0) -> Any:
        if self._pid != os.getpid():  # a forked copy of the engine: never touch the parent's pools
            self._pools, self._inflight, self._pid = [None, None], [0, 0], os.getpid()
            self._slots = weakref.WeakKeyDictionary()
        if self._progress is None and sys.platform == "linux":
            self._progress = multiprocessing.RawArray("d", 2 * _SLOTS)  # before any worker forks
            _PROGRESS[self._id] = self._progress
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

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """One call; raises its failure."""
        (result,) = await self.map(fn, [args])
        if isinstance(result, BaseException):
            raise result
        if isinstance(result, ItemError):
            raise RuntimeError(f"{result.type}: {result.message}")
        return result

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

    async def _attempt(self, fn: Callable[..., Any], items: Sequence[tuple], idx: list[int], out: list[Any],
                       spawned: list[asyncio.Future]) -> list[int]:
        """One pebble task for ``idx``; returns the items still to run."""
        from pebble import ProcessExpired

        sem = self._slot()
        await sem.acquire()
        holding = True
        which = 0 if self._inflight[0] < self.workers or self.spare == 0 or self._inflight[1] >= self.spare else 1
        self.counts["chunks"] += 1
        self.counts["spare_chunks"] += which
        self._inflight[which] += 1
        slot = self._free.pop() if self._free else None
        progress = self._progress if slot is not None else None
        if progress is not None:
            progress[2 * slot], progress[2 * slot + 1] = -1.0, 0.0
        started = time.perf_counter()
        own = len(idx)  # idx[:own] are this task's; a stall hands the rest to a new chunk
        backstop = (self.timeout * len(idx) + 5.0) if self.timeout else None
        raw = self._get(which).schedule(run_chunk, args=(self._id, slot if slot is not None else 0, fn, [items[i] for i in idx]),
                                        timeout=backstop)
        future = asyncio.wrap_future(raw)
        failure: Any = None
        j = -1
        try:
            while True:
                done, _ = await asyncio.wait({future}, timeout=0.05)
                if done:
                    break
                if progress is None or not raw.running():
                    continue
                j, since = int(progress[2 * slot]), progress[2 * slot + 1]
                if not (0 <= j < len(idx) and since > 0):
                    continue
                ran = time.time() - since
                if self.timeout and ran > self.timeout:
                    failure = TimeoutError()
                    raw.cancel()  # pebble kills the worker
                    self.counts["kills"] += 1
                    break
                if holding and self.spare and ran > self.stall_after:
                    sem.release()  # let the next chunk start on a spare worker
                    holding = False
                    self.counts["stalls"] += 1
                    if j + 1 < own:
                        spawned.append(asyncio.ensure_future(self._run_chunk(fn, items, idx[j + 1:own], out)))
                        own = j + 1
            if failure is None:
                try:
                    results = future.result()
                except (ProcessExpired, TimeoutError, asyncio.TimeoutError) as exc:  # a crash, or the backstop
                    failure = exc
                    j = int(progress[2 * slot]) if progress is not None else 0
                except Exception as exc:  # the chunk could not run (arguments that do not pickle...)
                    if own == 1:
                        out[idx[0]] = ItemError(type(exc).__name__, str(exc))
                    else:
                        spawned.extend(asyncio.ensure_future(self._run_chunk(fn, items, [i], out)) for i in idx[:own])
                    return []
                else:
                    for i, r in zip(idx[:own], results):
                        out[i] = r
                    per_item = (time.perf_counter() - started) / len(idx)
                    self._item_s = 0.8 * self._item_s + 0.2 * per_item if self._measured else per_item
                    self._measured = True
                    return []
        except asyncio.CancelledError:
            raw.cancel()
            raise
        finally:
            self._inflight[which] -= 1
            if slot is not None:
                self._free.append(slot)
            if holding:
                sem.release()
        j = max(j, 0)  # died before recording any progress: the first item is the suspect
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
