"""The value of a simple LaTeX expression, read in microseconds without a parser.

math-verify reads LaTeX with an ANTLR grammar in pure Python: 2-10 ms per answer, the
largest cost left in scoring a GRPO group once ``simplify`` is out of the way. Most
wrong answers to a geometry or algebra question are constants (``2\\sqrt{3}``,
``\\frac{\\pi}{6}``) or polynomials (``x^2+1``) whose value, with every variable set to
the same generic number on both sides, is plainly not the gold's; a different value
proves the two different, and is enough to reject the answer.

Only a small, unambiguous subset is read: numbers, lower-case single-letter variables
(not ``e`` or ``i``, which math-verify may read as constants, nor ``d``, which starts a
differential: ``d x`` is the symbol ``dx`` to it; capitals it may fold to
lower case), ``\\frac``/``\\dfrac``/``\\tfrac``
with braced arguments, ``\\sqrt{}``, ``\\pi``, ``+ - * / \\cdot \\times``, parentheses
and braces, ``^`` with a digit or braced exponent, and implicit multiplication before a
command or a letter (``2\\sqrt{3}``, ``3\\pi/4``, ``2xy``). Anything else gives None
and math-verify decides: another letter or command, a comma, ``\\sqrt[3]``, a product
after a division (``1/2\\pi``: which binds first is a matter of grammar), a number
before a parenthesis (math-verify reads ``1(1)`` as 2), a power of a power.
``tests/test_math_value.py`` checks on generated expressions that every value read here
is the value of math-verify's own parse.
"""

from __future__ import annotations

import math
import re
from typing import Any

__all__ = ["Unsupported", "latex_value", "point", "read", "same_spelling"]

_TOKEN = re.compile(r"\s*(\d+(?:\.\d+)?|\\(?:[dt]?frac|sqrt|pi|cdot|times)(?![a-zA-Z])|[-+*/^(){}]|[abcfghj-z])")


def point(name: str) -> float:
    """The value a variable takes: positive, generic, different for every letter."""
    return 1.01234 + (ord(name) - 96) * 0.0173


_OPERATOR_SPACE = re.compile(r"\s*([-+*/=])\s*")  # not around ^ or braces: math-verify fails on "x ^ { a }"
_MAX_LEN = 200
_MAX_DEPTH = 12


_WELL_CONDITIONED = 1e3  # a scale this many times the value still leaves ~11 good digits
_Read = tuple[float, float]


class Unsupported(Exception):
    """Raised by the reader or an arithmetic: this text is not read here; math-verify decides."""


def _tokens(text: str) -> list[str]:
    out, i, n = [], 0, len(text)
    while i < n:
        m = _TOKEN.match(text, i)
        if m is None:
            if text[i:].strip():
                raise Unsupported
            break
        out.append(m.group(1))
        i = m.end()
    return out


class _Reader:
    """The subset's grammar. What the numbers are is up to ``arith``: floats with their
    size here, exact constants in :mod:`.exact`. Both read the same texts the same way."""

    def __init__(self, tokens: list[str], arith: Any) -> None:
        self.t, self.i, self.depth, self.a = tokens, 0, 0, arith

    def peek(self) -> str | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self, want: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (want is not None and tok != want):
            raise Unsupported
        self.i += 1
        return tok

    def expr(self) -> Any:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise Unsupported
        negative = False
        if self.peek() in ("+", "-"):
            negative = self.take() == "-"
        value = self.term()
        if negative:
            value = self.a.neg(value)
        while self.peek() in ("+", "-"):
            op = self.take()
            value = self.a.add(value, self.term(), op == "-")
        self.depth -= 1
        return value

    def term(self) -> Any:
        value = self.power()
        explicit_div = False
        while True:
            tok = self.peek()
            if tok in ("*", "\\cdot", "\\times"):
                self.take()
                value = self.a.mul(value, self.power())
            elif tok == "/":
                self.take()
                explicit_div = True
                value = self.a.div(value, self.power())
            elif tok is not None and (tok.startswith("\\") or tok.isalpha()):
                if explicit_div:
                    raise Unsupported  # "1/2\\pi": the grammar decides which binds first
                value = self.a.mul(value, self.power())
            else:
                break
        return value

    def power(self) -> Any:
        base = self.atom()
        if self.peek() != "^":
            return base
        self.take()
        if self.peek() == "{":
            exponent = self.group()
        else:
            tok = self.take()
            if not tok.isdigit() or len(tok) != 1:
                raise Unsupported  # 2^10 means 2^1 0 in LaTeX; leave such spellings alone
            exponent = self.a.number(tok)
        if self.peek() == "^":
            raise Unsupported
        return self.a.power(base, exponent)

    def group(self) -> Any:
        self.take("{")
        read = self.expr()
        self.take("}")
        return read

    def atom(self) -> Any:
        tok = self.take()
        if tok[0].isdigit():
            return self.a.number(tok)
        if tok == "\\pi":
            return self.a.pi()
        if tok.isalpha():
            return self.a.variable(tok)
        if tok in ("\\frac", "\\dfrac", "\\tfrac"):
            return self.a.div(self.group(), self.group())
        if tok == "\\sqrt":
            return self.a.sqrt(self.group())
        if tok == "(":
            read = self.expr()
            self.take(")")
            return read
        if tok == "{":
            read = self.expr()
            self.take("}")
            return read
        raise Unsupported


