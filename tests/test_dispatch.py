"""Per-row reward methods: a `dispatch` column runs, for each row, the case its column names,
through the engine (isolation, params, gates), and takes that case's verdict."""

from __future__ import annotations

import os

import pytest
from fault_plugins import fault_registry
from vlmr1 import Sample
from vlmr1.config import config_from_dict
from vlmr1.documents import schema_problems
from vlmr1.engine import Engine
from vlmr1.errors import ConfigError

CONFIG = {
    "rewards": [
        {"name": "fmt", "weight": 0.5},
        {"name": "accuracy", "weight": 2.0, "dispatch": "method", "otherwise": "other",
         "cases": {"cheap": {"reward": "cheap", "params": {"value": 0.25}},
                   "worker": {"reward": "pids"},
                   "exact": "exact_acc",
                   "other": {"reward": "cheap", "params": {"value": 0.75}}}},
    ],
    "engine": {"workers": 1, "timeout": 5},
}


def _rows():
    return [
        Sample("<answer>a</answer>", "x", columns={"method": "cheap"}),
        Sample("<answer>b</answer>", "x", columns={"method": "worker"}),
        Sample("y", "y", columns={"method": "exact"}),
        Sample("z", "nope", columns={"method": "exact"}),
        Sample("<answer>c</answer>", "x", columns={"method": "something else"}),
        Sample("<answer>d</answer>", "x"),  # no column at all
        Sample("<answer>e</answer>", "x", columns={"method": 3}),  # not a string
    ]


def test_each_row_is_scored_by_its_case_only():
    cfg = config_from_dict(CONFIG)
    with Engine(cfg, fault_registry()) as eng:
        r = eng.score(_rows())
    assert r.columns["accuracy"] == [0.25, 1.0, 1.0, 0.0, 0.75, 0.75, 0.75]
    assert r.reasons["accuracy"] == ["cheap", "ok", "match", "mismatch", "cheap", "cheap", "cheap"]
    # the case columns hold the rows they applied to and None elsewhere
    assert r.columns["accuracy.worker"] == [None, 1.0, None, None, None, None, None]
    assert r.reasons["accuracy.cheap"][1] == "not_applicable"
    # the isolated case ran in a worker, and only for its row
    pid = r.verdicts["accuracy.worker"][1].details["pid"]
    assert pid != os.getpid()
    assert r.metrics["rewards/accuracy.worker/none"] == 6
    # weights: the case columns count 0, the merged column its own weight
    assert eng.weights["accuracy"] == 2.0 and eng.weights["accuracy.exact"] == 0.0
    assert r.total[0] == pytest.approx(0.5 * 1.0 + 2.0 * 0.25)
    assert r.total[3] == pytest.approx(0.5 * 0.0 + 2.0 * 0.0)


def test_without_otherwise_unnamed_rows_get_none_with_the_value():
    data = {"rewards": [{"name": "acc", "dispatch": "method", "cases": {"cheap": "cheap"}}], "engine": {"workers": 0}}
    with Engine(config_from_dict(data), fault_registry()) as eng:
        r = eng.score([Sample("a", columns={"method": "cheap"}), Sample("b", columns={"method": "odLength"}), Sample("c")])
    assert r.columns["acc"] == [0.5, None, None]
    assert r.reasons["acc"][1:] == ["no_case: odLength", "no_case: None"]


def test_gates_tasks_and_formulas_see_the_merged_column():
    data = {"rewards": [
        {"name": "acc", "dispatch": "method", "tasks": ["t"], "cases": {"a": {"reward": "cheap", "params": {"value": 1.0}}}},
        {"name": "gated", "reward": "cheap", "gate": "acc", "gate_min": 1.0},
        {"name": "f", "formula": "2*acc"},
    ], "engine": {"workers": 0}}
    with Engine(config_from_dict(data), fault_registry()) as eng:
        r = eng.score([Sample("x", task="t", columns={"method": "a"}), Sample("y", task="u", columns={"method": "a"})])
    assert r.columns["acc"] == [1.0, None]
    assert r.reasons["acc"][1] == "not_applicable"
    assert r.columns["f"] == [2.0, None]
    assert r.columns["gated"] == [0.5, 0.5]  # a None gate leaves the column ungated


@pytest.mark.parametrize("bad, words", [
    ({"name": "a", "dispatch": "m", "cases": {"x": "cheap"}, "reward": "cheap"}, "belongs inside each case"),
    ({"name": "a", "dispatch": "m", "cases": {"x": "cheap"}, "otherwise": "y"}, "is not one of its cases"),
    ({"name": "a", "dispatch": "m", "cases": {"x y": "cheap"}}, "may use only letters"),
    ({"name": "a", "dispatch": "m", "cases": {"x": {"params": {}}}}, "must be {reward: NAME"),
])
def test_bad_dispatch_entries_are_config_errors(bad, words):
    with pytest.raises(ConfigError, match=words.replace("{", r"\{")):
        config_from_dict({"rewards": [bad]})


def test_schema_accepts_dispatch_and_rejects_half_of_it():
    assert schema_problems(CONFIG, "config", "c.yaml") == []
    assert schema_problems({"rewards": [{"name": "a", "dispatch": "m"}]}, "config", "c.yaml")
    assert schema_problems({"rewards": [{"name": "a", "cases": {"x": "cheap"}}]}, "config", "c.yaml")
    assert schema_problems({"rewards": [{"name": "a", "dispatch": "m", "cases": {"x": "c"}, "formula": "1"}]}, "config", "c.yaml")
    assert schema_problems({"rewards": [{"name": "a", "dispatch": "m", "cases": {"x": {"reward": "c", "weight": 2}}}]}, "config", "c.yaml")


def test_a_case_naming_an_unknown_reward_fails_at_engine_build():
    from vlmr1.errors import UnknownNameError

    with pytest.raises(UnknownNameError):
        Engine(config_from_dict({"rewards": [{"name": "a", "dispatch": "m", "cases": {"x": "no_such_reward"}}]}), fault_registry())
