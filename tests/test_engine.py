"""The engine's scoring semantics: columns, reasons, totals, composites, dedupe, gold
preparation, cheap and async rewards, applicability and metrics."""

from __future__ import annotations

import asyncio
import os

import pytest
from fault_plugins import PREPARED, fault_registry
from vlmr1 import Sample, Verdict
from vlmr1.config import Config, EngineConfig, RewardSpec, config_from_dict
from vlmr1.engine import BatchResult, Engine
from vlmr1.errors import ConfigError, UnknownNameError


def run(specs, samples, **engine):
    cfg = Config(tuple(specs), EngineConfig(**{"workers": 2, "timeout": 2.0, **engine}))
    with Engine(cfg, fault_registry()) as eng:
        return eng.score(samples)


def test_weighted_total_is_nansum_and_none_when_all_none():
    samples = [Sample("<answer>x</answer>", task="math"), Sample("no", task="rec")]
    r = run([RewardSpec("fmt", weight=0.5), RewardSpec("m", reward="math_only", weight=2.0)], samples)
    assert isinstance(r, BatchResult)
    assert r.columns == {"fmt": [1.0, 0.0], "m": [1.0, None]}
    assert r.reasons["m"] == ["ok", "not_applicable"]
    assert r.total == [0.5 + 2.0, 0.0]
    r2 = run([RewardSpec("m", reward="math_only")], [Sample("x", task="rec")])
    assert r2.total == [None] and r2.metrics["rewards/m/none"] == 1 and "rewards/m/mean" not in r2.metrics
    assert r.row(1) == {"rewards": {"fmt": 0.0, "m": None}, "reward": 0.0, "reasons": {"fmt": "format", "m": "not_applicable"}}


def test_spec_tasks_limit_a_reward_and_config_task_is_the_default():
    cfg = Config((RewardSpec("c", reward="cheap", tasks=frozenset({"rec"})),), EngineConfig(workers=0), task="rec")
    with Engine(cfg, fault_registry()) as eng:
        r = eng.score([Sample("a"), Sample("b", task="math"), {"completion": "c"}])
    assert r.columns["c"] == [0.5, None, 0.5]


def test_params_are_defaults_overlaid_by_spec_params():
    r = run([RewardSpec("a", reward="cheap"), RewardSpec("b", reward="cheap", params={"value": 0.9})], [Sample("x")])
    assert r.columns == {"a": [0.5], "b": [0.9]}


def test_gate_zeroes_scores_below_gate_min_and_none_gate_leaves_it():
    cfg = config_from_dict({"rewards": [
        {"name": "format", "reward": "fmt", "weight": 0.0},
        {"name": "acc", "reward": "exact_acc", "gate": "format", "gate_min": 1.0},
    ]})
    samples = [Sample("<answer>", solution="<answer>"), Sample("x", solution="x"), Sample("y", solution="z")]
    with Engine(cfg, fault_registry()) as eng:
        r = eng.score(samples)
        assert r.columns["acc"] == [1.0, 0.0, 0.0]
        assert r.reasons["acc"] == ["match", "gated_by:format", "gated_by:format"]
        assert r.verdicts["acc"][1].details["ungated_score"] == 1.0
        assert r.total == [1.0, 0.0, 0.0]
        # The gate's own column is None (does not apply): the gated column is left alone.
    cfg2 = Config((RewardSpec("g", reward="math_only"), RewardSpec("acc", reward="exact_acc", gate="g")), EngineConfig(workers=1))
    with Engine(cfg2, fault_registry()) as eng:
        r = eng.score([Sample("x", solution="x", task="rec")])
    assert r.columns == {"g": [None], "acc": [1.0]}


