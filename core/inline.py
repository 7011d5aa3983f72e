"""A watchdog for plugin code the engine runs in its own process.

Inline hooks (a ``cheap`` score, ``score_batch``, ``triage``, ``dedupe_key``, a prepare
that runs inline, ``warmup``, ``check_params``) have no worker to kill. Each call (or
each item of a loop over items) runs under a budget, watched by one daemon thread per
engine. When a call runs past its budget the watchdog raises :class:`InlineTimeout`
inside it (``PyThreadState_SetAsyncExc``), which ends a call that is running Python
code at its next bytecode; the engine then gives the item a ``timeout`` verdict and
stops trusting that reward's inline code for the rest of the run (see engine.md).

What cannot be interrupted from inside the process: a call blocked in C code that holds
the GIL (a catastrophic regex), a long ``time.sleep`` or blocking read, code that catches
BaseException and carries on, ``os._exit``, a segfault. The watchdog reports such a call
on stderr, with the reward's name, once it has overrun by ``grace`` seconds (or by its
budget, if longer);
:func:`vlmr1.supervise.score_supervised` (what ``vlmr1 score`` runs) goes further and
replaces the scoring process, because a second process can always see and kill the first.

A shared ``monitor`` array (optional) mirrors the call in progress so that such a
supervising process can name it: ``[active, column, hook, item, started]``.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["HOOKS", "InlineGuard", "InlineTimeout", "PluginWarning", "Watch"]

HOOKS = ("score", "score_batch", "triage", "dedupe_key", "prepare", "warmup", "check_params")


class InlineTimeout(BaseException):
    """Raised inside an inline call that ran past its budget. A BaseException, so that a
    plugin's own ``except Exception`` does not swallow it."""


class PluginWarning(UserWarning):
    """A plugin misbehaved in a way the engine worked around (it keeps scoring)."""


class Watch:
    """One watched stretch of inline code: a single call, or a loop over items."""

    __slots__ = ("column", "index", "hook", "who", "budget", "thread", "item", "started", "sent", "sent_at",
                 "stuck_item", "reported", "monitor")

    def __init__(self, column: str, index: int, hook: str, who: str, budget: float, monitor: Any) -> None:
        self.column, self.index, self.hook, self.who, self.budget = column, index, hook, who, budget
        self.thread = threading.get_ident()
        self.item = -1
        self.started = time.monotonic()
        self.sent = False  # the interrupt was raised in the call
        self.sent_at = 0.0
        self.stuck_item = -1  # the position (see begin) it was on when it overran
        self.reported = False
        self.monitor = monitor

    def begin(self, position: int, item: int = -1) -> None:
        """The item at ``position`` of the loop starts now (its budget starts over); ``item``
        is its index in the batch, for a supervising process to name it."""
        self.started = time.monotonic()
        self.item = position
        if self.monitor is not None:
            self.monitor[4] = self.started
            self.monitor[3] = item


def _raise_in(thread: int, exc: type[BaseException] | None) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread), ctypes.py_object(exc) if exc else None)


class InlineGuard:
    """Runs inline plugin code under a budget; one per engine (``close()`` stops its thread)."""

    def __init__(self, monitor: Any = None, report: Callable[[str], None] | None = None, grace: float = 2.0) -> None:
        self.monitor = monitor
        self.report = report or (lambda text: print(text, file=sys.stderr, flush=True))
        self.grace = grace
        self._fresh()

    def _fresh(self) -> None:
        """New lock, no watches, no thread: at start, and in a forked copy (whose lock may have
        been held by the watchdog at the fork, and whose watchdog thread did not come along)."""
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._watches: dict[int, Watch] = {}  # by thread
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the engine's side --------------------------------------------------------------
    def watch(self, column: str, index: int, hook: str, who: str, budget: float) -> Watch:
        """Start watching inline code on this thread; pair with :meth:`release` in a finally."""
        if self._pid != os.getpid():
            self._fresh()
        w = Watch(column, index, hook, who, budget, self.monitor)
        if self.monitor is not None:
            self.monitor[1], self.monitor[2], self.monitor[3] = index, HOOKS.index(hook), -1
            self.monitor[4] = w.started
            self.monitor[0] = 1.0
        with self._lock:
            self._watches[w.thread] = w
        if self._thread is None:
            self._start()
        return w

    def release(self, w: Watch) -> bool:
        """Stop watching ``w``; True when it overran (its interrupt was sent). An interrupt
        still pending in this thread is withdrawn, and one that lands here is absorbed."""
        while True:
            try:
                with self._lock:
                    if self._watches.get(w.thread) is w:
                        del self._watches[w.thread]
                    if w.sent:
                        _raise_in(w.thread, None)
                if self.monitor is not None:
                    self.monitor[0] = 0.0
                return w.sent
            except InlineTimeout:
                continue

    def call(self, column: str, index: int, hook: str, who: str, budget: float, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` under a budget; raises InlineTimeout if it overran (after cleanup)."""
        w = None
        try:
            try:
                w = self.watch(column, index, hook, who, budget)
                value = fn(*args)
            finally:
                overran = w is not None and self.release(w)
        except InlineTimeout:
            overran = True
        if overran:
            raise InlineTimeout(w)
        return value

    # -- the watchdog ------------------------------------------------------------------
    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="vlmr1-inline-watchdog", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            late = []
            with self._lock:
                now = time.monotonic()
                for w in self._watches.values():
                    ran = now - w.started
                    if not w.sent and ran > w.budget:
                        w.sent, w.sent_at, w.stuck_item = True, now, w.item
                        _raise_in(w.thread, InlineTimeout)
                    elif w.sent and not w.reported and self.monitor is None and now - w.sent_at > max(self.grace, w.budget):
                        w.reported = True
                        late.append((w, ran))
            for w, ran in late:  # outside the lock: a report may block (a full pipe)
                self.report(
                    f"Warning: reward {w.column!r} ({w.who}) has been stuck in its inline {w.hook} for {ran:.0f} s and "
                    f"does not respond to being interrupted (C code, a blocking call, or it catches BaseException). "
                    f"Declare it isolated (cheap=False) so a worker can be killed instead; stop this run if it does not recover."
                )

    def close(self) -> None:
        if self._pid != os.getpid():
            return
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1.0)
