"""`vlmr1 demo`: GRPO that visibly learns, in a few minutes on a CPU, offline.

A tiny Qwen2.5-VL (built in code: random weights, a tokenizer trained in code) learns
to count shapes on synthetic pictures. A supervised warm-up on reference answers
(R1-Reward's cold start) teaches the answer format and the count, but answers sampled
at temperature 1, as GRPO samples them, still come out malformed or wrong four times in
ten. GRPO with the installed ``format`` and ``math`` rewards, scored through the engine
inside TRL, moves the policy onto the rewarded answers. Answers sampled the same way on
pictures the run never trains on are scored before GRPO and after it, so the run says
whether what it learned holds beyond its training pictures. Every logged step prints each
reward's mean; at the end the output folder holds a plot of the rewards over steps and
the raw metrics (JSONL), and the last lines compare the first and the last logged steps.

Why counting: a model this small, trained from scratch, sees which of its image tokens
hold a shape (one shape per token here) but not where a token lies in the picture (its
rotary position frequencies for height and width are too low at this width), so
boxes are beyond it in minutes of CPU, and a count is not.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from .grpo import Say, TrainResult, train


FIRST_LAST = 5  # logged steps compared at the end


def demo_config(steps: int | None = None, sft_steps: int | None = None, seed: int | None = None) -> Any:
    """The embedded demo config (vlmr1/data/demo.yaml), validated like any user config.

    ``steps`` shortens GRPO (logging often enough for ten points where it can);
    ``seed`` changes the model's weights, the pictures and the sampling together.
    """
    from vlmr1.config import load_config

    with resources.as_file(resources.files("vlmr1") / "data" / "demo.yaml") as path:
        config = load_config(path)
    extra = dict(config.extra)
    if steps is not None:
        grpo = dict(extra.get("grpo", {}))
        every = max(1, min(int(grpo.get("logging_steps", 1)), steps // (2 * FIRST_LAST)))
        extra["grpo"] = {**grpo, "max_steps": steps, "logging_steps": every}
    if sft_steps is not None:
        extra["sft"] = {**extra.get("sft", {}), "max_steps": sft_steps}
    if seed is not None:
        data = dict(extra["data"])
        data["synthetic"] = {**data["synthetic"], "seed": seed}
        extra.update(seed=seed, model={**extra["model"], "seed": seed}, data=data)
    return replace(config, extra=extra)


@dataclass(frozen=True)
class Rise:
    """Mean total reward (and each reward's mean) of the first and the last ``k`` logged steps."""

    k: int
    first: float
    last: float
    rewards: dict[str, tuple[float, float]]

    @property
    def gain(self) -> float:
        return self.last - self.first

    def describe(self) -> str:
        parts = ", ".join(f"{name} {a:.2f} -> {b:.2f}" for name, (a, b) in self.rewards.items())
        return (f"total reward, mean of the first {self.k} logged steps {self.first:.3f} -> last {self.k} "
                f"{self.last:.3f} ({self.gain:+.3f}; {parts})")


def reward_rise(records: list[dict[str, Any]], k: int = FIRST_LAST) -> Rise | None:
    """First-k against last-k logged steps; None when fewer than 2k steps were logged."""
    if len(records) < 2 * k:
        return None
    mean = lambda rows, key: sum(float(r[key]) for r in rows) / len(rows)  # noqa: E731
    head, tail = records[:k], records[-k:]
    names = sorted({key for r in records for key in r if key.startswith("rewards/") and key.endswith("/mean")})
    rewards = {key[len("rewards/"):-len("/mean")]: (mean(head, key), mean(tail, key)) for key in names}
    return Rise(k, mean(head, "reward"), mean(tail, "reward"), rewards)


@dataclass
class DemoResult:
    out_dir: Path
    plot_path: Path
    metrics_path: Path
    seconds: float
    train: TrainResult
    rise: Rise | None = None
    held_out_before: Check | None = None
    held_out_after: Check | None = None


@dataclass(frozen=True)
class Check:
    """Answers sampled as GRPO samples them, on pictures the run never trained on."""

    reward: float    # mean weighted total, on the training reward's 0-1.5 scale
    format: float    # share well formed
    accuracy: float  # share with the right count


class HeldOut:
    """Scores the model on new pictures before GRPO starts and after it ends.

    The training curve is measured on the pictures GRPO trains on; this asks whether what
    it learned holds on pictures it never saw, sampled the same way (temperature, length)
    so the two numbers mean the same thing. Its random draws are forked off, so the run
    trains exactly as it would without the check.
    """

    def __init__(self, config: Any, n: int = 48, answers: int = 4) -> None:
        self.config = config
        data = dict(config.extra["data"]["synthetic"])
        self.spec = {**data, "n": n, "seed": int(data.get("seed", 0)) + 10_000}
        self.answers = answers
        grpo = config.extra.get("grpo") or {}
        self.sampling = {"temperature": float(grpo.get("temperature", 1.0)),
                         "max_new_tokens": int(grpo.get("max_completion_length", 32))}
        self.before: Check | None = None
        self.after: Check | None = None

    def callback(self) -> Any:
        from transformers import TrainerCallback

        outer = self

        class _Callback(TrainerCallback):
            def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None,
                               processing_class: Any = None, **kw: Any) -> None:
                outer.before = outer.check(model, processing_class)

            def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None,
                             processing_class: Any = None, **kw: Any) -> None:
                outer.after = outer.check(model, processing_class)

        return _Callback()

    def check(self, model: Any, processor: Any) -> Check:
        import torch
        from vlmr1.engine import Engine
        from vlmr1.registry import get_registry
        from vlmr1.trl import open_images, prompt_for

        from .build import template_chooser
        from .data import load_rows

        rows = load_rows({"synthetic": self.spec}, processor=processor)
        templates = template_chooser(self.config, get_registry())
        texts = []
        for row in rows:
            system, user = prompt_for(row, templates(row))
            user = {**user, "content": [{"type": "image"}, {"type": "text", "text": user["content"]}]}
            texts.append(processor.apply_chat_template([system, user], tokenize=False, add_generation_prompt=True))
        inputs = processor(text=texts, images=[open_images(r) for r in rows], return_tensors="pt", padding=True)
        was_training = model.training
        model.eval()
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(int(self.spec["seed"]))
            out = model.generate(**inputs.to(model.device), do_sample=True, top_k=0, top_p=1.0,
                                 num_return_sequences=self.answers, **self.sampling)
        model.train(was_training)
        answers = processor.batch_decode(out[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
        repeated = [row for row in rows for _ in range(self.answers)]  # generate keeps each prompt's answers together
        with Engine(self.config) as engine:
            result = engine.score([{**r, "completion": a} for r, a in zip(repeated, answers)])
        mean = lambda xs: sum(x or 0.0 for x in xs) / len(xs)  # noqa: E731
        accuracy = [name for name in result.columns if name != "format"][0]
        return Check(mean(result.total), mean(result.columns["format"]), mean(result.columns[accuracy]))

    def describe(self) -> str | None:
        if self.before is None or self.after is None:
            return None
        b, a = self.before, self.after
        return (f"{self.spec['n']} new pictures, {self.answers} answers each sampled as in training: reward "
                f"{b.reward:.3f} -> {a.reward:.3f} (well formed {b.format:.2f} -> {a.format:.2f}, "
                f"count right {b.accuracy:.2f} -> {a.accuracy:.2f})")


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The logged GRPO steps (records that carry a reward) of a metrics JSONL."""
    out = []
    for line in Path(path).read_text().splitlines():
        record = json.loads(line)
        if "reward" in record:
            out.append(record)
    return out


def plot_rewards(records: list[dict[str, Any]], path: str | Path, title: str = "vlmr1 demo") -> Path:
    """One line per reward (its batch mean) and the weighted total, over GRPO steps, with
    the first and last steps' mean total marked when there are enough of them."""
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
    rise = reward_rise(records)
    if rise is not None:
        for rows, value, where in ((records[:rise.k], rise.first, "first"), (records[-rise.k:], rise.last, "last")):
            ax.hlines(value, rows[0]["step"], rows[-1]["step"], colors="grey", linewidth=4, alpha=0.5)
            ax.annotate(f"{where} {rise.k}: {value:.2f}", (rows[0]["step"], value), textcoords="offset points",
                        xytext=(0, -14), fontsize=8, color="dimgrey", zorder=5,
                        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1})
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
             seed: int | None = None, say: Say = print) -> DemoResult:
    import os
    import warnings

    import torch
    from transformers.utils import logging as hf_logging

    start = time.perf_counter()
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    hf_logging.set_verbosity_error()
    if "OMP_NUM_THREADS" not in os.environ:
        # A model this small gains nothing from a second thread, and on a busy machine
        # torch's OpenMP threads wait on each other: a step took 4x longer with two.
        torch.set_num_threads(1)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    config = demo_config(steps, sft_steps, seed)
    say(f"vlmr1 demo -> {out_dir}")
    held_out = HeldOut(config)
    result = train(config, output_dir=out_dir, save_model=False, say=say, quiet=True, callbacks=(held_out.callback(),))
    records = read_metrics(result.metrics_path)
    plot = plot_rewards(records, out_dir / "rewards.png", title="vlmr1 demo: GRPO on a tiny Qwen2.5-VL counting shapes")
    seconds = time.perf_counter() - start
    rise = reward_rise(records)
    if rise is not None:
        say(f"{rise.describe()} in {seconds:.0f}s")
    elif records:
        first, last = records[0], records[-1]
        say(f"reward {first['reward']:.3f} (step {first['step']}) -> {last['reward']:.3f} (step {last['step']}) "
            f"in {seconds:.0f}s")
    if held_out.describe():
        say(held_out.describe())
    return DemoResult(out_dir, plot, result.metrics_path, seconds, result, rise, held_out.before, held_out.after)
