"""Box parsing: real-world completions, ground truth forms, limits, and properties."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vlmr1.plugins.iou.parse import (
    Limits,
    Parsed,
    Shape,
    answer_region,
    parse_answer,
    parse_solution,
)

B = "box"

# (completion, expected reason, expected shapes as (kind, coords, label))
REAL_WORLD = [
    # Qwen2.5-VL grounding answers
    ('<think>The cup is left.</think> <answer>{"bbox_2d": [12, 30, 118, 204], "label": "red cup"}</answer>',
     "ok", [(B, (12, 30, 118, 204), "red cup")]),
    ('<answer>```json\n[\n\t{"bbox_2d": [135, 114, 1016, 672], "label": "bird"}\n]\n```</answer>',
     "ok", [(B, (135, 114, 1016, 672), "bird")]),
    ('```json\n[{"bbox_2d": [1, 2, 3, 4], "label": "a"}, {"bbox_2d": [5, 6, 7, 8], "label": "b"}]\n```',
     "ok", [(B, (1, 2, 3, 4), "a"), (B, (5, 6, 7, 8), "b")]),
    # several objects without an enclosing list, as models often write
    ('<answer>{"bbox_2d": [1, 2, 3, 4], "label": "a"}, {"bbox_2d": [5, 6, 7, 8], "label": "b"}</answer>',
     "ok", [(B, (1, 2, 3, 4), "a"), (B, (5, 6, 7, 8), "b")]),
    ('<answer>[10.5, 20.25, 30, 40.75]</answer>', "ok", [(B, (10.5, 20.25, 30, 40.75), None)]),
    ('<answer>[[1, 2, 3, 4], [5, 6, 7, 8]]</answer>', "ok", [(B, (1, 2, 3, 4), None), (B, (5, 6, 7, 8), None)]),
    ('<answer>{"bbox_2d": [[1, 2], [3, 4]]}</answer>', "ok", [(B, (1, 2, 3, 4), None)]),
    ('<answer>{"objects": [{"bbox": [1, 2, 3, 4], "category": "dog"}]}</answer>', "ok", [(B, (1, 2, 3, 4), "dog")]),
    # Qwen2-VL box tokens
    ("<|object_ref_start|>the man<|object_ref_end|><|box_start|>(101,202),(303,404)<|box_end|>",
     "ok", [(B, (101, 202, 303, 404), "the man")]),
    ("<|box_start|>(1,2),(3,4)<|box_end|> and <|box_start|>(5, 6), (7, 8)<|box_end|>",
     "ok", [(B, (1, 2, 3, 4), None), (B, (5, 6, 7, 8), None)]),
    # boxes in prose, and Python-style dicts that are not JSON
    ("<answer>The object is at [10, 20, 30, 40] in the image.</answer>", "ok", [(B, (10, 20, 30, 40), None)]),
    ("<answer>{'bbox_2d': [10, 20, 30, 40], 'label': 'x'}</answer>", "ok", [(B, (10, 20, 30, 40), None)]),
    ("no tags at all, box [1,2,3,4]", "ok", [(B, (1, 2, 3, 4), None)]),
    # rotated boxes and polygons
    ('<answer>{"rotated_box": [50, 50, 20, 10, 30], "label": "car"}</answer>', "ok", [("rotated", (50, 50, 20, 10, 30), "car")]),
    ('<answer>[50, 50, 20, 10, 30]</answer>', "ok", [("rotated", (50, 50, 20, 10, 30), None)]),
    ('<answer>{"polygon": [[0, 0], [4, 0], [4, 3]]}</answer>', "ok", [("polygon", (0, 0, 4, 0, 4, 3), None)]),
    # explicit "no object"
    ("<answer>[]</answer>", "no_object", []),
    ('<answer>{"bbox_2d": null}</answer>', "no_object", []),
    ("<answer>None</answer>", "no_object", []),
    ("<answer> No object found. </answer>", "no_object", []),
    ("<answer>null</answer>", "no_object", []),
    # junk and malformed answers: a reason each
    ("<answer>I cannot tell.</answer>", "no_box", []),
    ("", "no_box", []),
    ("<answer>[1, 2, 3]</answer>", "bad_box: 3 numbers (want 4, or 5 for a rotated box)", []),
    ('<answer>{"bbox_2d": [NaN, 1, 2, 3]}</answer>', "non_finite", []),
    ('<answer>{"bbox_2d": [Infinity, 1, 2, 3]}</answer>', "non_finite", []),
    ("<answer>[1e999, 1, 2, 3]</answer>", "non_finite", []),
    ("<answer>[1e12, 1, 2, 3]</answer>", "coordinate_out_of_range", []),
    ('<answer>{"bbox_2d": "1,2,3,4"}</answer>', "bad_box: box is not a list", []),
    ("<|box_start|>(1,2)<|box_end|>", "bad_box: box tokens need two corner points", []),
    ('<answer>{"polygon": [[0, 0], [1, 1]]}</answer>', "bad_box: polygon with fewer than 3 points", []),
    ("<answer>[true, 1, 2, 3]</answer>", "bad_box: bool is not a box", []),
]


@pytest.mark.parametrize("completion, reason, shapes", REAL_WORLD)
def test_real_world_completions(completion, reason, shapes):
    got = parse_answer(completion)
    assert got.reason == reason, got
    assert [(s.kind, s.coords, s.label) for s in got.shapes] == [(k, tuple(map(float, c)), lab) for k, c, lab in shapes]


def test_answer_region_rules():
    assert answer_region("<answer>a</answer> x <answer>b</answer>") == "b"  # last closed pair
    assert answer_region("<think>[1,2,3,4]</think>[5,6,7,8]") == "[5,6,7,8]"  # reasoning boxes ignored
    assert answer_region("x <answer>[1, 2, 3, 4]") == "[1, 2, 3, 4]"  # truncated: after the open tag
    assert answer_region("plain") == "plain"


def test_think_boxes_do_not_count_when_answer_has_none():
    assert parse_answer("<think>maybe [1,2,3,4]</think><answer>none</answer>").reason == "no_object"


def test_chat_message_completions():
    got = parse_answer([{"role": "assistant", "content": '<answer>{"bbox_2d": [1, 2, 3, 4]}</answer>'}])
    assert got.reason == "ok" and got.shapes[0].coords == (1.0, 2.0, 3.0, 4.0)


@pytest.mark.parametrize(
    "solution, n, reason",
    [
        ([1, 2, 3, 4], 1, "ok"),
        ((1, 2, 3, 4), 1, "ok"),
        ({"bbox_2d": [1, 2, 3, 4], "label": "cat"}, 1, "ok"),
        ([{"bbox_2d": [1, 2, 3, 4], "label": "a"}, {"bbox_2d": [5, 6, 7, 8], "label": "b"}], 2, "ok"),
        ('[{"bbox_2d": [1, 2, 3, 4], "label": "a"}]', 1, "ok"),
        ("<answer>[1, 2, 3, 4]</answer>", 1, "ok"),  # VLM-R1's solution column
        ([], 0, "no_object"),
        (None, 0, "no_object"),
        ("none", 0, "no_object"),
        ([[1, 2, 3, 4], [5, 6, 7, 8]], 2, "ok"),
        ({"polygon": [[0, 0], [4, 0], [4, 3]]}, 1, "ok"),
        ([1, 2, 3], 0, "bad_box: 3 numbers (want 4, or 5 for a rotated box)"),
        (42, 0, "bad_box: int is not a box"),
    ],
)
def test_solution_forms(solution, n, reason):
    got = parse_solution(solution)
    assert (len(got.shapes), got.reason) == (n, reason)


def test_labels_survive_in_solution():
    got = parse_solution({"bbox_2d": [1, 2, 3, 4], "label": "cat"})
    assert got.shapes == (Shape("box", (1.0, 2.0, 3.0, 4.0), "cat"),)


# -- limits: big inputs are refused with a reason, quickly -------------------------------
def _timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def test_megabyte_completion_is_refused_quickly():
    got, secs = _timed(parse_answer, "<answer>" + "[1, 2, 3, 4], " * 100_000 + "</answer>")
    assert got.reason == "too_long" and secs < 2.0


def test_huge_completion_over_the_hard_cap():
    got, _ = _timed(parse_answer, "x" * (16 * Limits().max_chars + 1))
    assert got.reason == "too_long"


def test_too_many_boxes():
    text = "[" + ",".join("[1,2,3,4]" for _ in range(600)) + "]"
    assert parse_answer(text).reason == "too_many_boxes"
    assert parse_answer(text, Limits(max_boxes=1000)).reason == "ok"
    prose = " ".join("[1,2,3,4]" for _ in range(600))
    assert parse_answer(prose).reason == "too_many_boxes"
    tokens = "".join("<|box_start|>(1,2),(3,4)<|box_end|>" for _ in range(600))
    assert parse_answer(tokens).reason == "too_many_boxes"


def test_too_many_vertices():
    pts = [[i, i % 7] for i in range(1200)]
    assert parse_solution({"polygon": pts}).reason == "too_many_vertices"


@pytest.mark.parametrize(
    "text",
    [
        "[" * 50_000,
        "{" * 50_000,
        "[" * 20_000 + "]" * 20_000,
        '{"a":' * 20_000,
        "[1," * 30_000,
        "<|box_start|>" * 10_000,
        "<|object_ref_start|>" * 5_000 + "<|box_start|>(1,2),(3,4)",
        "```" * 20_000,
        "(1, 2)," * 10_000,
        "[1, 2, 3" * 10_000,
        "9" * 90_000,
        "[" + "9" * 5_000 + ", 1, 2, 3]",
    ],
)
def test_adversarial_texts_are_bounded(text):
    got, secs = _timed(parse_answer, "<answer>" + text + "</answer>")
    assert isinstance(got, Parsed) and secs < 2.0, (got.reason, secs)


def test_deeply_nested_json_gets_a_reason():
    assert parse_answer("[[[[[[1,2,3,4]]]]]]").reason == "bad_box: nested too deep"
    got = parse_answer("[" * 5_000 + "1,2,3,4" + "]" * 5_000)  # too deep for JSON: the list is still found
    assert got.reason == "ok" and got.source == "list"


# -- properties ---------------------------------------------------------------------------
_ALPHABET = st.sampled_from(list('[]{},:"0123456789.-eE <>/|()_abnoxtujsl') + ["<answer>", "</answer>", "<|box_start|>", "<|box_end|>", "```json\n", "```", "NaN", "bbox_2d", "null", "polygon"])


@settings(max_examples=400, deadline=None)
@given(st.lists(_ALPHABET, max_size=80).map("".join))
def test_parser_never_raises_on_box_like_text(text):
    got = parse_answer(text)
    assert isinstance(got, Parsed)
    assert got.reason == "ok" or not got.shapes
    for s in got.shapes:
        assert s.kind in ("box", "rotated", "polygon")
        assert all(abs(c) <= Limits().max_coord for c in s.coords)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_parser_never_raises_on_any_text(text):
    assert isinstance(parse_answer(text), Parsed)
    assert isinstance(parse_solution(text), Parsed)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(*[st.integers(-5000, 5000)] * 4), min_size=1, max_size=20), st.booleans())
def test_written_boxes_are_read_back(boxes, fenced):
    import json

    body = json.dumps([{"bbox_2d": list(b), "label": f"o{i}"} for i, b in enumerate(boxes)])
    text = f"<think>...</think><answer>{'```json' + chr(10) + body + chr(10) + '```' if fenced else body}</answer>"
    got = parse_answer(text)
    assert [s.coords for s in got.shapes] == [tuple(map(float, b)) for b in boxes]
    assert [s.label for s in got.shapes] == [f"o{i}" for i in range(len(boxes))]


@settings(max_examples=40, deadline=None)
@given(st.lists(_ALPHABET, min_size=1, max_size=12).map("".join))
def test_parser_is_bounded_on_long_repetitive_text(unit):
    """Any short pattern repeated up to the answer cap: linear work, no blow-up (a hang
    guard with a generous bound, not a speed claim)."""
    text = unit * (95_000 // len(unit))
    got, secs = _timed(parse_answer, "<answer>" + text + "</answer>")
    assert isinstance(got, Parsed) and secs < 2.0, (unit, got.reason, secs)


def test_a_million_boxes_in_a_solution_is_refused_quickly():
    boxes = [[1, 2, 3, 4]] * 1_000_000
    got, secs = _timed(parse_solution, boxes)
    assert got.reason == "too_many_boxes" and secs < 2.0
    got, secs = _timed(parse_solution, [{"bbox_2d": [1, 2, 3, 4]}] * 1_000_000)
    assert got.reason == "too_many_boxes" and secs < 2.0
