"""Verdicts the engine makes when a reward gave none, and the check every reward's
return value goes through (a Verdict, with a finite number or None as its score)."""

from __future__ import annotations

import math
import numbers
from dataclasses import replace
from typing import Any

from .pool import failure_reason
from .types import Verdict

__all__ = ["checked", "failed", "from_exception"]


def failed(kind: str, reason: str, **details: Any) -> Verdict:
    """No score, because scoring failed; ``details["failure"]`` is what the metrics count."""
    return Verdict(None, reason, details={"failure": kind, **details})


def from_exception(exc: Any, prefix: str = "", **extra: Any) -> Verdict:
    """The failure verdict for an exception, a timeout, a dead worker or an ItemError."""
    reason, details = failure_reason(exc)
    kind = reason if reason in ("timeout", "crashed", "memory") else "error"
    if reason == "crashed" and "signal" in details:
        reason = f"crashed: {details['signal']}"
    elif reason == "crashed" and details.get("exitcode") is not None:
        reason = f"crashed: exit {details['exitcode']}"
    return failed(kind, prefix + reason, **details, **extra)


def checked(value: Any) -> Verdict:
    """A reward's return value as a valid Verdict, or a failure verdict saying what was wrong."""
    if not isinstance(value, Verdict):
        return failed("error", f"error: reward returned {type(value).__name__}, not a Verdict")
    score = value.score
    if score is None:
        return value
    if not isinstance(score, numbers.Real):
        return failed("error", f"error: score {score!r} is not a number")
    number = float(score)
    if not math.isfinite(number):
        return failed("error", f"error: non-finite score {number}")
    return value if type(score) is float else replace(value, score=number)
