"""math-verify's reading of a whole normalised text, and its ``verify``.

``math_verify.parse`` searches a text for something to read: LaTeX environments first,
then any number or simple expression anywhere in it. On a text it cannot read as LaTeX
(``2√{3}``, ``12 apples``) it falls back to the first number it finds, and that partial
reading is what its ``verify`` then compares. Here the text handed over is already one
expression (cut out of its completion, normalised, its unit split off), and it is read
with math-verify's own LaTeX path only: its normaliser (with its unit cutting switched
off: units are split and compared by :mod:`.units`) and its parser, which either reads
the whole text or fails. A chain of equalities that fails as a whole is read as its last
member (``x = 5+5+1 = 7 = 11`` is ``11``), as math-verify does. A failure is reported with
the place the parser stopped, so a verdict can say what could not be read.

math-verify's own timeouts are off (``parsing_timeout``/``timeout_seconds`` None): they use
``signal.alarm``, which only works in a main thread and cannot express fractions of a
second. Time is bounded by :mod:`.guard` before parsing and by the engine's per-item
process timeout after.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Sequence

__all__ = ["mv", "read_latex", "parsed", "verify", "WARMUP_SHAPES", "warm"]


@functools.lru_cache(maxsize=1)
def mv() -> Any:
    """math-verify, imported on first use (it pulls in sympy and the ANTLR parser)."""
    import math_verify

    # With timeouts off, math-verify logs a one-time warning that we handle timeouts
    # ourselves; we do (guard + process timeout), so keep worker logs quiet.
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    return math_verify


@functools.lru_cache(maxsize=1)
def _config() -> Any:
    from latex2sympy2_extended.latex2sympy2 import NormalizationConfig

    # units: split and compared by .units; boxed: boxes are found (and joined) by .extract
    return NormalizationConfig(basic_latex=True, units=False, malformed_operators=True, nits=True, boxed="none", equations=False)


def _where(message: str) -> str:
    """The text at the parser's caret (``2 @`` / ``~~^`` -> ``@``), or the whole text."""
    lines = message.splitlines()
    if len(lines) >= 3 and lines[-1].rstrip().endswith("^"):
        at = len(lines[-1].rstrip()) - 1
        text = lines[-2]
        if 0 <= at < len(text):
            return text[at:at + 12].strip() or text[-12:]
    return lines[-2][:24] if len(lines) >= 2 else message[:24]


@functools.lru_cache(maxsize=4096)
def read_latex(text: str) -> tuple[tuple, str | None]:
    """``(parsed, None)`` with ``parsed`` what math-verify's ``parse`` returns for a text
    it reads whole (``[expression, normalised text]``), or ``((), unread)`` naming where
    its parser stopped. Cached per process: a gold is compared with every answer of its
    group on the same worker."""
    mv()
    from latex2sympy2_extended.latex2sympy2 import normalize_latex
    from math_verify.parser import parse_latex_cached

    try:
        norm = normalize_latex(text, _config())
    except Exception as exc:  # noqa: BLE001 - a normaliser failure is an unreadable text
        return (), f"{type(exc).__name__}"
    if not norm:
        return (), "empty"
    try:
        expr = parse_latex_cached(norm)
    except Exception as exc:  # noqa: BLE001 - ANTLR and sympy raise all sorts
        return (), _where(str(exc))
    if expr is None:
        return (), norm[:24]
    return (expr, norm), None


def parsed(text: str) -> tuple:
    """The parse alone (empty when the text cannot be read whole)."""
    return read_latex(text)[0]


def verify(gold: Sequence[Any], answer: Sequence[Any], float_rounding: int) -> bool:
    return bool(mv().verify(list(gold), list(answer), float_rounding=float_rounding, timeout_seconds=None))


# Answer shapes a math dataset is made of. ANTLR learns its parse decisions (a DFA shared by
# the whole process) from the inputs it sees, and a shape seen for the first time costs
# 5-20x more to parse; a worker that has read these once reads the rest faster.
WARMUP_SHAPES = ("\\frac{\\sqrt{3}}{2}", "2\\sqrt{5}", "x^2 + 3x - 4", "(x-1)^2", "\\pi r^2", "\\frac{\\pi}{6}", "3\\pi/4",
                 "-\\frac{7}{12}", "\\frac{1}{3}", "2^{10}", "\\sqrt[3]{2}", "[1, 2)", "\\{1, 2\\}", "(3, -4)", "x = 5",
                 "y \\leq 2", "45\\%", "1.25", "\\text{A}", "\\infty", "a+b\\cdot c", "\\log_2 8", "\\sin(x)", "e^{2}",
                 "10^{-3}", "3 \\times 4", "\\pm 2", "1, 2", "k = 45, n = 2", "-793 < a < 10", "11:21")


def warm() -> None:
    """Read the usual shapes once and verify one pair (imports math-verify and sympy)."""
    for text in WARMUP_SHAPES:
        read_latex(text)
    # the first verify of a kind also loads sympy's machinery for it (solve, sets): 0.1-0.2 s
    for gold, answer in (("\\sqrt{2} + x^2", "x^2 + \\sqrt{2}"), ("y = 2x + 1", "y = 2x - 1"), ("(-1, 3)", "[-1, 3]"),
                         ("-1 < x < 3", "(-1, 3)"), ("\\{1, 2\\}", "\\{2, 1\\}")):
        verify(parsed(gold), parsed(answer), 6)
