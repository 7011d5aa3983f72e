"""The `math` reward on the gold shapes real datasets use, with verdicts decided by hand.

Every expected score below was decided by reading the pair, not by running any library:
geometry golds with radicals, π and units (GeoQA / Geo170K style), Chinese K-12 units,
degrees, percentages, fractions written ``a/b``, intervals, several answers, option
letters, and the answers models write for them, right and wrong. The second table holds
right answers that math-verify itself accepts and a careless pipeline refuses (an
identity the shortcuts must not call unequal, several boxes, an equation up to sign...).
"""

from __future__ import annotations

import pytest

from vlmr1.plugins.math.verify import MATH_DEFAULTS, math_score, prepare_gold
from vlmr1.types import Sample


def score(completion, solution, **params):
    p = {**MATH_DEFAULTS, **params}
    return math_score(Sample(completion, solution=solution), prepare_gold(solution, p), p)


def tagged(answer: str) -> str:
    return f"<think>Working it out.</think><answer>{answer}</answer>"


# (answer, gold, score): the answer goes inside <answer> tags
GOLD_SHAPES = [
    # radicals: a number without its root is wrong, the root in any spelling is right
    ("10.0", "10√{2}", 0.0), ("10", "10√{2}", 0.0), ("10√2", "10√{2}", 1.0), ("10\\sqrt{2}", "10√{2}", 1.0), ("\\sqrt{200}", "10√{2}", 1.0),
    ("2.0", "2√{3}", 0.0), ("2sqrt(3)", "2√{3}", 1.0), ("2 \\sqrt 3", "2√{3}", 1.0), ("\\sqrt{12}", "2√{3}", 1.0), ("3.4641", "2√{3}", 0.0),
    ("4", "4√{3}", 0.0), ("4√3", "4√{3}", 1.0),
    ("1.5", "\\frac{3}{2}√{3}", 0.0), ("\\frac{3\\sqrt{3}}{2}", "\\frac{3}{2}√{3}", 1.0), ("1.5√3", "\\frac{3}{2}√{3}", 1.0),
    ("6.0", "6√{2}-6", 0.0), ("6\\sqrt{2}-6", "6√{2}-6", 1.0), ("-6+6√2", "6√{2}-6", 1.0),
    ("10√3", "10", 0.0), ("10", "10", 1.0),
    ("√3", "√{3}", 1.0), ("\\sqrt{3}", "√{3}", 1.0), ("3", "√{3}", 0.0), ("\\sqrt{5}", "√{5}", 1.0), ("√13", "√{13}", 1.0),
    ("2", "∛{8}", 1.0), ("\\sqrt[3]{8}", "2", 1.0),
    # π, with and without units
    ("240π", "240πcm^{2}", 1.0), ("240\\pi", "240πcm^{2}", 1.0), ("240", "240πcm^{2}", 0.0), ("240π cm²", "240πcm^{2}", 1.0),
    ("9pi", "9πcm^{2}", 1.0), ("9π", "9πcm^{2}", 1.0), ("9", "9πcm^{2}", 0.0), ("28.27", "9πcm^{2}", 0.0),
    ("pi", "π", 1.0), ("\\pi", "π", 1.0), ("3.14", "π", 0.0),
    ("3", "3√{3}cm", 0.0), ("3√3", "3√{3}cm", 1.0), ("3√3 cm", "3√{3}cm", 1.0),
    # lengths, areas, conversion within a dimension, different dimensions
    ("3", "3cm", 1.0), ("3 cm", "3cm", 1.0), ("3cm", "3 cm", 1.0), ("30 mm", "3cm", 1.0), ("3 m", "3cm", 0.0), ("3 kg", "3cm", 0.0),
    ("4", "3cm", 0.0), ("15", "15\\mbox{ cm}^2", 1.0), ("15 cm^2", "15\\text{ cm}^2", 1.0), ("15 cm", "15 cm^{2}", 0.0),
    ("0.5 m", "50 cm", 1.0), ("5 km/h", "5km/h", 1.0), ("5 m/s", "18 km/h", 1.0),
    # Chinese units
    ("10.2", "10.2米", 1.0), ("10.2米", "10.2米", 1.0), ("10.2 m", "10.2米", 1.0), ("1020厘米", "10.2米", 1.0), ("10.2千克", "10.2米", 0.0),
    ("\\frac{4}{3}", "\\frac{4}{3}米", 1.0), ("4/3", "\\frac{4}{3}米", 1.0), ("1.33", "\\frac{4}{3}米", 0.0),
    ("2√15", "2√{15}米", 1.0), ("2", "2√{15}米", 0.0), ("5", "5千克", 1.0), ("5000克", "5千克", 1.0), ("3.5", "3.5元", 1.0),
    ("12", "12个", 1.0), ("12平方厘米", "12平方厘米", 1.0), ("12", "12平方厘米", 1.0), ("答案是5米", "5米", 1.0),
    # degrees
    ("140", "140°", 1.0), ("140°", "140°", 1.0), ("140^\\circ", "140°", 1.0), ("140 degrees", "140°", 1.0), ("40", "140°", 0.0),
    ("45", "45度", 1.0), ("30", "30^{\\circ}", 1.0),
    # percentages
    ("25\\%", "25%", 1.0), ("25%", "25\\%", 1.0), ("25", "25%", 1.0), ("26%", "25%", 0.0),
    # fractions as a/b
    ("3/4", "\\frac{3}{4}", 1.0), ("0.75", "3/4", 1.0), ("\\frac{6}{8}", "3/4", 1.0), ("4/3", "3/4", 0.0), ("-1/2", "-\\frac{1}{2}", 1.0),
    # intervals
    ("[1, 3)", "[1,3)", 1.0), ("[1, 3]", "[1,3)", 0.0), ("(-\\infty, 2]", "(-∞, 2]", 1.0), ("(-\\infty, 2)", "(-∞,2]", 0.0),
    # several answers
    ("1, 2", "1, 2", 1.0), ("2, 1", "\\{1, 2\\}", 1.0), ("1", "1, 2", 0.0), ("x = 1, x = 2", "1, 2", 1.0),
    # option letters
    ("B", "B", 1.0), ("(B)", "B", 1.0), ("B. 12 cm", "B", 1.0), ("C", "B", 0.0), ("The answer is C", "(C)", 1.0),
    # an option label before a value; a letter for a number
    ("A. 8", "8", 1.0), ("C. 8", "7", 0.0), ("(B) 12 cm", "12cm", 1.0), ("K", "6", 0.0), ("e", "2.718282", 1.0),
    # plain counts, fullwidth and Unicode minus
    ("１２", "12", 1.0), ("−3", "-3", 1.0), ("3×4", "12", 1.0), ("x²+1", "x^2+1", 1.0), ("x²", "x^3", 0.0),
]


