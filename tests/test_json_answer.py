"""The `json` reward and safe JSON parsing: NaN, huge numbers, depth bombs, megabyte
answers, fences, schema paths, the validator cache; properties over arbitrary JSON."""

from __future__ import annotations

import json
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vlmr1.plugins.json import jsonanswer
from vlmr1.plugins.json.jsonanswer import JsonLimits, loads_safe, nesting_depth, parse_answer_json, schema_error, strip_fence, validator_for
from vlmr1.plugins.json.rewards import JSON_DEFAULTS, json_score_batch
from vlmr1.plugins.json.templates import REC_SCHEMA
from vlmr1.types import Sample

BOX = '{"bbox_2d": [135, 82, 310, 398], "label": "red cup"}'


def js(completion, task="rec", **params):
    return json_score_batch([Sample(completion, task=task)], [None], {**JSON_DEFAULTS, **params})[0]


REAL = [
    (f"<think>cup</think><answer>{BOX}</answer>", 1.0, "ok"),
    (f"<think>cup</think><answer>```json\n{BOX}\n```</answer>", 1.0, "ok"),
    (f"```json\n[{BOX}]\n```", 1.0, "ok"),  # no tags: the whole completion
    (BOX, 1.0, "ok"),
    (f"<answer>The box is {BOX}.</answer>", 0.0, "answer_not_json"),
    ("<answer>{'bbox_2d': [1, 2, 3, 4]}</answer>", 0.0, "answer_not_json"),  # Python, not JSON
    ('<answer>{"bbox_2d": [1, 2, 3, 4],}</answer>', 0.0, "answer_not_json"),
    ('<answer>{"bbox_2d": [NaN, 2, 3, 4]}</answer>', 0.0, "json_nan"),
    ('<answer>{"bbox_2d": [-Infinity, 2, 3, 4]}</answer>', 0.0, "json_nan"),
    ('<answer>{"bbox_2d": [1e400, 2, 3, 4]}</answer>', 0.0, "json_number_too_large"),
    ('<answer>{"bbox_2d": [1' + "0" * 80 + ', 2, 3, 4]}</answer>', 0.0, "json_number_too_large"),
    ("<answer>" + "[" * 5000 + "]" * 5000 + "</answer>", 0.0, "json_too_deep"),
    ("<answer>" + '{"a":' * 3000 + "1" + "}" * 3000 + "</answer>", 0.0, "json_too_deep"),
    ('<answer>{"bbox_2d": "1,2,3,4"}</answer>', 0.0, "schema: $.bbox_2d: "),
    ('<answer>{"bbox_2d": [1, 2, 3, 4], "label": 7}</answer>', 0.0, "schema: $.label: "),
    ("<answer>[]</answer>", 0.0, "schema: $: "),
    ("<answer></answer>", 0.0, "empty_answer"),
]


@pytest.mark.parametrize("completion, score, reason", REAL)
def test_real_world_answers(completion, score, reason):
    v = js(completion)
    assert v.score == score and v.reason.startswith(reason), v


def test_megabyte_answer_is_refused_before_parsing():
    huge = "<answer>[" + ",".join(["1"] * 600_000) + "]</answer>"
    assert js(huge, schema=True).reason == "answer_too_long"
    assert js(huge, schema=True, max_chars=2_000_000).score == 1.0


def test_params_schema_lenient_require_tags_and_no_schema():
    schema = {"type": "object", "required": ["count"], "properties": {"count": {"type": "integer", "minimum": 0}}}
    assert js('<answer>{"count": 3}</answer>', task="counting", schema=schema).score == 1.0
    assert js('<answer>{"count": -1}</answer>', task="counting", schema=schema).reason.startswith("schema: $.count: ")
    # no schema from params and a non-JSON template: not this reward's row
    assert js('<answer>{"count": 3}</answer>', task="counting").reason == "no_schema"
    assert js('<answer>{"count": 3}</answer>', task=None).score is None
    # schema: true -> any JSON
    assert js("<answer>[1, 2]</answer>", task=None, schema=True).score == 1.0
    prose = f"<answer>The box is {BOX}.</answer>"
    assert js(prose, lenient=True).score == 1.0
    assert js(BOX, require_tags=True).reason == "no_answer_tag"
    assert js("x", task="detection", template="rec").reason == "answer_not_json"
    bad = js("<answer>[1]</answer>", task=None, schema={"type": "nonsense-type"})
    assert bad.score is None and bad.reason.startswith("bad_schema")


def test_validator_is_compiled_once_per_schema():
    jsonanswer._BY_ID.clear()
    jsonanswer._BY_TEXT.clear()
    first = validator_for(REC_SCHEMA)
    assert validator_for(REC_SCHEMA) is first
    copy = json.loads(json.dumps(REC_SCHEMA))  # same schema, another object: same validator
    assert validator_for(copy) is first
    assert len(jsonanswer._BY_TEXT) == 1


def test_schema_error_names_the_path():
    assert schema_error({"bbox_2d": [1, 2, 3, 4]}, REC_SCHEMA) is None
    assert schema_error([{"bbox_2d": [1, 2, "x", 4]}], REC_SCHEMA).startswith("schema: $")
    long = schema_error({"bbox_2d": ["y" * 10_000] * 4}, REC_SCHEMA)
    assert len(long) < 200


def test_strip_fence_forms():
    assert strip_fence('```json\n{"a": 1}\n```') == '{"a": 1}'
    assert strip_fence('```json {"a": 1}```') == '{"a": 1}'
    assert strip_fence("```\n[1]\n```") == "[1]"
    assert strip_fence("text ```[2]``` more") == "[2]"
    assert strip_fence("```json\n[1]") == "```json\n[1]"  # unclosed: left as it is
    assert strip_fence("  [3] ") == "[3]"
    assert parse_answer_json('```json\n{"a": "```"}\n```').value == {"a": "```"}
    assert parse_answer_json('{"a": "```"}').value == {"a": "```"}


def test_nesting_depth_ignores_brackets_in_strings():
    assert nesting_depth('{"a": "[[[[[[", "b": [1, [2]]}') == 3
    assert nesting_depth('["\\"[[[[", []]') == 2
    assert nesting_depth("[" * 100, stop_at=10) == 10


# -- properties ------------------------------------------------------------------------
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=False, allow_infinity=False, width=32) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_json)
def test_round_trip_of_any_json_value(value):
    text = json.dumps(value)
    got = loads_safe(text)
    assert got.ok and got.value == value
    fenced = parse_answer_json(f"```json\n{text}\n```")
    assert fenced.ok and fenced.value == value
    bare = parse_answer_json(f"  {text}\n")
    assert bare.ok and bare.value == value


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_never_raises_on_any_text(text):
    got = parse_answer_json(text, JsonLimits(max_chars=300, max_depth=8, max_digits=20), lenient=True)
    assert isinstance(got.reason, str)
    if got.ok:
        assert nesting_depth(json.dumps(got.value)) <= 8


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=60))
def test_depth_limit_is_exact(depth):
    text = "[" * depth + "]" * depth
    got = loads_safe(text, JsonLimits(max_depth=30))
    assert got.ok == (depth <= 30)
    assert got.ok or got.reason == "json_too_deep"


def test_parsed_results_and_verdicts_pickle():
    v = js(f"<answer>{BOX}</answer>")
    assert pickle.loads(pickle.dumps(v)) == v
