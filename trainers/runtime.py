"""Where training runs and how: device, precision, attention kernel, the model, GRPOConfig.

Every choice made for the user (bf16 on a GPU, fp32 on CPU, sdpa when flash-attention
is missing) is said once, in plain words, so a run never silently differs from the
config that asked for it.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from vlmr1.errors import ConfigError

from .settings import Located, ModelSettings, check_trl_options

DEEPSPEED_DIR = Path(__file__).parent / "deepspeed"
Say = Callable[[str], None]


@dataclass
class Runtime:
    """The device and numeric settings a run uses, and why."""

    device: str
    bf16: bool
    attn_implementation: str | None
    notes: list[str] = field(default_factory=list)

    @property
    def torch_dtype(self) -> Any:
        import torch

        return torch.bfloat16 if self.bf16 else torch.float32


def resolve_runtime(model_cfg: ModelSettings | Mapping[str, Any] | None, say: Say | None = None) -> Runtime:
    """bf16 on a GPU that supports it, fp32 on CPU; flash-attention only when installed."""
    import torch

    model = model_cfg if isinstance(model_cfg, ModelSettings) else ModelSettings(**{
        k: v for k, v in dict(model_cfg or {}).items() if k in ("dtype", "attn_implementation")})
    notes: list[str] = []
    cuda = torch.cuda.is_available()
    dtype = str(model.dtype or "auto")
    if cuda:
        bf16 = dtype in ("auto", "bfloat16", "bf16") and torch.cuda.is_bf16_supported()
        if dtype in ("auto", "bfloat16", "bf16") and not bf16:
            notes.append("this GPU has no bf16 support: training in float32.")
    else:
        bf16 = False
        if dtype in ("bfloat16", "bf16"):
            notes.append("no GPU found: training in float32 on CPU instead of the requested bfloat16.")
        else:
            notes.append("no GPU found: training in float32 on CPU (a GPU run uses bf16 automatically).")
    attn = model.attn_implementation
    if attn == "flash_attention_2":
        if importlib.util.find_spec("flash_attn") is None:
            notes.append("flash-attention was requested but is not installed: using sdpa. "
                         "On a CUDA machine, `pip install 'vlmr1[gpu]'` (or `pip install flash-attn`) enables it.")
            attn = "sdpa"
        elif not cuda:
            notes.append("flash-attention needs a CUDA GPU: using sdpa on CPU.")
            attn = "sdpa"
    runtime = Runtime("cuda" if cuda else "cpu", bf16, attn, notes)
    for note in notes:
        (say or print)(note)
    return runtime


def deepspeed_config_path(name: str) -> str:
    """``zero2`` / ``zero3`` name the configs shipped with vlmr1; anything else is a path."""
    if name in ("zero2", "zero3"):
        return str(DEEPSPEED_DIR / f"{name}.json")
    return name


def check_grpo_keys(user: Mapping[str, Any] | None, at: Located = Located()) -> dict[str, Any]:
    """Every ``grpo:`` key must be a trl.GRPOConfig field (numbers written as text become numbers)."""
    return check_trl_options("grpo", user, "GRPOConfig", at)


def grpo_config(
    user: Mapping[str, Any] | None,
    *,
    output_dir: str,
    runtime: Runtime,
    reward_weights: list[float] | None = None,
    seed: int | None = None,
    label: str = "grpo",
) -> Any:
    """TRL's GRPOConfig from the ``grpo:`` block, with the defaults a vlmr1 run wants.

    The user's keys win, except precision on CPU (fp32 there, said once by
    :func:`resolve_runtime`). Unknown keys are errors that suggest the nearest name
    (:class:`~vlmr1.trainers.settings.TrainSettings` checks them with their lines before
    this runs); ``label`` starts the messages of the errors found here.
    """
    from trl import GRPOConfig

    user = check_grpo_keys(user)
    if user.get("deepspeed"):
        if importlib.util.find_spec("deepspeed") is None:
            raise ConfigError(f"{label}: DeepSpeed is not installed. `pip install deepspeed` (or "
                              "'vlmr1[gpu]') on the GPU machines, or remove `deepspeed` for plain DDP.")
        if runtime.device == "cpu":
            raise ConfigError(f"{label}: DeepSpeed ZeRO needs GPUs and none was found; remove "
                              "`deepspeed` to train on CPU.")
        if isinstance(user["deepspeed"], str):
            user["deepspeed"] = deepspeed_config_path(user["deepspeed"])
    defaults: dict[str, Any] = dict(
        output_dir=output_dir,
        report_to="none",
        logging_steps=1,
        save_strategy="no",
        remove_unused_columns=False,
        activation_checkpointing=runtime.device != "cpu",
    )
    if reward_weights is not None:
        defaults["reward_weights"] = list(reward_weights)
    if seed is not None:
        defaults["seed"] = seed
    args = {**defaults, **user}
    if "gradient_checkpointing" in args:  # the name transformers is retiring
        args["activation_checkpointing"] = args.pop("gradient_checkpointing")
    args["bf16"] = runtime.bf16 and bool(user.get("bf16", True))
    if runtime.device == "cpu":
        args["use_cpu"] = True
        args["fp16"] = False
    try:
        return GRPOConfig(**args)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{label}: trl.GRPOConfig rejected these settings: {exc}") from None


# -- model -------------------------------------------------------------------------------


def load_model(model_cfg: ModelSettings | Mapping[str, Any], runtime: Runtime) -> tuple[Any, Any]:
    """(model, processor) from ``model.path``, or a tiny offline model for ``model.tiny``."""
    from vlmr1.trainers import tiny

    model_cfg = ModelSettings.parse(model_cfg)
    if model_cfg.tiny:
        model, processor = tiny.build(model_cfg.tiny, seed=int(model_cfg.seed), sizes=tiny.sizes_from(model_cfg.sizes))
        model = model.to(runtime.torch_dtype)
        if runtime.attn_implementation:
            model.set_attn_implementation(runtime.attn_implementation)
        return model, processor
    path = str(model_cfg.path)
    if tiny.is_tiny_dir(path):  # its processor has no video part, so AutoProcessor cannot load it
        return tiny.load_tiny(path, dtype=runtime.torch_dtype, attn_implementation=runtime.attn_implementation)
    import transformers

    processor = transformers.AutoProcessor.from_pretrained(path, padding_side="left")
    config = transformers.AutoConfig.from_pretrained(path)
    vision = hasattr(config, "vision_config")
    auto = transformers.AutoModelForImageTextToText if vision else transformers.AutoModelForCausalLM
    kwargs: dict[str, Any] = {"dtype": runtime.torch_dtype}
    if runtime.attn_implementation:
        kwargs["attn_implementation"] = runtime.attn_implementation
    model = auto.from_pretrained(path, **kwargs)
    return model, processor