@pytest.mark.parametrize("answer, gold, expected", GOLD_SHAPES)
def test_real_gold_shapes(answer, gold, expected):
    v = score(tagged(answer), gold)
    assert v.score == expected, f"{answer!r} for {gold!r}: {v}"


# Right answers math-verify accepts, in the shapes its own regression cases collect from
# model outputs: a reward that refuses them pays less than the library it wraps.
REFUSED_BEFORE = [
    ("$\\frac{x}{7}+\\frac{2}{7}$", "\\frac{x+2}{7}"),  # an identity: no shortcut may call it unequal
    ("$-34x-45y+20z-100=0$", "34x+45y-20z+100=0"),  # the same equation up to sign
    ("The interval is $(-793, 10)$.", "-793 < a < 10"),  # an interval for an inequality
    ("\\boxed{11:21}", "V_{1}:V_{2}=11:21"),  # a ratio without its labels
    ("\\boxed{0.0833333333333333}", "\\frac{1}{12}"),  # a 16-digit decimal for a fraction
    ("Paula's investment is worth $\\boxed{\\$16386.17}$ after 5 years. I hope it is correct. <|im_start|>user", "16386.17"),
    ("So, the ordered pair $(x, y)$ that solves the system is $(7, 6)$. <|im_start|>user", "(7, 6)"),  # chat debris after the answer
    ("Final Answer: The final answer is 12,000,023. I hope it is correct. <|im_start|>user", "12000023"),
    ("solutions are:\n\n\\[\n\\boxed{(1, 2)}, \\boxed{(2, 1)}, \\boxed{(-1, -20)}, \\boxed{(-20, -1)}\n\\]", "(2,1),(1,2),(-1,-20),(-20,-1)"),
    ("$$\\boxed{k = 45} \\quad \\text{and} \\quad \\boxed{n = 2}$$", "k = 45, n = 2"),
    ("\\boxed{1} and \\boxed{2} and \\boxed{3}", "\\{1,2,3\\}"),
    ("$\\boxed{(2, 2)} \\quad \\text{and} \\quad \\boxed{(6, 2)}$", "(2, 2), (6, 2)"),
    ("Thus $x = \\boxed{1 \\pm \\sqrt{19}}.$", "1 \\pm \\sqrt{19}"),
    ("The distance is $\\boxed{125\\textnormal{ miles}}.$", "125 miles"),
    ("the answer is $\\boxed{\\frac94\\pi}$.", "\\frac{9}{4}\\pi"),
    ("$x = 5+5+1 = 7 = 11$", "x = 11"),  # a chain of equalities ends on its value
    ("\\boxed{\\tan^2(y)+1}", "\\sec^2(y)"),
    ("$$\\boxed{(1, 4.5)}$$", "(1,\\frac{9}{2})"),
    ("<think>I count carefully.</think>\n6\n</answer>", "<answer> 6 </answer>"),  # a closing tag without its opening
    ("There are 7 items in the image.", "<answer> 7 </answer>"),  # prose, no tags
]


