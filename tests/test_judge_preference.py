"""The pairwise `preference` reward and the R1-Reward composite preset."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vlmr1.config import load_config
from vlmr1.errors import UnknownNameError
from vlmr1.formula import compile_formula
from vlmr1.plugins.judge import presets
from vlmr1.plugins.judge.rewards import preference_score_batch
from vlmr1.types import Sample

EXAMPLE = "examples/configs/r1_reward.yaml"


def score(completion, **columns):
    solution = columns.pop("solution", None)
    sample = Sample(completion, solution=solution, task="pairwise", columns=columns)
    return preference_score_batch([sample], [solution], {})[0]


@pytest.mark.parametrize(
    "completion, columns, expected",
    [
        ("<think>2 is right</think><answer>2</answer>", {"solution": 2}, (1.0, "ok")),
        ("<think>..</think><answer>1</answer>", {"solution": "2"}, (0.0, "wrong")),
        ("<think>..</think><answer>Response 2</answer>", {"solution": "<answer>2</answer>"}, (1.0, "ok")),
        ("<think>..</think><answer> **1** </answer>", {"label": 1}, (1.0, "ok")),
        ("<think>..</think><answer>1</answer>", {"preference": "Response 1"}, (1.0, "ok")),
        ("<think>..</think><answer>1</answer>", {"solution": None, "label": 2}, (0.0, "wrong")),
        ("<think>..</think><answer>1 or 2</answer>", {"solution": 1}, (0.0, "bad_choice")),
        ("<think>..</think>1", {"solution": 1}, (0.0, "no_answer")),
        ("<think>..</think><answer>1</answer>", {}, (None, "no_label")),
        ("<think>..</think><answer>1</answer>", {"solution": "tie"}, (None, "bad_label")),
        ("<answer>1</answer> then <answer>2</answer>", {"solution": 2}, (1.0, "ok")),  # the last answer counts
    ],
)
def test_preference(completion, columns, expected):
    v = score(completion, **columns)
    assert (v.score, v.reason) == expected


def test_solution_column_wins_over_label():
    assert score("<answer>1</answer>", solution=1, label=2).score == 1.0


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.sampled_from([1, 2]))
def test_preference_total(completion, label):
    v = score(completion, solution=label)
    assert v.score in (0.0, 1.0)
    assert score(completion + f"<answer>{label}</answer>", solution=label).score == 1.0


def test_preference_is_linear_on_adversarial_input():
    nasty = "<answer>" * 100_000 + "1" + "</answer" * 100_000
    t = time.perf_counter()
    v = score(nasty, solution=1)
    assert time.perf_counter() - t < 1.0 and v.score == 0.0


def test_registered_as_cheap_batch_reward():
    from vlmr1.registry import get_registry

    reward = get_registry().reward("preference")
    assert reward.score_batch == "vlmr1.plugins.judge.rewards:preference_score_batch"  # imported when a run uses it
    assert reward.cheap and reward.resolved().score_batch is preference_score_batch
    assert "label" in reward.doc and "solution" in reward.doc


# -- the R1-Reward composite -------------------------------------------------------------
def test_example_config_is_the_preset():
    config = load_config(EXAMPLE)
    assert config == presets.preset("r1_reward")
    by_name = {s.name: s for s in config.rewards}
    assert [s.name for s in config.rewards] == ["format", "preference", "consistency", "r1_reward"]
    assert all(by_name[n].weight == 0 for n in ("format", "preference", "consistency"))
    assert by_name["r1_reward"].weight == 1 and by_name["r1_reward"].formula == presets.R1_REWARD_FORMULA
    assert by_name["consistency"].params["fallback_score"] == 0
    assert config.task == "pairwise"


@pytest.mark.parametrize(
    "fmt, pref, cons, expected",
    [(1, 1, 1, 2.0), (1, 1, -1, 1.0), (1, 1, 0, 1.5), (1, 0, 1, 0.5), (0, 0, -1, 0.0), (0, 1, 1, 1.5), (1, 0, -1, 0.5)],
)
def test_r1_reward_formula_values(fmt, pref, cons, expected):
    # R1-Reward: 0.5*format + accuracy*(1 + 0.5*consistency)
    f = compile_formula(presets.R1_REWARD_FORMULA)
    assert f({"format": fmt, "preference": pref, "consistency": cons}) == expected


def test_preset_with_judge_params_and_errors():
    config = presets.preset("r1_reward", judge={"base_url": "http://judge:9000/v1", "model": "m", "deadline_s": 5})
    params = next(s for s in config.rewards if s.name == "consistency").params
    assert params["base_url"] == "http://judge:9000/v1" and params["deadline_s"] == 5
    assert params["answer_labels"] == {"1": "Response 1 is better", "2": "Response 2 is better"}
    assert presets.PRESETS["r1_reward"]["rewards"][2]["params"]["base_url"] != "http://judge:9000/v1"  # not mutated
    assert presets.names() == ["r1_reward"]
    with pytest.raises(UnknownNameError, match="r1_reward"):
        presets.preset("r1-reward")
