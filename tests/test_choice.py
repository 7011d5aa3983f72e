"""`mcq` and `yes_no`: letter and yes/no readers on real outputs (and VLM-R1's quirks
that must not come back), options from the row, multi-select, properties."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vlmr1.choices import (
    extract_letters,
    extract_yes_no,
    gold_letters,
    gold_yes_no,
    option_letters,
    option_texts,
    parse_letters_strict,
)
from vlmr1.plugins.math.choice_rewards import MCQ_DEFAULTS, YES_NO_DEFAULTS, mcq_score_batch, yes_no_score_batch
from vlmr1.types import Sample


def mcq(completion, solution, options=None, **params):
    cols = {"options": options} if options is not None else {}
    s = Sample(completion, solution=solution, task="mcq", columns=cols)
    return mcq_score_batch([s], [solution], {**MCQ_DEFAULTS, **params})[0]


def yn(completion, solution, **params):
    return yes_no_score_batch([Sample(completion, solution=solution)], [solution], {**YES_NO_DEFAULTS, **params})[0]


LETTERS = [
    ("B", "B"), ("(b)", "B"), ("B.", "B"), ("b", "B"), ("Answer: B", "B"), ("The answer is C", "C"),
    ("The correct answer is (c).", "C"), ("AC", "AC"), ("C, A", "AC"), ("A and C", "AC"), ("(A) and (C)", "AC"),
    ("B. The red cup", "B"), ("(D) a dog on the sofa", "D"), ("Option C is correct", "C"),
    ("I think the answer is D because it is red", "D"), ("Therefore, B.", "B"), ("**B**", "B"),
    ("So the final answer is: A", "A"),
    # no answer: articles, pronouns, prose
    ("the answer is a cat", None), ("I think so", None), ("A cat is on the mat", None), ("", None),
    ("It could be B or it could be C.", None),
    # hedges are not multi-select answers; "answer is" outranks a later "option"
    ("The answer is B or C", None), ("B/C", None), ("The answer is B. Option C is incorrect.", "B"),
]


@pytest.mark.parametrize("text, expected", LETTERS)
def test_letter_reading(text, expected):
    assert extract_letters(text) == expected


def test_options_from_the_row_limit_and_name_letters():
    opts = ["a red cup", "a blue cup", "a green cup"]
    assert option_letters(opts) == "ABC"
    assert option_texts("A. cat\n(B) dog\nC) cow") == {"A": "cat", "B": "dog", "C": "cow"}
    assert option_letters({"A": "x", "B": "y", "notes": "z"}) == "AB"
    assert option_texts(["A. cat", "B. dog"]) == {"A": "cat", "B": "dog"}
    assert extract_letters("a blue cup", opts) == "B"  # the option's text names it
    assert extract_letters("The answer is E", opts) is None
    assert mcq("<answer>E</answer>", "B", opts).reason == "not_an_option"
    assert mcq("<answer>a blue cup</answer>", "B", opts).score == 1.0
    assert gold_letters("a green cup", opts) == "C"


MCQ = [
    ("<think>The second.</think><answer>B</answer>", "B", 1.0, "ok"),
    ("<think>The second.</think><answer>(b)</answer>", "<answer> B </answer>", 1.0, "ok"),
    ("<think>x</think><answer>C</answer>", "B", 0.0, "wrong"),
    ("<think>x</think><answer>CA</answer>", "AC", 1.0, "ok"),
    ("<think>x</think><answer>A</answer>", "AC", 0.0, "wrong"),
    ("<think>x</think><answer>A, B, C</answer>", ["A", "C"], 0.0, "wrong"),
    ("<think>x</think><answer>no idea</answer>", "A", 0.0, "no_answer"),
    ("After looking, the answer is (C).", "C", 1.0, "ok"),
    ("<think>x</think><answer>B</answer>", None, None, "no_solution"),
    ("<think>x</think><answer>B</answer>", "???", None, "bad_solution"),
]


@pytest.mark.parametrize("completion, solution, expected, reason", MCQ)
def test_mcq_reward(completion, solution, expected, reason):
    v = mcq(completion, solution)
    assert v.score == expected and v.reason == reason, v


def test_mcq_partial_credit_and_required_tags():
    assert mcq("<answer>A</answer>", "AC", partial=True).score == 0.5
    assert mcq("<answer>AB</answer>", "AC", partial=True).score == 0.0
    assert mcq("The answer is B", "B", require_tags=True).reason == "no_answer_tag"


YES_NO = [
    ("yes", "yes"), ("Yes.", "yes"), ("No.", "no"), ("no, there is no cat", "no"), ("Yes, there is one.", "yes"),
    ("The answer is no.", "no"), ("The final answer is yes", "yes"), ("True", "yes"), ("false", "no"),
    ("Nope", "no"), ("There is no cat", "no"),
    # VLM-R1 reads the first "yes"/"no" substring anywhere: these must not be answers
    ("I know", None), ("I know the answer", None), ("nothing", None), ("There is nothing here to see in it", None),
    ("not sure", None), ("No idea", None), ("I don't know", None), ("I'm not sure, maybe yes", None),
    ("It cannot be determined from the image", None), ("yes and no", None), ("", None), ("Unknown", None),
]


@pytest.mark.parametrize("text, expected", YES_NO)
def test_yes_no_reading(text, expected):
    assert extract_yes_no(text) == expected


def test_yes_no_reward():
    assert yn("<think>I see a dog.</think><answer>Yes</answer>", "yes").score == 1.0
    assert yn("<think>I see a dog.</think><answer>No</answer>", "Yes.").reason == "wrong"
    assert yn("<think>I know the answer.</think><answer>I know</answer>", "no").reason == "no_answer"
    assert yn("<answer>not sure</answer>", "no").score == 0.0
    assert yn("<answer>yes</answer>", True).score == 1.0
    assert gold_yes_no(False) == "no" and gold_yes_no("<answer>No</answer>") == "no"
    assert yn("<answer>yes</answer>", "perhaps").reason == "bad_solution"


def test_adversarial_inputs_return_quickly():
    big = "(A) " * 50_000 + "answer is " * 20_000
    start = time.perf_counter()
    assert extract_letters(big) in (None, "A")
    assert extract_yes_no("no " * 100_000 + "yes") == "no"
    assert mcq("<answer>" + "B" * 100_000 + "</answer>", "B").score == 0.0
    assert time.perf_counter() - start < 5  # a hang guard, not a benchmark


# -- properties ------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(st.sets(st.sampled_from("ABCDEF"), min_size=1, max_size=4), st.sampled_from(["", ", ", " and ", " "]), st.booleans())
def test_letter_sets_round_trip_in_any_order(letters, sep, parens):
    items = [f"({c})" if parens else c for c in sorted(letters, reverse=True)]
    text = sep.join(items) if sep else "".join(sorted(letters, reverse=True))
    if not sep and parens:
        text = "".join(items)
    want = "".join(sorted(letters))
    assert parse_letters_strict(text) == want, text
    assert extract_letters(f"The answer is {text}" if len(letters) == 1 else text) == want


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_readers_never_raise(text):
    got = extract_letters(text, ["x", "y", "z"])
    assert got is None or set(got) <= set("ABC")  # options x, y, z are A, B, C
    assert extract_yes_no(text) in (None, "yes", "no")
    assert mcq(text, "A").score in (0.0, 1.0)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["yes", "no"]), st.text(alphabet="abcdefghijklmnopqrstuvwxyz ,.", max_size=80))
def test_a_leading_yes_or_no_decides(word, rest):
    text = f"{word.capitalize()}, {rest}"
    assert extract_yes_no(text) in (word, None)
    if "yes" not in rest.split() and "no" not in rest.split():
        assert extract_yes_no(text) == word
