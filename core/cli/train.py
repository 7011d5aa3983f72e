"""`vlmr1 train CONFIG` and `vlmr1 demo`: thin commands over vlmr1.trainers.

Under several GPUs the same command runs once per process:
``accelerate launch --config_file ... -m vlmr1.cli train CONFIG``.
"""

from __future__ import annotations

import click


@click.command()
@click.argument("config", type=click.Path(exists=True, dir_okay=False))
@click.option("--output-dir", "-o", type=click.Path(file_okay=False), help="Where checkpoints and metrics go (default: the config's output_dir, else runs/<config name>).")
@click.option("--max-steps", type=int, help="Override grpo.max_steps.")
def train(config: str, output_dir: str | None, max_steps: int | None) -> None:
    """Train with GRPO (TRL) on the rewards, data and model that CONFIG names.

    \b
    Examples:
      vlmr1 train examples/configs/vlm-r1.yaml
      vlmr1 train rec.yaml --output-dir runs/rec --max-steps 100
      accelerate launch -m vlmr1.cli train rec.yaml    # several GPUs
    """
    from vlmr1.trainers.grpo import train_from_file

    import os

    result = train_from_file(config, output_dir=output_dir, max_steps=max_steps, say=click.echo)
    if int(os.environ.get("RANK", "0")) == 0:
        click.echo(f"metrics: {result.metrics_path}")
        if result.model_dir:
            click.echo(f"model:   {result.model_dir}")


@click.command()
@click.option("--out", "out", default="vlmr1-demo", show_default=True, type=click.Path(file_okay=False), help="Output folder for the plot and metrics.")
@click.option("--steps", default=None, type=click.IntRange(min=1), help="GRPO steps (default: the demo config's).")
@click.option("--sft-steps", default=None, type=click.IntRange(min=0), help="Supervised warm-up steps (0 skips it).")
def demo(out: str, steps: int | None, sft_steps: int | None) -> None:
    """Train a tiny Qwen2.5-VL to box shapes on synthetic images: offline, CPU, a few minutes.

    A short supervised warm-up on format-correct answers, then GRPO with the
    installed `format` and `iou` rewards; prints each reward as it goes and saves a
    plot of the rewards over steps.

    \b
    Examples:
      vlmr1 demo
      vlmr1 demo --out demo-run --steps 12 --sft-steps 0
    """
    from vlmr1.trainers.demo import run_demo

    result = run_demo(out, steps=steps, sft_steps=sft_steps, say=click.echo)
    click.echo(f"plot:    {result.plot_path}")
    click.echo(f"metrics: {result.metrics_path}")
