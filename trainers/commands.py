"""``vlmr1 train`` and ``vlmr1 demo``, added to the CLI through the ``register_commands`` hook.

The trainers are a plugin of the ``vlmr1`` distribution (entry point ``trainers``), so the
core CLI knows nothing of them. This module imports only click and vlmr1's public API:
torch, transformers and trl are imported when a command runs, so ``vlmr1 --help`` and
``vlmr1 plugins`` stay light, and without the ``train`` extra the commands say what to
install instead of failing at start-up.

Under several GPUs the same command runs once per process:
``accelerate launch --config_file ... -m vlmr1.cli train CONFIG``.
"""

from __future__ import annotations

import os
from typing import Any

import click

from vlmr1 import hookimpl
from vlmr1.errors import VlmrError

# The packages of the `train` extra; a missing one means the extra is not installed.
TRAIN_EXTRA = ("torch", "transformers", "trl", "accelerate", "datasets", "tokenizers")

TRAIN_EPILOG = """\b
Examples:
  vlmr1 train train.yaml
  vlmr1 train train.yaml -o runs/a --max-steps 10 --seed 1
  vlmr1 train train.yaml --set grpo.learning_rate=1e-6 --set grpo.num_generations=8
  vlmr1 train train.yaml --set rewards.1.params.frame=input --report-to wandb
  accelerate launch --num_processes 8 -m vlmr1.cli train train.yaml

Every key and reward is checked before the model loads: a typo fails in
seconds with the file and line. See docs/trainer.md.
"""

DEMO_EPILOG = """\b
Examples:
  vlmr1 demo
  vlmr1 demo --out /tmp/demo --steps 4 --sft-steps 20
  vlmr1 demo --out runs/demo-seed1 --seed 1
"""


class MissingExtra(VlmrError):
    """A command of the trainers run without the packages of the ``train`` extra."""


def _import_trainers(command: str, module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(f"vlmr1.trainers.{module}")
    except ModuleNotFoundError as exc:
        top = (exc.name or "").split(".")[0]
        if top not in TRAIN_EXTRA:
            raise
        raise MissingExtra(f"`vlmr1 {command}` needs the train extra ({top} is not installed): "
                           "pip install 'vlmr1[train]'") from None


@click.command(epilog=TRAIN_EPILOG)
@click.argument("config", type=click.Path(exists=True, dir_okay=False))
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Override a config value (dotted key, YAML value; repeatable), e.g. grpo.learning_rate=1e-6.")
@click.option("--seed", type=int, help="The run's seed (sets `seed`: GRPO, the warm-up and TRL's sampler).")
@click.option("--report-to", type=click.Choice(["none", "wandb", "tensorboard"]),
              help="Where TRL reports metrics (sets grpo.report_to); wandb and tensorboard are extras.")
@click.option("--output-dir", "-o", type=click.Path(file_okay=False),
              help="Where checkpoints and metrics go (default: the config's output_dir, else runs/<config name>).")
@click.option("--max-steps", type=click.IntRange(min=1), help="GRPO steps (sets grpo.max_steps).")
def train(config: str, sets: tuple[str, ...], seed: int | None, report_to: str | None, output_dir: str | None,
          max_steps: int | None) -> None:
    """Train with GRPO (TRL) on the rewards, data and model that CONFIG names."""
    grpo = _import_trainers("train", "grpo")
    overrides = list(sets)
    if seed is not None:
        overrides.append(f"seed={seed}")
    if report_to is not None:
        overrides.append(f"grpo.report_to={report_to}")
    if max_steps is not None:
        overrides.append(f"grpo.max_steps={max_steps}")
    result = grpo.train_from_file(config, sets=overrides, output_dir=output_dir, say=click.echo)
    if int(os.environ.get("RANK", "0")) == 0:
        click.echo(f"metrics: {result.metrics_path}")
        if result.model_dir:
            click.echo(f"model:   {result.model_dir}")


@click.command(epilog=DEMO_EPILOG)
@click.option("--out", "out", default="vlmr1-demo", show_default=True, type=click.Path(file_okay=False),
              help="Output folder for the plot and metrics.")
@click.option("--steps", default=None, type=click.IntRange(min=1), help="GRPO steps (default: the demo config's).")
@click.option("--sft-steps", default=None, type=click.IntRange(min=0), help="Supervised warm-up steps (0 skips it).")
@click.option("--seed", default=None, type=int, help="Seed of the model's weights, the pictures and the sampling (default 0).")
def demo(out: str, steps: int | None, sft_steps: int | None, seed: int | None) -> None:
    """Train a tiny Qwen2.5-VL to count shapes on synthetic pictures: offline, CPU, about two minutes.

    A supervised warm-up on reference answers, then GRPO with the installed `format`
    and `math` rewards; prints each reward as it goes, then the mean total reward of
    the first and last 5 logged steps and the same reward on new pictures before and
    after GRPO, and saves a plot of the rewards over steps.
    """
    result = _import_trainers("demo", "demo").run_demo(out, steps=steps, sft_steps=sft_steps, seed=seed, say=click.echo)
    click.echo(f"plot:    {result.plot_path}")
    click.echo(f"metrics: {result.metrics_path}")


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(train)
    cli.add_command(demo)