def test_formula_column_r1_reward_style():
    cfg = config_from_dict({"rewards": [
        {"name": "format", "reward": "fmt", "weight": 0},
        {"name": "accuracy", "reward": "exact_acc", "weight": 0},
        {"name": "consistency", "reward": "judge_like", "weight": 0},
        {"name": "r1", "formula": "0.5*format + accuracy*(1 + 0.5*consistency)"},
    ], "engine": {"workers": 1}})
    samples = [Sample("<answer>", solution="<answer>"), Sample("a", solution="b")]
    with Engine(cfg, fault_registry()) as eng:
        r = eng.score(samples)
        assert r.columns["r1"] == [0.5 + 1.0 * 1.125, 0.0]
        assert r.total == r.columns["r1"]
        only = asyncio.run(eng.ascore_reward("r1", samples))
        assert [v.score for v in only] == r.columns["r1"]


def test_formula_with_a_none_input_is_none_with_a_reason():
    cfg = Config((RewardSpec("m", reward="math_only"), RewardSpec("f", formula="2*m")), EngineConfig(workers=1))
    with Engine(cfg, fault_registry()) as eng:
        r = eng.score([Sample("x", task="math"), Sample("y", task="rec")])
    assert r.columns["f"] == [2.0, None] and r.reasons["f"][1] == "missing_input:m"


def test_cycles_and_unknown_names_are_config_errors():
    with pytest.raises(ConfigError, match="cycle"):
        Engine(Config((RewardSpec("a", reward="cheap", gate="b"), RewardSpec("b", reward="cheap", gate="a"))), fault_registry())
    with pytest.raises(ConfigError, match="nope"):
        Engine(Config((RewardSpec("a", formula="nope + 1"),)), fault_registry())
    with pytest.raises(UnknownNameError, match="Did you mean 'faulty'"):
        Engine(Config((RewardSpec("faulti"),)), fault_registry())


def test_dedupe_scores_identical_items_once_and_gold_is_prepared_once():
    PREPARED.clear()
    group = [Sample("same", solution="g1", index=i, id=f"p0-{i}", group="p0") for i in range(8)]
    other = [Sample(f"diff{i}", solution="g2", index=8 + i) for i in range(8)]
    cfg = Config((RewardSpec("acc", reward="exact_acc"),), EngineConfig(workers=1, dedupe=True))
    with Engine(cfg, fault_registry()) as eng:
        r = eng.score(group + other)
        assert r.metrics["engine/dedup_hits"] == 7
        assert r.metrics["engine/gold_prepared"] == 2
        again = eng.score(group)
        assert again.metrics["engine/gold_prepared"] == 0 and again.metrics["engine/gold_cache_hits"] == 1
    assert [r.columns["acc"][0]] * 8 == r.columns["acc"][:8]
    # Gold is prepared in a worker for isolated rewards: nothing ran in this process.
    assert PREPARED == []


def test_dedupe_sees_every_field_the_reward_sees():
    a = Sample("x", solution="s", columns={"k": 1})
    b = Sample("x", solution="s", columns={"k": 2})
    c = Sample("x", solution="s", image_size=(10, 10))
    cfg = Config((RewardSpec("pids"),), EngineConfig(workers=1))
    with Engine(cfg, fault_registry()) as eng:
        r = eng.score([a, b, c, a])
    assert r.metrics["engine/dedup_hits"] == 1


def test_isolated_rewards_run_in_workers_and_cheap_ones_inline():
    cfg = Config((RewardSpec("pids"), RewardSpec("cheap")), EngineConfig(workers=2, dedupe=False))
    with Engine(cfg, fault_registry()) as eng:
        assert eng.column_mode("pids") == "isolated" and eng.column_mode("cheap") == "inline"
        r = eng.score([Sample(str(i)) for i in range(6)])
        first_pool = eng.pool._pools[0]
        r2 = eng.score([Sample("x")])
        assert eng.pool._pools[0] is first_pool  # one pool per engine, reused across batches
    pids = {v.details["pid"] for v in r.verdicts["pids"]}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    assert r2.columns["pids"] == [1.0]


