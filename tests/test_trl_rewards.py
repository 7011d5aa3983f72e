"""The TRL bridge, called by the real ``trl.GRPOTrainer._calculate_rewards`` (on a
minimal trainer object carrying exactly what that method reads), sync and async."""

from __future__ import annotations

import asyncio
import math
import types
from collections import defaultdict

import pytest
from fault_plugins import fault_registry
from vlmr1.config import config_from_dict
from vlmr1.engine import Engine
from vlmr1.trl_rewards import samples_from_trl, trl_reward_functions

torch = pytest.importorskip("torch")
trl = pytest.importorskip("trl")


class FakeTrainer:
    """What ``_calculate_rewards`` touches on ``self``: device, reward funcs, names, state,
    the log hooks, the async loop, and what profiling_context reads."""

    def __init__(self, funcs):
        from accelerate import Accelerator
        from transformers import TrainerState
        from trl.trainer.grpo_trainer import GRPOTrainer
        from trl.trainer.utils import (
            get_callable_name,
            is_async_callable,
            start_event_loop_in_daemon,
        )

        self.accelerator = Accelerator(cpu=True)
        self.args = types.SimpleNamespace(report_to=[])
        self.state = TrainerState()
        self.reward_funcs = funcs
        self.reward_processing_classes = [None] * len(funcs)
        self.reward_func_names = [get_callable_name(f) for f in funcs]
        self.environments = None
        self._pending_metrics = defaultdict(list)
        self._pending_extra_logs = defaultdict(list)
        self._log_metric = types.MethodType(GRPOTrainer._log_metric, self)
        self._log_completion_extra = types.MethodType(GRPOTrainer._log_completion_extra, self)
        self.is_async = any(is_async_callable(f) for f in funcs)
        if self.is_async:
            self.thread, self.async_loop, ready = start_event_loop_in_daemon(name="test-loop")
            ready.wait()

    def calculate(self, inputs, prompts, completions):
        from trl.trainer.grpo_trainer import GRPOTrainer

        ids = [[1, 2]] * len(completions)
        return GRPOTrainer._calculate_rewards(self, inputs, prompts, completions, ids)

    def close(self):
        if self.is_async:
            from trl.trainer.utils import shutdown_event_loop_in_daemon

            shutdown_event_loop_in_daemon(self.thread, self.async_loop)


CONFIG = {
    "rewards": [
        {"name": "format", "reward": "fmt", "weight": 0.5},
        {"name": "accuracy", "reward": "exact_acc", "gate": "format"},
        {"name": "consistency", "reward": "judge_like", "weight": 0.0},
        {"name": "r1", "formula": "accuracy * (1 + consistency)", "weight": 2.0},
        {"name": "mathy", "reward": "math_only", "weight": 1.0},
    ],
    "engine": {"workers": 2, "timeout": 2.0},
}


def grpo_batch(G=4):
    """Two prompts x G generations, rows already repeated per generation as TRL does;
    each row has its own solution, so a misaligned i//G lookup would show."""
    inputs, prompts, completions = [], [], []
    for p, (task, solutions) in enumerate([("math", ["<answer>", "s1", "s2", "<answer>"]), ("rec", ["<answer>", "a", "<answer>", "b"])]):
        for g in range(G):
            comp = ["<answer>", "s1", "<answer>", "zz"][g] if p == 0 else ["<answer>", "a", "b", "<answer>"][g]
            inputs.append({"prompt": [{"role": "user", "content": f"q{p}"}], "solution": solutions[g], "task": task, "id": f"p{p}"})
            prompts.append(inputs[-1]["prompt"])
            completions.append([{"role": "assistant", "content": comp}])
    return inputs, prompts, completions


