"""What the engine keeps per configured column, and how it runs a column's inline code.

Inline code runs under the engine's :class:`~vlmr1.inline.InlineGuard`. A column whose
inline code overruns its budget is *distrusted* for the rest of the engine's life: its
``score`` / ``score_batch`` runs isolated in the worker pool (per item, under
``engine.timeout``), and its ``triage``, ``dedupe_key`` and inline ``prepare`` are no
longer called (the engine falls back to sending every item to the workers, keying
items by everything the reward sees, and preparing the gold in a worker).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .checks import who
from .config import RewardSpec
from .inline import InlineGuard, InlineTimeout, Watch
from .types import Reward, Sample, Verdict

__all__ = ["NOT_RUN", "STUCK", "Column", "GoldFailure", "Stats", "canonical", "item_key", "one_of_batch", "run_each"]


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


STUCK = _Marker("STUCK")  # the item whose inline call overran its budget
NOT_RUN = _Marker("NOT_RUN")  # items after it: not run inline


@dataclass
class Column:
    spec: RewardSpec
    mode: str  # "formula" | "merge" | "async" | "batch" | "inline" | "isolated"
    reward: Reward | None = None
    scorer: Callable[..., Any] | None = None
    prepare: Callable[..., Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    params_key: str = ""
    formula: Callable[[Mapping[str, float | None]], float | None] | None = None
    refs: tuple[str, ...] = ()
    index: int = 0  # position in the config, for a supervising process
    distrusted: bool = False  # its inline code overran once: no more inline calls

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def who(self) -> str:
        return who(self.spec.target, self.reward)

    def hook(self, name: str) -> Callable[..., Any] | None:
        """An auxiliary inline hook (triage, dedupe_key), or None once the column is distrusted."""
        return None if self.distrusted or self.reward is None else getattr(self.reward, name)

    def distrust(self, can_isolate: bool) -> str:
        """No more inline calls for this column; what changed, for the warning."""
        self.distrusted = True
        if self.mode == "batch":  # item by item from now on, so that a hang costs only its item
            self.mode, self.scorer = "inline", functools.partial(one_of_batch, self.scorer)
        if self.mode == "inline" and can_isolate:
            self.mode = "isolated"
            return "it runs isolated, item by item (in worker processes, under engine.timeout), for the rest of the run"
        if self.mode == "isolated":
            return "its triage, dedupe_key and inline prepare are not used for the rest of the run"
        return "it keeps running inline, item by item (engine.workers is 0), each call under the watchdog"


@dataclass
class Stats:
    """Work the engine saved in one batch, and the keys it computes once for all its columns."""

    dedup_hits: int = 0
    gold_prepared: int = 0
    gold_cache_hits: int = 0
    keys: BatchKeys = field(default_factory=lambda: BatchKeys())


@dataclass(frozen=True)
class GoldFailure:
    verdict: Verdict


def one_of_batch(score_batch: Callable[..., Any], sample: Sample, gold: Any, params: Mapping[str, Any]) -> Any:
    """A ``score_batch`` reward's verdict for one item (its batch of one)."""
    result = list(score_batch([sample], [gold], params))
    if len(result) != 1:
        raise ValueError(f"score_batch returned {len(result)} verdicts for 1 sample")
    return result[0]


def run_each(guard: InlineGuard, c: Column, hook: str, budget: float, fn: Callable[..., Any],
             argses: Iterable[tuple], items: Sequence[int]) -> tuple[list[Any], Watch | None]:
    """``fn(*args)`` for each args, inline, under the watchdog: the results (an exception in
    the place of a call that raised), and the Watch when a call overran, which then has
    ``STUCK`` in its place and ``NOT_RUN`` after it. ``argses`` may be a generator (one
    ``items`` entry per call): a list of argument tuples would only feed the collector."""
    out: list[Any] = []
    w = None
    try:
        try:
            w = guard.watch(c.name, c.index, hook, c.who, budget)
            for pos, (args, item) in enumerate(zip(argses, items)):
                w.begin(pos, item)
                try:
                    out.append(fn(*args))
                except Exception as exc:  # noqa: BLE001 - the item's own failure
                    out.append(exc)
        finally:
            overran = w is not None and guard.release(w)
    except InlineTimeout:
        overran = True
    if not overran or w is None:
        return out, None
    stuck = max(w.stuck_item, 0)
    out = out[:stuck] + [STUCK] + out[stuck + 1:]
    out += [NOT_RUN] * (len(items) - len(out))
    return out[: len(items)], w


def canonical(value: Any) -> str:
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=repr)
    except (TypeError, ValueError):
        pass
    except RecursionError:  # nested past any sense: a key of its own (no sharing, no crash)
        return f"<unkeyable {id(value)}>"
    try:
        return repr(value)
    except RecursionError:
        return f"<unkeyable {id(value)}>"


class BatchKeys:
    """Each sample's :func:`item_key` and its solution's :func:`canonical` text, computed once
    per batch: every column of the batch asks for them, and encoding a prompt is the costly
    part. Keyed by identity, which is safe because the batch holds its samples for as long
    as this memo lives."""

    def __init__(self) -> None:
        self._items: dict[int, tuple[Any, ...]] = {}
        self._solutions: dict[int, str] = {}

    def item(self, s: Sample) -> tuple[Any, ...]:
        key = self._items.get(id(s))
        if key is None:
            key = self._items[id(s)] = item_key(s, self.solution(s))
        return key

    def solution(self, s: Sample) -> str:
        text = self._solutions.get(id(s))
        if text is None:
            text = self._solutions[id(s)] = canonical(s.solution)
        return text


def item_key(s: Sample, solution: str | None = None) -> tuple[Any, ...]:
    """Everything a reward sees except where the item sits (index, id, group)."""
    return (
        s.completion,
        canonical(s.solution) if solution is None else solution,
        s.task,
        s.image,
        s.image_size,
        s.input_size,
        canonical(s.prompt) if s.prompt is not None else None,
        canonical(dict(s.columns)) if s.columns else None,
    )
