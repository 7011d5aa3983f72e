"""Safe arithmetic over reward columns, for composites like R1-Reward's
``0.5*format + accuracy*(1 + 0.5*consistency)``. Only numbers, names, + - * / and
min/max/abs are allowed; the expression is parsed once and evaluated per row.

Everything that could fail at scoring time is checked when the config is read: the
arity of each call (``max()`` or ``min(x)`` would raise on every row), every literal must
be a finite float (``1e400``, a 400-digit integer), and the size of the expression: at
most :data:`MAX_CHARS` characters and :data:`MAX_DEPTH` levels of nesting, so neither the
parser nor the evaluator can run out of stack.
"""

from __future__ import annotations

import ast
import math
import operator
from typing import Callable, Mapping

from .errors import ConfigError

_BIN = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_FUNCS = {"min": min, "max": max, "abs": abs}
_ARITY = {"min": (2, None), "max": (2, None), "abs": (1, 1)}  # (least, most) arguments
MAX_CHARS = 1000  # a reward formula is a line; R1-Reward's is 45 characters
MAX_DEPTH = 50  # nested operations; a flat sum of n terms nests n deep


def _parse(expr: str, source: str) -> ast.Expression:
    shown = expr if len(expr) <= 80 else expr[:60] + f"... ({len(expr)} characters)"
    if len(expr) > MAX_CHARS:
        raise ConfigError(f"{source}: formula {shown!r} is longer than {MAX_CHARS} characters; split it into several formula columns.")
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as exc:
        raise ConfigError(f"{source}: formula {shown!r} is not valid arithmetic: {exc.msg}") from None
    except (RecursionError, MemoryError, ValueError):
        raise ConfigError(f"{source}: formula {shown!r} is nested too deeply to read; split it into several formula columns.") from None
    depth = _depth(tree)
    if depth > MAX_DEPTH:
        raise ConfigError(f"{source}: formula {shown!r} is nested {depth} levels deep (at most {MAX_DEPTH}); split it into several formula columns.")
    for node in ast.walk(tree):
        _check_node(node, shown, source)
    return tree


def _depth(tree: ast.AST) -> int:
    """How deep the operations nest, counted without recursion."""
    deepest, stack = 0, [(tree, 0)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        stack.extend((child, d + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _check_node(node: ast.AST, shown: str, source: str) -> None:
    ok = isinstance(node, (ast.Expression, ast.BinOp, ast.UnaryOp, ast.USub, ast.UAdd, ast.Name, ast.Load, ast.Call)) or type(node) in _BIN
    if isinstance(node, ast.Constant):
        ok = isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
        if ok:
            try:
                finite = math.isfinite(float(node.value))
            except OverflowError:
                finite = False
            if not finite:
                literal = repr(node.value) if len(repr(node.value)) <= 20 else f"a {len(repr(node.value))}-digit number"
                raise ConfigError(f"{source}: formula {shown!r} has a literal too large for a float ({literal}); use a number below 1e308.")
    if isinstance(node, ast.Call):
        if not (isinstance(node.func, ast.Name) and node.func.id in _FUNCS and not node.keywords):
            ok = False
        else:
            name, n = node.func.id, len(node.args)
            least, most = _ARITY[name]
            if n < least or (most is not None and n > most):
                need = f"takes exactly {least} argument" if least == most else f"needs at least {least} arguments"
                raise ConfigError(f"{source}: formula {shown!r}: {name}() {need}, got {n}.")
            if any(isinstance(a, ast.Starred) for a in node.args):
                ok = False
    if not ok:
        raise ConfigError(f"{source}: formula {shown!r} may use only numbers, reward names, + - * / ( ) and min/max/abs")


def names_in(expr: str, source: str = "<formula>") -> set[str]:
    tree = _parse(expr, source)
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - called


def compile_formula(expr: str, source: str = "<formula>") -> Callable[[Mapping[str, float | None]], float | None]:
    """A function of the row's reward columns; None if any column it uses is None."""
    tree = _parse(expr, source)

    def ev(node: ast.AST, env: Mapping[str, float | None]) -> float:
        if isinstance(node, ast.Expression):
            return ev(node.body, env)
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            value = env[node.id]
            if value is None:
                raise _Missing
            return float(value)
        if isinstance(node, ast.UnaryOp):
            v = ev(node.operand, env)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp):
            left, right = ev(node.left, env), ev(node.right, env)
            if isinstance(node.op, ast.Div) and right == 0:
                raise _Missing
            return _BIN[type(node.op)](left, right)
        if isinstance(node, ast.Call):
            return float(_FUNCS[node.func.id](*(ev(a, env) for a in node.args)))
        raise AssertionError(node)

    def run(env: Mapping[str, float | None]) -> float | None:
        try:
            return ev(tree, env)
        except _Missing:
            return None

    return run


class _Missing(Exception):
    pass
