"""The scoring engine: a batch of Samples and a reward config in, per-reward columns,
reasons, the weighted total and metrics out.

How each configured reward runs:

- isolated (``score``, or ``extract`` + ``compare``, without ``cheap``): one task per distinct item
  in a pebble worker pool, each under ``engine.timeout``; a raise, hang, crash or
  out-of-memory costs only that item (None and a reason);
- cheap (``score_batch``, or per item with ``cheap=True``): inline, no process hop,
  each call under the inline watchdog (``engine.inline_timeout``; see vlmr1.inline);
- async (``ascore_batch``): awaited in the main process under ``engine.async_timeout``.

Ground truth is prepared once per distinct solution (an LRU cache across batches);
identical items are scored once per batch. Gates and formulas are applied after the
plain columns. See docs/engine.md.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from . import checks
from .columns import Column, Stats, canonical
from .composite import formula_column, gate, topological
from .config import Config, RewardSpec
from .dispatch import merge_column
from .errors import PluginFailure, VlmrError
from .inline import InlineGuard, InlineTimeout, PluginWarning
from .metrics import column_metrics, failure_kind, failures_of, weighted_total
from .pool import WorkerPool
from .scoring import GOLD_CACHE_SIZE, ColumnScoring
from .types import Reward, Sample, Verdict, verify
from .verdicts import verdict_details

__all__ = ["GOLD_CACHE_SIZE", "BatchResult", "Engine", "check_config"]



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

    def row(self, i: int, details: bool = False) -> dict[str, Any]:
        """``{"rewards": {...}, "reward": total, "reasons": {...}}`` for item ``i``; with
        ``failures`` (column -> failure kind) when scoring failed somewhere, and with
        ``details`` (column -> the verdict's answer and details) when asked."""
        out: dict[str, Any] = {
            "rewards": {name: col[i] for name, col in self.columns.items()},
            "reward": self.total[i],
            "reasons": {name: col[i] for name, col in self.reasons.items()},
        }
        failures = failures_of(self.verdicts, i)
        if failures:
            out["failures"] = failures
        if details:
            out["details"] = {name: verdict_details(col[i]) for name, col in self.verdicts.items()}
        return out


class Engine(ColumnScoring):
    """Scores batches against a config. Create once and reuse: the worker pool starts on
    the first isolated task and serves every later batch; ``close()`` (or ``with``) stops it."""

    def __init__(self, config: Config, registry: Any = None, *, distrust: Iterable[str] = (), monitor: Any = None,
                 report: Callable[[str], None] | None = None, warm_up: bool = True) -> None:
        """``distrust``: columns whose inline code is not to be run at all (their rewards run
        isolated from the start, warm-up skipped); ``monitor`` and ``report``: see
        :class:`vlmr1.inline.InlineGuard` (a supervising process passes them); ``warm_up``
        False skips the rewards' warm-up (:func:`check_config` builds an engine only to check)."""
        if registry is None:
            from .registry import get_registry

            registry = get_registry()
        self.config = config
        self.registry = registry
        e = config.engine
        self.pool = WorkerPool(e.workers, e.timeout, e.max_tasks_per_worker, e.memory_mb,
                               spare=e.spare_workers, stall_after=e.stall_after)
        self.guard = InlineGuard(monitor, report)
        self._finalizer = weakref.finalize(self, _close_all, self.pool, self.guard)
        self._columns = self._plan(config.rewards)
        for c in self._columns:
            if c.name in set(distrust) and c.mode not in ("formula", "merge"):
                c.distrust(not self.pool.inline)
        if warm_up:
            self._warm_up()
        self._weights = {c.name: float(c.spec.weight) for c in self._columns}
        self._golds: OrderedDict[tuple[str, str, str], Any] = OrderedDict()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    # -- configuration ------------------------------------------------------------------
    def _plan(self, specs: Sequence[RewardSpec]) -> list[Column]:
        """A column per configured reward, in an order where each comes after what it reads.
        Names and references were checked when the Config was made (vlmr1.config)."""
        from .formula import compile_formula

        names = [s.name for s in specs]
        columns: dict[str, Column] = {}
        for spec in specs:
            if spec.formula:
                col = Column(spec, "formula", formula=compile_formula(spec.formula, f"reward {spec.name!r}"))
            elif spec.merge:
                col = Column(spec, "merge")
            else:
                col = self._reward_column(spec)
            col.refs = tuple(sorted(spec.references()))
            col.index = names.index(spec.name)
            columns[spec.name] = col
        return topological(columns)

    def _warm_up(self) -> None:
        """Run the rewards' warm-ups, each under ``engine.warmup_timeout``. An isolated
        reward's is handed to the pool, which runs it once, in this process, when it first
        forks workers (they inherit it): building an engine costs nothing for it, and an
        engine whose items are all settled inline never runs it. Others run now."""
        now = [c for c in self._columns if c.mode != "isolated"]
        later = [c for c in self._columns if c.mode == "isolated"]
        self._run_warm_ups(now)
        if any(c.reward is not None and c.reward.warmup is not None for c in later):
            self.pool.before_start.append(functools.partial(self._run_warm_ups, later))

    def _run_warm_ups(self, columns: list[Column]) -> None:
        done = set()
        for c in columns:
            fn = c.reward.warmup if c.reward is not None and not c.distrusted else None
            if fn is None or fn in done:
                continue
            done.add(fn)
            budget = self.config.engine.warmup_timeout
            try:
                self.guard.call(c.name, c.index, "warmup", c.who, budget, fn)
            except InlineTimeout:
                self._warn(f"warm-up of reward {c.name!r} ({c.who}) ran past engine.warmup_timeout ({budget:g} s) and was "
                           f"interrupted; its workers will load on first use")
            except Exception as exc:  # noqa: BLE001 - a failed warm-up only costs speed
                self._warn(f"warm-up of reward {c.spec.target!r} failed ({type(exc).__name__}: {exc}); "
                           f"its workers will load on first use")

    def _at(self, spec: RewardSpec, *key: str) -> str:
        """``"file:line: "`` of a config entry read from a file; nothing for a config built in code."""
        return f"{self.config.where(*spec.origin, *key)}: " if self.config.lines else ""

    def _warn(self, message: str) -> None:
        import warnings

        warnings.warn(message, PluginWarning, stacklevel=3)

    def _reward_column(self, spec: RewardSpec) -> Column:
        """A reward's column, after the checks of :mod:`vlmr1.checks` (name, param keys, values);
        a config read from a file gets its file and line in each message."""
        try:
            reward = checks.reward_for(self.registry, spec)
        except VlmrError as exc:  # an unknown or ambiguous name: say where the config names it
            if self.config.lines:
                exc.args = (f"{self._at(spec, 'reward' if spec.reward else 'name')}{exc}",)
            raise
        at = functools.partial(self._at, spec)
        checks.check_param_keys(spec, reward, at=at)
        params = {**dict(reward.defaults), **dict(spec.params)}
        index = [s.name for s in self.config.rewards].index(spec.name)
        checks.check_param_values(spec, reward, params, functools.partial(self._guarded, spec, reward, index), at=at)
        prepare = reward.prepare
        if reward.is_async:
            mode, scorer = "async", None
        elif reward.score_batch is not None:
            mode, scorer = "batch", reward.score_batch
        else:
            scorer = reward.score if reward.extract is None else functools.partial(verify, reward.extract, reward.compare)
            mode = "inline" if reward.cheap else "isolated"
        return Column(spec, mode, reward, scorer, prepare, params, canonical(params))

    def _guarded(self, spec: RewardSpec, reward: Reward, index: int, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` under the inline watchdog; an overrun is a TimeoutError."""
        budget = self.config.engine.inline_timeout
        try:
            return self.guard.call(spec.name, index, "check_params", checks.who(spec.target, reward), budget, fn, *args)
        except InlineTimeout:
            raise TimeoutError(f"engine.inline_timeout ({budget:g} s)") from None

    def check_rows(self, rows: Sequence[Sample | Mapping[str, Any]], *, source: str = "the rows",
                   labels: Sequence[Any] | None = None) -> None:
        """Refuse ``rows`` (dataset rows or Samples) when a column a configured reward needs
        appears in none of them (:func:`vlmr1.checks.check_columns`). Call it before scoring."""
        planned = [(c.spec, c.reward) for c in self._columns]
        checks.check_columns(planned, rows, default_task=self.config.task, source=source, labels=labels)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self._columns]

    @property
    def weights(self) -> dict[str, float]:
        return dict(self._weights)

    def column_mode(self, name: str) -> str:
        """How a configured column runs: formula, merge, async, batch, inline or isolated."""
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
        stats = Stats()
        plan = self._closure(only)
        verdicts: dict[str, list[Verdict]] = {}
        latency: dict[str, float] = {}
        # Isolated and async columns first: they hand work to workers (or the network) and
        # wait, and the inline columns then run while that work is under way.
        order = sorted((c for c in plan if c.mode not in ("formula", "merge")), key=lambda c: c.mode not in ("isolated", "async"))
        tasks = {c.name: asyncio.ensure_future(self._timed(c, batch, stats, latency)) for c in order}
        try:
            if tasks:
                await asyncio.gather(*tasks.values())
        except BaseException:
            for t in tasks.values():
                t.cancel()
            raise
        for c in plan:  # topological: a gate or formula input is final before it is read
            if c.name in tasks:
                col = tasks[c.name].result()
            elif c.mode == "merge":
                col = merge_column(c.spec.merge, verdicts, batch, c.spec.merge[0][1].column)
            else:
                col = formula_column(c.formula, c.refs, verdicts, len(batch))
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
    async def _timed(self, c: Column, batch: list[Sample], stats: Stats, latency: dict[str, float]) -> list[Verdict]:
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

    def _strict_error(self, c: Column, sample: Sample, verdict: Verdict) -> PluginFailure:
        item = f"item {sample.index}" + (f" (id {sample.id})" if sample.id is not None else "")
        return PluginFailure(
            f"reward {c.name!r} ({c.who}) failed on {item}: {verdict.reason}. "
            f"Fix or uninstall the plugin, or set `engine.strict: false` to score such items as None and go on."
        )

    # -- plumbing -----------------------------------------------------------------------
    def _closure(self, only: Sequence[str] | None) -> list[Column]:
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
        """Stop the worker pool, the inline watchdog and the engine's event loop."""
        self._finalizer()
        with self._lock:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.close()
            self._loop = None

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_config(config: Config, registry: Any = None) -> list[str]:
    """Everything building an engine checks — every reward name resolved against the
    installed plugins, every reward's params checked, gates and formulas planned — without
    warming a reward up or starting a worker. Raises what building would raise (a
    ConfigError, an UnknownNameError); returns the configured column names."""
    with Engine(config.with_engine(workers=0), registry, warm_up=False) as engine:
        return engine.names


def _close_all(pool: WorkerPool, guard: InlineGuard) -> None:
    guard.close()
    pool.close()
