"""The `math` reward: extraction, input bounds, the plain-number fast path, math-verify
comparison with the gold parsed once, tolerances; a table of real outputs; properties."""

from __future__ import annotations

import pickle
import threading
import time
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vlmr1.answers import last_boxed, matching_brace
from vlmr1.plugins.math.extract import clean_answer, extract_math_answer
from vlmr1.plugins.math.guard import Bounds, check_bounds
from vlmr1.plugins.math.verify import MATH_DEFAULTS, MathGold, compare_answer, math_score, plain_number, prepare_gold
from vlmr1.types import Sample


def score(completion, solution, **params):
    p = {**MATH_DEFAULTS, **params}
    return math_score(Sample(completion, solution=solution), prepare_gold(solution, p), p)


# (completion, solution, expected score, expected reason) -- Qwen2.5-VL-style outputs
REAL = [
    ("<think>There are 3 apples on the plate.</think>\n<answer>3</answer>", 3, 1.0, "ok"),
    ("<think>I count four.</think><answer>4</answer>", "3", 0.0, "wrong"),
    ("<think>The triangle has legs 3 and 4.</think><answer>5</answer>", "<answer> 5 </answer>", 1.0, "ok"),
    ("<think>Half of it.</think><answer>0.5</answer>", "$\\frac{1}{2}$", 1.0, "ok"),
    ("<think>Half of it.</think><answer>\\frac{1}{2}</answer>", 0.5, 1.0, "ok"),
    ("<think>...</think><answer>\\boxed{\\frac{\\sqrt{3}}{2}}</answer>", "\\frac{\\sqrt3}{2}", 1.0, "ok"),
    ("Area = 1/2 * 6 * 4 = 12.\nSo the area is \\boxed{12}.", "12", 1.0, "ok"),
    ("We get \\boxed{10} at first, but correcting: \\boxed{12}", "12", 1.0, "ok"),
    ("<think>x</think><answer>$x^2+1$</answer>", "1+x^2", 1.0, "ok"),
    ("<think>x</think><answer>2\\sqrt{2}</answer>", "\\sqrt{8}", 1.0, "ok"),
    ("<think>x</think><answer>x = 5</answer>", "5", 1.0, "ok"),
    ("<think>x</think><answer>\\{1, 2\\}</answer>", "\\{2,1\\}", 1.0, "ok"),
    ("<think>x</think><answer>(1, 2)</answer>", "(1,2)", 1.0, "ok"),
    ("<think>x</think><answer>12 apples</answer>", 12, 1.0, "ok"),
    ("<think>x</think><answer>1,000</answer>", 1000, 1.0, "ok"),
    ("<think>x</think><answer>50\\%</answer>", "50\\%", 1.0, "ok"),
    ("<think>x</think><answer>3.14</answer>", "\\pi", 0.0, "wrong"),
    ("The answer is $\\sqrt{2}$", "\\sqrt{2}", 1.0, "ok"),
    ("Counting them, there are 7 birds in total.", "7", 1.0, "ok"),
    ("<think>x</think><answer></answer>", "3", 0.0, "empty_answer"),
    ("", "3", 0.0, "no_answer"),
    ("<think>x</think><answer>9^9^9^9</answer>", "3", 0.0, "too_complex"),
    ("<think>x</think><answer>9^{9^{9^{9}}}</answer>", "3", 0.0, "too_complex"),
    ("<think>x</think><answer>(10^{6})!</answer>", "3", 0.0, "too_complex"),
    ("<think>x</think><answer>" + "{" * 200 + "1" + "}" * 200 + "</answer>", "1", 0.0, "too_deep"),
    ("<think>x</think><answer>" + "1+" * 2000 + "1</answer>", "2001", 0.0, "answer_too_long"),
    ("<think>x</think><answer>3</answer>", ["3", "three"], 1.0, "ok"),
    ("<think>x</think><answer>\\frac{6}{2}</answer>", "3", 1.0, "ok"),
    ("<think>x</think><answer>3</answer>", None, None, "no_solution"),
    ("<think>x</think><answer>3</answer>", "9^9^9^9", None, "gold_too_complex"),
]


@pytest.mark.parametrize("completion, solution, expected, reason", REAL)
def test_real_world_outputs(completion, solution, expected, reason):
    v = score(completion, solution)
    assert v.score == expected and v.reason == reason, v


