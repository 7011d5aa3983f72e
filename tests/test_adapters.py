"""Adapters for EasyR1, ms-swift, OpenRLHF's reward_func file and ``trl grpo --reward_funcs``,
each called exactly as that trainer's published code calls it (versions in docs/with-*.md):

- EasyR1 b44b311 (0.3.3.dev0) verl/workers/reward/function.py: the file loaded by path as
  ``custom_reward_fn``, ``partial(fn, **reward_function_kwargs)``, batch and sequential calls,
  ``overall`` read, every key averaged with numpy;
- ms-swift 3602360 (4.6.0.dev0) swift/rl_core/grpo_algorithm.py: ``orms[name](args=args)``,
  ``reward(completions, **reward_kwargs)`` with batched dataset columns and ``trainer_state``,
  None -> NaN (tests/swift_env_checks.py runs the same against ms-swift 4.6.0 itself, -m heavy);
- OpenRLHF 3c3be62 (0.11.0) openrlhf/utils/agent.py: the file loaded by path as ``reward_func``,
  called in a thread with one-element lists;
- TRL (installed) trl/scripts/grpo.py: ``importlib.import_module`` + ``getattr`` of the dotted name,
  and the real ``trl grpo`` command for one training step.

Expected values are worked out by hand."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
import math
import sys
from collections import defaultdict
from functools import partial

import numpy as np
import pytest
from vlmr1.trainers import verl

CONFIG = """\
task: math
rewards:
  - {name: format, weight: 0.5}
  - {name: accuracy, reward: math, weight: 1.0, tasks: [math]}
  - {name: box, reward: iou, weight: 1.0, tasks: [rec]}
