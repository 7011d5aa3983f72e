"""The configured rewards as TRL reward functions.

TRL (``GRPOTrainer._calculate_rewards``) calls every reward function with
``prompts, completions, completion_ids, trainer_state, log_extra, log_metric`` and one
list per dataset column, already repeated per generation: item ``i`` of every list
belongs to completion ``i``. It runs sync functions one after another, then gathers
the async ones concurrently on its own event loop, turns None into NaN, weights
each column and ``nansum``s them, and logs ``rewards/<__name__>/mean``.

Here one function per configured column (named after the column) shares one engine
call per batch: the first function called for a batch scores every column (isolated
and async rewards concurrently, gates and formulas applied), the others pick their
column from the same result. So gated and formula columns behave exactly as in
``Engine.score``, and TRL's weighted ``nansum`` equals the engine's total. The
functions are ``async`` when any column runs isolated or async, sync otherwise.

Nothing a batch holds raises into the trainer: a row that cannot be made a Sample (a
malformed ``image_size``...) gets None in every column with the reason, and the engine
turns plugin failures and out-of-range scores into None with a reason too.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .config import Config
from .engine import BatchResult, Engine
from .metrics import column_metrics, weighted_total
from .rows import RowError, sample_from_row
from .types import Sample, Verdict
from .verdicts import clean_text, failed

__all__ = ["samples_from_trl", "trl_reward_functions"]

# Keyword arguments TRL passes that are not per-completion dataset columns.
_NOT_COLUMNS = frozenset({"trainer_state", "log_extra", "log_metric", "environments", "completion_ids"})
_LOGGED = ("none", "errors", "timeouts", "latency_ms")
_ENGINE_LOGGED = ("engine/items_per_s", "engine/dedup_hits", "engine/gold_prepared")


def samples_from_trl(prompts: Sequence[Any] | None, completions: Sequence[Any], columns: Mapping[str, Any], default_task: str | None = None) -> list[Sample]:
    """One Sample per completion; completion ``i`` gets row ``i`` of every column (TRL has
    already repeated each prompt's columns once per generation). Raises RowError for a row
    that cannot be scored."""
    samples, bad = _samples(prompts, completions, columns, default_task)
    if bad:
        raise RowError(f"row {min(bad)}: {bad[min(bad)]}")
    return samples  # type: ignore[return-value]


def _samples(prompts: Sequence[Any] | None, completions: Sequence[Any], columns: Mapping[str, Any],
             default_task: str | None) -> tuple[list[Sample | None], dict[int, str]]:
    """Samples (None where a row cannot be one) and, by position, why each bad row is bad."""
    n = len(completions)
    per_item = {}
    for key, values in columns.items():
        if key in _NOT_COLUMNS:
            continue
        if isinstance(values, (list, tuple)) and len(values) == n:
            per_item[key] = values
        else:
            raise ValueError(f"column {key!r} has {len(values) if hasattr(values, '__len__') else 'no'} values for {n} completions; "
                             "TRL passes one value per completion")
    samples: list[Sample | None] = []
    bad: dict[int, str] = {}
    for i, completion in enumerate(completions):
        row = {key: values[i] for key, values in per_item.items()}
        row["completion"] = completion
        if prompts is not None:
            row["prompt"] = prompts[i]
        try:
            samples.append(sample_from_row(row, index=i, default_task=default_task))
        except Exception as exc:  # noqa: BLE001 - one odd row costs that row, not the training step
            samples.append(None)
            bad[i] = clean_text(f"invalid row: {exc}" if isinstance(exc, RowError) else f"invalid row: {type(exc).__name__}: {exc}", 300)
    return samples, bad


def _with_bad_rows(result: BatchResult, samples: list[Sample | None], bad: dict[int, str], weights: Mapping[str, float]) -> BatchResult:
    """The engine's result for the good rows, widened to the whole batch: each bad row gets
    None in every column, with its reason (counted as an error in the metrics)."""
    if not bad:
        return result
    n = len(samples)
    good = iter(range(len(result)))
    where = [None if s is None else next(good) for s in samples]
    verdicts: dict[str, list[Verdict]] = {}
    for name, col in result.verdicts.items():
        verdicts[name] = [col[w] if w is not None else failed("error", bad[i]) for i, w in enumerate(where)]
    columns = {k: [v.score for v in vs] for k, vs in verdicts.items()}
    reasons = {k: [v.reason for v in vs] for k, vs in verdicts.items()}
    metrics = dict(result.metrics)
    for name, vs in verdicts.items():
        metrics.update(column_metrics(name, vs, result.metrics.get(f"rewards/{name}/latency_ms")))
    return BatchResult(columns, reasons, weighted_total(columns, weights, n), verdicts, metrics)


def _good(samples: list[Sample | None]) -> list[Sample]:
    return [s for s in samples if s is not None]


@dataclass
class _Entry:
    completions: Any
    snapshot: list[Any]
    loop: Any = None
    task: Any = None  # asyncio.Task (async mode)
    result: BatchResult | None = None  # sync mode
    served: set[str] = field(default_factory=set)


class _SharedBatch:
    """Scores a TRL batch once for all the reward functions that ask for it."""

    def __init__(self, engine: Engine, names: Sequence[str]) -> None:
        self.engine = engine
        self.names = set(names)
        self.entry: _Entry | None = None
        self.lock = threading.Lock()

    def _match(self, completions: Any, name: str) -> _Entry | None:
        e = self.entry
        if e is not None and e.completions is completions and name not in e.served and e.snapshot == list(completions):
            return e
        return None

    def _done(self, entry: _Entry, name: str) -> None:
        entry.served.add(name)
        if entry.served >= self.names and self.entry is entry:
            self.entry = None

    def sync(self, name: str, prompts: Any, completions: Any, columns: Mapping[str, Any]) -> tuple[BatchResult, bool]:
        with self.lock:
            entry = self._match(completions, name)
            fresh = entry is None
            if fresh:
                samples, bad = _samples(prompts, completions, columns, self.engine.config.task)
                result = _with_bad_rows(self.engine.score(_good(samples)), samples, bad, self.engine.weights)
                entry = _Entry(completions, list(completions), result=result)
                self.entry = entry
            self._done(entry, name)
            assert entry.result is not None
            return entry.result, fresh

    async def ascore(self, name: str, prompts: Any, completions: Any, columns: Mapping[str, Any]) -> tuple[BatchResult, bool]:
        loop = asyncio.get_running_loop()
        with self.lock:
            entry = self._match(completions, name)
            if entry is not None and entry.loop is not loop:
                entry = None
            fresh = entry is None
            if fresh:
                samples, bad = _samples(prompts, completions, columns, self.engine.config.task)
                entry = _Entry(completions, list(completions), loop=loop, task=loop.create_task(self._ascore(samples, bad)))
                self.entry = entry
            self._done(entry, name)
        # shield: one caller being cancelled must not cancel the batch for the others
        return await asyncio.shield(entry.task), fresh

    async def _ascore(self, samples: list[Sample | None], bad: dict[int, str]) -> BatchResult:
        return _with_bad_rows(await self.engine.ascore(_good(samples)), samples, bad, self.engine.weights)


def _report(result: BatchResult, name: str, fresh: bool, log_metric: Callable[[str, float], None] | None,
            log_extra: Callable[[str, list], None] | None) -> None:
    if log_metric is not None:
        for key in _LOGGED:
            metric = f"rewards/{name}/{key}"
            if metric in result.metrics:
                log_metric(metric, float(result.metrics[metric]))
        if fresh:
            for metric in _ENGINE_LOGGED:
                if metric in result.metrics:  # a remote batch of bad rows only has none
                    log_metric(metric, float(result.metrics[metric]))
    if log_extra is not None:
        log_extra(f"reason/{name}", list(result.reasons[name]))


def _make(shared: _SharedBatch, name: str, is_async: bool) -> Callable[..., Any]:
    if is_async:

        async def reward_function(prompts=None, completions=None, completion_ids=None, trainer_state=None,
                                  log_extra=None, log_metric=None, **columns):
            result, fresh = await shared.ascore(name, prompts, completions, columns)
            _report(result, name, fresh, log_metric, log_extra)
            return list(result.columns[name])

    else:

        def reward_function(prompts=None, completions=None, completion_ids=None, trainer_state=None,
                            log_extra=None, log_metric=None, **columns):
            result, fresh = shared.sync(name, prompts, completions, columns)
            _report(result, name, fresh, log_metric, log_extra)
            return list(result.columns[name])

    reward_function.__name__ = name
    reward_function.__qualname__ = name
    reward_function.__doc__ = f"vlmr1 reward column {name!r} (TRL reward function)."
    reward_function.engine = shared.engine  # type: ignore[attr-defined]  # keeps an owned engine alive
    return reward_function


def trl_reward_functions(config: Config, registry: Any = None, engine: Engine | None = None) -> tuple[list[Callable[..., Any]], list[float]]:
    """``(reward_funcs, reward_weights)`` for ``GRPOTrainer`` / ``GRPOConfig``.

    Pass ``engine=`` to control its life (close it after training); otherwise one is
    created and lives as long as the functions (its workers stop at exit).
    """
    if engine is None:
        engine = Engine(config, registry=registry)
    names = engine.names
    is_async = any(engine.column_mode(n) in ("isolated", "async") for n in names)
    shared = _SharedBatch(engine, names)
    funcs = [_make(shared, n, is_async) for n in names]
    weights = [engine.weights[n] for n in names]
    return funcs, weights
