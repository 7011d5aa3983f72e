"""`vlmr1 demo`: the whole pipeline in a few minutes on a CPU, offline.

A tiny Qwen2.5-VL (built in code, random weights, a tokenizer trained in code) is
warmed up on format-correct answers for synthetic shapes (R1-Reward's cold start),
then trained with GRPO on the installed ``format`` and ``iou`` rewards. Every
logged step prints each reward's mean; at the end a plot of the rewards over steps
and the raw metrics (JSONL) are in the output folder.

The model is far too small to learn grounding in a handful of steps; what the demo
shows is the machinery: rewards from plugins scored through the engine inside TRL,
per-reward metrics, and the format reward rising from the warm-up.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from .grpo import Say, TrainResult, train


@dataclass
class DemoResult:
    out_dir: Path
    plot_path: Path
    metrics_path: Path
    seconds: float
    train: TrainResult


def demo_config(steps: int | None = None, sft_steps: int | None = None) -> Any:
    """The embedded demo config (vlmr1/data/demo.yaml), validated like any user config."""
    from vlmr1.config import load_config

    with resources.as_file(resources.files("vlmr1") / "data" / "demo.yaml") as path:
        config = load_config(path)
    extra = dict(config.extra)
    if steps is not None:
        extra["grpo"] = {**extra.get("grpo", {}), "max_steps": steps}
    if sft_steps is not None:
        extra["sft"] = {**extra.get("sft", {}), "max_steps": sft_steps}
    return replace(config, extra=extra)


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The logged GRPO steps (records that carry a reward) of a metrics JSONL."""
    out = []
    for line in Path(path).read_text().splitlines():
        record = json.loads(line)
        if "reward" in record:
            out.append(record)
    return out


def plot_rewards(records: list[dict[str, Any]], path: str | Path, title: str = "vlmr1 demo") -> Path:
    """One line per reward (its batch mean) and the weighted total, over GRPO steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    names = sorted({k for r in records for k in r if k.startswith("rewards/") and k.endswith("/mean")})
    steps = [r["step"] for r in records]
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    for key in names:
        ax.plot(steps, [r.get(key) for r in records], marker="o", label=key[len("rewards/"):-len("/mean")])
    ax.plot(steps, [r["reward"] for r in records], marker="s", linestyle="--", color="black", label="total (weighted)")
    ax.set_xlabel("GRPO step")
    ax.set_ylabel("mean reward over the batch")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def run_demo(out_dir: str | Path = "vlmr1-demo", *, steps: int | None = None, sft_steps: int | None = None,
             say: Say = print) -> DemoResult:
    import warnings

    from transformers.utils import logging as hf_logging

    start = time.perf_counter()
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    hf_logging.set_verbosity_error()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    config = demo_config(steps, sft_steps)
    say(f"vlmr1 demo -> {out_dir}")
    result = train(config, output_dir=out_dir, save_model=False, say=say, quiet=True)
    records = read_metrics(result.metrics_path)
    plot = plot_rewards(records, out_dir / "rewards.png")
    seconds = time.perf_counter() - start
    if records:
        first, last = records[0], records[-1]
        say(f"reward {first['reward']:.3f} (step {first['step']}) -> {last['reward']:.3f} (step {last['step']}) "
            f"in {seconds:.0f}s")
    return DemoResult(out_dir, plot, result.metrics_path, seconds, result)
