"""Cheap decisions that math-verify's ``verify`` would reach slowly, and never differently.

math-verify compares two parsed expressions by string, then numerically, then with
``sympy.simplify(gold - answer)``. The last step is the expensive one (0.1 s for
``37\\sqrt{2}`` against ``37\\sqrt{3}``), and it runs mostly on *wrong* answers, which
never simplify to zero. GRPO produces wrong answers constantly, and the same wrong answer
in several generations of a group.

Two certificates settle most of those pairs in well under a millisecond:

- **Unequal**: the difference evaluated at a generic point (exact rationals for the
  symbols, 30 significant digits) is clearly non-zero. A non-zero value proves
  ``simplify`` cannot reach zero. (math-verify's own numeric step, which rounds floats,
  still runs first.) With decimals in either expression, "clearly" means far above the
  float noise of the largest term: simplify computes with 15-digit floats and can round
  a cancelling difference to zero.
- **Equal**: the difference of two polynomials (integer powers, no floats) expands to
  exactly zero, so ``simplify`` reaches zero too.

Both apply only to plain scalar expressions built from an allow-list of elementary
operations; symbols alone (math-verify compares their names), percentages, floats on the
equal side, sets, relations, matrices, integrals and unknown functions all go to
math-verify. ``tests/test_math_shortcuts.py`` checks on a table of hard pairs and on
random expressions (rewrites and near misses) that the verdict is math-verify's own.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

__all__ = ["decide", "same_text_accepts"]

_MAX_NODES = 200
_MAX_SYMBOLS = 4
_MAX_POWER = 12
_NUMERIC_PRECISION = 15  # verify's default, which compare_answer uses


def _sympy() -> Any:
    import sympy

    return sympy


def _plain_kinds() -> tuple[type, ...]:
    sp = _sympy()
    f = sp.functions
    return (sp.Number, sp.NumberSymbol, sp.core.numbers.ImaginaryUnit, sp.Symbol, sp.Add, sp.Mul, sp.Pow,
            f.exp, f.log, f.sin, f.cos, f.tan, f.cot, f.sec, f.csc, f.asin, f.acos, f.atan,
            f.sinh, f.cosh, f.tanh, f.Abs)


def _plain(expr: Any) -> bool:
    """A scalar expression of allow-listed nodes, small enough to evaluate at once."""
    sp = _sympy()
    if not isinstance(expr, sp.Expr) or isinstance(expr, (sp.Symbol, sp.MatrixExpr)):
        return False
    kinds = _plain_kinds()
    for n, node in enumerate(sp.preorder_traversal(expr)):
        if n > _MAX_NODES or not isinstance(node, kinds) or isinstance(node, sp.UnevaluatedExpr):
            return False
    return len(expr.free_symbols) <= _MAX_SYMBOLS


def _point(symbols: set) -> dict:
    """Positive, generic rationals (no branch cuts, no accidental roots of small polynomials)."""
    sp = _sympy()
    ordered = sorted(symbols, key=lambda s: s.name)
    return {s: sp.Rational(1307 + 171 * i, 1009) for i, s in enumerate(ordered)}


def _finite(value: Any) -> complex | None:
    try:
        z = complex(value)
    except (TypeError, ValueError):
        return None
    return z if z == z and abs(z) != float("inf") else None


def certainly_unequal(gold: Any, pred: Any) -> bool:
    """The difference is clearly non-zero at one point, so ``simplify`` cannot make it zero."""
    point = _point(gold.free_symbols | pred.free_symbols)
    g = _finite(gold.xreplace(point).evalf(30))
    p = _finite(pred.xreplace(point).evalf(30))
    d = _finite((gold - pred).xreplace(point).evalf(30))
    if g is None or p is None or d is None:
        return False
    margin = max(1e-12, 1e-9 * (abs(g) + abs(p)))
    sp = _sympy()
    if gold.has(sp.Float) or pred.has(sp.Float):
        # math-verify's simplify computes with these decimals at 15 digits, so terms that
        # cancel leave float noise it may round to 0 (``(x+1000.1)^2-x^2-2000.2x-1000200``
        # is 0.01 to it). Only a difference far above that noise (some 4,500 float
        # epsilons of the expressions' absolute scale) is certain.
        margin = max(margin, 1e-12 * (_scale(gold, point) + _scale(pred, point)))
    return abs(d) > margin and abs(g - p) > margin


_WELL_CONDITIONED = 1e3


def _scale(expr: Any, point: dict) -> float:
    """The value with every sum taken over absolute values: the float noise of any
    evaluation or expansion of ``expr`` is a few epsilons of it. Infinite where an
    argument of a function, root or quotient itself cancels (its noise is unbounded)."""
    sp = _sympy()
    if isinstance(expr, sp.Add):
        return sum(_scale(a, point) for a in expr.args)
    if isinstance(expr, sp.Mul):
        return math.prod(_scale(a, point) for a in expr.args)
    value = _finite(expr.xreplace(point).evalf(20))
    if value is None:
        return math.inf
    if not expr.args:
        return abs(value)
    if isinstance(expr, sp.Pow) and isinstance(expr.exp, sp.Integer) and expr.exp > 0:
        return _scale(expr.base, point) ** int(expr.exp)
    worst = 1.0  # roots, quotients, functions: keep the relative noise of a well-conditioned argument
    for arg in expr.args:
        a = _finite(arg.xreplace(point).evalf(20))
        s = _scale(arg, point)
        if a is None or a == 0 or s > _WELL_CONDITIONED * abs(a):
            return math.inf
        worst = max(worst, s / abs(a) * max(1.0, abs(a)))
    return abs(value) * _WELL_CONDITIONED * worst


def certainly_equal(gold: Any, pred: Any) -> bool:
    """Two polynomials whose difference expands to zero: ``simplify`` reaches zero too."""
    sp = _sympy()
    if gold.has(sp.Float) or pred.has(sp.Float):
        return False
    symbols = gold.free_symbols | pred.free_symbols
    if not symbols:
        return False  # constants: math-verify's own numeric step is already fast
    for node in sp.preorder_traversal(gold - pred):
        if isinstance(node, sp.Function):
            return False
        if isinstance(node, sp.Pow) and node.base.free_symbols:
            e = node.exp
            if not (isinstance(e, sp.Integer) and 0 < int(e) <= _MAX_POWER):
                return False
    return sp.expand(gold - pred) == 0


def _pair(gold: Any, pred: Any, float_rounding: int) -> bool | None:
    """math-verify's verdict on one pair of extractions, when it is cheap to know."""
    sp = _sympy()
    if isinstance(gold, str) or isinstance(pred, str):
        if isinstance(gold, str) and isinstance(pred, str):
            return bool(gold.strip()) and gold.strip() == pred.strip()
        return False  # math-verify never compares a string with an expression
    if not (isinstance(gold, sp.Basic) and isinstance(pred, sp.Basic)):
        return None
    if gold == pred or not (_plain(gold) and _plain(pred)):
        return None  # identical (math-verify knows fast), or not a plain scalar pair
    # For plain scalars verify's steps are: string (done above), numeric, simplify.
    # The numeric step is math-verify's own and cheap; only simplify is replaced.
    from math_verify.grader import sympy_numeric_eq

    if sympy_numeric_eq(gold, pred, float_rounding, _NUMERIC_PRECISION):
        return True
    if certainly_equal(gold, pred):
        return True
    if certainly_unequal(gold, pred):
        return False
    return None


def decide(gold: Sequence[Any], pred: Sequence[Any], float_rounding: int) -> bool | None:
    """``verify(gold, pred)`` when every pair (or one equal pair) is cheap to settle, else None.
    Nothing to compare on either side is never a verdict: a reading that found nothing
    is the caller's to report, not "unequal"."""
    if not gold or not pred:
        return None
    undecided = False
    for g in gold:
        for p in pred:
            try:
                verdict = _pair(g, p, float_rounding)
            except Exception:  # noqa: BLE001 - an evaluation sympy cannot do: leave it to math-verify
                verdict = None
            if verdict is True:
                return True
            undecided = undecided or verdict is None
    return None if undecided else False


def same_text_accepts(parsed: Sequence[Any]) -> bool:
    """An answer spelled exactly like the gold parses exactly like it; math-verify then
    accepts through the identical text or an identical expression (not nan / zoo)."""
    sp = _sympy()
    for x in parsed:
        if isinstance(x, str) and x.strip():
            return True
        if isinstance(x, sp.Basic) and x not in (sp.nan, sp.zoo):
            return True
    return False
