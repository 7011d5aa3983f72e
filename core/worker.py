"""What runs inside a pool worker: its start-up, the chunk loop that reports progress to
the parent, and how an item's failure is named. Kept apart from the pool so that the
parent-side machinery and the code a worker runs can be read on their own."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["ItemError", "failure_reason", "run_chunk"]

_FIELDS = 3  # per slot: the item the worker is on (-1: none yet), since when, the worker's pid
_PROGRESS: dict[int, Any] = {}  # pool id -> shared array, inherited by forked workers


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

    import multiprocessing

    multiprocessing.current_process().name = "vlmr1-worker"
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    faulthandler.disable()
    try:  # its own process group, so that a kill takes whatever the plugin started with it
        os.setpgid(0, 0)
    except OSError:  # pragma: no cover - not permitted (already a session leader)
        pass
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
    base = _FIELDS * slot
    if progress is not None:
        progress[base + 2] = os.getpid()
    out: list[Any] = []
    for j, args in enumerate(chunk):
        if progress is not None:
            progress[base + 1] = time.time()
            progress[base] = j
        try:
            out.append(fn(*args))
        except MemoryError:
            out.append(ItemError("MemoryError", "out of memory"))
        except Exception as exc:  # the item's own failure; the chunk goes on
            out.append(ItemError(type(exc).__name__, str(exc)))
    if progress is not None:
        progress[base] = len(chunk)
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
