"""The ``format`` and ``json`` rewards: cheap, inline, linear in the completion's length.

``format`` reads the row's prompt template (its task, or ``params.template``) and checks
what that template asked for: the think block if it has one, the answer block, and an
answer of the template's kind. ``json`` checks only the answer: valid JSON that matches
a schema. Both score 1.0 or 0.0 with a reason; rows they cannot judge get None.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

from vlmr1.answers import answer_text, check_tags
from vlmr1.choices import option_letters, parse_letters_strict
from vlmr1.errors import ConfigError
from vlmr1.types import PromptTemplate, Sample, Verdict

from .jsonanswer import JsonLimits, parse_answer_json, schema_error
from .params import FORMAT_DEFAULTS, JSON_DEFAULTS

__all__ = ["FORMAT_DEFAULTS", "JSON_DEFAULTS", "format_score_batch", "json_score_batch", "check_answer_kind", "resolve_template",
           "check_format"]

_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[+-]?\.\d+")


def resolve_template(sample: Sample, params: Mapping[str, Any]) -> tuple[PromptTemplate | None, str]:
    """The template that governs a row: ``params.template`` if set, else the row's task.
    Returns (template, "") or (None, reason)."""
    name = params.get("template") or sample.task
    if not name:
        return None, "no_template"
    from vlmr1.registry import get_registry

    template = get_registry().templates.get(str(name))
    if template is None:
        return None, "no_template" if not params.get("template") else f"unknown_template: {name}"
    return template, ""


def _limits(params: Mapping[str, Any]) -> JsonLimits:
    return JsonLimits(int(params.get("max_chars", 50_000)), int(params.get("max_depth", 32)), int(params.get("max_digits", 50)))


def check_answer_kind(answer: str, template: PromptTemplate, sample: Sample, params: Mapping[str, Any]) -> tuple[str, Any]:
    """("ok", parsed answer) when ``answer`` is of the template's kind, else (reason, None)."""
    body = answer.strip()
    if not body:
        return "empty_answer", None
    kind = template.answer_kind
    if kind == "json":
        if params.get("lenient", False):
            from .lenient import lenient_json

            parsed = lenient_json(answer, _limits(params))
        else:
            parsed = parse_answer_json(answer, _limits(params))
        if not parsed.ok:
            return parsed.reason, None
        if template.answer_schema is not None:
            err = schema_error(parsed.value, template.answer_schema)
            if err:
                return err, parsed.value
        return "ok", parsed.value
    if kind == "number":
        if len(body) > 64 or not _NUMBER.fullmatch(body):
            return "answer_not_number", None
        plain = body.replace(",", "")
        value: int | float = float(plain) if "." in plain else int(plain)
        if isinstance(template.answer_schema, Mapping):
            err = schema_error(value, template.answer_schema)  # e.g. counting: integer >= 0
            if err:
                return err, value
        return "ok", value
    if kind == "choice":
        enum = (template.answer_schema or {}).get("enum") if isinstance(template.answer_schema, Mapping) else None
        if enum:
            norm = body.rstrip(".").strip().lower()
            if norm in {str(e).lower() for e in enum}:
                return "ok", norm
            return "answer_not_choice", None
        letters = parse_letters_strict(body)
        if letters is None:
            return "answer_not_choice", None
        allowed = option_letters(sample.get(str(params.get("options_column", "options"))))
        if allowed is not None and any(c not in allowed for c in letters):
            return "not_an_option", letters
        return "ok", letters
    return "ok", body  # text: any non-empty answer


def _format_one(sample: Sample, params: Mapping[str, Any]) -> Verdict:
    if params.get("compat") == "vlm-r1":
        from .vlmr1_format import vlmr1_format

        return vlmr1_format(sample.completion)
    template, why = resolve_template(sample, params)
    if template is None:
        return Verdict.skip(why)
    if not isinstance(sample.completion, str):
        return Verdict.fail("not_text")
    tags = check_tags(
        sample.completion,
        template.think_tags,
        template.answer_tags,
        strict=bool(params.get("strict", True)),
        think_prefilled=bool(params.get("think_prefilled", False)),
    )
    if not tags.ok:
        return Verdict.fail(tags.reason)
    if not params.get("check_answer", True):
        return Verdict(1.0, "ok", tags.answer, {"template": template.name})
    reason, parsed = check_answer_kind(tags.answer or "", template, sample, params)
    if reason != "ok":
        return Verdict(0.0, reason, parsed, {"template": template.name})
    return Verdict(1.0, "ok", parsed, {"template": template.name})


def check_format(params: Mapping[str, Any]) -> None:
    """A mistyped ``compat`` would quietly score in default mode: refuse it."""
    compat = params.get("compat")
    if compat not in (None, "vlm-r1"):
        raise ConfigError(f"compat={compat!r} is not one of: vlm-r1 (or leave it out for the default mode).")


def format_score_batch(samples: Sequence[Sample], golds: Sequence[Any], params: Mapping[str, Any]) -> list[Verdict]:
    """``format``: 1.0 when the completion has exactly the shape its template asks for."""
    return [_format_one(s, params) for s in samples]


def _json_one(sample: Sample, params: Mapping[str, Any]) -> Verdict:
    schema = params.get("schema")
    answer_tags = ("<answer>", "</answer>")
    if schema is None:
        template, why = resolve_template(sample, params)
        if template is None or template.answer_kind != "json" or template.answer_schema is None:
            return Verdict.skip("no_schema")
        schema, answer_tags = template.answer_schema, template.answer_tags
    text = sample.completion
    if not isinstance(text, str):
        return Verdict.fail("not_text")
    limits = _limits(params)
    inner = answer_text(text, answer_tags)
    if inner is None:
        if params.get("require_tags", False):
            return Verdict.fail("no_answer_tag")
        inner = text
    parsed = parse_answer_json(inner, limits, lenient=bool(params.get("lenient", False)))
    if not parsed.ok:
        return Verdict.fail(parsed.reason)
    if schema is True or schema == {}:
        return Verdict(1.0, "ok", parsed.value)
    try:
        err = schema_error(parsed.value, schema)
    except Exception as exc:  # an invalid schema in params: the config's fault, say so
        return Verdict.skip(f"bad_schema: {type(exc).__name__}")
    if err:
        return Verdict(0.0, err, parsed.value)
    return Verdict(1.0, "ok", parsed.value)


def json_score_batch(samples: Sequence[Sample], golds: Sequence[Any], params: Mapping[str, Any]) -> list[Verdict]:
    """``json``: 1.0 when the answer is JSON that matches the schema."""
    return [_json_one(s, params) for s in samples]