def test_cheap_rewards_failures_are_none_with_reasons():
    r = run([RewardSpec("cheap"), RewardSpec("fmt")], [Sample("raise"), Sample("<answer>")])
    assert r.columns["cheap"] == [None, 0.5] and r.reasons["cheap"][0].startswith("error: ValueError")
    # A score_batch that fails is called again item by item: the failure stays with the item
    # that causes it, and the others get their own verdicts.
    bad = run([RewardSpec("fmt")], [Sample("batch-raise"), Sample("x")])
    assert bad.columns["fmt"] == [None, 0.0] and bad.reasons["fmt"][0] == "error: RuntimeError: vectorised failure"
    short = run([RewardSpec("fmt")], [Sample("batch-short"), Sample("x")])
    assert short.columns["fmt"] == [None, 0.0] and "returned 0 verdicts for 1 sample" in short.reasons["fmt"][0]


def test_cheap_prepare_runs_once_per_solution_inline():
    PREPARED.clear()
    run([RewardSpec("cheap")], [Sample(str(i), solution="G") for i in range(5)] + [Sample("z", solution="H")])
    assert sorted(PREPARED) == ["G", "H"]


def test_cheap_prepare_of_an_isolated_reward_runs_inline_and_each_solution_stays_on_one_worker():
    PREPARED.clear()
    samples = [Sample(f"{sol}{i}", solution=sol) for sol in ("G", "H", "K") for i in range(4)]
    cfg = Config((RewardSpec("pids_cheap_prepare"),), EngineConfig(workers=2, dedupe=False))
    with Engine(cfg, fault_registry()) as eng:
        assert eng.column_mode("pids_cheap_prepare") == "isolated"
        mixed = samples[0::4] + samples[1::4] + samples[2::4] + samples[3::4]  # G H K G H K ...
        r = eng.score(mixed)
    assert sorted(PREPARED) == ["G", "H", "K"]  # in this process, once each
    by_solution: dict[str, set[int]] = {}
    for s, v in zip(mixed, r.verdicts["pids_cheap_prepare"]):
        by_solution.setdefault(s.solution, set()).add(v.details["pid"])
    assert all(len(p) == 1 for p in by_solution.values()) and os.getpid() not in set().union(*by_solution.values())


def test_triage_settles_easy_items_inline_and_sends_the_rest_to_workers():
    samples = [Sample("easy-1"), Sample("hard-1"), Sample("easy-2"), Sample("boom"), Sample("hard-2")]
    cfg = Config((RewardSpec("triaged"),), EngineConfig(workers=2, dedupe=False))
    with Engine(cfg, fault_registry()) as eng:
        r = eng.score(samples)
        chunks = r.metrics["engine/chunks"]
    v = r.verdicts["triaged"]
    assert [x.score for x in v] == [0.5, 1.0, 0.5, 1.0, 1.0]
    assert v[0].details["pid"] == v[2].details["pid"] == os.getpid()  # settled in this process
    assert {v[i].details["pid"] for i in (1, 3, 4)}.isdisjoint({os.getpid()})  # a failing triage just defers
    assert chunks >= 1


def test_chunks_keep_groups_together_within_twice_the_size():
    from vlmr1.pool import _chunks

    assert _chunks(5, 2, None) == [[0, 1], [2, 3], [4]]
    assert _chunks(7, 2, [0, 0, 0, 1, 1, 2, 2]) == [[0, 1, 2], [3, 4], [5, 6]]
    assert _chunks(6, 2, [0] * 6) == [[0, 1, 2, 3], [4, 5]]  # a long group is still split


def test_async_reward_timeout_gives_none_timeout():
    cfg = Config((RewardSpec("j", reward="judge_like", params={"delay": 5}),), EngineConfig(async_timeout=0.3))
    with Engine(cfg, fault_registry()) as eng:
        r = eng.score([Sample("a"), Sample("b")])
    assert r.columns["j"] == [None, None] and r.reasons["j"] == ["timeout", "timeout"]
    assert r.metrics["rewards/j/timeouts"] == 2


async def _inside_a_loop(eng, samples):
    direct = await eng.ascore(samples)
    # score() from inside a running loop must not deadlock or raise
    return direct, eng.score(samples)


