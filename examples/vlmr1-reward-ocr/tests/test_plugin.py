"""The plugin as vlmr1 sees it: registered through its hooks, scored by reward name."""

from __future__ import annotations

import re
from importlib.metadata import entry_points

import pytest

import vlmr1_reward_ocr as plugin
from vlmr1.testing import assert_verdict, make_sample, registered


@pytest.fixture(autouse=True)
def registry():
    with registered(plugin, name="ocr") as reg:
        yield reg


def verdict(completion=None, solution=None, *, reward="ocr", params=None, **fields):
    """One verdict of a registered reward, looked up by name as a config would name it."""
    from vlmr1.registry import get_registry

    spec = get_registry().reward(reward)
    merged = {**spec.defaults, **(params or {})}
    sample = make_sample(completion, solution, **fields)
    return spec.verify(sample, spec.prepare(sample.solution, merged), merged)


def test_registers_two_rewards_in_the_verifier_style_and_a_template(registry):
    assert set(registry.rewards) == {"ocr", "ocr_strict"}
    for name in ("ocr", "ocr_strict"):
        reward = registry.reward(name)
        assert (reward.extract, reward.compare, reward.prepare) == (plugin.extract, plugin.compare, plugin.prepare)
    assert registry.reward("ocr_strict").defaults["exact"] is True
    template = registry.template("ocr_lines")
    assert template.answer_kind == "text" and "<answer>" in template.system
    assert registry.errors() == []


def test_the_entry_point_is_declared():
    # Holds only once the package is installed (pip install .): this is how vlmr1 finds it.
    found = {ep.name: ep for ep in entry_points(group="vlmr1")}
    assert found["ocr"].value == "vlmr1_reward_ocr"
    assert found["ocr"].dist.metadata["Name"] == "vlmr1-reward-ocr"
    assert found["ocr"].load() is plugin


def test_a_perfect_transcription_scores_one():
    v = verdict(answer="Hello,  World", solution="hello, world")
    assert_verdict(v, score=1.0, reason="ok", answer="Hello,  World")


def test_unicode_width_and_line_breaks_do_not_count_as_errors():
    v = verdict(answer="ＳＴＯＰ\nＡＨＥＡＤ", solution=["STOP", "AHEAD"])
    assert_verdict(v, score=1.0, reason="ok")


def test_one_wrong_letter_in_ten_scores_nine_tenths():
    v = verdict(answer="open daily", solution="open dally")
    assert_verdict(v, score=0.9, reason="sim=0.900")
    assert v.details["distance"] == 1 and v.details["length"] == 10


def test_the_score_divides_by_the_longer_text():
    # an answer padded with junk is punished as much as one that is too short
    assert_verdict(verdict(answer="exit", solution="exit now"), score=0.5)
    assert_verdict(verdict(answer="exit now please", solution="exit"), score=round(1 - 11 / 15, 6))


def test_punctuation_counts_unless_switched_off():
    assert_verdict(verdict(answer="Hello world", solution="Hello, world!"), score=round(1 - 2 / 13, 6))
    assert_verdict(verdict(answer="Hello world", solution="Hello, world!", params={"punctuation": False}), score=1.0)


def test_case_counts_when_casefold_is_off():
    assert_verdict(verdict(answer="abcd", solution="ABCD", params={"casefold": False}), score=0.0)


def test_word_unit_is_a_word_error_rate():
    v = verdict(answer="the cat sat on a mat", solution="the cat sat on the mat", params={"unit": "word"})
    assert_verdict(v, score=round(1 - 1 / 6, 6))


def test_threshold_zeroes_poor_transcriptions_only():
    assert_verdict(verdict(answer="xyz", solution="abc", params={"threshold": 0.5}), score=0.0,
                   reason=re.compile(r"^below_threshold"))
    assert_verdict(verdict(answer="abcx", solution="abcd", params={"threshold": 0.5}), score=0.75)


def test_strict_reward_is_exact_match_after_normalisation():
    assert_verdict(verdict(answer="ＥＸＩＴ ", solution="exit", reward="ocr_strict"), score=1.0, reason="ok")
    assert_verdict(verdict(answer="exit.", solution="exit", reward="ocr_strict"), score=0.0, reason="mismatch")


def test_no_answer_tag_scores_zero_with_a_reason():
    v = verdict("I think it says hello", "hello")
    assert_verdict(v, score=0.0)
    assert v.reason != "ok"


def test_without_answer_tags_the_completion_is_the_answer():
    v = verdict("<think>a sign</think> EXIT", "exit", params={"answer_tag": False})
    assert_verdict(v, score=1.0)


def test_rows_without_a_usable_solution_are_skipped_not_scored():
    assert_verdict(verdict(answer="hello", solution=None), score=None, reason="no_solution")
    assert_verdict(verdict(answer="hello", solution={"text": "hello"}), score=None, reason="bad_solution: dict")
    assert_verdict(verdict(answer="hello", solution=float("nan")), score=None, reason="bad_solution")


def test_an_empty_answer_for_an_empty_solution_is_right():
    assert_verdict(verdict(answer="", solution="   "), score=1.0)
    assert_verdict(verdict(answer="", solution="text"), score=0.0)


def test_overlong_texts_fail_fast_with_a_reason():
    v = verdict(answer="a" * 50, solution="b", params={"max_length": 20})
    assert_verdict(v, score=0.0, reason=re.compile(r"^too_long"))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"threshold": 1.5}, "threshold"),
        ({"threshold": "high"}, "threshold"),
        ({"unit": "line"}, "unit"),
        ({"casefold": "yes"}, "casefold"),
        ({"max_length": 0}, "max_length"),
    ],
)
def test_bad_params_are_clear_errors(params, message):
    with pytest.raises(ValueError, match=rf"ocr: param '{message}'"):
        verdict(answer="a", solution="a", params=params)


def test_compare_accepts_an_unprepared_solution():
    # a caller that skips prepare still gets a correct verdict
    v = plugin.compare("Hello", "HELLO", make_sample(answer="Hello"), plugin.DEFAULTS)
    assert_verdict(v, score=1.0)


def test_a_page_of_text_scores_exactly():
    # k letters replaced by a character the page never has: the distance is exactly k
    # (each "#" needs its own edit, and k substitutions suffice), so the score is known
    # without the reference table, at a length where the bit vectors span 80 machine words.
    import random

    rng = random.Random(0)
    page = "".join(rng.choice("abcdefghij") for _ in range(5000))
    spots = set(rng.sample(range(5000), 137))
    noisy = "".join("#" if i in spots else ch for i, ch in enumerate(page))
    v = verdict(answer=noisy, solution=page)
    assert v.details["distance"] == 137
    assert_verdict(v, score=round(1 - 137 / 5000, 6))
