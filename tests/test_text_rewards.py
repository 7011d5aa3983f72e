"""The text plugin: all_match and fuzzy (default and compat), cosine_length (open-r1's
schedule, clamped; VLM-R1's periodic version differs), repetition, hostile input; and
VLM-R1's answer readers in vlmr1.compat against the regexes they replace."""

from __future__ import annotations

import math
import random
import re
import time

import pytest
import vlmr1_reference as ref
from hypothesis import given, settings
from hypothesis import strategies as st
from vlmr1 import Sample
from vlmr1.compat import clean_text, extract_choice, first, last
from vlmr1.config import config_from_dict
from vlmr1.engine import Engine
from vlmr1.registry import load_registry


def score(reward, samples, workers=0, **params):
    cfg = config_from_dict({"rewards": [{"name": "r", "reward": reward, "params": params}], "engine": {"workers": workers, "timeout": 20}})
    with Engine(cfg, load_registry(allow={"text"})) as eng:
        return eng.score(samples)


_TEXT = st.lists(st.sampled_from(list("ab \n\r.") + ["<answer>", "</answer>", "```json", "```"]), max_size=30).map("".join)


@settings(max_examples=400, deadline=None)
@given(_TEXT)
def test_compat_readers_equal_the_regexes(text):
    m = re.search(r"<answer>(.*?)</answer>", text)
    assert first(text, "<answer>", "</answer>", dotall=False) == (m.group(1) if m else None)
    m = re.search(r"<answer>(.*?)</answer>", text, re.DOTALL)
    assert first(text, "<answer>", "</answer>") == (m.group(1) if m else None)
    found = re.findall(r"```json(.*?)```", text, re.DOTALL)
    assert last(text, "```json", "```") == (found[-1] if found else None)
    assert clean_text(text) == ref.clean_text(text)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(list("ABCabc .,;:!?") + ["答案", "ANSWER", "\n"]), max_size=40).map("".join))
def test_extract_choice_equals_vlmr1(text):
    assert extract_choice(text) == ref.extract_choice(text)


def test_extract_choice_is_linear_on_repeated_letters():
    text = "b" * 50_000 + " Z." * 20_000
    t = time.monotonic()
    assert extract_choice(text) == "Z"
    assert time.monotonic() - t < 1.0


def test_all_match_default_and_compat():
    rows = [Sample("<answer>Stop  Sign.</answer>", "stop sign"), Sample("<answer>ｓｔｏｐ</answer>", "stop"),
            Sample("<answer>a\nb</answer>", "a b"), Sample("stop", None), Sample("x" * 30_000, "x")]
    r = score("all_match", rows)
    assert r.columns["r"] == [1.0, 1.0, 1.0, None, 0.0]
    assert r.reasons["r"][3:] == ["no_solution", "too_long"]
    c = score("all_match", rows[:3], compat="vlm-r1")
    assert c.columns["r"] == [0.0, 0.0, 1.0]  # VLM-R1 keeps inner double spaces and full-width letters


def test_fuzzy_is_levenshtein_ratio():
    from Levenshtein import ratio

    rng = random.Random(5)
    words = ["kitten", "sitting", "", "a", "the red car", "Rot Auto", "ﬁsh"]
    rows = [Sample(f"<answer>{rng.choice(words)}</answer>", rng.choice(words) or "x") for _ in range(50)]
    r = score("fuzzy", rows, compat="vlm-r1")
    for s, v in zip(rows, r.columns["r"]):
        want = ratio(ref.clean_text(s.completion), ref.clean_text(f"<answer> {s.solution} </answer>"))
        assert v == pytest.approx(want, abs=1e-12)
    t = score("fuzzy", [Sample("kitten", "sitting")], threshold=0.5)
    assert t.columns["r"] == [1.0] and t.reasons["r"][0] == "similarity=0.62"


def test_cosine_length_clamps_where_vlmr1_is_periodic():
    p = {"correct": "always", "max_len": 1024, "min_value_correct": 0.5, "max_value_correct": 1.0}
    lengths = [0, 256, 512, 1024, 1536, 2048, 4096]
    r = score("cosine_length", [Sample("x" * n, "s") for n in lengths], **p)
    ours = r.columns["r"]
    vlm = [ref.cosine_reward(n) for n in lengths]
    assert ours[:4] == pytest.approx(vlm[:4])  # the same curve up to max_len
    assert ours[4:] == pytest.approx([0.5, 0.5, 0.5])  # then it stays at the end point
    assert vlm[5] == pytest.approx(1.0) and vlm[6] == pytest.approx(1.0)  # VLM-R1: 2048 tokens score like 0
    assert all(a >= b for a, b in zip(ours, ours[1:]))  # never rewards a longer correct answer


