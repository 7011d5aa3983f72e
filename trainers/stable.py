"""StableReinforce (R1-Reward) on top of TRL's GRPOTrainer.

Two options, each off unless asked for, each a no-op when off:

* **Pre-CLIP**: the per-token log-ratio ``log pi_theta - log pi_old`` is clamped to
  ``[log_ratio_min, log_ratio_max]`` (default ``log(1e-3)..log(1e3)``) *before* ``exp``.
  A token whose probability moved by more than a factor of 1000 then contributes a
  bounded ratio and no gradient, instead of an overflowing ``exp`` that the PPO
  clip cannot catch when the advantage is negative (``-min(r*A, clip(r)*A)`` picks
  ``r*A`` there). This is R1-Reward's ``PolicyLoss``:
  ``log_diff = clamp(log_probs - old_log_probs, log(1e-3), log(1e3)); ratio = exp(log_diff)``.
* **Advantage filter**: advantages with ``|a - mean| > sigma * std`` are set to zero,
  where mean and (population) std are taken over the *whole* gathered batch, every
  process's completions together, exactly the tensor TRL normalised before it kept
  its own process's slice. A filter computed per process would judge the same
  completion differently depending on which GPU it landed on.

How it hooks into TRL (the smallest surface we found):

* ``_generate_and_score_completions``: after TRL has computed and sliced the
  advantages, the local slices are gathered back (``accelerator.gather`` returns
  them in process order, which is exactly TRL's pre-slice tensor), the keep-mask is
  computed on that and applied to the local slice.
* ``_compute_loss``: TRL computes ``log_ratio = per_token_logps - old_per_token_logps``
  inline. We hand it ``old_per_token_logps`` wrapped in a tensor subclass whose
  ``__torch_function__`` clamps the result of that one subtraction (the wrapped tensor
  as subtrahend); every other use of the tensor sees plain values. When TRL has no
  ``old_per_token_logps`` (one policy update per generation, fully on-policy) the
  log-ratio is identically zero and Pre-CLIP has nothing to do.

Where this differs from R1-Reward's code (OpenRLHF ``ReplayBuffer.normalize``):
R1-Reward first whitens token-level advantages over the buffer (``(a - mean) / std``)
and then zeroes values outside ``mean ± 3`` (the raw mean, not zero; the same thing
for group-centred advantages whose mean is ~0) and outside ``±10``. Here TRL's
advantages are already group-normalised per sequence, so we do not whiten again; we
zero sequences whose advantage is more than ``sigma`` standard deviations from the
batch mean, with mean and std over sequences (R1-Reward weights them by token count).
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from trl import GRPOTrainer

from .settings import StableReinforceOptions

__all__ = [
    "StableReinforceOptions",
    "StableReinforceTrainer",
    "sigma_keep_mask",
    "filter_local_advantages",
    "pre_clipped",
]


# -- the advantage filter ----------------------------------------------------------------


def sigma_keep_mask(advantages: torch.Tensor, sigma: float) -> torch.Tensor:
    """True where ``|a - mean| <= sigma * std`` over all of ``advantages``.

    std is the population std (divide by N), as in R1-Reward. When every advantage is
    equal the std is 0 and nothing is an outlier.
    """
    values = advantages.double()
    mean = values.mean()
    std = values.std(correction=0)
    return (values - mean).abs() <= sigma * std


def filter_local_advantages(
    local: torch.Tensor, gathered: torch.Tensor, process_index: int, sigma: float
) -> tuple[torch.Tensor, int]:
    """Zero this process's outliers, judged against the gathered batch.

    ``gathered`` is every process's slice in process order; this process's slice
    starts at ``process_index * len(local)``. Returns the filtered local advantages
    (kept values untouched, bit for bit) and how many were zeroed in the whole batch.
    """
    keep = sigma_keep_mask(gathered, sigma)
    n = local.shape[0]
    start = process_index * n
    local_keep = keep[start : start + n].to(local.device)
    if local_keep.dim() < local.dim():
        local_keep = local_keep.view(-1, *([1] * (local.dim() - 1)))
    filtered = torch.where(local_keep, local, torch.zeros_like(local))
    return filtered, int((~keep).sum().item())


# -- Pre-CLIP ----------------------------------------------------------------------------

_SUBTRACT = {torch.Tensor.__sub__, torch.Tensor.sub, torch.sub}


class _PreClippedOld(torch.Tensor):
    """``old_per_token_logps`` that clamps ``x - self`` to its bounds.

    Only the subtraction with this tensor as the subtrahend (how TRL forms the
    log-ratio) is clamped; any other operation returns ordinary tensors.
    """

    _vlmr1_bounds: tuple[float, float]

    @classmethod
    def __torch_function__(cls, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        bounds = next(a._vlmr1_bounds for a in args if isinstance(a, cls))
        with torch._C.DisableTorchFunctionSubclass():
            out = func(*args, **kwargs)
        if func in _SUBTRACT and len(args) == 2 and isinstance(args[1], cls) and not isinstance(args[0], cls):
            out = torch.clamp(out, bounds[0], bounds[1])
        elif func is torch.Tensor.__rsub__ and isinstance(args[0], cls):
            out = torch.clamp(out, bounds[0], bounds[1])
        return out


def pre_clipped(old_per_token_logps: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """Wrap ``old_per_token_logps`` so that ``logps - old`` comes out clamped to [low, high]."""
    wrapped = old_per_token_logps.as_subclass(_PreClippedOld)
    wrapped._vlmr1_bounds = (float(low), float(high))
    return wrapped


# -- the trainer -------------------------------------------------------------------------


class StableReinforceTrainer(GRPOTrainer):
    """GRPOTrainer with R1-Reward's Pre-CLIP and advantage filter (see module doc).

    ``stable_reinforce`` takes a :class:`StableReinforceOptions` or the config mapping.
    With both options off it is GRPOTrainer, bit for bit.
    """

    def __init__(self, *args: Any, stable_reinforce: StableReinforceOptions | Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        if not isinstance(stable_reinforce, StableReinforceOptions):
            stable_reinforce = StableReinforceOptions.from_mapping(stable_reinforce)
        self.stable_reinforce = stable_reinforce
        super().__init__(*args, **kwargs)

    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        output = super()._generate_and_score_completions(inputs)
        options = self.stable_reinforce
        if not options.advantage_filter:
            return output
        local = output["advantages"]
        gathered = self.accelerator.gather(local)
        filtered, zeroed = filter_local_advantages(
            local, gathered, self.accelerator.process_index, options.advantage_sigma
        )
        output["advantages"] = filtered
        mode = "train" if self.model.training else "eval"
        self._metrics[mode]["stable_reinforce/filtered_frac"].append(zeroed / max(1, gathered.shape[0]))
        return output

    def _compute_loss(self, model: Any, inputs: dict[str, Any]) -> torch.Tensor:
        options = self.stable_reinforce
        old = inputs.get("old_per_token_logps")
        if options.pre_clip and old is not None:
            inputs = dict(inputs)
            inputs["old_per_token_logps"] = pre_clipped(old, options.log_ratio_min, options.log_ratio_max)
        return super()._compute_loss(model, inputs)
