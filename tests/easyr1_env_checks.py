"""Checks that run INSIDE an environment with EasyR1 installed from a source checkout (EasyR1 is
not on the package index and its package is also called ``verl``, so no test here installs it).
Not collected by the default test run; run by hand:

    python -m venv /tmp/e1 && /tmp/e1/bin/pip install --no-deps /path/to/EasyR1 \\
        && /tmp/e1/bin/pip install 'tensordict>=0.8,<=0.10.0,!=0.9.0' ray codetiming vlmr1 torch transformers
    PYTHONPATH=tests /tmp/e1/bin/python -m pytest -o addopts= tests/easyr1_env_checks.py

EasyR1's own ``AutoRewardManager`` loads our file by path and scores a real ``DataProto``;
``reduce_metrics`` averages what comes back. Expected rewards are worked out by hand."""

from __future__ import annotations

import json

import numpy as np
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
RESPONSES = ["<think>2 and 2</think><answer>4</answer>", "<think>2 and 2</think><answer>5</answer>",
             '<think>there</think><answer>{"bbox_2d": [10, 10, 50, 50]}</answer>']
TRUTHS = ["4", "<answer>4</answer>", json.dumps({"solution": [10, 10, 50, 50], "task": "rec", "image_size": [100, 100]})]
EXPECTED = [1.5, 0.5, 1.5]


class ByteTokenizer:
    """decode() over byte ids: what the manager needs from a tokenizer, exact for any text."""

    def encode(self, text):
        return list(text.encode())

    def decode(self, ids, skip_special_tokens=True):
        return bytes(int(i) for i in ids if int(i) < 256).decode()


@pytest.mark.parametrize("reward_type", ["batch", "sequential"])
def test_auto_reward_manager(tmp_path, reward_type):
    from verl.protocol import DataProto
    from verl.trainer.metrics import reduce_metrics
    from verl.workers.reward.config import RewardConfig
    from verl.workers.reward.function import AutoRewardManager
    from vlmr1.trainers import easyr1

    cfg_path = tmp_path / "rewards.yaml"
    cfg_path.write_text(CONFIG)
    if reward_type == "sequential":
        source = tmp_path / "easyr1_sequential.py"
        source.write_text(open(easyr1.__file__).read().replace('REWARD_TYPE = "batch"', 'REWARD_TYPE = "sequential"'))
    else:
        source = easyr1.__file__
    config = RewardConfig(reward_function=f"{source}:compute_score", reward_function_kwargs={"config": str(cfg_path)})
    config.post_init()
    tok = ByteTokenizer()
    manager = AutoRewardManager(config, tok)
    ids = [tok.encode(r) for r in RESPONSES]
    width = max(map(len, ids)) + 4
    responses = torch.tensor([i + [300] * (width - len(i)) for i in ids])
    mask = torch.tensor([[1] * len(i) + [0] * (width - len(i)) for i in ids])
    data = DataProto.from_dict(tensors={"responses": responses, "response_mask": mask},
                               non_tensors={"ground_truth": np.array(TRUTHS, dtype=object)})
    reward_tensor, metrics = manager.compute_reward(data)
    for i, n in enumerate(map(len, ids)):
        assert reward_tensor[i, n - 1].item() == pytest.approx(EXPECTED[i])
        assert reward_tensor[i].sum().item() == pytest.approx(EXPECTED[i])
    reduced = reduce_metrics(metrics)
    assert reduced["overall"] == pytest.approx(3.5 / 3)
    assert reduced["accuracy"] == pytest.approx(0.5) and reduced["box"] == pytest.approx(1.0)  # over rows they apply to
