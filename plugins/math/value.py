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

    def expr(self) -> float:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise _Unsupported
        sign = 1.0
        if self.peek() in ("+", "-"):
            sign = -1.0 if self.take() == "-" else 1.0
        value = sign * self.term()
        while self.peek() in ("+", "-"):
            op = self.take()
            value = value + self.term() if op == "+" else value - self.term()
        self.depth -= 1
        return value

    def term(self) -> float:
        value = self.power()
        explicit_div = False
        while True:
            tok = self.peek()
            if tok in ("*", "\\cdot", "\\times"):
                self.take()
                value *= self.power()
            elif tok == "/":
                self.take()
                explicit_div = True
                den = self.power()
                if den == 0:
                    raise _Unsupported
                value /= den
            elif tok is not None and (tok.startswith("\\") or tok.isalpha()):
                if explicit_div:
                    raise _Unsupported  # "1/2\\pi": the grammar decides which binds first
                value *= self.power()
            else:
                break
        return value

    def power(self) -> float:
        base = self.atom()
        if self.peek() != "^":
            return base
        self.take()
        if self.peek() == "{":
            exponent = self.group()
        else:
            tok = self.take()
            if not tok.isdigit() or len(tok) != 1:
                raise _Unsupported  # 2^10 means 2^1 0 in LaTeX; leave such spellings alone
            exponent = float(tok)
        if self.peek() == "^":
            raise _Unsupported
        if base < 0 and exponent != int(exponent):
            raise _Unsupported
        return float(base ** exponent)

    def group(self) -> float:
        self.take("{")
        value = self.expr()
        self.take("}")
        return value

    def atom(self) -> float:
        tok = self.take()
        if tok[0].isdigit():
            return float(tok)
        if tok == "\\pi":
            return math.pi
        if tok.isalpha():
            return point(tok)
        if tok in ("\\frac", "\\dfrac", "\\tfrac"):
            num, den = self.group(), self.group()
            if den == 0:
                raise _Unsupported
            return num / den
        if tok == "\\sqrt":
            value = self.group()
            if value < 0:
                raise _Unsupported
            return math.sqrt(value)
        if tok == "(":
            value = self.expr()
            self.take(")")
            return value
        if tok == "{":
            value = self.expr()
            self.take("}")
            return value
        raise _Unsupported


def latex_value(text: str) -> float | None:
    """The value of ``text`` (its variables at :func:`point`) if it is in the subset above, else None."""
    if not isinstance(text, str) or len(text) > _MAX_LEN or not text.strip():
        return None
    try:
        reader = _Reader(_tokens(text))
        value = reader.expr()
        if reader.peek() is not None:
            return None
    except (_Unsupported, OverflowError, ZeroDivisionError, ValueError, RecursionError):
        return None
    return value if math.isfinite(value) else None


def same_spelling(a: str, b: str) -> bool:
    """``a`` and ``b`` differ at most in spaces around ``+ - * / =`` (``x^2 + 1``, ``x^2+1``)
    and are inside the subset, so math-verify reads them as one expression. Spaces between
    two words or numbers are kept: ``5 m`` may be a unit, ``2 3`` is not ``23``."""
    if a == b:
        return latex_value(a) is not None
    squeeze_a, squeeze_b = _OPERATOR_SPACE.sub(r"\1", a.strip()), _OPERATOR_SPACE.sub(r"\1", b.strip())
    return squeeze_a == squeeze_b and latex_value(a) is not None
