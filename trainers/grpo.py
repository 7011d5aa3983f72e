"""One GRPO run from a vlmr1 config: what ``vlmr1 train CONFIG`` does.

One YAML gives the model (a path, or ``model.tiny`` for an offline test model), the
task's prompt template, the data, the rewards (from whatever plugins are installed,
through the engine), ``grpo:`` passed to ``trl.GRPOConfig``, an optional ``sft:`` warm-up
and ``stable_reinforce:``.

Everything that can be wrong with a run is found before anything expensive happens
(:func:`prepare`): the file is read once and its training sections typed and checked
(:mod:`~vlmr1.trainers.settings`), the reward engine is built (every reward name
resolved, every param checked), ``GRPOConfig`` and ``SFTConfig`` are built, every row is
read and checked (the columns the rewards need among them) and every prompt template
resolved. Only then is the model loaded.

The trainer itself is built in :mod:`~vlmr1.trainers.build`; device, precision and
``GRPOConfig`` choices live in :mod:`~vlmr1.trainers.runtime`. The names below are the
public names of a training run, importable from here.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from . import data, sft
from .build import Built, TimedTrainer, build_trainer, model_family, template_chooser, with_model_family  # noqa: F401
from .metrics import describe_summary, run_summary
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
from .configfile import read_train_config
from .settings import ModelSettings, TrainSettings


@dataclass
class TrainResult:
    output_dir: Path
    metrics_path: Path
    model_dir: Path | None
    log_history: list[dict[str, Any]]
    sft_history: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class Prepared:
    """A run checked and ready for its model: the engine, the configs TRL gets, the rows."""

    engine: Any
    runtime: Runtime
    grpo_args: Any
    sft_args: Any
    loaded: data.LoadedRows
    templates: Callable[[Mapping[str, Any]], Any]

    def close(self) -> None:
        self.engine.close()


def prepare(config: Any, settings: TrainSettings, *, registry: Any, output_dir: Path, base_dir: str | Path,
            say: Say) -> Prepared:
    """Every check of a run that needs no model, cheapest first; the caller closes the engine."""
    from vlmr1.engine import Engine

    model_settings, data_settings = settings.require_run()
    engine = Engine(config, registry=registry)  # names resolved and params checked by the engine
    try:
        runtime = resolve_runtime(model_settings, say)
        weights = [engine.weights[name] for name in engine.names]
        grpo_args = grpo_config(settings.grpo, output_dir=str(output_dir), runtime=runtime, reward_weights=weights,
                                seed=settings.seed, label=f"{settings.at('grpo')}: grpo")
        sft_args = None
        if settings.sft is not None:
            sft_args = sft.sft_config(settings.sft.options, output_dir=str(output_dir / "sft"), runtime=runtime,
                                      seed=settings.seed)
        loaded = data.read_rows(data_settings, base_dir)
        engine.check_rows(loaded.rows, source=f"the {len(loaded.rows)} training rows")  # columns the rewards need
        templates = template_chooser(config, registry, settings.template)
        for row in loaded.rows:  # resolves each task's template once: an unknown one fails here
            templates(row)
    except BaseException:
        engine.close()
        raise
    return Prepared(engine, runtime, grpo_args, sft_args, loaded, templates)


def train(
    config: Any,
    *,
    output_dir: str | Path,
    base_dir: str | Path = ".",
    say: Say = print,
    registry: Any = None,
    save_model: bool = True,
    quiet: bool = False,
    settings: TrainSettings | None = None,
    callbacks: tuple[Any, ...] = (),
) -> TrainResult:
    """Everything ``vlmr1 train`` does: checks, model, rows, optional warm-up, GRPO, save.

    ``callbacks`` are added to the GRPO trainer (TrainerCallbacks; they see the model
    after the warm-up in ``on_train_begin``)."""
    from vlmr1.registry import get_registry

    output_dir = Path(output_dir)
    registry = registry or get_registry()
    settings = settings or TrainSettings.from_config(config)
    ready = prepare(config, settings, registry=registry, output_dir=output_dir, base_dir=base_dir, say=say)
    try:
        model_settings, _ = settings.require_run()
        model, processor = load_model(model_settings, ready.runtime)
        rows = data.size_rows(ready.loaded, processor)
        say(f"{len(rows)} training rows")
        sft_history: list[dict[str, Any]] = []
        if settings.sft is not None:
            started = time.perf_counter()
            sft_history = sft.warm_up(model, processor, rows, settings.sft, templates=ready.templates,
                                      runtime=ready.runtime, output_dir=output_dir / "sft", args=ready.sft_args,
                                      say=say, quiet=quiet)
            say(f"warm-up done in {time.perf_counter() - started:.0f}s")
        with build_trainer(config, rows=rows, model=model, processor=processor, runtime=ready.runtime,
                           output_dir=output_dir, registry=registry, engine=ready.engine, settings=settings,
                           args=ready.grpo_args, say=say, quiet=quiet, extra_callbacks=tuple(callbacks)) as built:
            history, model_dir = _run_grpo(built, processor, model_settings, output_dir if save_model else None, say)
    finally:
        ready.close()
    summary = run_summary(history)
    say(f"timing: {describe_summary(summary)}")
    return TrainResult(output_dir, built.metrics_path, model_dir, history, sft_history, summary)


def _run_grpo(built: Built, processor: Any, model_settings: ModelSettings, save_to: Path | None,
              say: Say) -> tuple[list[dict[str, Any]], Path | None]:
    trainer = built.trainer
    processes = trainer.accelerator.num_processes
    say(f"GRPO: {trainer.args.max_steps} steps, {trainer.num_generations} generations per prompt, "
        f"rewards {', '.join(trainer.reward_func_names)}" + (f", {processes} processes" if processes > 1 else ""))
    started = time.perf_counter()
    trainer.train()
    say(f"GRPO done in {time.perf_counter() - started:.0f}s")
    model_dir = save_trained(trainer, processor, model_settings, save_to / "model") if save_to is not None else None
    return list(trainer.state.log_history), model_dir


def save_trained(trainer: Any, processor: Any, model_cfg: ModelSettings | Mapping[str, Any], model_dir: Path) -> Path:
    """The trained weights and processor, loadable again through ``model.path``."""
    from vlmr1.trainers import tiny

    model_cfg = ModelSettings.parse(model_cfg)
    trainer.save_model(str(model_dir))
    if trainer.accelerator.is_main_process:
        processor.save_pretrained(str(model_dir))
        if model_cfg.tiny:  # mark it so its video-less processor loads back
            marker = {"kind": model_cfg.tiny, "seed": int(model_cfg.seed), "trained": True}
            (model_dir / tiny.MARKER).write_text(json.dumps(marker, indent=2) + "\n")
        elif model_cfg.path and tiny.is_tiny_dir(model_cfg.path):
            (model_dir / tiny.MARKER).write_text((Path(model_cfg.path) / tiny.MARKER).read_text())
    return model_dir


def _silent(message: str) -> None:
    pass


def train_from_file(path: str | Path, *, sets: Sequence[str] = (), output_dir: str | Path | None = None,
                    say: Say = print) -> TrainResult:
    """``vlmr1 train CONFIG``: read the YAML once (``--set`` overrides applied; errors name file
    and line), then :func:`train`."""
    if int(os.environ.get("RANK", "0")) != 0:  # under accelerate launch / torchrun, one voice is enough
        say = _silent
    path = Path(path)
    config, settings = read_train_config(path, sets)
    out = output_dir or settings.output_dir or Path("runs") / path.stem
    return train(config, settings=settings, output_dir=out, base_dir=path.parent, say=say)
