"""Build TRL's GRPOTrainer from a vlmr1 config.

One YAML gives the model (a path, or ``model.tiny`` for an offline test model), the
task's prompt template, the data, the rewards (from whatever plugins are installed,
through the engine), ``grpo:`` passed to ``trl.GRPOConfig`` and optional
``stable_reinforce:``. TRL does the rest: it repeats each prompt ``num_generations``
times with its RepeatSampler and hands every dataset column to the reward functions,
one entry per completion, so each reward sees its own row's solution and image sizes
(nothing here repeats rows a second time, which is how VLM-R1 came to score
completion i against the solution of row i//G).

Device, precision and GRPOConfig choices live in :mod:`vlmr1.trainers.runtime`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import torch

from vlmr1.errors import ConfigError

from .runtime import (  # noqa: F401  (re-exported: the public names of a training run)
    DEEPSPEED_DIR,
    Runtime,
    Say,
    check_grpo_keys,
    deepspeed_config_path,
    grpo_config,
    load_model,
    resolve_runtime,
)
from .metrics import MetricsLog, RewardPrinter, describe_summary, make_quiet, run_summary
from .stable import StableReinforceTrainer


# -- data --------------------------------------------------------------------------------

# model_type -> the family name the iou reward uses to pick the frame a model answers in
# (Qwen2-VL: [0, 1000); Qwen2.5-VL: pixels of the resized input).
FAMILIES = {"qwen2_vl": "qwen2-vl", "qwen2_5_vl": "qwen2.5-vl", "qwen3_vl": "qwen3-vl", "internvl": "internvl",
            "internvl_chat": "internvl"}


def model_family(model: Any) -> str | None:
    return FAMILIES.get(getattr(getattr(model, "config", None), "model_type", None))


def with_model_family(rows: list[Mapping[str, Any]], family: str | None) -> list[dict[str, Any]]:
    """Rows told which model answers them, so box rewards read its boxes in its frame.

    A row that already names a ``frame`` or ``model_family`` keeps it.
    """
    if family is None:
        return [dict(r) for r in rows]
    return [dict(r) if ("frame" in r or "model_family" in r) else {**r, "model_family": family} for r in rows]


class RowView:
    """Turns the stored JSON rows into TRL's columns when a batch is read.

    Rows are kept as JSON text (arrow cannot hold a ``solution`` that is a box list in
    one row and a string in the next) and images are opened lazily, so a large
    dataset does not sit in memory as pixels. ``images`` is the column TRL reads;
    every other column reaches the reward functions unchanged.
    """

    def __init__(self, with_images: bool = True) -> None:
        self.with_images = with_images  # a text-only dataset has no `images` column at all

    def __call__(self, batch: Mapping[str, list]) -> dict[str, list]:
        import json

        rows = [json.loads(text) for text in batch["row"]]
        keys: list[str] = []
        for row in rows:
            keys.extend(k for k in row if k not in keys)
        out = {k: [row.get(k) for row in rows] for k in keys}
        if self.with_images:
            out["images"] = [open_images(row) for row in rows]
        return out


def open_images(row: Mapping[str, Any]) -> list[Any]:
    from PIL import Image

    paths = row.get("image")
    if paths is None:
        return []
    images = []
    for path in [paths] if isinstance(paths, str) else list(paths):
        try:
            with Image.open(path) as im:
                images.append(im.convert("RGB"))
        except OSError as exc:
            raise ConfigError(f"row {row.get('id')!r}: cannot open image {path}: {exc}") from None
    return images


def prompt_for(row: Mapping[str, Any], template: Any) -> list[dict[str, Any]]:
    """The chat messages of a row: its own ``prompt`` if it has one, else the template's."""
    if row.get("prompt"):
        prompt = row["prompt"]
        return [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
    question = row.get("problem") or row.get("question")
    if question is None:
        raise ConfigError(f"row {row.get('id')!r} has no `problem` (or `question`/`prompt`) to ask the model.")
    return template.render(question)


def trl_dataset(rows: list[Mapping[str, Any]], templates: Callable[[Mapping[str, Any]], Any]) -> Any:
    """A datasets.Dataset of the rows, each with its prompt messages, read through RowView."""
    import json

    from datasets import Dataset

    records = []
    for i, row in enumerate(rows):
        row = dict(row)
        row.setdefault("id", str(i))
        row["prompt"] = prompt_for(row, templates(row))
        records.append(json.dumps(row, default=_jsonable))
    with_image = [bool(row.get("image")) for row in rows]
    if any(with_image) and not all(with_image):
        first = next(row.get("id", i) for i, row in enumerate(rows) if not with_image[i])
        raise ConfigError(
            f"{sum(with_image)} rows have an image and {len(rows) - sum(with_image)} do not (first without: "
            f"{first!r}). TRL's trainers cannot put rows with and without images in one batch for a vision "
            "model; train them in separate runs, or give every row an image.")
    dataset = Dataset.from_dict({"row": records})
    dataset.set_transform(RowView(with_images=any(with_image)))
    return dataset


def _jsonable(value: Any) -> Any:
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot store a {type(value).__name__} in a training row")


def template_chooser(config: Any, registry: Any) -> Callable[[Mapping[str, Any]], Any]:
    """Row -> prompt template: the row's task, else ``template:``, else the config's ``task``."""
    default = config.extra.get("template") or config.task
    cache: dict[str, Any] = {}

    def choose(row: Mapping[str, Any]) -> Any:
        name = row.get("task") or default
        if name is None:
            if row.get("prompt"):
                return None
            raise ConfigError("no prompt template: set `template:` (or `task:`) in the config, or give rows a `task`. "
                              "`vlmr1 templates` lists the installed ones.")
        if name not in cache:
            cache[name] = registry.template(name)
        return cache[name]

    return choose


# -- the trainer -------------------------------------------------------------------------


def _strip_pixels(prompt: Any) -> Any:
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


def pixel_free(func: Callable[..., Any]) -> Callable[..., Any]:
    """A TRL reward function that is handed no decoded images.

    TRL passes the ``images`` column and prompts with the images inside to every reward
    function; rewards that run in worker processes would pickle those pixels for every
    completion. Rewards get the image's path (``image``) and sizes instead.
    """
    import inspect

    def light(prompts: Any, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        kwargs.pop("images", None)
        return (None if prompts is None else [_strip_pixels(p) for p in prompts]), kwargs

    if inspect.iscoroutinefunction(func):
        async def wrapper(prompts: Any = None, **kwargs: Any) -> Any:
            prompts, kwargs = light(prompts, kwargs)
            return await func(prompts=prompts, **kwargs)
    else:
        def wrapper(prompts: Any = None, **kwargs: Any) -> Any:  # type: ignore[misc]
            prompts, kwargs = light(prompts, kwargs)
            return func(prompts=prompts, **kwargs)

    wrapper.__name__ = wrapper.__qualname__ = func.__name__  # TRL logs rewards/<__name__>/mean
    wrapper.__doc__ = func.__doc__
    wrapper.__wrapped__ = func  # type: ignore[attr-defined]
    if hasattr(func, "engine"):
        wrapper.engine = func.engine  # type: ignore[attr-defined]  # keeps an owned engine alive
    return wrapper


class TimedTrainer(StableReinforceTrainer):
    """The trainer ``vlmr1 train`` builds: StableReinforce (a no-op unless configured) and
    ``timing/rewards_s``, the seconds each generation batch spent in the reward call,
    logged beside TRL's ``step_time`` so the rewards' share of a step is visible (and, on
    a GPU, ``memory/max_allocated_gib``)."""

    def _calculate_rewards(self, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        out = super()._calculate_rewards(*args, **kwargs)
        mode = "train" if self.model.training else "eval"
        self._metrics[mode]["timing/rewards_s"].append(time.perf_counter() - start)
        if torch.cuda.is_available():
            self._metrics[mode]["memory/max_allocated_gib"].append(torch.cuda.max_memory_allocated() / 2**30)
        return out


@dataclass
class Built:
    """A ready trainer and what it was built from; ``close()`` stops the reward engine."""

    trainer: Any
    runtime: Runtime
    dataset: Any
    metrics_path: Path
    engine: Any = None
    owns_engine: bool = False

    def close(self) -> None:
        if self.owns_engine and self.engine is not None:
            self.engine.close()
            self.engine = None

    def __enter__(self) -> "Built":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def build_trainer(
    config: Any,
    *,
    rows: list[Mapping[str, Any]],
    model: Any,
    processor: Any,
    runtime: Runtime,
    output_dir: str | Path,
    registry: Any = None,
    engine: Any = None,
    extra_callbacks: tuple[Any, ...] = (),
    say: Say = print,
    where: Callable[[str], str] = lambda key: "grpo",
    quiet: bool = False,
) -> Built:
    """The GRPO trainer for these rows: TRL's GRPOTrainer plus StableReinforce when configured."""
    from vlmr1.engine import Engine
    from vlmr1.registry import get_registry
    from vlmr1.trl_rewards import trl_reward_functions

    from .stable import StableReinforceOptions

    registry = registry or get_registry()
    rows = with_model_family(rows, model_family(model))
    dataset = trl_dataset(rows, template_chooser(config, registry))
    owns = engine is None
    if owns:
        engine = Engine(config, registry=registry)
    try:
        funcs, weights = trl_reward_functions(config, registry=registry, engine=engine)
        funcs = [pixel_free(f) for f in funcs]
        args = grpo_config(config.extra.get("grpo"), output_dir=str(output_dir), runtime=runtime,
                           reward_weights=weights, seed=config.extra.get("seed"), where=where)
        options = StableReinforceOptions.from_mapping(config.extra.get("stable_reinforce"))
        metrics_path = Path(output_dir) / "metrics.jsonl"
        kwargs = dict(model=model, reward_funcs=funcs, args=args, train_dataset=dataset, processing_class=processor,
                      callbacks=[MetricsLog(metrics_path), RewardPrinter(say), *extra_callbacks])
        trainer = TimedTrainer(stable_reinforce=options, **kwargs)
        if quiet:
            make_quiet(trainer)
    except BaseException:
        if owns:
            engine.close()
        raise
    return Built(trainer, runtime, dataset, metrics_path, engine, owns)


# -- one run, from a config --------------------------------------------------------------


@dataclass
class TrainResult:
    output_dir: Path
    metrics_path: Path
    model_dir: Path | None
    log_history: list[dict[str, Any]]
    sft_history: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


def load_rows(config: Any, processor: Any, base_dir: str | Path) -> list[dict[str, Any]]:
    """The training rows of ``data:`` (mixture, JSONL or synthetic), each with image sizes."""
    from vlmr1.trainers import data

    spec = config.extra.get("data")
    if not spec:
        raise ConfigError("no `data:` in the config: give `mixture:` (a VLM-R1 data YAML), `jsonl:` or `synthetic:`.")
    return data.load_rows(spec, processor=processor, base_dir=base_dir)


def train(
    config: Any,
    *,
    output_dir: str | Path,
    base_dir: str | Path = ".",
    max_steps: int | None = None,
    say: Say = print,
    registry: Any = None,
    save_model: bool = True,
    where: Callable[[str], str] = lambda key: "grpo",
    quiet: bool = False,
    callbacks: tuple[Any, ...] = (),
) -> TrainResult:
    """Everything ``vlmr1 train`` does: model, rows, optional warm-up, GRPO, save.

    ``callbacks`` are added to the GRPO trainer (TrainerCallbacks; they see the model
    after the warm-up in ``on_train_begin``)."""
    from dataclasses import replace

    from vlmr1.registry import get_registry

    from . import sft

    from .stable import StableReinforceOptions

    output_dir = Path(output_dir)
    registry = registry or get_registry()
    check_grpo_keys(config.extra.get("grpo"), where)  # fail fast, before the model loads
    StableReinforceOptions.from_mapping(config.extra.get("stable_reinforce"))
    runtime = resolve_runtime(config.extra.get("model"), say)
    model, processor = load_model(config.extra.get("model") or {}, runtime)
    rows = load_rows(config, processor, base_dir)
    say(f"{len(rows)} training rows")
    templates = template_chooser(config, registry)
    sft_history: list[dict[str, Any]] = []
    if config.extra.get("sft"):
        started = time.perf_counter()
        sft_history = sft.warm_up(model, processor, rows, config.extra["sft"], templates=templates, runtime=runtime,
                                  output_dir=output_dir / "sft", seed=config.extra.get("seed"), say=say, quiet=quiet)
        say(f"warm-up done in {time.perf_counter() - started:.0f}s")
    if max_steps is not None:
        config = replace(config, extra={**config.extra, "grpo": {**(config.extra.get("grpo") or {}), "max_steps": max_steps}})
    with build_trainer(config, rows=rows, model=model, processor=processor, runtime=runtime, output_dir=output_dir,
                       registry=registry, say=say, where=where, quiet=quiet, extra_callbacks=tuple(callbacks)) as built:
        processes = built.trainer.accelerator.num_processes
        say(f"GRPO: {built.trainer.args.max_steps} steps, {built.trainer.num_generations} generations per prompt, "
            f"rewards {', '.join(built.trainer.reward_func_names)}" + (f", {processes} processes" if processes > 1 else ""))
        started = time.perf_counter()
        built.trainer.train()
        say(f"GRPO done in {time.perf_counter() - started:.0f}s")
        model_dir = None
        if save_model:
            model_dir = save_trained(built.trainer, processor, config.extra.get("model") or {}, output_dir / "model")
        history = list(built.trainer.state.log_history)
    summary = run_summary(history)
    say(f"timing: {describe_summary(summary)}")
    return TrainResult(output_dir, built.metrics_path, model_dir, history, sft_history, summary)


def save_trained(trainer: Any, processor: Any, model_cfg: Mapping[str, Any], model_dir: Path) -> Path:
    """The trained weights and processor, loadable again through ``model.path``."""
    import json

    from vlmr1.trainers import tiny

    trainer.save_model(str(model_dir))
    if trainer.accelerator.is_main_process:
        processor.save_pretrained(str(model_dir))
        source = Path(str(model_cfg.get("path", "")))
        if model_cfg.get("tiny"):  # mark it so its video-less processor loads back
            marker = {"kind": model_cfg["tiny"], "seed": int(model_cfg.get("seed", 0)), "trained": True}
            (model_dir / tiny.MARKER).write_text(json.dumps(marker, indent=2) + "\n")
        elif model_cfg.get("path") and tiny.is_tiny_dir(source):
            (model_dir / tiny.MARKER).write_text((source / tiny.MARKER).read_text())
    return model_dir


def _silent(message: str) -> None:
    pass


def train_from_file(path: str | Path, *, output_dir: str | Path | None = None, max_steps: int | None = None,
                    say: Say = print) -> TrainResult:
    """``vlmr1 train CONFIG``: validate the YAML (errors name file and line), then :func:`train`."""
    import os

    from vlmr1.config import load_config
    from vlmr1.documents import line_of, load_document

    if int(os.environ.get("RANK", "0")) != 0:  # under accelerate launch / torchrun, one voice is enough
        say = _silent
    path = Path(path)
    config = load_config(path)
    _, lines = load_document(path)

    def where(key: str) -> str:
        line = line_of(lines, ("grpo", key) if key else ("grpo",))
        return f"{path}:{line}: grpo" if line else f"{path}: grpo"

    out = output_dir or config.extra.get("output_dir") or Path("runs") / path.stem
    return train(config, output_dir=out, base_dir=path.parent, max_steps=max_steps, say=say, where=where)
