"""A short supervised warm-up before GRPO (R1-Reward's cold start).

A freshly initialised or lightly tuned model rarely writes the answer format at
all, so every completion gets format 0 and accuracy 0, every group has zero reward
variance and GRPO has no gradient. A few supervised steps on format-correct
reference answers fix that; GRPO then improves the content.

This is TRL's SFTTrainer on prompt/completion rows (loss on the completion only),
with the same prompts and images GRPO will use. The ``sft:`` block of the config is
passed to ``trl.SFTConfig``, except ``answer`` (the row column holding the reference
answer, default ``answer``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

from transformers import TrainerCallback

from vlmr1.errors import ConfigError

from vlmr1.trl import prompt_for, trl_dataset

from .metrics import make_quiet
from .runtime import Runtime, Say
from .settings import SftSettings, check_trl_options

OWN_KEYS = ("answer",)


def sft_config(user: Mapping[str, Any] | None, *, output_dir: str, runtime: Runtime, seed: int | None = None) -> Any:
    """trl.SFTConfig from the ``sft:`` block with warm-up defaults (short, high learning rate)."""
    from trl import SFTConfig

    user = {k: v for k, v in check_trl_options("sft", user, "SFTConfig", own=OWN_KEYS).items() if k not in OWN_KEYS}
    args: dict[str, Any] = dict(
        output_dir=output_dir, max_steps=20, learning_rate=1e-3, lr_scheduler_type="constant",
        per_device_train_batch_size=8, logging_steps=5, report_to="none", save_strategy="no",
        remove_unused_columns=False, activation_checkpointing=runtime.device != "cpu",
    )
    if seed is not None:
        args["seed"] = seed
    args.update(user)
    if "gradient_checkpointing" in args:
        args["activation_checkpointing"] = args.pop("gradient_checkpointing")
    args["bf16"] = runtime.bf16
    if runtime.device == "cpu":
        args["use_cpu"], args["fp16"] = True, False
    try:
        return SFTConfig(**args)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"sft: trl.SFTConfig rejected these settings: {exc}") from None


def sft_rows(rows: list[Mapping[str, Any]], answer: str) -> list[dict[str, Any]]:
    """Rows with a reference answer, as prompt/completion pairs."""
    out = []
    for row in rows:
        text = row.get(answer)
        if text is None:
            continue
        out.append({**row, "completion": [{"role": "assistant", "content": str(text)}]})
    if not out:
        raise ConfigError(f"sft: no row has a {answer!r} column to learn from. Set `sft.answer` to the column "
                          "that holds a format-correct reference answer, or remove the `sft:` block.")
    return out


class LossPrinter(TrainerCallback):
    """One line per logged warm-up step."""

    def __init__(self, say: Say, total: int) -> None:
        self.say, self.total = say, total

    def on_log(self, args: Any, state: Any, control: Any, logs: Mapping[str, Any] | None = None, **kw: Any) -> None:
        if logs and "loss" in logs and state.is_world_process_zero:
            acc = logs.get("mean_token_accuracy")
            extra = f"  token accuracy {acc:.2f}" if acc is not None else ""
            self.say(f"warm-up {state.global_step:>3}/{self.total}  loss {logs['loss']:.3f}{extra}")


def warm_up(
    model: Any,
    processor: Any,
    rows: list[Mapping[str, Any]],
    user: SftSettings | Mapping[str, Any] | None,
    *,
    templates: Callable[[Mapping[str, Any]], Any],
    runtime: Runtime,
    output_dir: str | Path,
    seed: int | None = None,
    args: Any = None,
    say: Say = print,
    quiet: bool = False,
) -> list[dict[str, Any]]:
    """Train ``model`` in place on the reference answers; returns TRL's log history.

    ``user`` is the ``sft:`` block; ``args``, when given, the ``SFTConfig`` already built from it.
    """
    from trl import SFTTrainer

    if not isinstance(user, SftSettings):
        user = dict(user or {})
        user = SftSettings(str(user.pop("answer", "answer")), user)
    data = sft_rows(rows, user.answer)
    if args is None:
        args = sft_config(user.options, output_dir=str(output_dir), runtime=runtime, seed=seed)
    if args.max_steps == 0:
        return []
    if any(row.get("image") for row in data):
        dataset = trl_dataset(data, templates, samples=False)  # images open lazily; TRL's vision collator reads it
    else:  # text only: SFTTrainer tokenizes the dataset itself, which needs plain columns
        from datasets import Dataset

        dataset = Dataset.from_list([{"prompt": prompt_for(row, templates(row)), "completion": row["completion"]}
                                     for row in data])
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=processor,
                         callbacks=[LossPrinter(say, args.max_steps)])
    if quiet:
        make_quiet(trainer)
    say(f"supervised warm-up: {args.max_steps} steps on {len(data)} reference answers")
    trainer.train()
    return [h for h in trainer.state.log_history if "loss" in h]