def test_plain_numbers_never_reach_math_verify(monkeypatch):
    from vlmr1.plugins.math import verify

    def boom(*a, **k):
        raise AssertionError("math-verify called on a plain number")

    from vlmr1.plugins.math import latex

    monkeypatch.setattr(latex, "read_latex", boom)  # behind every parse, the gold's included
    monkeypatch.setattr(verify, "read_latex", boom)
    monkeypatch.setattr(verify, "verify", boom)
    assert score("<answer>3</answer>", 3).score == 1.0
    assert score("<answer>4</answer>", "3").reason == "wrong"
    assert score("<answer>0.75</answer>", "\\frac{3}{4}").score == 1.0
    assert score("<answer>-\\dfrac{1}{2}</answer>", "-0.5").score == 1.0
    assert score("\\boxed{1,234}", "1234").score == 1.0


def test_tolerances():
    assert score("<answer>101</answer>", 100).reason == "wrong"
    assert score("<answer>101</answer>", 100, rel_tol=0.02).score == 1.0
    assert score("<answer>100.4</answer>", 100, abs_tol=0.5).score == 1.0
    assert score("<answer>100.6</answer>", 100, abs_tol=0.5).score == 0.0
    assert score("<answer>3.1416</answer>", "\\pi", rel_tol=1e-4).details["path"] == "tolerance"
    assert score("<answer>3.2</answer>", "\\pi", rel_tol=1e-4).score == 0.0


def test_gold_is_prepared_without_parsing_and_parsed_once_where_used():
    from vlmr1.plugins.math import latex as verify

    text = "\\frac{\\sqrt{3}}{2} + \\alpha"  # outside latex_value's subset: only a parse can judge it
    verify.read_latex.cache_clear()
    gold = prepare_gold(f"${text}$", MATH_DEFAULTS)
    assert isinstance(gold, MathGold) and gold.forms[0].text == text and gold.forms[0].number is None
    assert verify.read_latex.cache_info().currsize == 0  # preparing is a bounded scan, no sympy
    again = pickle.loads(pickle.dumps(gold))
    assert again == gold and len(pickle.dumps(gold)) < 300  # text only crosses to the workers
    for answer in ("\\alpha + \\frac{\\sqrt{3}}{2}", "\\alpha", "1"):
        compare_answer(answer, again, MATH_DEFAULTS)
    info = verify.read_latex.cache_info()
    assert info.misses == 4 and info.hits >= 2  # gold and three answers read once each; the gold's reading reused
    plain = prepare_gold(["3", 3.0, "<answer>3</answer>", "30^\\circ"], MATH_DEFAULTS)
    assert [f.number for f in plain.forms] == [Fraction(3)] * 3 + [Fraction(30)]
    # a raw solution passed instead of a prepared one is prepared on the spot
    assert math_score(Sample("<answer>3</answer>", solution="3"), None, MATH_DEFAULTS).score == 1.0


def test_unparseable_gold_is_skipped_not_scored_zero():
    v = compare_answer("x+1", prepare_gold("$\\begin{}$", MATH_DEFAULTS), MATH_DEFAULTS)
    assert (v.score, v.reason) == (None, "gold_unreadable: \\begin{}")


def test_a_constant_of_another_value_is_wrong_without_any_parse():
    from vlmr1.plugins.math import latex as verify

    gold = prepare_gold("$\\frac{\\sqrt{3}}{2}$", MATH_DEFAULTS)
    verify.read_latex.cache_clear()
    for answer in ("\\frac{\\sqrt{2}}{2}", "2\\sqrt{3}", "\\pi/6", "0.5"):
        v = compare_answer(answer, gold, MATH_DEFAULTS)
        assert (v.score, v.reason, v.details["path"]) == (0.0, "wrong", "value"), answer
    assert verify.read_latex.cache_info().currsize == 0
    # equal values are never decided here: math-verify accepts them (or not)
    assert compare_answer("\\sqrt{3}/2", gold, MATH_DEFAULTS).score == 1.0
    assert compare_answer("0.866025", gold, MATH_DEFAULTS).details["path"] != "value"
    # a tolerance widens what counts as the same value
    assert compare_answer("0.87", gold, {**MATH_DEFAULTS, "abs_tol": 0.01}).score == 1.0


def test_an_answer_spelled_like_the_gold_is_accepted_without_parsing_it():
    from vlmr1.plugins.math import latex as verify

    gold = prepare_gold("$2\\sqrt{5}+\\pi$", MATH_DEFAULTS)
    verify.read_latex.cache_clear()
    v = compare_answer("2\\sqrt{5}+\\pi", gold, MATH_DEFAULTS)
    assert (v.score, v.details["path"]) == (1.0, "same_text")


