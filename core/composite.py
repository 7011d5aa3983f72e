"""Composite columns: gates and formulas, applied after the plain columns, in an order
where every input is final before it is read."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from .errors import ConfigError
from .types import Verdict

__all__ = ["formula_column", "gate", "topological"]


def formula_column(formula: Callable[[Mapping[str, float | None]], float | None], refs: tuple[str, ...],
                   verdicts: Mapping[str, list[Verdict]], n: int) -> list[Verdict]:
    """The formula per item; None with ``missing_input:<names>`` when an input is None."""
    out = []
    for i in range(n):
        env = {name: verdicts[name][i].score for name in refs if name in verdicts}
        value = formula(env)
        if value is not None and math.isfinite(value):
            out.append(Verdict(float(value), "ok"))
        else:
            missing = sorted(k for k, v in env.items() if v is None)
            out.append(Verdict(None, f"missing_input:{','.join(missing)}" if missing else "undefined"))
    return out


def gate(col: list[Verdict], gate: list[Verdict], gate_name: str, gate_min: float) -> list[Verdict]:
    """Zero the scores whose gate column is below ``gate_min``; a None gate leaves it ungated."""
    out = []
    for v, g in zip(col, gate):
        if v.score is not None and g.score is not None and g.score < gate_min:
            out.append(Verdict(0.0, f"gated_by:{gate_name}", v.answer, {**dict(v.details), "ungated_score": v.score, "ungated_reason": v.reason}))
        else:
            out.append(v)
    return out


def topological(columns: dict[str, Any]) -> list[Any]:
    """Columns (with ``.refs``) ordered so each comes after what it refers to; a cycle is a ConfigError."""
    order: list[Any] = []
    state: dict[str, int] = {}

    def visit(name: str, path: tuple[str, ...]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            raise ConfigError(f"rewards refer to each other in a cycle: {' -> '.join(path + (name,))}")
        state[name] = 1
        for ref in columns[name].refs:
            visit(ref, path + (name,))
        state[name] = 2
        order.append(columns[name])

    for name in columns:
        visit(name, ())
    return order
