"""Inline plugin code (a cheap score, score_batch, triage, dedupe_key, an inline prepare,
warmup, check_params) runs under a watchdog: a stuck call is interrupted and named, the
item gets "timeout" and the reward runs isolated from then on; what cannot be
interrupted in-process (a blocking call, os._exit) is handled by `vlmr1 score`'s
watcher process. Samples are read-only views."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fault_plugins import fault_registry
from vlmr1 import Sample
from vlmr1.config import Config, EngineConfig, RewardSpec
from vlmr1.engine import Engine
from vlmr1.errors import ConfigError
from vlmr1.inline import PluginWarning

WHO = r"registered reward '{}' from plugin 'faulty' \(distribution vlmr1-reward-faulty 0\.0\.1\)"


def engine(reward: str, *, workers: int = 1, inline: float = 0.5, timeout: float = 2.0, params: dict | None = None,
           report=None, **engine_kw) -> Engine:
    cfg = Config((RewardSpec("r", reward=reward, params=params or {}),),
                 EngineConfig(workers=workers, timeout=timeout, inline_timeout=inline, memory_mb=256, **engine_kw))
    return Engine(cfg, fault_registry(), report=report)


def batch(texts: list[str], solution: object = "gold") -> list[Sample]:
    return [Sample(t, solution=solution, index=i, id=f"r{i}") for i, t in enumerate(texts)]


def test_a_stuck_cheap_score_is_interrupted_named_and_the_reward_runs_isolated_after():
    with engine("inline_hooks") as eng:
        match = r"reward 'r' \(" + WHO.format("inline_hooks") + r"\): inline score ran past engine.inline_timeout \(0.5 s\) on item 1 \(id r1\)"
        with pytest.warns(PluginWarning, match=match):
            result = eng.score(batch(["a", "spin", "b", "c"]))
        assert result.reasons["r"] == ["inline-ok", "timeout", "inline-ok", "inline-ok"]
        assert result.metrics["rewards/r/timeouts"] == 1
        assert eng.column_mode("r") == "isolated"
        again = eng.score(batch(["spin", "d"]))  # in a worker now: killed at engine.timeout
    assert again.reasons["r"] == ["timeout", "inline-ok"] and again.metrics["engine/kills"] == 1


def test_with_workers_0_a_stuck_cheap_score_costs_its_item_and_the_rest_still_runs():
    with engine("inline_hooks", workers=0) as eng, pytest.warns(PluginWarning, match="keeps running inline"):
        result = eng.score(batch(["a", "spin", "b", "spin ".strip()]))
    assert result.reasons["r"] == ["inline-ok", "timeout", "inline-ok", "timeout"]


def test_a_stuck_score_batch_is_rerun_item_by_item_isolated_and_only_its_culprit_times_out():
    with engine("inline_batch", dedupe=False) as eng, pytest.warns(PluginWarning, match="inline score_batch ran past"):
        result = eng.score(batch(["a", "spin", "b"]))
    assert result.reasons["r"] == ["batch-ok", "timeout", "batch-ok"]
    assert eng.column_mode("r") == "isolated"


def test_score_batch_memory_error_on_one_row_marks_only_that_row():
    with engine("inline_batch") as eng:
        result = eng.score(batch([f"row{i}" for i in range(9)] + ["oom-row"] + [f"row{i}" for i in range(10, 20)]))
    reasons = result.reasons["r"]
    assert reasons[9] == "memory" and reasons[:9] + reasons[10:] == ["batch-ok"] * 19
    assert result.metrics["rewards/r/errors"] == 1


@pytest.mark.parametrize("reward,texts,solution,hook,expected", [
    ("inline_hooks", ["key-spin", "x", "x"], "gold", "dedupe_key", ["inline-ok"] * 3),
    ("isolated_hooks", ["triage-spin", "y"], "gold", "triage", ["ok", "ok"]),
    ("isolated_hooks", ["z", "w"], "gold-spin", "prepare", ["gold_error: timeout"] * 2),
    ("inline_hooks", ["z", "w"], "gold-spin", "prepare", ["gold_error: timeout"] * 2),
])
def test_a_stuck_auxiliary_hook_is_interrupted_and_the_items_are_still_judged(reward, texts, solution, hook, expected):
    with engine(reward) as eng:
        with pytest.warns(PluginWarning, match=rf"inline {hook} ran past engine.inline_timeout"):
            result = eng.score(batch(texts, solution))
        assert result.reasons["r"] == expected
        later = eng.score(batch(["key-spin", "triage-spin", "fine"], "gold-other"))  # the hook is not called again
    assert set(later.reasons["r"]) <= {"ok", "inline-ok"}


def test_a_stuck_warmup_is_interrupted_and_the_engine_still_starts():
    """An isolated reward's warm-up runs when the pool first starts (not when the engine is
    built); stuck, it is interrupted there and the items are still scored."""
    cfg = Config((RewardSpec("r", reward="spin_warmup"),), EngineConfig(workers=1, warmup_timeout=0.5))
    t = time.monotonic()
    with Engine(cfg, fault_registry()) as eng:
        with pytest.warns(PluginWarning, match=r"warm-up of reward 'r' \(" + WHO.format("spin_warmup") + r"\) ran past engine.warmup_timeout"):
            assert eng.score(batch(["a"])).columns["r"] == [1.0]
        assert time.monotonic() - t < 10


def test_a_stuck_check_params_is_a_config_error_naming_the_plugin():
    with pytest.raises(ConfigError, match=r"reward 'r' \(" + WHO.format("spin_check") + r"\): check_params did not return"):
        engine("spin_check", params={"spin": True})


def test_a_call_that_cannot_be_interrupted_is_reported_with_the_plugin_name_then_judged():
    """time.sleep blocks in C: the interrupt lands only when it returns. The watchdog says so
    on stderr while it is stuck; the item still ends as a timeout and the reward is demoted."""
    reports: list[tuple[float, str]] = []
    t = time.monotonic()
    with engine("inline_hooks", report=lambda text: reports.append((time.monotonic() - t, text))) as eng:
        with pytest.warns(PluginWarning):
            result = eng.score(batch(["sleep", "a"]))
        assert eng.column_mode("r") == "isolated"
    assert result.reasons["r"] == ["timeout", "inline-ok"]
    assert len(reports) == 1 and reports[0][0] < 4.0  # while the call was still stuck
    assert "reward 'r'" in reports[0][1] and "vlmr1-reward-faulty" in reports[0][1] and "inline score" in reports[0][1]


def test_samples_are_read_only_views_so_a_reward_cannot_change_the_row_or_what_others_see():
    cfg = Config((RewardSpec("m", reward="mutating"), RewardSpec("c", reward="reading")), EngineConfig(workers=1))
    row = {"completion": "x", "solution": ["a", "b"], "meta": {"k": 1}}
    with Engine(cfg, fault_registry()) as eng:
        result = eng.score([row])
    assert result.columns["m"] == [None] and "read-only" in result.reasons["m"][0]
    assert result.reasons["c"] == ["clean"]
    assert row == {"completion": "x", "solution": ["a", "b"], "meta": {"k": 1}}


# -- through `vlmr1 score`: the watcher process ---------------------------------------------

DRIVER = Path(__file__).parent / "score_driver.py"


def run_score(tmp_path: Path, texts: list[str], rewards: list, inline: float = 0.5) -> tuple[subprocess.CompletedProcess, list[dict]]:
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"rewards": rewards, "engine": {"workers": 1, "timeout": 1.5, "inline_timeout": inline}}))
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps({"id": i, "completion": t, "solution": [1]}) + "\n" for i, t in enumerate(texts)))
    out = tmp_path / "out.jsonl"
    done = subprocess.run([sys.executable, str(DRIVER), "score", "--config", str(cfg), "--input", str(inp), "--output", str(out),
                           "--no-progress", "--chunk", "4"], env={**os.environ, "VLMR1_PLUGINS": ""},
                          capture_output=True, text=True, timeout=180)
    got = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    return done, got


@pytest.mark.parametrize("fault,how,reason", [
    ("exit", "exited with status 1", "crashed: exit 1"),
    ("sleep", "was stopped after an inline call stayed stuck", "timeout"),
])
def test_vlmr1_score_survives_inline_code_that_ends_or_wedges_its_process(tmp_path, fault, how, reason):
    texts = [f"ok{i}" for i in range(10)]
    texts[6] = fault
    done, got = run_score(tmp_path, texts, [{"name": "r", "reward": "inline_hooks"}, {"name": "p", "reward": "pids"}])
    assert done.returncode == 0, done.stderr
    assert [g["id"] for g in got] == list(range(10))
    assert [g["reasons"]["r"] for g in got] == ["inline-ok"] * 6 + [reason] + ["inline-ok"] * 3
    assert {g["rewards"]["p"] for g in got} == {1.0}
    assert f"Warning: the scoring process {how}" in done.stderr
    assert "in the inline score of reward 'r' (registered reward 'inline_hooks' from plugin 'faulty'" in done.stderr
    assert "in.jsonl:7." in done.stderr and "Resuming with 'r' run isolated" in done.stderr


def test_vlmr1_score_ends_with_an_error_when_the_process_dies_outside_inline_hooks(tmp_path):
    texts = [f"ok{i}" for i in range(8)] + ["exit"] + [f"ok{i}" for i in range(3)]
    done, _ = run_score(tmp_path, texts, [{"name": "a", "reward": "exit_async"}])
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("Error: the scoring process exited with status 3") and "Traceback" not in done.stderr
    kept = (tmp_path / "out.jsonl.partial").read_text().splitlines()
    assert len(kept) == 8  # the two whole chunks before it; run again to resume
