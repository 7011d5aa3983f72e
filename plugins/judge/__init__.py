"""First-party plugin ``judge``: LLM-judge ``consistency`` (does the reasoning support the
answer?) and the pairwise ``preference`` reward of R1-Reward-style reward-model training.

Registering is cheap: the rewards name their functions as text, and httpx, torch and
transformers load on the first judged batch. See docs/judge.md.
"""

from __future__ import annotations

from vlmr1.hookspecs import hookimpl
from vlmr1.types import Reward

from .params import ANSWER_JUDGE_DEFAULTS, BACKEND_PARAMS, CONSISTENCY_DEFAULTS

__all__ = ["register_commands", "register_rewards"]

# The backend settings the judge would build, built once when the engine is.
_CHECK = "vlmr1.plugins.judge.backend:settings_from_params"


@hookimpl
def register_rewards(register) -> None:  # noqa: ANN001 - the core's callback
    register(
        Reward(
            "consistency",
            doc="LLM judge: +1 if the <think> reasoning supports the <answer>, -1 if not; "
            "None with a reason (judge_timeout, judge_error: 500, judge_unparseable, no_reasoning) "
            "when no verdict. params: base_url, model (or backend: transformers, model_path), deadline_s.",
            ascore_batch="vlmr1.plugins.judge.rewards:consistency_ascore",
            defaults=CONSISTENCY_DEFAULTS,
            params=BACKEND_PARAMS,
            check_params=_CHECK,
        )
    )
    register(
        Reward(
            "answer_judge",
            doc="LLM judge of the answer against the gold answer (VLM-R1's llm method): 1.0 same meaning, "
            "0.0 different; None with a reason (judge_timeout, judge_error, judge_unparseable) when no verdict. "
            "params: base_url, model (or backend: transformers, model_path), deadline_s, fallback_score.",
            ascore_batch="vlmr1.plugins.judge.gold:answer_judge_ascore",
            defaults=ANSWER_JUDGE_DEFAULTS,
            params=BACKEND_PARAMS,
            check_params=_CHECK,
            needs=("solution",),
        )
    )
    register(
        Reward(
            "preference",
            doc="Pairwise reward-model task: 1.0 if the <answer> (1 or 2) matches the label "
            "(column solution, else label, else preference), 0.0 if not, None without a label. "
            "params: answer_tags.",
            score_batch="vlmr1.plugins.judge.rewards:preference_score_batch",
            cheap=True,
            params=("answer_tags",),
            needs=("solution|label|preference",),
        )
    )


@hookimpl
def register_commands(cli) -> None:  # noqa: ANN001 - a click group of the plugin's own
    """``vlmr1 vote``: Voting@k of a pairwise reward model (R1-Reward's test-time scaling)."""
    from .commands import vote

    cli.add_command(vote)
