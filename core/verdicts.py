"""Verdicts the engine makes when a reward gave none, and the check every reward's
return value goes through: a Verdict, whose score is None or a finite float no larger
than ``MAX_SCORE`` in size, and whose reason is text that any UTF-8 writer can write."""

from __future__ import annotations

import math
import numbers
from dataclasses import replace
from typing import Any

from .pool import failure_reason
from .types import Verdict

__all__ = ["MAX_SCORE", "checked", "clean_text", "failed", "from_exception"]

# Larger scores are a plugin bug, not a reward: bounding them keeps every sum, mean and
# std the engine and TRL compute finite (1e154 squared is already past a float).
MAX_SCORE = 1e9
MAX_REASON = 1000  # characters; a reason is a short label, not a log


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
    return failed(kind, clean_text(prefix + reason), **details, **extra)


def clean_text(text: Any, limit: int = MAX_REASON) -> str:
    """``text`` as a str that encodes to UTF-8 (lone surrogates become ``\\udXXX``), at most ``limit`` long."""
    if not isinstance(text, str):
        text = str(text)
    if not text.isascii():
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def checked(value: Any) -> Verdict:
    """A reward's return value as a valid Verdict, or a failure verdict saying what was wrong."""
    if not isinstance(value, Verdict):
        return failed("error", f"error: reward returned {type(value).__name__}, not a Verdict")
    reason = value.reason
    if not (type(reason) is str and (reason.isascii() or _encodes(reason)) and len(reason) <= MAX_REASON):
        value = replace(value, reason=clean_text(reason))
    score = value.score
    if score is None:
        return value
    if not isinstance(score, numbers.Real):
        return failed("error", clean_text(f"error: score {score!r} is not a number", 200))
    try:
        number = float(score)
    except (OverflowError, ValueError):  # an int (or Fraction) past any float
        return failed("error", "error: score out of range (too large for a float)")
    if not math.isfinite(number):
        return failed("error", f"error: non-finite score {number}")
    if abs(number) > MAX_SCORE:
        return failed("error", f"error: score {number:.3g} out of range (|score| > {MAX_SCORE:.0e})")
    return value if type(score) is float else replace(value, score=number)


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
