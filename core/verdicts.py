"""Verdicts the engine makes when a reward gave none, and the check every reward's
return value goes through: a Verdict, whose score is None or a finite float no larger
than ``MAX_SCORE`` in size, and whose reason is text that any UTF-8 writer can write."""

from __future__ import annotations

import math
import numbers
from dataclasses import replace
from typing import Any

from .worker import failure_reason
from .types import Verdict

__all__ = ["MAX_SCORE", "checked", "clean_text", "failed", "from_exception", "plain", "verdict_details"]

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


MAX_DETAIL_TEXT = 2000  # characters of one string in written details
MAX_DETAIL_ITEMS = 200  # entries of one list or mapping in written details
MAX_DETAIL_DEPTH = 12


def plain(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON that any writer accepts: strings, finite numbers, booleans, null,
    lists and string-keyed objects, bounded in size. Anything else (a parsed answer object,
    a tuple, NaN) becomes text or a list, so details can never cost a row its record."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**63 else clean_text(value, 100)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return clean_text(value, MAX_DETAIL_TEXT)
    if depth >= MAX_DETAIL_DEPTH:
        return _text(value, 200)
    if isinstance(value, dict) or hasattr(value, "items"):
        try:
            items = list(value.items())[:MAX_DETAIL_ITEMS]
        except Exception:  # noqa: BLE001 - an odd mapping is still only a detail
            return _text(value, MAX_DETAIL_TEXT)
        return {clean_text(k, 200): plain(v, depth + 1) for k, v in items}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v, depth + 1) for v in list(value)[:MAX_DETAIL_ITEMS]]
    return _text(value, MAX_DETAIL_TEXT)


def _text(value: Any, limit: int) -> str:
    try:
        return clean_text(repr(value), limit)
    except Exception as exc:  # noqa: BLE001 - a repr that raises
        return f"<{type(value).__name__}: repr failed: {type(exc).__name__}>"


def verdict_details(verdict: Verdict) -> dict[str, Any]:
    """What ``vlmr1 score --details`` writes for one verdict: its answer and details, as plain JSON."""
    return {"answer": plain(verdict.answer), "details": plain(verdict.details)}