def test_works_off_the_main_thread():
    """math-verify's SIGALRM timeouts would raise (or silently score 0) here; ours are off."""
    out = {}

    def run():
        out["v"] = score("<answer>\\frac{1}{2}+\\frac{1}{3}</answer>", "\\frac{5}{6}")

    t = threading.Thread(target=run)
    t.start()
    t.join(60)
    assert out["v"].score == 1.0, out


def test_bounded_answers_are_refused_quickly():
    """The guard answers before sympy would start on these (a hang guard, not a benchmark)."""
    start = time.perf_counter()
    for bad in ["9^9^9^9^9", "2^{2^{2^{2^{2}}}}", "(99999)!", "1000001!", "10^{1000000}", "((((" * 10 + "1" + "))))" * 10,
                "(x+1)^{9999}", "(((x+1)^{50})^{50})", "(a+b+c+d+e)^{24}", "(x+1)^{40}(x-1)^{40}", "\\left(x+1\\right)^{500}"]:
        assert check_bounds(bad) in ("too_complex", "too_deep"), bad
    assert time.perf_counter() - start < 1


@pytest.mark.parametrize("text", ["x^2", "2^{10}", "e^{i\\pi}", "\\frac{1}{2}", "5!", "(n+1)!", "x != 3", "10^{100}", "\\sqrt[3]{2}",
                                  "(x+1)^2", "(x+1)^{12}(x-1)^{12}", "x^{100}", "(2^3)^2"])
def test_ordinary_answers_pass_the_guard(text):
    assert check_bounds(text) is None


def test_last_boxed_balances_braces_and_skips_truncated_boxes():
    assert last_boxed("\\boxed{\\frac{1}{2}}") == "\\frac{1}{2}"
    assert last_boxed("a \\boxed{1} b \\boxed{\\{2\\}}") == "\\{2\\}"
    assert last_boxed("\\boxed{3} then \\boxed{\\frac{1}{") == "3"
    assert last_boxed("\\boxed 5$") == "5"
    assert last_boxed("\\fbox{7}") == "7"
    assert last_boxed("no box") is None
    assert matching_brace("{a{b}c}", 0) == 6 and matching_brace("{a", 0) == -1


def test_extraction_prefers_answer_tag_then_box_then_last_line():
    assert extract_math_answer("\\boxed{1}<answer>2</answer>") == ("2", "answer_tag")
    assert extract_math_answer("<answer>so \\boxed{2}</answer>") == ("2", "answer_tag")
    assert extract_math_answer("it is \\boxed{3}\nThe end") == ("3", "boxed")
    assert extract_math_answer("work\nThe final answer is $4$.\n\n") == ("4", "answer_phrase")
    assert extract_math_answer("The final answer is $4$.\nI hope it is correct.") == ("4", "answer_phrase")
    assert extract_math_answer("\\boxed{200} then \\boxed{255}. The final answer is $10,455$.") == ("10,455", "answer_phrase")
    assert extract_math_answer("The final answer is 3. So \\boxed{4}") == ("4", "boxed")
    assert extract_math_answer("work\n7 apples") == ("7 apples", "last_line")
    assert extract_math_answer("   \n  ") == (None, "no_answer")


# -- properties ------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(st.fractions(max_denominator=1000).filter(lambda f: abs(f) < 10**9))
def test_plain_number_round_trips(value):
    assert plain_number(f"{value.numerator}/{value.denominator}") == value
    assert plain_number(f"\\frac{{{value.numerator}}}{{{value.denominator}}}") == value
    assert score(f"<answer>{value.numerator}/{value.denominator}</answer>", str(value)).score == 1.0


@settings(max_examples=300, deadline=None)
@given(st.integers(-10**15, 10**15), st.integers(-10**15, 10**15))
def test_integers_score_by_equality(a, b):
    v = score(f"<think>counting</think><answer>{a}</answer>", b)
    assert v.score == (1.0 if a == b else 0.0) and v.details["path"] == "number"


_latexish = st.text(alphabet="{}\\^!()[]0123456789+-*/x $abcfr", max_size=120)


@settings(max_examples=300, deadline=None)
@given(_latexish)
def test_extraction_and_guard_never_raise(text):
    answer, where = extract_math_answer(text)
    assert answer is None or isinstance(answer, str)
    reason = check_bounds(text, Bounds(max_chars=100))
    assert reason in (None, "answer_too_long", "too_deep", "too_complex")
    if answer is not None:
        assert len(answer) <= len(text)


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet="{}\\^()0123456789+-x $frac", max_size=40))
def test_math_score_never_raises(text):
    v = score(f"<answer>{text}</answer>", "\\frac{1}{2}")
    assert v.score in (0.0, 1.0) and v.reason


