"""Parsing a model's JSON answer safely, and checking it against a JSON Schema.

``json.loads`` on model output has four failure modes besides a syntax error, and
each is rejected here with its own reason before it can cost anything:

- ``NaN`` / ``Infinity`` (Python accepts them; JSON does not) -> ``json_nan``;
- numbers that overflow a float or carry absurdly many digits -> ``json_number_too_large``
  (Python's int parser would also refuse beyond 4300 digits, with an unhelpful error);
- nesting bombs (``[[[[...]]]]``) -> ``json_too_deep``: measured by a linear scan before
  ``json.loads``, whose recursive decoder would otherwise hit ``RecursionError``;
- megabyte answers -> ``answer_too_long``.

Validators are compiled once per distinct schema (``Draft202012Validator``: about 30 us
a call compiled, versus about 1.3 ms for ``jsonschema.validate``, which re-checks and
re-compiles the schema every time).
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from typing import Any, Mapping

from vlmr1.answers import strip_fence

__all__ = [
    "JsonLimits",
    "ParsedJson",
    "strip_fence",
    "nesting_depth",
    "loads_safe",
    "parse_answer_json",
    "validator_for",
    "schema_error",
]

@dataclass(frozen=True)
class JsonLimits:
    """Bounds on an answer before and while it is parsed."""

    max_chars: int = 50_000
    max_depth: int = 32
    max_digits: int = 50


@dataclass(frozen=True)
class ParsedJson:
    """``value`` when ``reason`` is "ok"; otherwise why the text is not acceptable JSON."""

    reason: str
    value: Any = None

    @property
    def ok(self) -> bool:
        return self.reason == "ok"


class _Reject(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason




def nesting_depth(text: str, stop_at: int | None = None) -> int:
    """The deepest ``[``/``{`` nesting in ``text``, ignoring brackets inside strings.

    One pass over the characters. Shortcut: if the text holds fewer opening brackets
    than ``stop_at``, it cannot be that deep and no scan is needed. With ``stop_at``
    the scan stops as soon as that depth is reached.
    """
    opens = text.count("[") + text.count("{")
    if stop_at is not None and opens < stop_at:
        return opens  # an upper bound, below the limit: good enough to pass
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "[" or ch == "{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_at is not None and deepest >= stop_at:
                    return deepest
        elif ch == "]" or ch == "}":
            depth -= 1
    return deepest


def _hooks(limits: JsonLimits) -> dict[str, Any]:
    max_digits = limits.max_digits

    def parse_constant(name: str) -> Any:
        raise _Reject("json_nan")

    def parse_int(s: str) -> int:
        if len(s) - (s[0] == "-") > max_digits:
            raise _Reject("json_number_too_large")
        return int(s)

    def parse_float(s: str) -> float:
        digits = sum(c.isdigit() for c in s)
        if digits > max_digits:
            raise _Reject("json_number_too_large")
        value = float(s)
        if math.isinf(value):
            raise _Reject("json_number_too_large")
        return value

    return {"parse_constant": parse_constant, "parse_int": parse_int, "parse_float": parse_float}


def loads_safe(text: str, limits: JsonLimits = JsonLimits(), lenient: bool = False) -> ParsedJson:
    """Parse JSON text within ``limits``; never raises.

    ``lenient``: when the text is not JSON as a whole, decode the first JSON object
    or array that starts inside it (``The box is {"bbox_2d": [...]}.``).
    """
    if not isinstance(text, str):
        return ParsedJson("answer_not_text")
    if len(text) > limits.max_chars:
        return ParsedJson("answer_too_long")
    if nesting_depth(text, stop_at=limits.max_depth + 1) > limits.max_depth:
        return ParsedJson("json_too_deep")
    hooks = _hooks(limits)
    try:
        return ParsedJson("ok", json.loads(text, **hooks))
    except _Reject as exc:
        return ParsedJson(exc.reason)
    except (ValueError, RecursionError):
        pass
    if lenient:
        starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
        if starts:
            try:
                value, _ = json.JSONDecoder(**hooks).raw_decode(text, min(starts))
                return ParsedJson("ok", value)
            except _Reject as exc:
                return ParsedJson(exc.reason)
            except (ValueError, RecursionError):
                pass
    return ParsedJson("answer_not_json")


def parse_answer_json(answer: str, limits: JsonLimits = JsonLimits(), lenient: bool = False) -> ParsedJson:
    """An answer block's JSON: fenced (```json ... ```) or bare."""
    if not isinstance(answer, str):
        return ParsedJson("answer_not_text")
    if len(answer) > limits.max_chars:
        return ParsedJson("answer_too_long")
    body = strip_fence(answer)
    if not body:
        return ParsedJson("empty_answer")
    got = loads_safe(body, limits, lenient)
    if got.reason == "answer_not_json" and "```" in answer:
        # three backticks inside a JSON string: the fence may close later, or not be one
        for other in (strip_fence(answer, widest=True), answer.strip()):
            if other != body:
                retry = loads_safe(other, limits, lenient)
                if retry.ok:
                    return retry
    return got


# -- schema validation ----------------------------------------------------------------
_BY_ID: dict[int, tuple[Any, Any]] = {}
_BY_TEXT: dict[str, Any] = {}
_CACHE_MAX = 256


def validator_for(schema: Mapping[str, Any] | bool) -> Any:
    """A compiled ``Draft202012Validator`` for ``schema``, cached.

    Looked up by object identity first (the same template schema every call), then by
    the schema's canonical JSON text (the same inline schema in every row's params).
    An invalid schema raises ``jsonschema.SchemaError`` once, when first compiled.
    """
    hit = _BY_ID.get(id(schema))
    if hit is not None and hit[0] is schema:
        return hit[1]
    from jsonschema import Draft202012Validator

    key = json.dumps(schema, sort_keys=True, default=str)
    validator = _BY_TEXT.get(key)
    if validator is None:
        Draft202012Validator.check_schema(schema)
        validator = Draft202012Validator(schema)
        if len(_BY_TEXT) >= _CACHE_MAX:
            _BY_TEXT.clear()
        _BY_TEXT[key] = validator
    if len(_BY_ID) >= _CACHE_MAX:
        _BY_ID.clear()
    _BY_ID[id(schema)] = (schema, validator)
    return validator


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def schema_error(value: Any, schema: Mapping[str, Any] | bool) -> str | None:
    """None if ``value`` matches ``schema``; else ``"schema: <json path>: <message>"``
    for the most relevant error (jsonschema's ``best_match``), message shortened."""
    from jsonschema.exceptions import best_match

    validator = validator_for(schema)
    if validator.is_valid(value):
        return None
    error = best_match(itertools.islice(validator.iter_errors(value), 20))  # bounded on huge answers
    if error is None:  # pragma: no cover - is_valid said there is one
        return "schema: $: invalid"
    return f"schema: {error.json_path}: {_short(error.message)}"
