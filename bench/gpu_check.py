"""What a CPU cannot show, checked on one GPU in at most eight minutes; one table out.

    bench/gpu_check.sh [--dry-run] [--model PATH] [--steps N] [--out DIR] [--budget-s 480]

Each check is a real `vlmr1 train` process (DeepSpeed ones under `accelerate launch`)
on synthetic grounding and counting rows with the `format`, `iou` and `math` rewards;
its numbers come from the run's own metrics file (TRL's `step_time`, the trainer's
`timing/rewards_s` and `memory/max_allocated_gib`):

  bf16 GRPO (sdpa)       bf16 steps with PyTorch attention
  bf16 GRPO (flash-attn) the same with flash-attention 2, when flash_attn is installed
  DeepSpeed ZeRO-2       accelerate launch with the shipped zero2 configs, one process
  DeepSpeed ZeRO-3       the same with zero3

The model is built in code (a Qwen2.5-VL of about 40M parameters, no download) unless
`--model` names a local model folder. Without a CUDA GPU, or with `--dry-run`, the
first check runs one fp32 step of the small test model on the CPU (the plumbing end
to end: config, training process, metrics, table) and the others say why they were
skipped. Exit status 1 when a check that ran failed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# A model big enough for the GPU to have work, small enough to build in seconds.
BENCH_SIZES = dict(hidden_size=512, intermediate_size=1408, num_hidden_layers=8, num_attention_heads=8,
                   num_key_value_heads=4, vision_depth=4, vision_width=256, vision_heads=4,
                   max_pixels=28 * 28 * 64)


@dataclass
class Check:
    name: str
    attn: str | None = None
    zero: str | None = None
    skip: str | None = None


@dataclass
class Row:
    check: str
    result: str
    summary: dict[str, Any] = field(default_factory=dict)
    log: Path | None = None


def cuda_device() -> str | None:
    """The GPU's name, or None when torch sees no CUDA device."""
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def plan(dry_run: bool, cuda: bool) -> list[Check]:
    """The four checks, each with the reason it cannot run here (None when it can)."""

    def why_not(package: str | None) -> str | None:
        if not cuda:
            return "no CUDA GPU"
        if dry_run:
            return "dry run"
        if package and importlib.util.find_spec(package) is None:
            return f"{package} not installed (pip install 'vlmr1[gpu]')"
        return None

    first = "bf16 GRPO (sdpa)" if cuda and not dry_run else "fp32 GRPO on CPU (dry run)"
    return [
        Check(first),
        Check("bf16 GRPO (flash-attn 2)", attn="flash_attention_2", skip=why_not("flash_attn")),
        Check("DeepSpeed ZeRO-2", zero="zero2", skip=why_not("deepspeed")),
        Check("DeepSpeed ZeRO-3", zero="zero3", skip=why_not("deepspeed")),
    ]


def write_config(out: Path, check: Check, args: argparse.Namespace, gpu: bool) -> Path:
    """The run's config: synthetic rows, three rewards, a few GRPO steps."""
    import yaml

    if args.model:
        model: dict[str, Any] = {"path": str(Path(args.model).resolve())}
    else:
        model = {"tiny": "qwen2.5-vl", **({"sizes": BENCH_SIZES} if gpu else {})}
    if check.attn:
        model["attn_implementation"] = check.attn
    steps = args.steps if gpu else 1
    grpo = {"max_steps": steps, "per_device_train_batch_size": 16 if gpu else 4, "num_generations": 8 if gpu else 2,
            "max_completion_length": 128 if gpu else 16, "learning_rate": 1e-5}
    config = {
        "task": "rec", "model": model,
        "data": {"synthetic": {"n": 64 if gpu else 8, "seed": 0, "tasks": ["rec", "counting"], "dir": str(out / "data")}},
        "rewards": [{"name": "format", "weight": 0.5}, {"name": "iou", "weight": 1.0}, {"name": "math", "weight": 1.0}],
        "engine": {"workers": 2, "timeout": 10},
        "grpo": grpo, "seed": 0,
    }
    path = out / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def command(check: Check, config: Path, out: Path) -> list[str]:
    train = ["-m", "vlmr1.cli", "train", str(config), "-o", str(out)]
    if not check.zero:
        return [sys.executable, *train]
    from vlmr1.trainers.runtime import DEEPSPEED_DIR as ds  # shipped inside the package, found in a wheel too
    return [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(ds / f"accelerate_{check.zero}.yaml"),
            "--deepspeed_config_file", str(ds / f"{check.zero}.json"), "--num_processes", "1", *train]


