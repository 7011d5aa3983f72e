"""Bounds on an answer before it reaches math-verify's LaTeX parser and sympy.

math-verify hands its input to an ANTLR LaTeX parser and then to sympy, which
evaluates eagerly: ``9^{9^{9^9}}`` asks for an integer with more digits than atoms in
the universe, ``(10^6)!`` for a factorial of a million, and a few hundred nested braces
recurse until the stack gives. The engine's process timeout would catch these, but a
killed worker costs a respawn and the answer is garbage anyway, so they are refused
here with a reason, in one linear scan:

- ``answer_too_long``: more than ``max_chars`` characters;
- ``too_deep``: brackets (``{ ( [``) nested deeper than ``max_depth``;
- ``too_complex``: a power whose exponent holds another power (a tower); a power of a
  power; an integer exponent above ``max_exponent``; powers of symbolic sums whose
  exponents add up past ``max_sum_exponent`` or whose expansions would have more than
  ``max_expansion_terms`` terms (``(x+1)^{100}``, ``(a+b+c+d+e)^{24}``: sympy may expand
  them); a factorial of an integer above ``max_factorial`` or of a bracketed expression
  holding a power or factorial; more than ``max_powers`` powers or factorials in all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vlmr1.answers import matching_brace

__all__ = ["Bounds", "check_bounds"]


@dataclass(frozen=True)
class Bounds:
    max_chars: int = 1000
    max_depth: int = 24
    max_exponent: int = 10_000
    max_factorial: int = 1000
    max_powers: int = 16
    max_sum_exponent: int = 64
    max_expansion_terms: int = 2000


_OPEN = "{(["
_CLOSE = "})]"


def _exponent(s: str, i: int) -> tuple[str, int]:
    """The exponent after the ``^`` at ``i - 1``: a braced group or one token; (text, end)."""
    n = len(s)
    while i < n and s[i] == " ":
        i += 1
    if i < n and s[i] == "{":
        close = matching_brace(s, i)
        return (s[i + 1:close], close + 1) if close >= 0 else (s[i + 1:], n)
    if i < n and s[i] == "(":
        depth, j = 0, i
        while j < n:
            depth += (s[j] == "(") - (s[j] == ")")
            if depth == 0:
                return s[i + 1:j], j + 1
            j += 1
        return s[i + 1:], n
    j = i
    if j < n and s[j] in "+-":
        j += 1
    if j < n and s[j].isdigit():
        while j < n and (s[j].isdigit() or s[j] == "."):
            j += 1
    elif j < n and s[j] == "\\":
        j += 1
        while j < n and s[j].isalpha():
            j += 1
    elif j < n:
        j += 1
    return s[i:j], j


def _base(s: str, i: int) -> str:
    """The base of the power whose ``^`` is at ``i``: a bracketed group or one token."""
    j = i - 1
    while j >= 0 and s[j] == " ":
        j -= 1
    if j < 0:
        return ""
    if s[j] in _CLOSE:
        depth, k = 0, j
        while k >= 0:
            if s[k] in _CLOSE:
                depth += 1
            elif s[k] in _OPEN:
                depth -= 1
                if depth == 0:
                    return s[k + 1:j]
            k -= 1
        return s[:j]
    k = j
    while k >= 0 and (s[k].isalnum() or s[k] == "."):
        k -= 1
    return s[k + 1:j + 1]


def _int_value(text: str) -> int | None:
    t = text.strip().lstrip("+-").replace(",", "")
    if t.isdigit() and len(t) <= 40:
        return int(t)
    return None


def check_bounds(text: str, bounds: Bounds = Bounds()) -> str | None:
    """None if ``text`` is safe to give math-verify; otherwise the reason it is not."""
    if not isinstance(text, str):
        return "answer_not_text"
    if len(text) > bounds.max_chars:
        return "answer_too_long"
    s = text.replace("**", "^").replace("\\left", "").replace("\\right", "")
    if _too_deep(s, bounds.max_depth):
        return "too_deep"
    if s.count("^") > bounds.max_powers or s.count("!") > bounds.max_powers:
        return "too_complex"
    return _powers_reason(s, bounds) or _factorials_reason(s, bounds)


def _too_deep(s: str, max_depth: int) -> bool:
    depth = 0
    escaped = False
    for ch in s:
        if escaped:
            escaped = False
            continue
        if ch == "\\":
            escaped = True
        elif ch in _OPEN:
            depth += 1
            if depth > max_depth:
                return True
        elif ch in _CLOSE:
            depth -= 1
    return False


def _powers_reason(s: str, bounds: Bounds) -> str | None:
    """Towers, huge exponents and powers of sums whose expansion sympy could not finish."""
    sum_exponents = expansion = 0
    i = s.find("^")
    while i >= 0:
        exponent, end = _exponent(s, i + 1)
        if "^" in exponent or "!" in exponent:
            return "too_complex"
        value = _int_value(exponent)
        if value is not None and value > bounds.max_exponent:
            return "too_complex"
        if exponent.strip().lstrip("+-").isdigit() and len(exponent.strip()) > 40:
            return "too_complex"
        base = _base(s, i)
        if "^" in base and (value is None or value > 10):
            return "too_complex"  # ((x+1)^{50})^{50}: a power of a power
        if value is not None and any(c.isalpha() for c in base) and any(c in "+-" for c in base):
            # (x+1)^{9999}, (a+b+c+d+e)^{24}: sympy may expand them; a power of a sum of
            # t terms expands into C(n + t - 1, t - 1) terms
            sum_exponents += value
            terms = 1 + sum(base.count(c) for c in "+-")
            if sum_exponents > bounds.max_sum_exponent:
                return "too_complex"
            expansion += math.comb(value + terms - 1, terms - 1)
            if expansion > bounds.max_expansion_terms:
                return "too_complex"
        k = end
        while k < len(s) and s[k] == " ":
            k += 1
        if k < len(s) and s[k] == "^":
            return "too_complex"  # 9^9^9: right-associative tower
        i = s.find("^", i + 1)
    return None


def _factorials_reason(s: str, bounds: Bounds) -> str | None:
    """Factorials of large numbers or of expressions that hold powers or factorials."""
    i = s.find("!")
    while i >= 0:
        if i + 1 < len(s) and s[i + 1] == "=":  # "!=" is not a factorial
            i = s.find("!", i + 1)
            continue
        j = i
        while j > 0 and s[j - 1].isdigit():
            j -= 1
        if j < i:
            value = _int_value(s[j:i])
            if value is None or value > bounds.max_factorial:
                return "too_complex"
        elif i > 0 and s[i - 1] in ")}":
            opener = "(" if s[i - 1] == ")" else "{"
            group_start = s.rfind(opener, 0, i - 1)
            inner = s[group_start + 1:i - 1] if group_start >= 0 else s[:i]
            if "^" in inner or "!" in inner:
                return "too_complex"
            value = _int_value(inner)
            if value is not None and value > bounds.max_factorial:
                return "too_complex"
        i = s.find("!", i + 1)
    return None
