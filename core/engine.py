"""The scoring engine: a batch of Samples and a reward config in, per-reward columns,
reasons, the weighted total and metrics out.

How each configured reward runs:

- isolated (``score`` without ``cheap``, or ``verifier=``): one task per distinct item
  in a pebble worker pool, each under ``engine.timeout``; a raise, hang, crash or
  out-of-memory costs only that item (None and a reason);
- cheap (``score_batch``, or ``score`` with ``cheap=True``): inline, no process hop;
- async (``ascore_batch``): awaited in the main process under ``engine.async_timeout``.

Ground truth is prepared once per distinct solution (an LRU cache across batches);
identical items are scored once per batch. Gates and formulas are applied after the
plain columns. See docs/engine.md.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .composite import formula_column, gate, topological
from .config import Config, RewardSpec
from .errors import ConfigError, PluginFailure
from .metrics import column_metrics, failure_kind, weighted_total
from .pool import ItemError, WorkerPool
from .types import Reward, Sample, Verdict, Verifier
from .verdicts import checked, failed, from_exception

__all__ = ["BatchResult", "Engine"]

GOLD_CACHE_SIZE = 8192


@dataclass
class BatchResult:
    """What scoring a batch gives: one column per configured reward (float or None),
    its reasons and verdicts, the weighted total per item, and the batch's metrics."""

    columns: dict[str, list[float | None]]
    reasons: dict[str, list[str]]
    total: list[float | None]
    verdicts: dict[str, list[Verdict]]
    metrics: dict[str, float] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.total)

    def row(self, i: int) -> dict[str, Any]:
        """``{"rewards": {...}, "reward": total, "reasons": {...}}`` for item ``i``."""
        return {
            "rewards": {name: col[i] for name, col in self.columns.items()},
            "reward": self.total[i],
            "reasons": {name: col[i] for name, col in self.reasons.items()},
        }


@dataclass
class _Column:
    spec: RewardSpec
    mode: str  # "formula" | "async" | "batch" | "inline" | "isolated"
    reward: Reward | None = None
    scorer: Callable[..., Any] | None = None
    prepare: Callable[..., Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    params_key: str = ""
    formula: Callable[[Mapping[str, float | None]], float | None] | None = None
    refs: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass
class _Stats:
    dedup_hits: int = 0
    gold_prepared: int = 0
    gold_cache_hits: int = 0


def _canonical(value: Any) -> str:
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=repr)
    except (TypeError, ValueError):
        return repr(value)


