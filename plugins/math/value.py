"""The value of a simple LaTeX expression, read in microseconds without a parser.

math-verify reads LaTeX with an ANTLR grammar in pure Python: 2-10 ms per answer, the
largest cost left in scoring a GRPO group once ``simplify`` is out of the way. Most
wrong answers to a geometry or algebra question are constants (``2\\sqrt{3}``,
``\\frac{\\pi}{6}``) or polynomials (``x^2+1``) whose value, with every variable set to
the same generic number on both sides, is plainly not the gold's; a different value
proves the two different, and is enough to reject the answer.

Only a small, unambiguous subset is read: numbers, lower-case single-letter variables
(not ``e`` or ``i``, which math-verify may read as constants; capitals it may fold to
lower case), ``\\frac``/``\\dfrac``/``\\tfrac``
with braced arguments, ``\\sqrt{}``, ``\\pi``, ``+ - * / \\cdot \\times``, parentheses
and braces, ``^`` with a digit or braced exponent, and implicit multiplication before a
command or a letter (``2\\sqrt{3}``, ``3\\pi/4``, ``2xy``). Anything else gives None
and math-verify decides: another letter or command, a comma, ``\\sqrt[3]``, a product after a division (``1/2\\pi``: which binds
first is a matter of grammar), a number before a parenthesis (math-verify reads
``1(1)`` as 2), a power of a power.
``tests/test_math_value.py`` checks on generated expressions that every value read here
is the value of math-verify's own parse.
"""

from __future__ import annotations

import math
import re

__all__ = ["latex_value", "point", "same_spelling"]

_TOKEN = re.compile(r"\s*(\d+(?:\.\d+)?|\\(?:[dt]?frac|sqrt|pi|cdot|times)(?![a-zA-Z])|[-+*/^(){}]|[a-dfghj-z])")


def point(name: str) -> float:
    """The value a variable takes: positive, generic, different for every letter."""
    return 1.01234 + (ord(name) - 96) * 0.0173


_OPERATOR_SPACE = re.compile(r"\s*([-+*/=])\s*")  # not around ^ or braces: math-verify fails on "x ^ { a }"
_MAX_LEN = 200
_MAX_DEPTH = 12


_WELL_CONDITIONED = 1e3  # a scale this many times the value still leaves ~11 good digits
_Read = tuple[float, float]


class _Unsupported(Exception):
    pass


def _tokens(text: str) -> list[str]:
    out, i, n = [], 0, len(text)
    while i < n:
        m = _TOKEN.match(text, i)
        if m is None:
            if text[i:].strip():
                raise _Unsupported
            break
        out.append(m.group(1))
        i = m.end()
    return out


