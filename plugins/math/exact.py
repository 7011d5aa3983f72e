"""Exact values of simple LaTeX expressions, so that an answer equal to the gold is accepted
without math-verify's parser.

The float reader in :mod:`.value` can only *reject*: two floats that differ prove two
different values, but two floats that agree prove nothing (``1`` and ``1+10^{-13}``).
Correct answers in another spelling (``\\sqrt{12}`` for ``2\\sqrt{3}``, ``\\frac{\\pi}{4}``
for ``\\pi/4``, ``(x+3)^2`` for ``x^2+6x+9``) are the common case in a GRPO group and
otherwise cost two ANTLR parses, a ``verify`` and often a ``simplify``.

Here the same subset is read exactly, as a polynomial in its variables whose coefficients
are sums of ``c * pi^k * sqrt(r)`` (``c`` a fraction, ``k`` an integer, ``r`` a
square-free integer), kept in a canonical form. Square roots of distinct square-free
integers are linearly independent over the rationals and ``pi`` is transcendental, so two
canonical forms are equal exactly when the expressions are (and ``simplify`` of their
difference expands to zero). Anything this cannot represent is left to math-verify:
decimals (it rounds floats to ``float_rounding`` digits), division by a sum or by a
variable, roots of sums, of roots or of variables, non-integer or large powers. A side
that is a bare variable is never accepted here: math-verify compares a symbol by its name,
so to it ``x`` is not ``2x-x``. ``tests/test_math_exact.py`` checks that every value
read here is math-verify's, and that every pair found equal is one ``verify`` accepts.
"""

from __future__ import annotations

import functools
from fractions import Fraction
from math import gcd, isqrt

from .value import Unsupported, read

__all__ = ["Exact", "exact_value", "exactly_equal"]

# term key (power of pi, square-free radicand, ((variable, power), ...)) -> rational
# coefficient; no zero coefficients
_Key = tuple[int, int, tuple[tuple[str, int], ...]]
_Terms = dict[_Key, Fraction]
Exact = tuple[tuple[_Key, Fraction], ...]
_ONE: _Key = (0, 1, ())

_MAX_TERMS = 32
_MAX_POWER = 12
_MAX_RADICAND = 10**12
_MAX_DIGITS = 60  # numerator / denominator size: "10^{12}" is fine, towers are not


def _primes(limit: int) -> list[int]:
    sieve = bytearray([1]) * (limit + 1)
    sieve[0:2] = b"\0\0"
    for n in range(2, isqrt(limit) + 1):
        if sieve[n]:
            sieve[n * n::n] = bytearray(len(sieve[n * n::n]))
    return [n for n, is_prime in enumerate(sieve) if is_prime]


_PRIMES: list[int] = []


def _square_free(n: int) -> tuple[int, int]:
    """``n = s^2 * r`` with ``r`` square-free: (s, r). Exact for ``n <= 10^12``: after the
    primes below 10^4 are divided out, what is left has at most two prime factors."""
    if n > _MAX_RADICAND:
        raise Unsupported
    if not _PRIMES:
        _PRIMES.extend(_primes(10_000))
    s, r = 1, 1
    for p in _PRIMES:
        if p * p > n:
            break
        while n % (p * p) == 0:
            n //= p * p
            s *= p
        if n % p == 0:
            n //= p
            r *= p
    root = isqrt(n)
    if root * root == n and n > 1:
        return s * root, r
    return s, r * n


def _checked(terms: _Terms) -> _Terms:
    out = {k: c for k, c in terms.items() if c}
    if len(out) > _MAX_TERMS:
        raise Unsupported
    for c in out.values():
        if len(str(c.numerator)) > _MAX_DIGITS or len(str(c.denominator)) > _MAX_DIGITS:
            raise Unsupported
    return out