@pytest.mark.parametrize("completion, gold", REFUSED_BEFORE)
def test_right_answers_math_verify_accepts_are_accepted(completion, gold):
    v = score(completion, gold)
    assert v.score == 1.0, f"{completion[-80:]!r} for {gold!r}: {v}"


WRONG_STAY_WRONG = [
    ("We get \\boxed{10} at first, but correcting: \\boxed{12}", "10"),  # the correction is the answer
    ("\\boxed{1} no no no no no \\boxed{2}", "1, 2"),  # boxes apart are not a list
    ("$\\frac{x}{7}+\\frac{3}{7}$", "\\frac{x+2}{7}"),
    ("$34x+45y-20z-100=0$", "34x+45y-20z+100=0"),
    ("\\boxed{0.0833}", "\\frac{1}{12}"),
    ("So the pair is $(6, 7)$. <|im_start|>user The pair is $(7, 6)$", "(7, 6)"),  # what follows the turn's end is not the answer
    ("\\boxed{2t}", "2"),  # math-verify cuts t as a unit and reads 2; t is a variable here
    ("There are 7 items in the image.", "<answer> 6 </answer>"),
]


@pytest.mark.parametrize("completion, gold", WRONG_STAY_WRONG)
def test_wrong_answers_stay_wrong(completion, gold):
    v = score(completion, gold)
    assert v.score == 0.0, f"{completion[-80:]!r} for {gold!r}: {v}"


@pytest.mark.parametrize("gold, named", [("∠ABC = 3", "∠"), ("2√{3}△", "△"), ("3 @", "@"), ("There are 3 red and 4 blue", "several")])
def test_a_gold_read_partially_is_null_and_says_what(gold, named):
    v = score(tagged("3"), gold)
    assert v.score is None and v.reason.startswith("gold_unreadable") and named in v.reason, v


@pytest.mark.parametrize("answer, named", [("∠ABC", "∠"), ("2√{3}△", "△"), ("3 @", "@"), ("√", "√")])
def test_an_answer_read_partially_is_zero_and_says_what(answer, named):
    v = score(tagged(answer), "3")
    assert v.score == 0.0 and v.reason.startswith("unreadable") and named in v.reason, v


def test_the_reasons_and_details_a_user_sees():
    v = score(tagged("3 kg"), "3 cm")
    assert (v.score, v.reason, v.details["unit"], v.details["gold_unit"]) == (0.0, "wrong_unit", "kg", "cm")
    v = score(tagged("12 apples"), "12")
    assert v.score == 1.0 and v.details["label"] == "apples"
    v = score(tagged("30 mm"), "3cm")
    assert v.score == 1.0 and v.details["unit"] == "mm" and v.details["gold_unit"] == "cm"
    v = score("There are four objects.", "4")  # words, not a number: compared as text
    assert (v.score, v.reason, v.details["path"]) == (0.0, "wrong", "text")
    v = score(tagged("a regular hexagon"), "\\text{A regular hexagon.}")
    assert (v.score, v.details["path"]) == (1.0, "text")