class _Reader:
    def __init__(self, tokens: list[str]) -> None:
        self.t, self.i, self.depth = tokens, 0, 0

    def peek(self) -> str | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self, want: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (want is not None and tok != want):
            raise _Unsupported
        self.i += 1
        return tok

    # Every reading is (value, scale): the scale is the value with sums taken over absolute
    # values, so the float noise in the value is a few epsilons of the scale.

    def expr(self) -> _Read:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise _Unsupported
        sign = 1.0
        if self.peek() in ("+", "-"):
            sign = -1.0 if self.take() == "-" else 1.0
        value, scale = self.term()
        value *= sign
        while self.peek() in ("+", "-"):
            op = self.take()
            v, s = self.term()
            value, scale = (value + v if op == "+" else value - v), scale + s
        self.depth -= 1
        return value, scale

    def term(self) -> _Read:
        value, scale = self.power()
        explicit_div = False
        while True:
            tok = self.peek()
            if tok in ("*", "\\cdot", "\\times"):
                self.take()
                v, s = self.power()
                value, scale = value * v, scale * s
            elif tok == "/":
                self.take()
                explicit_div = True
                value, scale = _divide((value, scale), self.power())
            elif tok is not None and (tok.startswith("\\") or tok.isalpha()):
                if explicit_div:
                    raise _Unsupported  # "1/2\\pi": the grammar decides which binds first
                v, s = self.power()
                value, scale = value * v, scale * s
            else:
                break
        return value, scale

    def power(self) -> _Read:
        base, base_scale = self.atom()
        if self.peek() != "^":
            return base, base_scale
        self.take()
        if self.peek() == "{":
            exponent, exponent_scale = self.group()
        else:
            tok = self.take()
            if not tok.isdigit() or len(tok) != 1:
                raise _Unsupported  # 2^10 means 2^1 0 in LaTeX; leave such spellings alone
            exponent = exponent_scale = float(tok)
        if self.peek() == "^":
            raise _Unsupported
        if base < 0 and exponent != int(exponent):
            raise _Unsupported
        value = float(base ** exponent)
        if exponent == int(exponent) and exponent > 0:
            return value, base_scale ** exponent
        _well_conditioned(base, base_scale)
        _well_conditioned(exponent, exponent_scale)
        relative = abs(exponent) * base_scale / abs(base) + abs(math.log(abs(base))) * exponent_scale
        return value, abs(value) * max(1.0, relative)

    def group(self) -> _Read:
        self.take("{")
        read = self.expr()
        self.take("}")
        return read

    def atom(self) -> _Read:
        tok = self.take()
        if tok[0].isdigit():
            return float(tok), float(tok)
        if tok == "\\pi":
            return math.pi, math.pi
        if tok.isalpha():
            return point(tok), point(tok)
        if tok in ("\\frac", "\\dfrac", "\\tfrac"):
            return _divide(self.group(), self.group())
        if tok == "\\sqrt":
            value, scale = self.group()
            if value < 0:
                raise _Unsupported
            if value == 0:
                return 0.0, math.sqrt(scale)
            _well_conditioned(value, scale)
            return math.sqrt(value), scale / math.sqrt(value)
        if tok == "(":
            read = self.expr()
            self.take(")")
            return read
        if tok == "{":
            read = self.expr()
            self.take("}")
            return read
        raise _Unsupported


def _well_conditioned(value: float, scale: float) -> None:
    """A value whose terms cancelled (noise near its size) cannot go under a root or a bar."""
    if value == 0 or scale > _WELL_CONDITIONED * abs(value):
        raise _Unsupported


def _divide(num: _Read, den: _Read) -> _Read:
    (a, sa), (b, sb) = num, den
    _well_conditioned(b, sb)
    return a / b, sa / abs(b) + abs(a) * sb / (b * b)


def latex_value(text: str) -> float | None:
    """The value of ``text`` (its variables at :func:`point`) if it is in the subset above
    and its terms do not cancel to near its float noise, else None."""
    if not isinstance(text, str) or len(text) > _MAX_LEN or not text.strip():
        return None
    try:
        reader = _Reader(_tokens(text))
        value, scale = reader.expr()
        if reader.peek() is not None:
            return None
    except (_Unsupported, OverflowError, ZeroDivisionError, ValueError, RecursionError):
        return None
    if not (math.isfinite(value) and math.isfinite(scale)) or scale > _WELL_CONDITIONED * abs(value):
        return None  # "(x+10^6)^2-x^2-2\\cdot10^6x-10^{12}": exactly 0 to sympy, float noise to us
    return value


def same_spelling(a: str, b: str) -> bool:
    """``a`` and ``b`` differ at most in spaces around ``+ - * / =`` (``x^2 + 1``, ``x^2+1``)
    and are inside the subset, so math-verify reads them as one expression. Spaces between
    two words or numbers are kept: ``5 m`` may be a unit, ``2 3`` is not ``23``."""
    if a == b:
        return latex_value(a) is not None
    squeeze_a, squeeze_b = _OPERATOR_SPACE.sub(r"\1", a.strip()), _OPERATOR_SPACE.sub(r"\1", b.strip())
    return squeeze_a == squeeze_b and latex_value(a) is not None
