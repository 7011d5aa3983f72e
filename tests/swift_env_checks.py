"""Checks that run INSIDE a throwaway environment with ms-swift 4.6.0 installed (built by
tests/test_heavy.py: ms-swift pins transformers<5.20 and trl<1.0, below vlmr1[train]). Not
collected by the default test run.

ms-swift's own code does the calling: ``import_external_file`` loads the plugin file as
``--external_plugins`` does, the names are looked up in ``swift.rewards.orms`` and built with
``args=``, and ``compute_rewards_per_func`` (what its GRPO trainer runs) scores real
``GRPOSample`` objects. Expected rewards are worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch

CONFIG = """\
task: math
rewards:
  - {name: format, weight: 0.5}
  - {name: accuracy, reward: math, weight: 1.0, tasks: [math]}
  - {name: box, reward: iou, weight: 1.0, tasks: [rec]}
engine: {workers: 1, timeout: 10}
"""
RIGHT = "<think>2 and 2</think><answer>4</answer>"
WRONG = "<think>2 and 2</think><answer>5</answer>"
BOX = '<think>there</think><answer>{"bbox_2d": [10, 10, 50, 50]}</answer>'


def test_plugin_file_orms_and_compute_rewards_per_func(tmp_path, monkeypatch):
    import swift
    from swift.rewards import orms
    from swift.rl_core.data import GRPOSample
    from swift.rl_core.grpo_algorithm import compute_rewards_per_func
    from swift.utils import import_external_file

    assert swift.__version__ == "4.6.0", swift.__version__
    cfg = tmp_path / "rewards.yaml"
    cfg.write_text(CONFIG)
    monkeypatch.setenv("VLMR1_CONFIG", str(cfg))
    plugin = tmp_path / "vlmr1_swift_plugin.py"
    plugin.write_text("from vlmr1.trainers.swift import register\nregister()\n")
    import_external_file(str(plugin))  # what --external_plugins does
    names = ["vlmr1", "vlmr1_format", "vlmr1_accuracy", "vlmr1_box"]
    assert all(n in orms for n in names) and "accuracy" in orms  # swift's own stay
    reward_funcs = [orms[n](args=None) for n in names]  # as GRPOTrainer builds them

    def sample(completion, **extra):
        return GRPOSample(messages=[{"role": "user", "content": "q"}, {"role": "assistant", "content": completion}],
                          extra=extra)

    samples = [sample(RIGHT, solution="4", task="math"), sample(WRONG, solution="4", task="math"),
               sample(BOX, solution=[10, 10, 50, 50], task="rec", image_size=[100, 100]),
               sample("no tags", solution="4", task="math")]
    table = compute_rewards_per_func(samples, reward_funcs, None, torch.device("cpu"), trainer_state=None)
    total, fmt, acc, box = table.T.tolist()
    assert total == [1.5, 0.5, 1.5, 0.0]
    assert fmt == [1.0, 1.0, 1.0, 0.0]
    assert acc[:2] == [1.0, 0.0] and math.isnan(acc[2]) and acc[3] == 0.0  # None -> NaN by swift
    assert box[2] == 1.0 and all(math.isnan(box[i]) for i in (0, 1, 3))
    weights = torch.tensor([0.5, 1.0, 1.0])
    assert (table[:, 1:] * weights).nansum(dim=1).tolist() == pytest.approx(total)  # swift's weighted nansum