def run_check(check: Check, args: argparse.Namespace, gpu: bool, deadline: float) -> Row:
    """One training process with a timeout; its metrics become a row."""
    if check.skip:
        return Row(check.name, f"skipped: {check.skip}")
    out = Path(args.out) / check.name.split(" (")[0].replace(" ", "_").lower() / (check.attn or check.zero or "sdpa")
    out.mkdir(parents=True, exist_ok=True)
    config = write_config(out, check, args, gpu)
    log = out / "log.txt"
    budget = deadline - time.monotonic()
    if budget < 30:
        return Row(check.name, "skipped: out of time (raise --budget-s)")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    with log.open("w") as fh:
        proc = subprocess.Popen(command(check, config, out), stdout=fh, stderr=subprocess.STDOUT, env=env,
                                cwd=out, start_new_session=True)
        try:
            rc = proc.wait(timeout=min(budget, args.per_check_s))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return Row(check.name, f"failed: timed out after {min(budget, args.per_check_s):.0f}s", log=log)
    if rc != 0:
        tail = [line for line in log.read_text(errors="replace").splitlines() if line.strip()][-1:] or ["(no output)"]
        return Row(check.name, f"failed (exit {rc}): {tail[0][:120]}", log=log)
    from vlmr1.trainers.metrics import run_summary

    history = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
    summary = run_summary(history)
    if not summary.get("steps"):
        return Row(check.name, "failed: no GRPO step was logged", log=log)
    text = log.read_text(errors="replace")
    fell_back = next((line for line in text.splitlines() if "using sdpa" in line), None)
    return Row(check.name, f"ok, but {fell_back.strip()}" if fell_back else "ok", summary, log)


def _cell(summary: dict[str, Any], key: str, fmt: str, scale: float = 1.0) -> str:
    return format(summary[key] * scale, fmt) if key in summary else "-"


def table(rows: list[Row]) -> str:
    """A Markdown table, ready for docs/benchmarks.md."""
    head = ["check", "result", "steps", "first step s", "s/step", "rewards s/step", "rewards share", "peak GPU GiB"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        s = row.summary
        cells = [row.check, row.result, str(s.get("steps", "-")), _cell(s, "first_step_s", ".2f"),
                 _cell(s, "mean_step_s", ".2f"), _cell(s, "rewards_s_per_step", ".3f"),
                 _cell(s, "rewards_share", ".1f", 100) + ("%" if "rewards_share" in s else ""),
                 _cell(s, "peak_gpu_memory_gib", ".2f")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for name in ("torch", "transformers", "trl", "accelerate", "deepspeed", "flash-attn"):
        try:
            parts.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            pass
    return ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true", help="check the plumbing on CPU: one step, tiny model")
    ap.add_argument("--model", help="a local model folder (default: a model built in code)")
    ap.add_argument("--steps", type=int, default=6, help="GRPO steps per check on a GPU (the first is reported apart)")
    ap.add_argument("--out", default="runs/gpu_check", help="where configs, logs and metrics go")
    ap.add_argument("--budget-s", type=float, default=480, help="stop starting checks after this many seconds")
    ap.add_argument("--per-check-s", type=float, default=150, help="time limit of one check")
    args = ap.parse_args(argv)
    started = time.monotonic()
    device = cuda_device()
    gpu = device is not None and not args.dry_run
    print(f"device: {device or 'no CUDA GPU'}{' (dry run)' if not gpu else ''}; {versions()}", flush=True)
    rows = []
    for check in plan(args.dry_run or device is None, device is not None):
        row = run_check(check, args, gpu, started + args.budget_s)
        print(f"{row.check}: {row.result}" + (f" (log: {row.log})" if row.log and row.result != "ok" else ""), flush=True)
        rows.append(row)
    print()
    print(table(rows))
    print(f"\ntotal {time.monotonic() - started:.0f}s")
    return 1 if any(r.result.startswith("failed") for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
