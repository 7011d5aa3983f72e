"""TRL's GRPOTrainer for a list of rows, a model and a reward config.

The dataset view and the reward functions come from :mod:`vlmr1.trl`; this module adds
what depends on the model and the run: each row told which model family answers it
(so box rewards read boxes in that model's frame), the prompt template per row,
StableReinforce and the timing metrics. TRL does the rest: it repeats each prompt
``num_generations`` times with its RepeatSampler and hands every dataset column to the
reward functions, one entry per completion, so each reward sees its own row's solution
and image sizes (nothing here repeats rows a second time, which is how VLM-R1 came to
score completion i against the solution of row i//G).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import torch

from vlmr1.errors import ConfigError

from .metrics import MetricsLog, RewardPrinter, make_quiet
from .runtime import Runtime, Say, grpo_config
from .stable import StableReinforceTrainer

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


def template_chooser(config: Any, registry: Any, default: str | None = None) -> Callable[[Mapping[str, Any]], Any]:
    """Row -> prompt template: the row's task, else ``template:``, else the config's ``task``."""
    default = default or config.extra.get("template") or config.task
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
    """A ready trainer and what it was built from; ``close()`` stops the reward engine it owns."""

    trainer: Any
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
    settings: Any = None,
    args: Any = None,
    extra_callbacks: tuple[Any, ...] = (),
    say: Say = print,
    quiet: bool = False,
) -> Built:
    """The GRPO trainer for these rows: TRL's GRPOTrainer plus StableReinforce when configured.

    ``settings`` (a :class:`~vlmr1.trainers.settings.TrainSettings`) and ``args`` (a
    ready ``GRPOConfig``) are built from ``config`` when not given; an ``engine`` not
    given is created here and closed by :meth:`Built.close`.
    """
    from vlmr1.engine import Engine
    from vlmr1.registry import get_registry
    from vlmr1.trl import trl_dataset, trl_reward_functions

    from .settings import TrainSettings

    registry = registry or get_registry()
    settings = settings or TrainSettings.from_config(config)
    rows = with_model_family(rows, model_family(model))
    dataset = trl_dataset(rows, template_chooser(config, registry, settings.template))
    owns = engine is None
    if owns:
        engine = Engine(config, registry=registry)
    try:
        funcs, weights = trl_reward_functions(config, registry=registry, engine=engine)
        if args is None:
            args = grpo_config(settings.grpo, output_dir=str(output_dir), runtime=runtime, reward_weights=weights,
                               seed=settings.seed)
        metrics_path = Path(output_dir) / "metrics.jsonl"
        trainer = TimedTrainer(model=model, reward_funcs=funcs, args=args, train_dataset=dataset, processing_class=processor,
                               callbacks=[MetricsLog(metrics_path), RewardPrinter(say), *extra_callbacks],
                               stable_reinforce=settings.stable_reinforce)
        if quiet:
            make_quiet(trainer)
    except BaseException:
        if owns:
            engine.close()
        raise
    return Built(trainer, metrics_path, engine, owns)
