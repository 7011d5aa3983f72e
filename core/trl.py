"""The boundary with TRL: the dataset a GRPO/SFT trainer reads and the reward functions it calls.

* **The dataset.** :func:`trl_dataset` keeps the rows as Python objects and gives TRL a
  ``datasets.Dataset`` of positions read through :class:`RowView` (TRL 1.16's trainers
  accept only ``Dataset``/``IterableDataset``; arrow cannot hold a ``solution`` that is a
  box list in one row and a string in the next). Images are opened when a batch is
  read, once per distinct row.
* **One Sample per row.** The view also hands TRL a ``vlmr1_sample`` column: the row as
  a :class:`~vlmr1.types.Sample` (``vlmr1.rows.sample_from_row``) with the prompt as TRL
  hands it to rewards, minus pixels. TRL repeats it per generation; a reward function
  only puts each completion's text into it.
* **No pixels for rewards.** TRL passes reward functions the decoded ``images`` and
  prompts with the images inside; rewards in worker processes would pickle them per
  completion. Samples carry the image's path and sizes instead (:func:`strip_pixels`).
* **The reward functions.** TRL (``GRPOTrainer._calculate_rewards``) calls each with
  ``prompts, completions, completion_ids, trainer_state, log_extra, log_metric`` and one
  list per dataset column, item ``i`` belonging to completion ``i``; sync functions one
  after another, async ones gathered; None becomes NaN, columns are weighted and
  ``nansum``-ed, ``rewards/<__name__>/mean`` logged. Here one function per configured
  column shares one engine call per batch, so gates and formulas behave exactly as in
  ``Engine.score`` and TRL's weighted sum equals the engine's total.

A row that cannot be made a Sample gets None in every column with the reason; nothing a
batch holds raises into the trainer. Neither torch nor trl is imported at module level.
"""

from __future__ import annotations

import asyncio
import pickle
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .config import Config
from .engine import BatchResult, Engine
from .errors import ConfigError
from .metrics import column_metrics, weighted_total
from .rows import RowError, bad_row_reason, completion_text, sample_from_row
from .types import Sample, Verdict
from .verdicts import failed

__all__ = ["SAMPLE_COLUMN", "RowView", "open_images", "prompt_for", "samples_from_trl", "strip_pixels", "trl_dataset",
           "trl_reward_functions"]

SAMPLE_COLUMN = "vlmr1_sample"
# Keyword arguments TRL passes that are not per-completion dataset columns.
_NOT_COLUMNS = frozenset({"trainer_state", "log_extra", "log_metric", "environments", "completion_ids", SAMPLE_COLUMN})
_LOGGED = ("none", "errors", "timeouts", "latency_ms")
_ENGINE_LOGGED = ("engine/items_per_s", "engine/dedup_hits", "engine/gold_prepared")


# -- prompts and images --------------------------------------------------------------------


def prompt_for(row: Mapping[str, Any], template: Any) -> list[dict[str, Any]]:
    """The chat messages of a row: its own ``prompt`` if it has one, else the template's."""
    if row.get("prompt"):
        prompt = row["prompt"]
        return [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
    question = row.get("problem") or row.get("question")
    if question is None:
        raise ConfigError(f"row {row.get('id')!r} has no `problem` (or `question`/`prompt`) to ask the model.")
    return template.render(question)


def _paths(row: Mapping[str, Any]) -> list[str]:
    paths = row.get("image")
    return [] if paths is None else [paths] if isinstance(paths, str) else list(paths)


def open_images(row: Mapping[str, Any]) -> list[Any]:
    """The row's images as RGB PIL images; a missing or unreadable file is a ConfigError naming the row."""
    from PIL import Image

    images = []
    for path in _paths(row):
        try:
            with Image.open(path) as im:
                images.append(im.convert("RGB"))
        except OSError as exc:
            raise ConfigError(f"row {row.get('id')!r}: cannot open image {path}: {exc}") from None
    return images


def strip_pixels(prompt: Any) -> Any:
    """A prompt's messages with image parts reduced to placeholders (no pixel data)."""
    if not isinstance(prompt, list):
        return prompt
    out = []
    for message in prompt:
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, list):
            content = [{"type": "image"} if isinstance(p, Mapping) and p.get("type") == "image" else p for p in content]
            message = {**message, "content": content}
        out.append(message)
    return out


def _reward_prompt(prompt: list[dict[str, Any]], n_images: int) -> Any:
    """The prompt as TRL hands it to reward functions, minus pixels: with images, TRL's own
    ``prepare_multimodal_messages`` turns it into typed parts with one image part per image."""
    if not n_images:
        return prompt
    from trl.data_utils import prepare_multimodal_messages

    return strip_pixels(prepare_multimodal_messages(prompt, images=[None] * n_images))


# -- the dataset -----------------------------------------------------------------------------


