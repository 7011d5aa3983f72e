"""Plain numbers: the answers that need no parser at all."""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

__all__ = ["plain_number"]

_INT = r"[+-]?(?:[1-9]\d{0,2}(?:,\d{3})+|\d+)"
_PLAIN = re.compile(rf"(?P<num>{_INT}(?:\.\d*)?|[+-]?\.\d+)(?:\s*/\s*(?P<den>\d+))?")
_DECIMAL_COMMA = re.compile(r"[+-]?(?:0,\d+|\d+,\d\d|\d{4,},\d+)")  # 2,74 / 0,111 / 1000,99 (not the list 2,3)
_FRAC = re.compile(r"(?P<sign>[+-]?)\s*\\[dt]?frac\s*\{\s*(?P<num>-?\d+)\s*\}\s*\{\s*(?P<den>\d+)\s*\}")


def plain_number(text: Any) -> Fraction | None:
    """The exact value of a plain number, or None: ``3``, ``-2.50``, ``1,000``, ``.5``,
    ``3/4``, ``\\frac{3}{4}``, ``-\\dfrac{1}{2}``, ``3.``, and a decimal comma where it cannot
    be a list (``2,74``, ``0,111``; ``2,3`` is a list). Anything else (units, variables,
    LaTeX beyond a simple fraction) is not plain."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return Fraction(text)
    if isinstance(text, float):
        return Fraction(repr(text)) if text == text and abs(text) != float("inf") else None
    if not isinstance(text, str):
        return None
    s = text.strip()
    if len(s) > 64 or not s:
        return None
    if s.endswith("."):
        s = s[:-1]
    m = _PLAIN.fullmatch(s)
    try:
        if m:
            value = Fraction(m.group("num").replace(",", "").rstrip(".") or "0")
            if m.group("den") is not None:
                den = int(m.group("den"))
                return value / den if den and value.denominator == 1 else None
            return value
        if "," in s and _DECIMAL_COMMA.fullmatch(s):
            return Fraction(s.replace(",", "."))
        m = _FRAC.fullmatch(s) if "frac" in s else None
        if m and int(m.group("den")):
            value = Fraction(int(m.group("num")), int(m.group("den")))
            return -value if m.group("sign") == "-" else value
    except (ValueError, ZeroDivisionError):
        return None
    return None