def test_ascore_and_score_inside_a_running_loop_agree():
    cfg = Config((RewardSpec("j", reward="judge_like"), RewardSpec("pids")), EngineConfig(workers=1))
    samples = [Sample("a"), Sample("b")]
    with Engine(cfg, fault_registry()) as eng:
        a, b = asyncio.run(_inside_a_loop(eng, samples))
    assert a.columns == b.columns == {"j": [0.25, 0.25], "pids": [1.0, 1.0]}


def test_dict_rows_are_accepted():
    r = run([RewardSpec("acc", reward="exact_acc")], [{"completion": [{"role": "assistant", "content": "g"}], "solution": "g"}])
    assert r.columns["acc"] == [1.0]


def test_metrics_keys():
    r = run([RewardSpec("fmt"), RewardSpec("pids")], [Sample("<answer>"), Sample("x")])
    for name in ("fmt", "pids"):
        for k in ("mean", "std", "none", "errors", "timeouts", "latency_ms"):
            assert f"rewards/{name}/{k}" in r.metrics
    assert r.metrics["rewards/fmt/mean"] == 0.5
    assert r.metrics["engine/items_per_s"] > 0
    assert {"engine/dedup_hits", "engine/gold_prepared"} <= set(r.metrics)


def test_verdict_int_scores_become_floats():
    from vlmr1.verdicts import checked as _checked

    v = _checked(Verdict(1))  # type: ignore[arg-type]
    assert v.score == 1.0 and type(v.score) is float
    assert _checked(Verdict("1")).score is None  # type: ignore[arg-type]


def test_async_and_isolated_columns_run_concurrently():
    cfg = Config((RewardSpec("j", reward="judge_like", params={"delay": 1.0}), RewardSpec("f", reward="faulty", params={"sleep": 1.0})),
                 EngineConfig(workers=1, timeout=5))
    with Engine(cfg, fault_registry()) as eng:
        eng.pool.start()
        r = eng.score([Sample("sleep-a")])
    assert r.columns == {"j": [0.25], "f": [len("sleep-a") % 3 / 2]}
    assert r.metrics["engine/batch_s"] < 1.9, r.metrics  # not 2 s: the judge waited while the worker slept


def test_gold_cache_is_bounded(monkeypatch):
    from vlmr1 import scoring as scoring_module

    monkeypatch.setattr(scoring_module, "GOLD_CACHE_SIZE", 3)
    cfg = Config((RewardSpec("cheap"),), EngineConfig(workers=0))
    with Engine(cfg, fault_registry()) as eng:
        eng.score([Sample("a", solution=f"s{i}") for i in range(10)])
        assert len(eng._golds) == 3
        again = eng.score([Sample("a", solution="s9"), Sample("a", solution="s0")])
    assert again.metrics["engine/gold_cache_hits"] == 1 and again.metrics["engine/gold_prepared"] == 1


def test_total_is_none_when_only_weight_zero_inputs_have_values():
    """A formula whose input is missing leaves the row without a total, even though a
    weight-0 input column has a value."""
    from vlmr1 import Reward, Verdict
    from vlmr1.config import config_from_dict
    from vlmr1.engine import Engine
    from vlmr1.testing import registered

    def one(samples, golds, params):
        return [Verdict(1.0) for _ in samples]

    def none(samples, golds, params):
        return [Verdict(None, "no_label") for _ in samples]

    class P:
        @staticmethod
        def register_rewards(register):
            register(Reward("one", score_batch=one, cheap=True))
            register(Reward("none", score_batch=none, cheap=True))

    import vlmr1

    P.register_rewards = vlmr1.hookimpl(P.register_rewards)
    cfg = config_from_dict({"rewards": [
        {"name": "one", "weight": 0}, {"name": "none", "weight": 0},
        {"name": "mix", "weight": 1, "formula": "one + none"},
    ]})
    with registered(("p", P)) as reg, Engine(cfg, registry=reg) as eng:
        result = eng.score([{"completion": "x"}])
    assert result.columns["one"] == [1.0] and result.columns["mix"] == [None]
    assert result.total == [None]
