"""Formulas that parse as Python but cannot be evaluated as rewards are refused when the
config is read (`vlmr1 validate`), with a message, never at scoring time and never with a
RecursionError."""

from __future__ import annotations

import math

import pytest
from click.testing import CliRunner

from vlmr1.cli import main
from vlmr1.errors import ConfigError
from vlmr1.formula import compile_formula, names_in

BAD = {
    "max()": "max() needs at least 2 arguments",
    "min(math)": "min() needs at least 2 arguments",
    "abs(math, math)": "abs() takes exactly 1 argument",
    "abs()": "abs() takes exactly 1 argument",
    "9" * 400: "too large",
    "1e400": "too large",
    "math * 1e999": "too large",
    "-" * 3000 + "math": "longer than",
    "+".join(["math"] * 20001): "longer than",
    "abs(" * 60 + "math" + ")" * 60: "nested",
    "-" * 150 + "math": "nested",
    "a" + "+a" * 150: "nested",
    "(" * 300 + "a" + ")" * 300: "not valid arithmetic",
    "True + math": "only numbers",
}


@pytest.mark.parametrize("expr", list(BAD), ids=lambda e: e[:20] + (f"...({len(e)} chars)" if len(e) > 20 else ""))
def test_unusable_formulas_are_refused_when_compiled(expr):
    with pytest.raises(ConfigError, match=BAD[expr].replace("(", r"\(").replace(")", r"\)")):
        compile_formula(expr, "reward 'x'")
    with pytest.raises(ConfigError):
        names_in(expr)


@pytest.mark.parametrize("expr", ["max()", "min(math)", "abs(math, math)", "9" * 400, "-" * 3000 + "math", "+".join(["math"] * 20001)],
                         ids=["max()", "min(math)", "abs(math,math)", "400 digits", "3000 minus", "20001 terms"])
def test_validate_refuses_them_with_an_error_line(tmp_path, expr):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"rewards:\n  - name: math\n  - name: x\n    formula: \"{expr}\"\n")
    result = CliRunner().invoke(main, ["validate", str(cfg)])
    assert result.exit_code == 2, result.output[-500:]
    assert result.output.startswith(f"Error: {cfg}:4: reward 'x': formula "), result.output[-500:]
    assert "Traceback" not in result.output and "RecursionError" not in result.output
    assert len(result.output) < 1500  # the message does not echo a 20,000-term formula back


@pytest.mark.parametrize(
    "expr, env, want",
    [
        ("0.5*format + accuracy*(1 + 0.5*consistency)", {"format": 1.0, "accuracy": 1.0, "consistency": -1.0}, 1.0),
        ("max(a, b, 0.25)", {"a": 0.1, "b": 0.2}, 0.25),
        ("min(a, b)", {"a": 0.1, "b": 0.2}, 0.1),
        ("abs(a - b)", {"a": 0.1, "b": 0.5}, 0.4),
        ("--a", {"a": 0.3}, 0.3),
        ("a" + "+a" * 40, {"a": 0.5}, 20.5),
        ("-" * 40 + "a", {"a": 0.5}, 0.5),
        ("(" * 100 + "a" + ")" * 100, {"a": 0.5}, 0.5),
        ("123456789012345678901234567890 * a", {"a": 0.0}, 0.0),
    ],
)
def test_usable_formulas_still_compute(expr, env, want):
    assert compile_formula(expr)(env) == pytest.approx(want)


def test_overflow_at_scoring_time_is_not_finite_not_an_exception():
    f = compile_formula("a * 1e300 * 1e300")
    assert math.isinf(f({"a": 1.0}))