_balanced = st.recursive(
    st.text(alphabet="abx0123456789+-^ ", max_size=6),
    lambda inner: st.lists(inner, max_size=3).map(lambda parts: "{" + "".join(parts) + "}"),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_balanced, min_size=1, max_size=3).map("".join), st.text(alphabet="ab \n$.", max_size=20))
def test_last_boxed_round_trips_balanced_content(content, prose):
    text = f"{prose}\\boxed{{1}} {prose}\\boxed{{{content}}}{prose}"
    assert last_boxed(text) == content
    assert extract_math_answer(f"<answer>\\boxed{{{content}}}</answer>")[0] == (clean_answer(content) or None)


def test_registered_rewards_are_lazy_pickle_and_score_as_their_functions():
    from vlmr1.plugins.math.choice_rewards import mcq_score_batch, yes_no_score_batch
    from vlmr1.plugins.math.params import MCQ_DEFAULTS, YES_NO_DEFAULTS
    from vlmr1.plugins.math.verify import math_score
    from vlmr1.registry import get_registry

    reg = get_registry()
    math_reward = reg.reward("math")
    assert not math_reward.cheap and math_reward.prepare == "vlmr1.plugins.math.verify:prepare_gold"
    resolved = math_reward.resolved()
    assert resolved.prepare is prepare_gold and resolved.score is math_score and math_reward.resolved() is resolved
    for item in (math_reward, resolved, reg.reward("mcq"), reg.reward("yes_no").resolved()):
        assert pickle.loads(pickle.dumps(item)).name == item.name
    sample = Sample("<think>x</think><answer>\\frac{2}{4}</answer>", solution="0.5")
    gold = resolved.prepare(sample.solution, MATH_DEFAULTS)
    assert resolved.score(sample, gold, MATH_DEFAULTS).score == 1.0
    assert resolved.score(Sample("", solution="1"), prepare_gold("1", MATH_DEFAULTS), MATH_DEFAULTS).reason == "no_answer"
    assert reg.reward("mcq").resolved().score_batch is mcq_score_batch
    assert mcq_score_batch([Sample("<answer>(c)</answer>", solution="C")], ["C"], MCQ_DEFAULTS)[0].score == 1.0
    assert yes_no_score_batch([Sample("<answer>No.</answer>", solution="no")], ["no"], YES_NO_DEFAULTS)[0].score == 1.0


SHORTCUT_PAIRS = [
    ("37\\sqrt{3}", "37\\sqrt{2}"), ("\\frac{\\pi}{37}", "\\pi"), ("x^2 + 74x + 1369", "x^2+1369"),
    ("x^2 + 74x + 1369", "(x+37)^2"), ("\\sqrt{8}", "2\\sqrt{2}"), ("\\frac{1}{3}", "0.333333"), ("\\frac{1}{3}", "0.3334"),
    ("50\\%", "0.5"), ("x", "y"), ("e", "\\exp(1)"), ("x=3", "3"), ("\\{1,2\\}", "\\{2,1\\}"), ("f(x)", "f(y)"),
    ("10^{20}+1", "10^{20}"), ("\\frac{1}{0}", "1"), ("\\sin(\\pi/6)", "\\frac{1}{2}"), ("\\log(8)", "3\\log(2)"),
]


@pytest.mark.parametrize("gold, answer", SHORTCUT_PAIRS)
def test_shortcuts_give_math_verifys_verdict(gold, answer):
    """A shortcut may only skip math-verify's simplify, never change its verdict."""
    import math_verify

    from vlmr1.plugins.math.shortcuts import decide
    from vlmr1.plugins.math.latex import parsed as _parse

    g, a = _parse(gold), _parse(answer)
    decided = decide(g, a, 6)
    if decided is not None:
        assert decided == math_verify.verify(list(g), list(a), float_rounding=6, timeout_seconds=None)
    if (gold, answer) in SHORTCUT_PAIRS[:3]:
        assert decided is False  # the wrong answers simplify would have spent 10-170 ms on


@pytest.mark.parametrize("text", ["$$", "$$$$", "\\(\\)", "\\[\\]", "$ $", " $$ "])
def test_an_empty_pair_of_delimiters_reads_as_empty_in_both_readers(text):
    from vlmr1.plugins.math.reading import read_text

    assert clean_answer(text) == ""
    got = read_text(text)
    assert got.math == "" and got.unread == "empty"
    v = math_score(Sample(f"<answer>{text}</answer>", "$$"), None, MATH_DEFAULTS)
    assert v.score is None or v.score == 0.0
