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
    value) and are left out when every score is None. ``none`` counts None scores of any
    cause; ``errors`` counts failures other than timeouts (exceptions, crashes, memory,
    bad gold, invalid verdicts); ``timeouts`` counts items that ran out of time.
    """
    values = [v.score for v in verdicts if v.score is not None]
    out: dict[str, float] = {}
    prefix = f"rewards/{name}/"
    if values:
        mean = sum(values) / len(values)
        out[prefix + "mean"] = mean
        if len(values) > 1:
            out[prefix + "std"] = math.sqrt(sum((x - mean) ** 2 for x in values) / (len(values) - 1))
        else:
            out[prefix + "std"] = 0.0
    kinds = [failure_kind(v) for v in verdicts]
    out[prefix + "none"] = float(len(verdicts) - len(values))
    out[prefix + "timeouts"] = float(sum(k == "timeout" for k in kinds))
    out[prefix + "errors"] = float(sum(k is not None and k != "timeout" for k in kinds))
    if latency_ms is not None:
        out[prefix + "latency_ms"] = latency_ms
    return out


def weighted_total(columns: Mapping[str, Sequence[float | None]], weights: Mapping[str, float], n: int) -> list[float | None]:
    """sum(weight * score) over a row's non-None columns (TRL's ``nansum``); None when every
    weighted column is None (a weight-0 input of a formula does not make a total)."""
    total: list[float | None] = []
    for i in range(n):
        acc, seen = 0.0, False
        for name, col in columns.items():
            value = col[i]
            if value is not None and weights[name] != 0:
                acc += weights[name] * value
                seen = True
        total.append(acc if seen else None)
    return total
