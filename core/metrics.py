"""Per-batch numbers the engine reports, keyed the way TRL keys its own logs
(``rewards/<name>/mean``), so they can be logged beside TRL's without renaming."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from .types import Verdict

__all__ = ["column_metrics", "failure_kind", "weighted_total"]


def failure_kind(verdict: Verdict) -> str | None:
    """"timeout", "crashed", "memory" or "error" when the engine (not the reward) produced
    this verdict because scoring failed; None for a real verdict."""
    details = verdict.details
    return details.get("failure") if isinstance(details, Mapping) else None


def column_metrics(name: str, verdicts: Sequence[Verdict], latency_ms: float | None) -> dict[str, float]:
    """``rewards/<name>/{mean,std,none,errors,timeouts,latency_ms}`` for one column.

    mean/std are over the non-None scores (std unbiased, as TRL's ``nanstd``; 0 for one
    value) and are left out when every score is None (or they are not finite, which the
    engine's score bound rules out). ``none`` counts None scores of any
    cause; ``errors`` counts failures other than timeouts (exceptions, crashes, memory,
    bad gold, invalid verdicts); ``timeouts`` counts items that ran out of time.
    """
    values = [v.score for v in verdicts if v.score is not None]
    out: dict[str, float] = {}
    prefix = f"rewards/{name}/"
    if values:
        mean, std = _mean_std(values)
        if math.isfinite(mean) and math.isfinite(std):
            out[prefix + "mean"], out[prefix + "std"] = mean, std
    kinds = [failure_kind(v) for v in verdicts]
    out[prefix + "none"] = float(len(verdicts) - len(values))
    out[prefix + "timeouts"] = float(sum(k == "timeout" for k in kinds))
    out[prefix + "errors"] = float(sum(k is not None and k != "timeout" for k in kinds))
    if latency_ms is not None:
        out[prefix + "latency_ms"] = latency_ms
    return out


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and unbiased std that do not overflow for any finite values: deviations are
    scaled by the largest one before squaring (a plain sum of squares is inf past ~1e154)."""
    n = len(values)
    try:
        mean = math.fsum(values) / n
    except OverflowError:
        mean = math.fsum(x / n for x in values)
    if n < 2:
        return mean, 0.0
    deviations = [x - mean for x in values]
    scale = max(abs(d) for d in deviations)
    if scale == 0.0 or not math.isfinite(scale):
        return mean, 0.0 if scale == 0.0 else math.inf
    return mean, scale * math.sqrt(math.fsum((d / scale) ** 2 for d in deviations) / (n - 1))


def weighted_total(columns: Mapping[str, Sequence[float | None]], weights: Mapping[str, float], n: int) -> list[float | None]:
    """sum(weight * score) over a row's non-None columns (TRL's ``nansum``); None when every
    weighted column is None (a weight-0 input of a formula does not make a total), or when
    the sum is not a finite number (absurd weights)."""
    total: list[float | None] = []
    for i in range(n):
        acc, seen = 0.0, False
        for name, col in columns.items():
            value = col[i]
            if value is not None and weights[name] != 0:
                acc += weights[name] * value
                seen = True
        total.append(acc if seen and math.isfinite(acc) else None)
    return total