class Engine:
    """Scores batches against a config. Create once and reuse: the worker pool starts on
    the first isolated task and serves every later batch; ``close()`` (or ``with``) stops it."""

    def __init__(self, config: Config, registry: Any = None) -> None:
        if registry is None:
            from .registry import get_registry

            registry = get_registry()
        self.config = config
        self.registry = registry
        e = config.engine
        self.pool = WorkerPool(e.workers, e.timeout, e.max_tasks_per_worker, e.memory_mb,
                               spare=e.spare_workers, stall_after=e.stall_after)
        self._columns = self._plan(config.rewards)
        self._warm_up()
        self._weights = {c.name: float(c.spec.weight) for c in self._columns}
        self._golds: OrderedDict[tuple[str, str, str], Any] = OrderedDict()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, WorkerPool.close, self.pool)

    # -- configuration ------------------------------------------------------------------
    def _plan(self, specs: Sequence[RewardSpec]) -> list[_Column]:
        from .formula import compile_formula, names_in

        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ConfigError(f"reward names must be unique: {names}")
        columns: dict[str, _Column] = {}
        for spec in specs:
            refs: set[str] = set()
            if spec.formula:
                refs = names_in(spec.formula, f"reward {spec.name!r}")
                col = _Column(spec, "formula", formula=compile_formula(spec.formula, f"reward {spec.name!r}"))
            else:
                col = self._reward_column(spec)
            if spec.gate:
                refs.add(spec.gate)
            unknown = refs - set(names)
            if unknown:
                raise ConfigError(f"reward {spec.name!r} refers to {', '.join(sorted(unknown))}, which is not a configured reward ({', '.join(names)}).")
            col.refs = tuple(sorted(refs))
            columns[spec.name] = col
        return topological(columns)

    def _warm_up(self) -> None:
        """Hand the isolated rewards' warm-ups to the pool: it runs them once, in this
        process, when it first forks workers (which then inherit them). Building an engine
        costs nothing, and items settled inline never wait for a warm-up."""
        for c in self._columns:
            fn = c.reward.warmup if c.reward is not None else None
            if fn is not None and c.mode == "isolated" and fn not in self.pool.before_start:
                self.pool.before_start.append(fn)

    def _reward_column(self, spec: RewardSpec) -> _Column:
        reward: Reward = self.registry.reward(spec.target)
        params = {**dict(reward.defaults), **dict(spec.params)}
        if reward.check_params is not None:
            try:
                reward.check_params(params)
            except Exception as exc:  # noqa: BLE001 - any complaint about params is a config error
                raise ConfigError(f"reward {spec.name!r} (registered reward {spec.target!r}): bad params: {exc}") from exc
        prepare = reward.prepare
        if reward.is_async:
            mode, scorer = "async", None
        elif reward.score_batch is not None:
            mode, scorer = "batch", reward.score_batch
        else:
            if reward.verifier is not None:
                verifier: Verifier = self.registry.verifier(reward.verifier)
                scorer = verifier.verify
                prepare = prepare or verifier.prepare
            else:
                scorer = reward.score
            mode = "inline" if reward.cheap else "isolated"
        return _Column(spec, mode, reward, scorer, prepare, params, _canonical(params))

    @property
    def names(self) -> list[str]:
        return [c.name for c in self._columns]

    @property
    def weights(self) -> dict[str, float]:
        return dict(self._weights)

    def column_mode(self, name: str) -> str:
        """How a configured column runs: formula, async, batch, inline or isolated."""
        return next(c.mode for c in self._columns if c.name == name)

    # -- scoring ------------------------------------------------------------------------
    def score(self, samples: Iterable[Sample | Mapping[str, Any]]) -> BatchResult:
        """Score a batch (sync). Async rewards run on the engine's own event loop."""
        return self._run_sync(self.ascore(samples))

    async def ascore_reward(self, name: str, samples: Iterable[Sample | Mapping[str, Any]]) -> list[Verdict]:
        """One configured column (with whatever its gate or formula needs) as verdicts."""
        if name not in self._weights:
            from .errors import UnknownNameError

            raise UnknownNameError("configured reward", name, self._weights)
        result = await self.ascore(samples, only=[name])
        return result.verdicts[name]

    async def ascore(self, samples: Iterable[Sample | Mapping[str, Any]], only: Sequence[str] | None = None) -> BatchResult:
        """Score a batch on the running event loop; ``only`` limits it to some columns
        (and what they depend on)."""
        batch = self._as_samples(samples)
        start = time.perf_counter()
        counts = dict(self.pool.counts)
        stats = _Stats()
        plan = self._closure(only)
        verdicts: dict[str, list[Verdict]] = {}
        latency: dict[str, float] = {}
        # Isolated and async columns first: they hand work to workers (or the network) and
        # wait, and the inline columns then run while that work is under way.
        order = sorted((c for c in plan if c.mode != "formula"), key=lambda c: c.mode not in ("isolated", "async"))
        tasks = {c.name: asyncio.ensure_future(self._timed(c, batch, stats, latency)) for c in order}
        try:
            if tasks:
                await asyncio.gather(*tasks.values())
        except BaseException:
            for t in tasks.values():
                t.cancel()
            raise
        for c in plan:  # topological: a gate or formula input is final before it is read
            col = tasks[c.name].result() if c.name in tasks else formula_column(c.formula, c.refs, verdicts, len(batch))
            if c.spec.gate:
                col = gate(col, verdicts[c.spec.gate], c.spec.gate, c.spec.gate_min)
            verdicts[c.name] = col
        names = [c.name for c in self._columns if c.name in verdicts]
        verdicts = {n: verdicts[n] for n in names}
        columns = {n: [v.score for v in vs] for n, vs in verdicts.items()}
        reasons = {n: [v.reason for v in vs] for n, vs in verdicts.items()}
        total = weighted_total(columns, self._weights, len(batch))
        elapsed = max(time.perf_counter() - start, 1e-9)
        metrics: dict[str, float] = {}
        for n, vs in verdicts.items():
            metrics.update(column_metrics(n, vs, latency.get(n)))
        metrics["engine/items_per_s"] = len(batch) / elapsed
        metrics["engine/batch_s"] = elapsed
        metrics["engine/dedup_hits"] = float(stats.dedup_hits)
        metrics["engine/gold_prepared"] = float(stats.gold_prepared)
        metrics["engine/gold_cache_hits"] = float(stats.gold_cache_hits)
        for key, value in self.pool.counts.items():  # pool activity during this batch
            metrics[f"engine/{key}"] = float(value - counts[key])
        return BatchResult(columns, reasons, total, verdicts, metrics)

    # -- one column ---------------------------------------------------------------------
    async def _timed(self, c: _Column, batch: list[Sample], stats: _Stats, latency: dict[str, float]) -> list[Verdict]:
        if c.mode in ("batch", "inline"):
            # Let the isolated columns hand their first chunks to the workers before this
            # column holds the event loop with its (synchronous) work.
            await asyncio.sleep(0)
        t = time.perf_counter()
        out = await self._column(c, batch, stats)
        latency[c.name] = (time.perf_counter() - t) * 1000.0
        if self.config.engine.strict:
            for i, v in enumerate(out):
                if failure_kind(v) is not None:
                    raise self._strict_error(c, batch[i], v)
        return out

    async def _column(self, c: _Column, batch: list[Sample], stats: _Stats) -> list[Verdict]:
        assert c.reward is not None
        out: list[Verdict | None] = [None] * len(batch)
        todo = []
        for i, s in enumerate(batch):
            if c.reward.applies_to(s) and (c.spec.tasks is None or s.task in c.spec.tasks):
                todo.append(i)
            else:
                out[i] = Verdict(None, "not_applicable")
        if todo:
            groups: dict[Any, list[int]] = {}
            for i in todo:
                key = self._dedupe_key(c, batch[i]) if self.config.engine.dedupe else i
                groups.setdefault(key, []).append(i)
            reps = [members[0] for members in groups.values()]
            stats.dedup_hits += len(todo) - len(reps)
            got = await self._score_unique(c, [batch[i] for i in reps], stats)
            for members, verdict in zip(groups.values(), got):
                for i in members:
                    out[i] = verdict
        return out  # type: ignore[return-value]

    def _dedupe_key(self, c: _Column, s: Sample) -> Any:
        """The reward's own key (e.g. its extracted answer) with the task and solution, or
        everything the reward sees when it declares none (or its key function fails)."""
        fn = c.reward.dedupe_key if c.reward is not None else None
        if fn is not None:
            try:
                return ("key", fn(s, c.params), s.task, _canonical(s.solution))
            except Exception:  # noqa: BLE001 - fall back to the safe key; scoring reports errors
                pass
        return _item_key(s)

    async def _score_unique(self, c: _Column, samples: list[Sample], stats: _Stats) -> list[Verdict]:
        if c.mode == "async":
            return await self._async_batch(c, samples)
        golds = await self._prepare(c, samples, stats)
        out: list[Verdict | None] = [None] * len(golds)
        ready = [i for i, g in enumerate(golds) if not isinstance(g, _GoldFailure)]
        for i, g in enumerate(golds):
            if isinstance(g, _GoldFailure):
                out[i] = g.verdict
        if c.mode == "batch":
            try:
                result = c.scorer([samples[i] for i in ready], [golds[i] for i in ready], c.params)  # type: ignore[misc]
                result = list(result)
            except Exception as exc:
                result = [from_exception(exc)] * len(ready)
            if len(result) != len(ready):
                result = [failed("error", f"error: score_batch returned {len(result)} verdicts for {len(ready)} samples")] * len(ready)
            for i, v in zip(ready, result):
                out[i] = checked(v)
        elif c.mode == "inline" or self.pool.inline:
            for i in ready:
                try:
                    out[i] = checked(c.scorer(samples[i], golds[i], c.params))  # type: ignore[misc]
                except Exception as exc:
                    out[i] = from_exception(exc)
        else:
            ready = self._triage(c, samples, golds, ready, out)
            # Items of one solution side by side, and in one chunk where they fit: a worker
            # that parses a gold lazily (math) then parses it once for all of them.
            first: dict[int, int] = {}
            group = {i: first.setdefault(id(golds[i]), len(first)) for i in ready}
            ready.sort(key=lambda i: group[i])
            results = await self.pool.map(c.scorer, [(samples[i], golds[i], c.params) for i in ready],
                                          groups=[group[i] for i in ready])
            for i, r in zip(ready, results):
                out[i] = from_exception(r) if isinstance(r, (BaseException, ItemError)) else checked(r)
        return out  # type: ignore[return-value]

    @staticmethod
    def _triage(c: _Column, samples: list[Sample], golds: list[Any], ready: list[int], out: list[Verdict | None]) -> list[int]:
        """Settle inline what the reward's ``triage`` can; the rest goes to the workers."""
        triage = c.reward.triage if c.reward is not None else None
        if triage is None:
            return ready
        rest = []
        for i in ready:
            try:
                verdict = triage(samples[i], golds[i], c.params)
            except Exception:  # noqa: BLE001 - the isolated scorer will meet (and report) the same
                verdict = None
            if verdict is None:
                rest.append(i)
            else:
                out[i] = checked(verdict)
        return rest

    async def _async_batch(self, c: _Column, samples: list[Sample]) -> list[Verdict]:
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

    async def _prepare(self, c: _Column, samples: list[Sample], stats: _Stats) -> list[Any]:
        """Each sample's prepared gold (or a _GoldFailure), preparing each distinct solution once."""
        if c.prepare is None:
            return [s.solution for s in samples]
        keys = [(c.spec.target, c.params_key, _canonical(s.solution)) for s in samples]
        missing: dict[tuple[str, str, str], Any] = {}
        for key, s in zip(keys, samples):
            if key in self._golds:
                self._golds.move_to_end(key)
            elif key not in missing:
                missing[key] = s.solution
        stats.gold_cache_hits += len(set(keys)) - len(missing)
        stats.gold_prepared += len(missing)
        fresh: dict[tuple[str, str, str], Any] = {}
        if c.mode == "isolated" and not self.pool.inline and not (c.reward is not None and c.reward.cheap_prepare):
            results = await self.pool.map(c.prepare, [(sol, c.params) for sol in missing.values()])
        else:
            results = []
            for sol in missing.values():
                try:
                    results.append(c.prepare(sol, c.params))
                except Exception as exc:
                    results.append(exc)
        for key, r in zip(missing, results):
            if isinstance(r, (BaseException, ItemError)):
                fresh[key] = _GoldFailure(from_exception(r, prefix="gold_error: ", stage="gold"))
            else:
                fresh[key] = r
                self._golds[key] = r
        while len(self._golds) > GOLD_CACHE_SIZE:
            self._golds.popitem(last=False)
        return [fresh[k] if k in fresh else self._golds[k] for k in keys]

    def _strict_error(self, c: _Column, sample: Sample, verdict: Verdict) -> PluginFailure:
        prov = c.reward.provenance if c.reward is not None else None
        who = f"plugin {prov.plugin!r} (distribution {prov.distribution} {prov.version})" if prov else "an unregistered plugin"
        item = f"item {sample.index}" + (f" (id {sample.id})" if sample.id is not None else "")
        return PluginFailure(
            f"reward {c.name!r} (registered reward {c.spec.target!r} from {who}) failed on {item}: {verdict.reason}. "
            f"Fix or uninstall the plugin, or set `engine.strict: false` to score such items as None and go on."
        )

    # -- plumbing -----------------------------------------------------------------------
    def _closure(self, only: Sequence[str] | None) -> list[_Column]:
        if only is None:
            return list(self._columns)
        by_name = {c.name: c for c in self._columns}
        want: set[str] = set()
        stack = list(only)
        while stack:
            n = stack.pop()
            if n not in want:
                want.add(n)
                stack.extend(by_name[n].refs)
        return [c for c in self._columns if c.name in want]

    def _as_samples(self, samples: Iterable[Sample | Mapping[str, Any]]) -> list[Sample]:
        from .rows import sample_from_row

        default = self.config.task
        out = []
        for i, s in enumerate(samples):
            if isinstance(s, Sample):
                out.append(replace(s, task=default) if s.task is None and default is not None else s)
            else:
                out.append(sample_from_row(s, index=i, default_task=default))
        return out

    def _run_sync(self, coro: Any) -> Any:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return self._on_own_loop(coro)
        # Called from inside a running loop (a notebook): run on the engine's loop in a thread.
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["value"] = self._on_own_loop(coro)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                box["error"] = exc

        t = threading.Thread(target=target, name="vlmr1-engine")
        t.start()
        t.join()
        if "error" in box:
            raise box["error"]
        return box["value"]

    def _on_own_loop(self, coro: Any) -> Any:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                self._loop = asyncio.new_event_loop()
            return self._loop.run_until_complete(coro)

    def close(self) -> None:
        """Stop the worker pool and the engine's event loop."""
        self._finalizer()
        with self._lock:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.close()
            self._loop = None

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class _GoldFailure:
    verdict: Verdict


def _item_key(s: Sample) -> tuple[Any, ...]:
    """Everything a reward sees except where the item sits (index, id, group)."""
    return (
        s.completion,
        _canonical(s.solution),
        s.task,
        s.image,
        s.image_size,
        s.input_size,
        _canonical(s.prompt) if s.prompt is not None else None,
        _canonical(dict(s.columns)) if s.columns else None,
    )


