"""Safe arithmetic over reward columns, for composites like R1-Reward's
``0.5*format + accuracy*(1 + 0.5*consistency)``. Only numbers, names, + - * / and
min/max/abs are allowed; the expression is parsed once and evaluated per row.
"""

from __future__ import annotations

import ast
import operator
from typing import Callable, Mapping

from .errors import ConfigError

_BIN = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_FUNCS = {"min": min, "max": max, "abs": abs}


def _parse(expr: str, source: str) -> ast.Expression:
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as exc:
        raise ConfigError(f"{source}: formula {expr!r} is not valid arithmetic: {exc.msg}") from None
    for node in ast.walk(tree):
        ok = isinstance(node, (ast.Expression, ast.BinOp, ast.UnaryOp, ast.USub, ast.UAdd, ast.Name, ast.Load, ast.Call)) or type(node) in _BIN
        ok = ok or (isinstance(node, ast.Constant) and isinstance(node.value, (int, float)))
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in _FUNCS and not node.keywords):
            ok = False
        if not ok:
            raise ConfigError(f"{source}: formula {expr!r} may use only numbers, reward names, + - * / ( ) and min/max/abs")
    return tree


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