class RowView:
    """A ``datasets`` transform from positions to TRL's columns.

    For each row of a batch: every column of the row (``prompt`` included), ``images``
    (opened here) when the dataset has images, and the row's Sample under
    ``vlmr1_sample`` when asked for. The rows are pickled once (``datasets`` hashes the
    transform for its fingerprint, and DataLoader workers receive it): hashing one blob
    costs a fraction of hashing thousands of dicts.
    """

    def __init__(self, rows: list[dict[str, Any]], with_images: bool = True, samples: bool = True) -> None:
        self.with_images, self.samples = with_images, samples
        self._blob = pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL)
        self._rows: list[dict[str, Any]] | None = rows

    def __getstate__(self) -> dict[str, Any]:
        return {"with_images": self.with_images, "samples": self.samples, "_blob": self._blob}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _rows=None)

    @property
    def rows(self) -> list[dict[str, Any]]:
        if self._rows is None:
            self._rows = pickle.loads(self._blob)  # noqa: S301 - our own rows, pickled above in this program
        return self._rows

    def __call__(self, batch: Mapping[str, list]) -> dict[str, list]:
        positions = list(batch["position"])
        distinct = {p: self.rows[p] for p in positions}
        keys: list[str] = []
        for row in distinct.values():
            keys.extend(k for k in row if k not in keys)
        out = {k: [self.rows[p].get(k) for p in positions] for k in keys}
        if self.with_images:
            images = {p: open_images(row) for p, row in distinct.items()}
            out["images"] = [images[p] for p in positions]
        if self.samples:
            samples = {p: _row_sample(row) for p, row in distinct.items()}
            out[SAMPLE_COLUMN] = [samples[p] for p in positions]
        return out


def _row_sample(row: Mapping[str, Any]) -> Sample | str:
    """The row as the Sample its completions will fill in, or why it cannot be one."""
    try:
        prompt = _reward_prompt(row["prompt"], len(_paths(row)))
        return sample_from_row({**row, "completion": "", "prompt": prompt})
    except Exception as exc:  # noqa: BLE001 - one odd row costs that row, not the training step
        return bad_row_reason(exc, 300)


def trl_dataset(rows: Sequence[Mapping[str, Any]], templates: Callable[[Mapping[str, Any]], Any], *,
                samples: bool = True) -> Any:
    """A ``datasets.Dataset`` of the rows, each with its prompt messages, read through :class:`RowView`.

    ``templates(row)`` gives the row's prompt template. Rows with and without images cannot
    share one dataset (TRL's trainers batch them together for a vision model).
    """
    from datasets import Dataset

    prepared = []
    for i, row in enumerate(rows):
        row = dict(row)
        row.setdefault("id", str(i))
        row["prompt"] = prompt_for(row, templates(row))
        prepared.append(row)
    with_image = [bool(row.get("image")) for row in prepared]
    if any(with_image) and not all(with_image):
        first = next(row["id"] for row, has in zip(prepared, with_image) if not has)
        raise ConfigError(
            f"{sum(with_image)} rows have an image and {len(rows) - sum(with_image)} do not (first without: "
            f"{first!r}). TRL's trainers cannot put rows with and without images in one batch for a vision "
            "model; train them in separate runs, or give every row an image.")
    dataset = Dataset.from_dict({"position": list(range(len(prepared)))})
    dataset.set_transform(RowView(prepared, with_images=any(with_image), samples=samples))
    return dataset


# -- samples from a TRL reward call ----------------------------------------------------------


def samples_from_trl(prompts: Sequence[Any] | None, completions: Sequence[Any], columns: Mapping[str, Any],
                     default_task: str | None = None) -> list[Sample]:
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
    given = columns.get(SAMPLE_COLUMN)
    if isinstance(given, (list, tuple)) and len(given) == len(completions):
        return _filled(given, completions, default_task)
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
            row["prompt"] = strip_pixels(prompts[i])
        try:
            samples.append(sample_from_row(row, index=i, default_task=default_task))
        except Exception as exc:  # noqa: BLE001 - one odd row costs that row, not the training step
            samples.append(None)
            bad[i] = bad_row_reason(exc, 300)
    return samples, bad


def _filled(given: Sequence[Any], completions: Sequence[Any], default_task: str | None) -> tuple[list[Sample | None], dict[int, str]]:
    """The view's Samples, each with its completion's text and its place in the batch."""
    samples: list[Sample | None] = []
    bad: dict[int, str] = {}
    for i, (base, completion) in enumerate(zip(given, completions)):
        if not isinstance(base, Sample):  # the view's reason for a row that could not become a Sample
            samples.append(None)
            bad[i] = str(base)
            continue
        try:
            samples.append(replace(base, completion=completion_text(completion), index=i, task=base.task or default_task))
        except Exception as exc:  # noqa: BLE001
            samples.append(None)
            bad[i] = bad_row_reason(exc, 300)
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


# -- one engine call per batch, shared by the reward functions -------------------------------


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
