"""First-party plugin ``math``: math accuracy with math-verify (isolated, gold parsed
once), and the cheap ``mcq`` and ``yes_no`` answer checks.

Importing this module is cheap: math-verify (sympy, ANTLR) loads inside the worker that
first needs it. See docs/rewards/math.md and docs/rewards/choice.md.
"""

from __future__ import annotations

from vlmr1.hookspecs import hookimpl
from vlmr1.types import Reward, Verifier

from .choice_rewards import (
    MCQ_DEFAULTS,
    YES_NO_DEFAULTS,
    choice_extract,
    mcq_compare,
    mcq_score_batch,
    yes_no_compare,
    yes_no_score_batch,
)
from .verify import MATH_DEFAULTS, math_compare, math_dedupe_key, math_extract, math_score, math_triage, math_warmup, prepare_gold

__all__ = ["register_verifiers", "register_rewards"]

_MATH_DOC = (
    "1.0 if the answer (from <answer>, else the last \\boxed{}, else the last line) equals the "
    "solution: plain numbers compared exactly (or within rel_tol/abs_tol) without sympy, anything "
    "else with math-verify; 0.0 with a reason (wrong, no_answer, unparseable, answer_too_long, "
    "too_deep, too_complex). Runs isolated with the engine's timeout; the solution is parsed once. "
    "params: rel_tol, abs_tol, max_chars, max_depth, float_rounding."
)


@hookimpl
def register_verifiers(register) -> None:  # noqa: ANN001 - the core's callback
    register(Verifier("math", extract=math_extract, compare=math_compare, prepare=prepare_gold, doc=_MATH_DOC))
    register(Verifier("mcq", extract=choice_extract, compare=mcq_compare,
                      doc="Option letter(s) from the answer against the solution's; multi-select as a set."))
    register(Verifier("yes_no", extract=choice_extract, compare=yes_no_compare,
                      doc="yes/no as whole words against the solution's; 'not sure' is no answer."))


@hookimpl
def register_rewards(register) -> None:  # noqa: ANN001 - the core's callback
    register(Reward("math", doc=_MATH_DOC, score=math_score, triage=math_triage, prepare=prepare_gold, dedupe_key=math_dedupe_key, warmup=math_warmup,
                    cheap=False, cheap_prepare=True, defaults=MATH_DEFAULTS))
    register(
        Reward(
            "mcq",
            doc="1.0 if the option letter(s) in the answer ('B', '(b)', 'Answer: B', 'The answer is C', "
            "'B. the cup', 'AC') equal the solution's (order-free), 0.0 if not (wrong, no_answer, "
            "not_an_option); letters are checked against the row's options when given. params: "
            "require_tags, partial, options_column, max_chars, compat (vlm-r1).",
            score_batch=mcq_score_batch,
            cheap=True,
            defaults=MCQ_DEFAULTS,
        )
    )
    register(
        Reward(
            "yes_no",
            doc="1.0 if the answer's yes/no (whole words: 'I know' is not 'no'; 'not sure' is no answer) "
            "equals the solution's, 0.0 if not (wrong, no_answer). params: require_tags, max_chars, compat (vlm-r1).",
            score_batch=yes_no_score_batch,
            cheap=True,
            defaults=YES_NO_DEFAULTS,
        )
    )