class _Exact:
    """The arithmetic :func:`.value.read` calls, on exact sums of ``c * pi^k * sqrt(r)``."""

    @staticmethod
    def number(tok: str) -> _Terms:
        if not tok.isdigit():
            raise Unsupported  # a decimal: math-verify rounds floats, exactness would disagree
        return _checked({_ONE: Fraction(int(tok))})

    @staticmethod
    def pi() -> _Terms:
        return {(1, 1, ()): Fraction(1)}

    @staticmethod
    def variable(name: str) -> _Terms:
        return {(0, 1, ((name, 1),)): Fraction(1)}

    @staticmethod
    def neg(a: _Terms) -> _Terms:
        return {k: -c for k, c in a.items()}

    @staticmethod
    def add(a: _Terms, b: _Terms, subtract: bool) -> _Terms:
        out = dict(a)
        for k, c in b.items():
            out[k] = out.get(k, Fraction(0)) + (-c if subtract else c)
        return _checked(out)

    @staticmethod
    def mul(a: _Terms, b: _Terms) -> _Terms:
        out: _Terms = {}
        for (k1, r1, m1), c1 in a.items():
            for (k2, r2, m2), c2 in b.items():
                g = gcd(r1, r2)  # sqrt(r1) sqrt(r2) = g sqrt(r1 r2 / g^2), square-free again
                key = (k1 + k2, (r1 // g) * (r2 // g), _times(m1, m2))
                out[key] = out.get(key, Fraction(0)) + c1 * c2 * g
        return _checked(out)

    @staticmethod
    def div(a: _Terms, b: _Terms) -> _Terms:
        if len(b) != 1:
            raise Unsupported  # zero, or a sum: rationalising is math-verify's business
        ((k, r, m), c), = b.items()
        if m:
            raise Unsupported  # a rational function: sympy may or may not cancel it
        return _Exact.mul(a, {(-k, r, ()): 1 / (c * r)})  # 1 / (c pi^k sqrt r) = sqrt r / (c r pi^k)

    @staticmethod
    def power(base: _Terms, exponent: _Terms) -> _Terms:
        if set(exponent) - {_ONE}:
            raise Unsupported
        n = exponent.get(_ONE, Fraction(0))
        if n.denominator != 1 or abs(n) > _MAX_POWER or (n <= 0 and not base):
            raise Unsupported
        if n < 0:
            base, n = _Exact.div({_ONE: Fraction(1)}, base), -n
        out: _Terms = {_ONE: Fraction(1)}
        for _ in range(int(n)):
            out = _Exact.mul(out, base)
        return out

    @staticmethod
    def sqrt(a: _Terms) -> _Terms:
        if not a:
            return {}
        if set(a) != {_ONE} or a[_ONE] < 0:
            raise Unsupported  # only roots of non-negative rationals
        q = a[_ONE]
        s, r = _square_free(q.numerator * q.denominator)  # sqrt(p/q) = sqrt(p q) / q
        return {(0, r, ()): Fraction(s, q.denominator)}


def _times(m1: tuple[tuple[str, int], ...], m2: tuple[tuple[str, int], ...]) -> tuple[tuple[str, int], ...]:
    powers = dict(m1)
    for v, n in m2:
        powers[v] = powers.get(v, 0) + n
    return tuple(sorted(powers.items()))


def _bare_variable(terms: _Terms) -> bool:
    if len(terms) != 1:
        return False
    ((k, r, m), c), = terms.items()
    return k == 0 and r == 1 and c == 1 and len(m) == 1 and m[0][1] == 1


@functools.lru_cache(maxsize=4096)  # a gold is compared with every answer of its group
def exact_value(text: str) -> Exact | None:
    """The canonical exact form of ``text`` if it is in the subset and not a bare variable
    (see above), else None."""
    terms = read(text, _Exact)
    if terms is None or _bare_variable(terms):
        return None
    return tuple(sorted(terms.items()))


def exactly_equal(a: str, b: str) -> bool:
    """Both are read exactly here, and they are the same expression."""
    x = exact_value(a)
    return x is not None and x == exact_value(b)
