"""How the engine scores one column of a batch: dedupe, the gold cache, and the three
ways a reward runs (``score_batch`` and cheap ``score`` inline under the watchdog,
everything else in the worker pool, ``ascore_batch`` on the event loop).

A mixin of :class:`vlmr1.engine.Engine`, kept apart so each file reads on its own; it
uses the engine's ``config``, ``pool``, ``guard``, ``_golds`` and ``_warn``.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .checks import in_scope
from .columns import NOT_RUN, STUCK, Column, GoldFailure, Stats, one_of_batch, run_each
from .config import Config
from .inline import InlineGuard, Watch
from .pool import ItemError, WorkerPool
from .types import Sample, Verdict
from .verdicts import checked, failed, from_exception

__all__ = ["GOLD_CACHE_SIZE", "ColumnScoring"]

GOLD_CACHE_SIZE = 8192


class ColumnScoring:
    config: Config
    pool: WorkerPool
    guard: InlineGuard
    _golds: OrderedDict[tuple[str, str, str], Any]

    def _warn(self, message: str) -> None:  # pragma: no cover - the engine's
        raise NotImplementedError

    async def _column(self, c: Column, batch: list[Sample], stats: Stats) -> list[Verdict]:
        assert c.reward is not None
        out: list[Verdict | None] = [None] * len(batch)
        todo = []
        for i, s in enumerate(batch):
            if in_scope(c.reward, c.spec, s):
                todo.append(i)
            else:
                out[i] = Verdict(None, "not_applicable")
        if todo:
            groups: dict[Any, list[int]] = {}
            for i, key in zip(todo, self._dedupe_keys(c, [batch[i] for i in todo], stats)):
                try:
                    groups.setdefault(key, []).append(i)
                except TypeError:  # the reward's key cannot be hashed: as good as none
                    groups.setdefault(stats.keys.item(batch[i]), []).append(i)
            reps = [members[0] for members in groups.values()]
            stats.dedup_hits += len(todo) - len(reps)
            got = await self._score_unique(c, [batch[i] for i in reps], stats)
            for members, verdict in zip(groups.values(), got):
                for i in members:
                    out[i] = verdict
        return out  # type: ignore[return-value]

    def _dedupe_keys(self, c: Column, samples: list[Sample], stats: Stats) -> list[Any]:
        """Per sample: the reward's own key (e.g. its extracted answer) with the task and
        solution, or everything the reward sees when it declares none (or its key function
        fails or overruns); its position when dedupe is off."""
        if not self.config.engine.dedupe:
            return list(range(len(samples)))
        fn = c.hook("dedupe_key")
        if fn is None:
            return [stats.keys.item(s) for s in samples]
        got = self._each(c, "dedupe_key", fn, ((s, c.params) for s in samples), samples)
        return [stats.keys.item(s) if k is STUCK or k is NOT_RUN or isinstance(k, BaseException)
                else ("key", k, s.task, stats.keys.solution(s))
                for s, k in zip(samples, got)]

    def _each(self, c: Column, hook: str, fn: Callable[..., Any], argses: Iterable[tuple], samples: Sequence[Sample | None]) -> list[Any]:
        """:func:`vlmr1.columns.run_each` under ``engine.inline_timeout``; an overrun distrusts the column."""
        items = [s.index if s is not None else -1 for s in samples]
        out, w = run_each(self.guard, c, hook, self.config.engine.inline_timeout, fn, argses, items)
        if w is not None:
            self._distrust(c, w, samples[max(w.stuck_item, 0)] if samples else None)
        return out

    def _distrust(self, c: Column, w: Watch, sample: Sample | None) -> None:
        first = not c.distrusted
        what = c.distrust(not self.pool.inline)
        if first:
            item = "" if sample is None else f" on item {sample.index}" + (f" (id {sample.id})" if sample.id is not None else "")
            cost = {"score": "that item is scored None (timeout)", "score_batch": "its items are scored again one by one",
                    "prepare": "that solution's items get gold_error: timeout"}.get(w.hook, "that item is judged without it")
            self._warn(f"reward {c.name!r} ({c.who}): inline {w.hook} ran past engine.inline_timeout "
                       f"({w.budget:g} s){item} and was interrupted; {cost}, and {what}. "
                       f"Make the plugin's inline code fast, or declare the reward isolated.")

    async def _score_unique(self, c: Column, samples: list[Sample], stats: Stats) -> list[Verdict]:
        if c.mode == "async":
            return await self._async_batch(c, samples)
        golds = await self._prepare(c, samples, stats)
        out: list[Verdict | None] = [None] * len(golds)
        pending = [i for i, g in enumerate(golds) if not isinstance(g, GoldFailure)]
        for i, g in enumerate(golds):
            if isinstance(g, GoldFailure):
                out[i] = g.verdict
        if pending and c.mode == "batch":
            pending = self._batch(c, samples, golds, pending, out)
        while pending and (c.mode == "inline" or self.pool.inline):
            pending = self._inline(c, samples, golds, pending, out)
        if pending:
            pending = self._triage(c, samples, golds, pending, out)
            # Items of one solution side by side, and in one chunk where they fit: a worker
            # that parses a gold lazily (math) then parses it once for all of them.
            first: dict[int, int] = {}
            group = {i: first.setdefault(id(golds[i]), len(first)) for i in pending}
            pending.sort(key=lambda i: group[i])
            results = await self.pool.map(c.scorer, [(samples[i], golds[i], c.params) for i in pending],
                                          groups=[group[i] for i in pending])
            for i, r in zip(pending, results):
                out[i] = from_exception(r) if isinstance(r, (BaseException, ItemError)) else checked(r)
        return out  # type: ignore[return-value]

    def _settle(self, c: Column, pending: list[int], got: list[Any], out: list[Verdict | None]) -> list[int]:
        """Results of inline calls into ``out``; the items not run (after an overrun) are returned."""
        rest = []
        for i, r in zip(pending, got):
            if r is NOT_RUN:
                rest.append(i)
            elif r is STUCK:
                out[i] = failed("timeout", "timeout", inline=True)
            else:
                out[i] = from_exception(r) if isinstance(r, BaseException) else checked(r)
        return rest

    def _inline(self, c: Column, samples: list[Sample], golds: list[Any], pending: list[int], out: list[Verdict | None]) -> list[int]:
        got = self._each(c, "score", c.scorer, ((samples[i], golds[i], c.params) for i in pending), [samples[i] for i in pending])
        return self._settle(c, pending, got, out)

    def _batch(self, c: Column, samples: list[Sample], golds: list[Any], pending: list[int], out: list[Verdict | None]) -> list[int]:
        """``score_batch`` over the items; the items left (for the workers, after an overrun).

        When the batch call raises (MemoryError included) or returns the wrong number of
        verdicts, it is called again item by item, so each item gets its own verdict or
        failure, never one borrowed from the batch."""
        (got,) = self._each(c, "score_batch", _as_list, [(c.scorer, [samples[i] for i in pending], [golds[i] for i in pending], c.params)],
                            [None])
        if got is STUCK:
            return pending  # distrusted: the column now scores item by item (isolated, or inline under the watch)
        if isinstance(got, list) and len(got) == len(pending):
            for i, v in zip(pending, got):
                out[i] = checked(v)
            return []
        each = self._each(c, "score_batch", one_of_batch, ((c.scorer, samples[i], golds[i], c.params) for i in pending),
                          [samples[i] for i in pending])
        return self._settle(c, pending, each, out)

    def _triage(self, c: Column, samples: list[Sample], golds: list[Any], pending: list[int], out: list[Verdict | None]) -> list[int]:
        """Settle inline what the reward's ``triage`` can; the rest goes to the workers."""
        triage = c.hook("triage")
        if triage is None:
            return pending
        got = self._each(c, "triage", triage, ((samples[i], golds[i], c.params) for i in pending), [samples[i] for i in pending])
        rest = []
        for i, verdict in zip(pending, got):
            # None, a failure (the isolated scorer will meet and report the same), or an overrun: to the workers
            if verdict is None or verdict is STUCK or verdict is NOT_RUN or isinstance(verdict, BaseException):
                rest.append(i)
            else:
                out[i] = checked(verdict)
        return rest

    async def _async_batch(self, c: Column, samples: list[Sample]) -> list[Verdict]:
        assert c.reward is not None and c.reward.ascore_batch is not None
        try:
            pending = c.reward.ascore_batch(list(samples), c.params)
            if asyncio.iscoroutine(pending) or isinstance(pending, asyncio.Future) or hasattr(pending, "__await__"):
                result = await asyncio.wait_for(pending, self.config.engine.async_timeout)
            else:
                result = pending
            result = list(result)
        except asyncio.TimeoutError:
            return [failed("timeout", "timeout")] * len(samples)
        except Exception as exc:
            return [from_exception(exc)] * len(samples)
        if len(result) != len(samples):
            return [failed("error", f"error: ascore_batch returned {len(result)} verdicts for {len(samples)} samples")] * len(samples)
        return [checked(v) for v in result]

    async def _prepare(self, c: Column, samples: list[Sample], stats: Stats) -> list[Any]:
        """Each sample's prepared gold (or a GoldFailure), preparing each distinct solution once."""
        if c.prepare is None:
            return [s.solution for s in samples]
        keys = [(c.spec.target, c.params_key, stats.keys.solution(s)) for s in samples]
        missing: dict[tuple[str, str, str], Any] = {}
        for key, s in zip(keys, samples):
            if key in self._golds:
                self._golds.move_to_end(key)
            elif key not in missing:
                missing[key] = s.solution
        stats.gold_cache_hits += len(set(keys)) - len(missing)
        stats.gold_prepared += len(missing)
        args = [(sol, c.params) for sol in missing.values()]
        in_worker = c.mode == "isolated" and not self.pool.inline and not (c.reward is not None and c.reward.cheap_prepare and not c.distrusted)
        if in_worker:
            results = await self.pool.map(c.prepare, args)
        else:
            results = self._each(c, "prepare", c.prepare, args, [None] * len(args))
        while NOT_RUN in results:  # an overrun: the rest goes to the workers (or inline again, with workers=0)
            todo = [k for k, r in enumerate(results) if r is NOT_RUN]
            redo = (self._each(c, "prepare", c.prepare, [args[k] for k in todo], [None] * len(todo)) if self.pool.inline
                    else await self.pool.map(c.prepare, [args[k] for k in todo]))
            for k, r in zip(todo, redo):
                results[k] = r
        fresh: dict[tuple[str, str, str], Any] = {}
        for key, r in zip(missing, results):
            if r is STUCK:
                fresh[key] = GoldFailure(failed("timeout", "gold_error: timeout", stage="gold", inline=True))
            elif isinstance(r, (BaseException, ItemError)):
                fresh[key] = GoldFailure(from_exception(r, prefix="gold_error: ", stage="gold"))
            else:
                fresh[key] = r
                self._golds[key] = r
        while len(self._golds) > GOLD_CACHE_SIZE:
            self._golds.popitem(last=False)
        return [fresh[k] if k in fresh else self._golds[k] for k in keys]


def _as_list(fn: Callable[..., Any], *args: Any) -> list[Any]:
    return list(fn(*args))
