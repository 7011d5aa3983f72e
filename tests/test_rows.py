"""Rows (JSONL lines, TRL columns) become the Samples rewards see."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from vlmr1.rows import RowError, completion_text, sample_from_row


def test_plain_row():
    s = sample_from_row({"id": 7, "completion": "hi", "solution": [1, 2], "task": "rec", "image": "a.png",
                         "image_size": [640, 480], "input_size": [644, 476], "group": 3, "problem": "q", "x": 1}, index=5)
    assert (s.completion, s.solution, s.task, s.id, s.group, s.index) == ("hi", [1, 2], "rec", "7", "3", 5)
    assert s.image == "a.png" and s.image_size == (640, 480) and s.input_size == (644, 476)
    assert dict(s.columns) == {"problem": "q", "x": 1}
    assert s.get("problem") == "q" and s.get("task") == "rec"


def test_trl_messages_take_the_last_assistant_content():
    msgs = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "first"},
            {"role": "tool", "content": "t"}, {"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "image"}, {"type": "text", "text": "b"}]}]
    assert sample_from_row({"completion": msgs}).completion == "ab"
    assert completion_text([{"role": "assistant", "content": "x"}]) == "x"
    assert completion_text([]) == ""
    assert completion_text([{"role": "user", "content": "only"}]) == "only"


def test_default_task_applies_only_when_the_row_has_none():
    assert sample_from_row({"completion": "a"}, default_task="math").task == "math"
    assert sample_from_row({"completion": "a", "task": "rec"}, default_task="math").task == "rec"
    assert sample_from_row({"completion": "a"}).task is None


def test_image_objects_give_their_size_and_are_not_shipped():
    class Img:
        size = (320, 240)
        filename = "/tmp/x.jpg"

    s = sample_from_row({"completion": "a", "image": Img()})
    assert s.image == "/tmp/x.jpg" and s.image_size == (320, 240) and "image" not in s.columns
    s2 = sample_from_row({"completion": "a", "image": ["p1.png", "p2.png"]})
    assert s2.image == "p1.png" and s2.columns["images"] == ["p1.png", "p2.png"]


@pytest.mark.parametrize("row, match", [
    ({"solution": 1}, "no `completion`"),
    ({"completion": 3}, "string or a list"),
    ({"completion": ["a"]}, "chat messages"),
    ({"completion": "a", "image_size": [1]}, "image_size"),
    ({"completion": "a", "input_size": [0, 5]}, "positive"),
    ({"completion": "a", "image_size": [1.5, 2]}, "image_size"),
])
def test_bad_rows_raise_row_error(row, match):
    with pytest.raises(RowError, match=match):
        sample_from_row(row)


def test_non_mapping_row():
    with pytest.raises(RowError):
        sample_from_row(["completion"])  # type: ignore[arg-type]


@given(st.dictionaries(st.text(max_size=8), st.one_of(st.none(), st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=3)), max_size=6))
def test_any_row_gives_a_sample_or_a_row_error(row):
    try:
        s = sample_from_row(row)
    except RowError:
        return
    assert isinstance(s.completion, str)
