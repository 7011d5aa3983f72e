"""First-party plugin ``math``: math accuracy with math-verify (isolated, gold parsed
once), and the cheap ``mcq`` and ``yes_no`` answer checks.

Registering is cheap: the rewards name their functions as text, and math-verify (sympy,
ANTLR) loads inside the worker that first needs it. See docs/rewards/math.md and
docs/rewards/choice.md.
"""

from __future__ import annotations

from vlmr1.hookspecs import hookimpl
from vlmr1.types import Reward

from .params import MATH_DEFAULTS, MCQ_DEFAULTS, YES_NO_DEFAULTS

__all__ = ["register_rewards"]

_VERIFY = "vlmr1.plugins.math.verify:"
_CHOICE = "vlmr1.plugins.math.choice_rewards:"
_MATH_DOC = (
    "1.0 if the answer (from <answer>, else the last \\boxed{}, else the last line) equals the "
    "solution: plain numbers compared exactly (or within rel_tol/abs_tol) without sympy, anything "
    "else with math-verify; 0.0 with a reason (wrong, no_answer, unparseable, answer_too_long, "
    "too_deep, too_complex). Runs isolated with the engine's timeout; the solution is parsed once. "
    "params: rel_tol, abs_tol, max_chars, max_depth, float_rounding."
)


@hookimpl
def register_rewards(register) -> None:  # noqa: ANN001 - the core's callback
    register(Reward("math", doc=_MATH_DOC, score=_VERIFY + "math_score", triage=_VERIFY + "math_triage",
                    prepare=_VERIFY + "prepare_gold", dedupe_key=_VERIFY + "math_dedupe_key",
                    warmup=_VERIFY + "math_warmup", cheap=False, cheap_prepare=True, defaults=MATH_DEFAULTS,
                    needs=("solution",)))
    register(
        Reward(
            "mcq",
            doc="1.0 if the option letter(s) in the answer ('B', '(b)', 'Answer: B', 'The answer is C', "
            "'B. the cup', 'AC') equal the solution's (order-free), 0.0 if not (wrong, no_answer, "
            "not_an_option); letters are checked against the row's options when given. params: "
            "require_tags, partial, options_column, max_chars, compat (vlm-r1).",
            score_batch=_CHOICE + "mcq_score_batch",
            check_params=_CHOICE + "check_choice",
            cheap=True,
            defaults=MCQ_DEFAULTS,
            needs=("solution",),
        )
    )
    register(
        Reward(
            "yes_no",
            doc="1.0 if the answer's yes/no (whole words: 'I know' is not 'no'; 'not sure' is no answer) "
            "equals the solution's, 0.0 if not (wrong, no_answer). params: require_tags, max_chars, compat (vlm-r1).",
            score_batch=_CHOICE + "yes_no_score_batch",
            check_params=_CHOICE + "check_choice",
            cheap=True,
            defaults=YES_NO_DEFAULTS,
            needs=("solution",),
        )
    )