def test_cosine_length_wrong_answers_and_math_correctness():
    rows = [Sample("<answer>\\frac{1}{2}</answer>" + " " * 100, "$0.5$"), Sample("<answer>3</answer>", "$0.5$"),
            Sample("x", "no math here")]
    r = score("cosine_length", rows, workers=1, max_len=1000)
    progress = len(rows[0].completion) / 1000
    assert r.columns["r"][0] == pytest.approx(0.5 + 0.25 * (1 + math.cos(progress * math.pi)))
    assert r.columns["r"][1] == pytest.approx(-0.5 + 0.5 * (-1.0 + 0.5) * (1 + math.cos(len(rows[1].completion) / 1000 * math.pi)))
    assert r.columns["r"][2] is None and r.reasons["r"][2].startswith("bad_solution")


def test_repetition_equals_open_r1_and_reads_boxes():
    rng = random.Random(2)
    vocab = ["a", "b", "c", "the", "cat"]
    texts = [" ".join(rng.choice(vocab) for _ in range(rng.randint(0, 40))) for _ in range(60)]
    r = score("repetition", [Sample(t) for t in texts])
    assert r.columns["r"] == pytest.approx([ref.repetition_reward_text(t) for t in texts])
    box = '{"bbox_2d": [1, 2, 3, 4], "label": "cat"}'
    r = score("repetition", [Sample(f"<answer>[{box}, {box}]</answer>")], boxes=True)
    assert r.columns["r"] == [-0.5] and "boxes" in r.reasons["r"][0]


HOSTILE = ["<answer>" * 30_000, "x " * 200_000, "\n" * 100_000, "a" * 1_000_000, "<answer>" + "9" * 5000 + "</answer>",
           "\x00\ud800", "<answer>" + "[" * 50_000 + "</answer>"]


@pytest.mark.parametrize("reward, params", [("all_match", {}), ("all_match", {"compat": "vlm-r1"}), ("fuzzy", {}),
                                            ("fuzzy", {"compat": "vlm-r1"}), ("repetition", {"boxes": True}),
                                            ("cosine_length", {"correct": "exact"})])
def test_hostile_input_is_bounded(reward, params):
    t = time.monotonic()
    r = score(reward, [Sample(h, h[:50]) for h in HOSTILE], **params)
    assert time.monotonic() - t < 20
    for v, why in zip(r.columns["r"], r.reasons["r"]):
        assert why and (v is None or math.isfinite(v))


def test_default_chain_hostile_input_in_workers():
    rows = [Sample(h, "3") for h in HOSTILE[:5]] + [Sample("<answer>3</answer>", "3")]
    t = time.monotonic()
    r = score("default_accuracy", rows, workers=1)
    assert time.monotonic() - t < 60
    assert r.columns["r"][-1] == 1.0
    for v, why in zip(r.columns["r"], r.reasons["r"]):
        assert why and (v is None or 0.0 <= v <= 1.0)


def test_cosine_length_exact_reads_a_tagged_gold_as_all_match_does():
    rows = [Sample("<think>x</think><answer>3</answer>", "<answer> 3 </answer>"),
            Sample("<think>x</think><answer>4</answer>", "<answer> 3 </answer>")]
    assert score("all_match", rows).columns["r"] == [1.0, 0.0]
    r = score("cosine_length", rows, correct="exact", max_len=1000)
    n = len(rows[0].completion)
    right = 0.5 + 0.5 * (1.0 - 0.5) * (1 + math.cos(n / 1000 * math.pi))
    wrong = -0.5 + 0.5 * (-1.0 + 0.5) * (1 + math.cos(n / 1000 * math.pi))
    assert r.columns["r"] == pytest.approx([right, wrong])
    assert r.reasons["r"][0].startswith("correct") and r.reasons["r"][1].startswith("wrong")


def test_cosine_length_settles_always_and_exact_inline_and_sends_math_to_a_worker():
    rows = [Sample("<answer>3</answer>", "<answer> 3 </answer>"), Sample("<answer>4</answer>", "3"), Sample("x", None)]
    n = len(rows[0].completion)
    right = 0.5 + 0.25 * (1 + math.cos(n / 1000 * math.pi))
    wrong = -0.5 - 0.25 * (1 + math.cos(n / 1000 * math.pi))
    short = 0.5 + 0.25 * (1 + math.cos(1 / 1000 * math.pi))
    for correct, want in (("always", [right, right, short]), ("exact", [right, wrong, None])):
        r = score("cosine_length", rows, workers=1, correct=correct)
        assert r.columns["r"] == [pytest.approx(w) if w is not None else None for w in want], correct
        assert r.metrics["engine/chunks"] == 0, correct
    assert score("cosine_length", rows, workers=1, correct="exact").reasons["r"][2] == "no_solution"
    maths = [Sample("<answer>$3$</answer>", "$3$"), Sample("<answer>$4$</answer>", "$3$")]
    r = score("cosine_length", maths, workers=1, correct="math")
    c = 1 + math.cos(len(maths[0].completion) / 1000 * math.pi)
    assert r.columns["r"] == [pytest.approx(0.5 + 0.25 * c), pytest.approx(-0.5 - 0.25 * c)]
    assert r.metrics["engine/chunks"] > 0
