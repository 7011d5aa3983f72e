"""The worker pool that isolated rewards run in, and how its failures are named.

pebble's ProcessPool is used because it can do what ``concurrent.futures`` cannot:
kill the one worker whose task ran past its wall-clock timeout (and start a fresh
one in its place), notice a worker that died (abort, segfault, OOM kill) and fail
only the task it held, and recycle workers after N tasks so a leaky plugin cannot
grow without bound. Each worker also gets an address-space cap (RLIMIT_AS).

Work crosses into a worker as ``(callable, args)``: callables pickle by reference
(module-level functions), so plugins registered in-process with
``Registry.add_plugin`` work as well as installed ones; nothing is looked up by
name in the worker.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import sys
from concurrent.futures import TimeoutError as FuturesTimeout
from typing import Any, Callable

__all__ = ["WorkerPool", "failure_reason", "FAILURE_KINDS"]

# Reasons the engine gives when a reward did not produce a verdict (besides "error: ...").
FAILURE_KINDS = ("timeout", "crashed", "memory")


def _page_size() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 4096


def _init_worker(memory_mb: int | None) -> None:
    """Runs once in each new worker: ignore Ctrl-C (the parent handles it) and cap memory.

    The cap is ``memory_mb`` of headroom above the address space the worker already
    has when it starts: a worker forked from a trainer inherits gigabytes of mapped
    (shared, copy-on-write) memory, and a cap below that would break every task.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import faulthandler

    faulthandler.disable()  # a crash is reported as "crashed: SIGSEGV", not a stack dump per item
    if not memory_mb or sys.platform != "linux":
        return
    import resource

    try:
        with open("/proc/self/statm") as fh:
            current = int(fh.read().split()[0]) * _page_size()
    except OSError:  # pragma: no cover
        current = 0
    limit = current + int(memory_mb) * 1024 * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def call(fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn(*args)`` where a worker would, turning a MemoryError into a marked result.

    Re-raising MemoryError across the process boundary could itself fail to allocate;
    returning a small marker is more reliable.
    """
    try:
        return fn(*args)
    except MemoryError:
        return _MEMORY


class _MemoryMarker:
    def __reduce__(self) -> str:
        return "_MEMORY"


_MEMORY = _MemoryMarker()


def failure_reason(exc: BaseException) -> tuple[str, dict[str, Any]]:
    """A short reason and details for a task that did not return a result."""
    from pebble import ProcessExpired

    if isinstance(exc, (FuturesTimeout, asyncio.TimeoutError, TimeoutError)):
        return "timeout", {}
    if isinstance(exc, ProcessExpired):
        code = exc.exitcode
        details: dict[str, Any] = {"exitcode": code}
        if code is not None and code < 0:
            try:
                details["signal"] = signal.Signals(-code).name
            except ValueError:
                details["signal"] = -code
        return "crashed", details
    if isinstance(exc, MemoryError):
        return "memory", {}
    msg = str(exc).replace("\n", " ")
    if len(msg) > 200:
        msg = msg[:197] + "..."
    return f"error: {type(exc).__name__}: {msg}", {"exception": type(exc).__name__}


class WorkerPool:
    """A lazily started pebble ProcessPool; ``workers=0`` runs everything inline (unsafe)."""

    def __init__(self, workers: int, timeout: float | None, max_tasks: int, memory_mb: int | None) -> None:
        self.workers = int(workers)
        self.timeout = timeout
        self.max_tasks = int(max_tasks or 0)
        self.memory_mb = memory_mb
        self._pool: Any = None
        self._pid = os.getpid()

    @property
    def inline(self) -> bool:
        return self.workers <= 0

    def _get(self) -> Any:
        if self._pool is None or self._pid != os.getpid():
            from pebble import ProcessPool

            method = "fork" if sys.platform == "linux" else None
            ctx = multiprocessing.get_context(method)
            self._pool = ProcessPool(
                max_workers=self.workers,
                max_tasks=self.max_tasks,
                initializer=_init_worker,
                initargs=(self.memory_mb,),
                context=ctx,
            )
            self._pid = os.getpid()
        return self._pool

    def start(self) -> None:
        """Start the workers now (otherwise the first isolated task starts them)."""
        if not self.inline:
            self._get()

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` in a worker under the timeout; raises what the task raised,
        ``TimeoutError``, pebble's ``ProcessExpired`` or ``MemoryError``."""
        if self.inline:
            result = call(fn, *args)
        else:
            future = self._get().schedule(call, args=(fn, *args), timeout=self.timeout)
            result = await asyncio.wrap_future(future)
        if result is _MEMORY or isinstance(result, _MemoryMarker):
            raise MemoryError("worker ran out of memory")
        return result

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None and self._pid == os.getpid():
            pool.stop()
            pool.join(timeout=5)