engine: {workers: 0, timeout: 10}
"""
RIGHT = "<think>2 and 2</think><answer>4</answer>"
WRONG = "<think>2 and 2</think><answer>5</answer>"
BOX = '<think>there</think><answer>{"bbox_2d": [10, 10, 50, 50]}</answer>'
REC_LABEL = json.dumps({"solution": [10, 10, 50, 50], "task": "rec", "image_size": [100, 100]})


@pytest.fixture()
def config(tmp_path, monkeypatch):
    path = tmp_path / "rewards.yaml"
    path.write_text(CONFIG)
    monkeypatch.setenv("VLMR1_CONFIG", str(path))
    verl.configure(None)
    yield path
    verl.configure(None)


def load_by_path(module_name, path):
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def test_easyr1_batch_and_sequential(config):
    from vlmr1.trainers import easyr1

    module = load_by_path("custom_reward_fn", easyr1.__file__)
    try:
        assert getattr(module, "REWARD_TYPE", "batch") == "batch" and module.REWARD_NAME == "vlmr1"
        reward_fn = partial(module.compute_score, **{"config": str(config)})
        inputs = [{"response": RIGHT + "<|im_end|>", "response_length": 12, "ground_truth": "4"},
                  {"response": WRONG, "response_length": 12, "ground_truth": "<answer>4</answer>"},
                  {"response": BOX, "response_length": 20, "ground_truth": REC_LABEL}]
        scores = reward_fn(inputs)
        # what EasyR1 does with them: overall on the last token, every key into metrics, numpy means
        overall = [s["overall"] for s in scores]
        metrics = defaultdict(list)
        for s in scores:
            for key, value in s.items():
                metrics[key].append(value)
        means = {k: float(np.mean(v)) for k, v in metrics.items()}
        assert overall == [1.5, 0.5, 1.5]
        assert scores[2] == {"overall": 1.5, "format": 1.0, "box": 1.0}  # accuracy does not apply: left out
        assert means == {"overall": pytest.approx(3.5 / 3), "format": 1.0, "accuracy": 0.5, "box": 1.0}
        assert all(isinstance(v, float) and math.isfinite(v) for s in scores for v in s.values())
        one = module.compute_score(inputs[0], config=str(config))  # REWARD_TYPE "sequential" form
        assert one == {"overall": 1.5, "format": 1.0, "accuracy": 1.0}
    finally:
        sys.modules.pop("custom_reward_fn", None)


def test_ms_swift_orms_called_as_swift_calls_them(config):
    from vlmr1.trainers import swift

    orms = {"accuracy": object}  # swift's own entries stay
    added = swift.register(orms)
    assert added == ["vlmr1", "vlmr1_format", "vlmr1_accuracy", "vlmr1_box"] and "accuracy" in orms
    funcs = [orms[name](args=None) for name in ("vlmr1", "vlmr1_format", "vlmr1_accuracy", "vlmr1_box")]
    names = [type(f).__name__ for f in funcs]  # swift names a class reward by its class name
    assert names == ["vlmr1", "vlmr1_format", "vlmr1_accuracy", "vlmr1_box"]
    completions = [RIGHT, WRONG, BOX, "no tags at all"]
    reward_kwargs = {"trainer_state": object(), "solution": ["4", "4", [10, 10, 50, 50], "4"],
                     "task": ["math", "math", "rec", "math"], "image_size": [None, None, [100, 100], None],
                     "messages": [[{"role": "user", "content": "q"}]] * 4}
    table = []
    for func in funcs:
        output = func(completions, **reward_kwargs)
        table.append([r if r is not None else math.nan for r in output])  # swift's None -> NaN
    total, fmt, acc, box = table
    assert total == [1.5, 0.5, 1.5, 0.0]
    assert fmt == [1.0, 1.0, 1.0, 0.0]
    assert acc[:2] == [1.0, 0.0] and math.isnan(acc[2]) and acc[3] == 0.0
    assert [math.isnan(v) for v in box] == [True, True, False, True] and box[2] == 1.0
    # swift's weighted nansum over the per-reward classes equals the total
    weights = [0.5, 1.0, 1.0]
    assert [float(np.nansum([w * c[i] for w, c in zip(weights, (fmt, acc, box))])) for i in range(4)] == total


def test_openrlhf_reward_func_file(config):
    from vlmr1.trainers import openrlhf

    module = load_by_path("reward_func", openrlhf.__file__)
    try:
        prompt = "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"
        queries = [prompt + RIGHT + "<|im_end|>", prompt + WRONG + "<|im_end|>", "P" + BOX]
        prompts = [prompt, prompt, "P"]
        labels = ["4", json.dumps({"solution": "4", "task": "math"}), REC_LABEL]

        async def fetch():  # OpenRLHF's _fetch_rewards_via_func: one sample per thread call
            return await asyncio.gather(*[asyncio.to_thread(module.reward_func, [q], [p], [lab])
                                          for q, p, lab in zip(queries, prompts, labels)])

        infos = asyncio.run(fetch())
        assert [i["rewards"] for i in infos] == [[1.5], [0.5], [1.5]]
        assert [i["scores"] for i in infos] == [i["rewards"] for i in infos]
        assert infos[2]["extra_logs"] == {"format": [1.0], "accuracy": [0.0], "box": [1.0]}  # numbers only
        whole = module.reward_func(queries, prompts, labels)
        assert whole["rewards"] == [1.5, 0.5, 1.5]
    finally:
        sys.modules.pop("reward_func", None)


def test_trl_cli_functions_import_as_trl_grpo_imports_them(config):
    torch = pytest.importorskip("torch")  # noqa: F841
    from trl.trainer.utils import get_callable_name

    loaded = []
    for dotted in ("vlmr1.trainers.trl_cli.format", "vlmr1.trainers.trl_cli.accuracy", "vlmr1.trainers.trl_cli.total"):
        module_path, func_name = dotted.rsplit(".", 1)  # trl/scripts/grpo.py
        loaded.append(getattr(importlib.import_module(module_path), func_name))
    assert [get_callable_name(f) for f in loaded] == ["format", "accuracy", "vlmr1"]
    from test_trl_rewards import FakeTrainer  # the real GRPOTrainer._calculate_rewards on a minimal trainer

    inputs = [{"prompt": [{"role": "user", "content": "q"}], "solution": "4"} for _ in range(3)]
    prompts = [i["prompt"] for i in inputs]
    completions = [[{"role": "assistant", "content": c}] for c in (RIGHT, WRONG, "4")]
    trainer = FakeTrainer(loaded)
    try:
        per_func = trainer.calculate(inputs, prompts, completions)
    finally:
        trainer.close()
    assert per_func.tolist() == [[1.0, 1.0, 1.5], [1.0, 0.0, 0.5], [0.0, 1.0, 1.0]]
    assert trainer._pending_metrics["rewards/accuracy/none"] == [0.0]
    with pytest.raises(AttributeError, match="configures format, accuracy, box"):
        importlib.import_module("vlmr1.trainers.trl_cli").acuracy


@pytest.mark.slow
def test_trl_grpo_command_line_trains_with_vlmr1_reward_funcs(tmp_path):
    """The real `trl grpo` command: a tiny Qwen2 saved offline, a local JSONL dataset, rewards
    named as dotted paths and configured by VLMR1_CONFIG."""
    import os
    import subprocess

    pytest.importorskip("trl")
    from vlmr1.trainers import tiny

    model_dir = tiny.build_tiny_model("qwen2", tmp_path / "model", seed=3)
    data = tmp_path / "data"
    data.mkdir()
    rows = [{"prompt": [{"role": "user", "content": f"What is {i} + {i}?"}], "solution": str(2 * i), "task": "math"}
            for i in range(4)]
    (data / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = tmp_path / "rewards.yaml"
    cfg.write_text(CONFIG)
    trl_bin = os.path.join(os.path.dirname(sys.executable), "trl")
    # the `trl` console script, or what it runs (trl.cli:main) where this environment has no script of its own
    trl_cmd = [trl_bin] if os.path.exists(trl_bin) else [sys.executable, "-c",
                                                        "import sys; from trl.cli import main; sys.exit(main())"]
    out = tmp_path / "out"
    proc = subprocess.run(
        [*trl_cmd, "grpo", "--model_name_or_path", str(model_dir), "--dataset_name", str(data),
         "--reward_funcs", "vlmr1.trainers.trl_cli.format", "vlmr1.trainers.trl_cli.accuracy",
         "--reward_weights", "0.5", "1.0", "--output_dir", str(out), "--max_steps", "1",
         "--per_device_train_batch_size", "4", "--num_generations", "2", "--max_completion_length", "8",
         "--use_cpu", "--report_to", "none", "--logging_steps", "1", "--save_strategy", "no", "--bf16", "false"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
        env={**os.environ, "VLMR1_CONFIG": str(cfg), "VLMR1_PLUGINS": "", "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    logged = proc.stdout + proc.stderr
    assert "rewards/format/mean" in logged and "rewards/accuracy/mean" in logged, logged[-3000:]
