"""First-party plugin ``json``: the task prompt templates, the ``format`` reward derived
from them, and the ``json`` reward (answer is JSON matching a JSON Schema).

Registering is cheap: the templates are data, the rewards name their functions as text
(imported when a run first uses them), and jsonschema loads on the first schema check.
See docs/templates.md, docs/rewards/format.md and docs/rewards/json.md.
"""

from __future__ import annotations

from vlmr1.hookspecs import hookimpl
from vlmr1.types import Reward

from .params import FORMAT_DEFAULTS, JSON_DEFAULTS
from .templates import TEMPLATES

__all__ = ["register_prompt_templates", "register_rewards"]

_REWARDS = "vlmr1.plugins.json.rewards:"


@hookimpl
def register_prompt_templates(register) -> None:  # noqa: ANN001 - the core's callback
    for template in TEMPLATES:
        register(template)


@hookimpl
def register_rewards(register) -> None:  # noqa: ANN001 - the core's callback
    register(
        Reward(
            "format",
            doc="1.0 if the completion has the shape its task's prompt template asks for: think and "
            "answer tags once each, in order, nothing outside (strict), and an answer of the template's "
            "kind (JSON matching its schema, a number, an option, non-empty text); else 0.0 with a reason "
            "(no_answer_tag, multiple_answer_tags, text_outside_tags, answer_not_json, schema: <path>: "
            "<msg>, ...). None (no_template) for rows whose task has no template. params: template, "
            "strict, check_answer, think_prefilled, lenient (escape debris and one level of wrapping "
            "forgiven), compat (vlm-r1: VLM-R1's format regex), max_chars, max_depth, max_digits, "
            "options_column.",
            score_batch=_REWARDS + "format_score_batch",
            check_params=_REWARDS + "check_format",
            cheap=True,
            defaults=FORMAT_DEFAULTS,
        )
    )
    register(
        Reward(
            "json",
            doc="1.0 if the answer (inside <answer> tags if present, fenced ```json or bare) is JSON "
            "that matches params.schema or the task template's answer_schema; 0.0 with a reason "
            "(answer_not_json, json_nan, json_number_too_large, json_too_deep, answer_too_long, "
            "schema: <path>: <msg>); None (no_schema) when no schema applies. params: schema, "
            "template, require_tags, lenient, max_chars, max_depth, max_digits.",
            score_batch=_REWARDS + "json_score_batch",
            cheap=True,
            defaults=JSON_DEFAULTS,
        )
    )
