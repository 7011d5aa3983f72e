"""What a training run reports: a metrics JSONL, one line per step, and a closing summary.

TRL already logs ``rewards/<name>/mean`` for every reward function to whatever
``report_to`` names; these callbacks add a file anyone can read back (the demo plots
it) and a terminal line per step, and :func:`run_summary` turns the log into the
numbers a benchmark wants: seconds per step, the rewards' share of it, peak GPU memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

from transformers import TrainerCallback

Say = Callable[[str], None]


class MetricsLog(TrainerCallback):
    """Appends every TRL log (``rewards/<name>/mean`` included) to a JSONL file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("")

    def on_log(self, args: Any, state: Any, control: Any, logs: Mapping[str, Any] | None = None, **kw: Any) -> None:
        import json

        if not logs or not state.is_world_process_zero:
            return
        record = {"step": state.global_step, **{k: v for k, v in logs.items() if isinstance(v, (int, float, str))}}
        with self.path.open("a") as fh:
            fh.write(json.dumps(record) + "\n")


class RewardPrinter(TrainerCallback):
    """One line per logged step: the total reward and each reward's mean."""

    def __init__(self, say: Say) -> None:
        self.say = say

    def on_log(self, args: Any, state: Any, control: Any, logs: Mapping[str, Any] | None = None, **kw: Any) -> None:
        if not logs or "reward" not in logs or not state.is_world_process_zero:
            return
        parts = [f"step {state.global_step:>3}", f"reward {_number(logs['reward'])}"]
        for key, value in logs.items():
            if key.startswith("rewards/") and key.endswith("/mean"):
                parts.append(f"{key[len('rewards/'):-len('/mean')]} {_number(value)}")
        if "step_time" in logs:
            rewards = f" (rewards {logs['timing/rewards_s']:.2f}s)" if "timing/rewards_s" in logs else ""
            parts.append(f"{logs['step_time']:.2f}s/step{rewards}")
        self.say("  ".join(parts))


def make_quiet(trainer: Any) -> None:
    """No progress bar and no raw log dicts: our one-line-per-step printer is enough."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)


def _number(value: Any) -> str:
    """A reward mean for the terminal; a column that applied to no row this step has none."""
    import math

    if isinstance(value, (int, float)) and math.isfinite(value):
        return f"{value:.3f}"
    return "n/a"


def run_summary(log_history: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Step time, the rewards' share of it and peak GPU memory over a run's GRPO steps.

    ``step_time`` is TRL's (generation, reward call, loss and update of one optimizer
    step); ``timing/rewards_s`` the time inside the reward call; the first step is
    reported apart because it includes warm-up work (allocations, compilation).
    """
    steps = [h for h in log_history if "step_time" in h and "reward" in h]
    if not steps:
        return {"steps": 0}
    times = [float(h["step_time"]) for h in steps]
    rewards = [float(h.get("timing/rewards_s", 0.0)) for h in steps]
    later = times[1:] or times
    out: dict[str, Any] = {
        "steps": len(steps),
        "first_step_s": times[0],
        "mean_step_s": sum(later) / len(later),
        "rewards_s_per_step": sum(rewards) / len(rewards),
        "rewards_share": sum(rewards) / sum(times) if sum(times) > 0 else 0.0,
    }
    memory = [float(h["memory/max_allocated_gib"]) for h in steps if "memory/max_allocated_gib" in h]
    if memory:
        out["peak_gpu_memory_gib"] = max(memory)
    return out


def describe_summary(summary: Mapping[str, Any]) -> str:
    if not summary.get("steps"):
        return "no GRPO step was logged"
    text = (f"{summary['steps']} steps: first {summary['first_step_s']:.2f}s, then {summary['mean_step_s']:.2f}s/step; "
            f"rewards {summary['rewards_s_per_step']:.3f}s/step ({100 * summary['rewards_share']:.2f}% of step time)")
    if "peak_gpu_memory_gib" in summary:
        text += f"; peak GPU memory {summary['peak_gpu_memory_gib']:.2f} GiB"
    return text