def test_async_functions_through_real_calculate_rewards_agree_with_engine_score():
    cfg = config_from_dict(CONFIG)
    reg = fault_registry()
    with Engine(cfg, reg) as eng:
        funcs, weights = trl_reward_functions(cfg, engine=eng)
        assert [f.__name__ for f in funcs] == ["format", "accuracy", "consistency", "r1", "mathy"]
        assert weights == [0.5, 1.0, 0.0, 2.0, 1.0]
        from trl.trainer.utils import is_async_callable

        assert all(is_async_callable(f) for f in funcs)
        trainer = FakeTrainer(funcs)
        try:
            inputs, prompts, completions = grpo_batch()
            per_func = trainer.calculate(inputs, prompts, completions)
            expected = eng.score(samples_from_trl(prompts, completions, {k: [r[k] for r in inputs] for k in ("solution", "task", "id")}))
        finally:
            trainer.close()
    for j, name in enumerate(trainer.reward_func_names):
        got = [None if math.isnan(x) else x for x in per_func[:, j].tolist()]
        assert got == expected.columns[name], name
    total = (per_func * torch.tensor(weights).unsqueeze(0)).nansum(dim=1).tolist()
    assert total == pytest.approx([t if t is not None else 0.0 for t in expected.total])
    # Alignment: completion i was checked against row i's solution (i//G would differ).
    assert expected.columns["accuracy"][:4] == [1.0, 0.0, 0.0, 0.0]  # "s1" vs "s1" gated by format -> 0
    assert expected.reasons["accuracy"][1] == "gated_by:format"
    assert expected.verdicts["accuracy"][1].details["ungated_score"] == 1.0
    assert expected.columns["mathy"] == [1.0] * 4 + [None] * 4
    # Metrics and reasons reached TRL's log hooks; engine metrics once per batch.
    assert trainer._pending_metrics["rewards/accuracy/timeouts"] == [0.0]
    assert len(trainer._pending_metrics["engine/items_per_s"]) == 1
    assert trainer._pending_extra_logs["reason/accuracy"] == expected.reasons["accuracy"]


def test_sync_functions_when_every_reward_is_cheap_and_errors_reach_log_metric():
    cfg = config_from_dict({"rewards": [{"name": "fmt"}, {"name": "c", "reward": "cheap", "gate": "fmt", "gate_min": 0.5}]})
    funcs, _ = trl_reward_functions(cfg, registry=fault_registry())
    assert not any(asyncio.iscoroutinefunction(f) for f in funcs)
    trainer = FakeTrainer(funcs)
    completions = ["<answer>", "raise", "no", "<answer>"]
    inputs = [{"prompt": "q", "solution": None}] * 4
    per_func = trainer.calculate(inputs, ["q"] * 4, completions)
    assert per_func[:, 0].tolist() == [1.0, 0.0, 0.0, 1.0]
    c = per_func[:, 1].tolist()
    assert c[0] == 0.5 and math.isnan(c[1]) and c[2] == 0.0 and c[3] == 0.5
    assert trainer._pending_metrics["rewards/c/errors"] == [1.0]
    assert trainer._pending_extra_logs["reason/c"][1].startswith("error: ValueError")


def test_each_batch_is_scored_once_and_a_new_batch_is_rescored():
    cfg = config_from_dict({"rewards": [{"name": "a", "reward": "pids"}, {"name": "b", "reward": "cheap"}], "engine": {"workers": 1}})
    with Engine(cfg, fault_registry()) as eng:
        funcs, _ = trl_reward_functions(cfg, engine=eng)
        calls = []
        original = eng.ascore

        async def counting(samples, only=None):
            calls.append(len(samples))
            return await original(samples, only)

        eng.ascore = counting  # type: ignore[method-assign]

        async def step(completions):
            return await asyncio.gather(*(f(prompts=None, completions=completions) for f in funcs))

        first = asyncio.run(step(["x", "y"]))
        second = asyncio.run(step(["x", "y", "z"]))
    assert calls == [2, 3]
    assert first == [[1.0, 1.0], [0.5, 0.5]] and second[1] == [0.5] * 3


def test_columns_of_the_wrong_length_are_refused():
    with pytest.raises(ValueError, match="one value per completion"):
        samples_from_trl(None, ["a", "b"], {"solution": ["only one"]})
