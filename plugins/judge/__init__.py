"""First-party plugin ``judge``: LLM-judge ``consistency`` (does the reasoning support the
answer?) and the pairwise ``preference`` reward of R1-Reward-style reward-model training.

Importing this module is cheap: httpx, torch and transformers load on the first judged batch.
See docs/judge.md.
"""

from __future__ import annotations

from vlmr1.hookspecs import hookimpl
from vlmr1.types import Reward

from .gold import ANSWER_JUDGE_DEFAULTS, answer_judge_ascore
from .rewards import CONSISTENCY_DEFAULTS, consistency_ascore, preference_score_batch

__all__ = ["register_commands", "register_rewards"]


def _check_judge_params(params) -> None:  # noqa: ANN001
    """The backend settings the judge would build, built once at config time."""
    from .backend import settings_from_params

    settings_from_params(params)


@hookimpl
def register_rewards(register) -> None:  # noqa: ANN001 - the core's callback
    register(
        Reward(
            "consistency",
            doc="LLM judge: +1 if the <think> reasoning supports the <answer>, -1 if not; "
            "None with a reason (judge_timeout, judge_error: 500, judge_unparseable, no_reasoning) "
            "when no verdict. params: base_url, model (or backend: transformers, model_path), deadline_s.",
            ascore_batch=consistency_ascore,
            defaults=CONSISTENCY_DEFAULTS,
            check_params=_check_judge_params,
        )
    )
    register(
        Reward(
            "answer_judge",
            doc="LLM judge of the answer against the gold answer (VLM-R1's llm method): 1.0 same meaning, "
            "0.0 different; None with a reason (judge_timeout, judge_error, judge_unparseable) when no verdict. "
            "params: base_url, model (or backend: transformers, model_path), deadline_s, fallback_score.",
            ascore_batch=answer_judge_ascore,
            defaults=ANSWER_JUDGE_DEFAULTS,
            check_params=_check_judge_params,
        )
    )
    register(
        Reward(
            "preference",
            doc="Pairwise reward-model task: 1.0 if the <answer> (1 or 2) matches the label "
            "(column solution, else label, else preference), 0.0 if not, None without a label.",
            score_batch=preference_score_batch,
            cheap=True,
        )
    )


@hookimpl
def register_commands(cli) -> None:  # noqa: ANN001 - a click group of the plugin's own
    """``vlmr1 vote``: Voting@k of a pairwise reward model (R1-Reward's test-time scaling)."""
    from .commands import vote

    cli.add_command(vote)