def read(text: str, arith: Any) -> Any:
    """``text`` read in ``arith``, or None if it is outside the subset (or ``arith`` refuses it)."""
    if not isinstance(text, str) or len(text) > _MAX_LEN or not text.strip():
        return None
    try:
        reader = _Reader(_tokens(text), arith)
        value = reader.expr()
        if reader.peek() is not None:
            return None
    except (Unsupported, OverflowError, ZeroDivisionError, ValueError, RecursionError):
        return None
    return value


class _Floats:
    """Every reading is (value, scale): the scale is the value with sums taken over absolute
    values, so the float noise in the value is a few epsilons of the scale."""

    @staticmethod
    def number(tok: str) -> _Read:
        return float(tok), float(tok)

    @staticmethod
    def pi() -> _Read:
        return math.pi, math.pi

    @staticmethod
    def variable(name: str) -> _Read:
        return point(name), point(name)

    @staticmethod
    def neg(a: _Read) -> _Read:
        return -a[0], a[1]

    @staticmethod
    def add(a: _Read, b: _Read, subtract: bool) -> _Read:
        return (a[0] - b[0] if subtract else a[0] + b[0]), a[1] + b[1]

    @staticmethod
    def mul(a: _Read, b: _Read) -> _Read:
        return a[0] * b[0], a[1] * b[1]

    @staticmethod
    def div(num: _Read, den: _Read) -> _Read:
        (a, sa), (b, sb) = num, den
        _well_conditioned(b, sb)
        return a / b, sa / abs(b) + abs(a) * sb / (b * b)

    @staticmethod
    def power(base_read: _Read, exponent_read: _Read) -> _Read:
        (base, base_scale), (exponent, exponent_scale) = base_read, exponent_read
        if base < 0 and exponent != int(exponent):
            raise Unsupported
        value = float(base ** exponent)
        if exponent == int(exponent) and exponent > 0:
            return value, base_scale ** exponent
        _well_conditioned(base, base_scale)
        _well_conditioned(exponent, exponent_scale)
        relative = abs(exponent) * base_scale / abs(base) + abs(math.log(abs(base))) * exponent_scale
        return value, abs(value) * max(1.0, relative)

    @staticmethod
    def sqrt(a: _Read) -> _Read:
        value, scale = a
        if value < 0:
            raise Unsupported
        if value == 0:
            return 0.0, math.sqrt(scale)
        _well_conditioned(value, scale)
        return math.sqrt(value), scale / math.sqrt(value)


def _well_conditioned(value: float, scale: float) -> None:
    """A value whose terms cancelled (noise near its size) cannot go under a root or a bar."""
    if value == 0 or scale > _WELL_CONDITIONED * abs(value):
        raise Unsupported


def latex_value(text: str) -> float | None:
    """The value of ``text`` (its variables at :func:`point`) if it is in the subset above
    and its terms do not cancel to near its float noise, else None."""
    got = read(text, _Floats)
    if got is None:
        return None
    value, scale = got
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
