"""The `grpo:` passthrough, the device/precision choices and the shipped scale-out configs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("trl")

from vlmr1.errors import ConfigError  # noqa: E402
from vlmr1.trainers import grpo  # noqa: E402

DS_DIR = Path(grpo.__file__).parent / "deepspeed"


def _cpu(**kw):
    return grpo.Runtime("cpu", False, None, [], **kw)


def test_grpo_block_reaches_grpo_config(tmp_path):
    args = grpo.grpo_config(
        {"num_generations": 4, "per_device_train_batch_size": 8, "max_completion_length": 24, "beta": 0.04,
         "report_to": ["tensorboard"], "use_vllm": False, "learning_rate": 3e-6},
        output_dir=str(tmp_path), runtime=_cpu(), reward_weights=[0.5, 1.0], seed=3,
    )
    assert (args.num_generations, args.per_device_train_batch_size, args.max_completion_length) == (4, 8, 24)
    assert args.beta == 0.04 and args.learning_rate == 3e-6 and args.report_to == ["tensorboard"]
    assert args.reward_weights == [0.5, 1.0] and args.seed == 3
    assert args.use_cpu and not args.bf16  # fp32 on CPU
    assert args.remove_unused_columns is False  # every column reaches the rewards


def test_user_reward_weights_win(tmp_path):
    args = grpo.grpo_config({"reward_weights": [2.0]}, output_dir=str(tmp_path), runtime=_cpu(), reward_weights=[1.0])
    assert args.reward_weights == [2.0]


def test_unknown_grpo_key_names_the_line_and_the_nearest_option(tmp_path):
    from vlmr1.trainers.settings import Located

    with pytest.raises(ConfigError) as err:
        grpo.check_grpo_keys({"num_generation": 4}, at=Located("cfg.yaml", {("grpo",): 6, ("grpo", "num_generation"): 7}))
    msg = str(err.value)
    assert "cfg.yaml:7" in msg and "'num_generation'" in msg and "Did you mean 'num_generations'" in msg
    with pytest.raises(ConfigError, match="'num_generation' is not a trl.GRPOConfig option"):  # also without a line
        grpo.grpo_config({"num_generation": 4}, output_dir=str(tmp_path), runtime=_cpu())


def test_grpo_config_errors_become_config_errors(tmp_path):
    # generation batch 6 is not divisible into groups of 4
    with pytest.raises(ConfigError, match="trl.GRPOConfig rejected"):
        grpo.grpo_config({"per_device_train_batch_size": 6, "num_generations": 4}, output_dir=str(tmp_path),
                         runtime=_cpu())


def test_deepspeed_shorthand_names_the_shipped_file(tmp_path):
    assert grpo.deepspeed_config_path("zero2") == str(DS_DIR / "zero2.json")
    assert grpo.deepspeed_config_path("zero3") == str(DS_DIR / "zero3.json")
    assert grpo.deepspeed_config_path("/my/ds.json") == "/my/ds.json"


def test_cpu_runtime_says_fp32_and_sdpa_when_flash_attention_is_missing(monkeypatch):
    import importlib.util

    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "flash_attn" else real(name, *a))
    said = []
    rt = grpo.resolve_runtime({"attn_implementation": "flash_attention_2", "dtype": "bfloat16"}, say=said.append)
    assert (rt.device, rt.bf16, rt.attn_implementation) == ("cpu", False, "sdpa")
    assert any("float32 on CPU" in s for s in said)
    assert any("flash-attention was requested but is not installed: using sdpa" in s for s in said)


def test_gpu_runtime_picks_bf16_and_keeps_flash_attention_when_installed(monkeypatch):
    import importlib.util

    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "flash_attn" else real(name, *a))
    said = []
    rt = grpo.resolve_runtime({"attn_implementation": "flash_attention_2"}, say=said.append)
    assert (rt.device, rt.bf16, rt.attn_implementation) == ("cuda", True, "flash_attention_2")
    assert said == []


@pytest.mark.parametrize("name", ["zero2.json", "zero3.json"])
def test_deepspeed_configs_are_valid_json_with_auto_batch_sizes(name):
    cfg = json.loads((DS_DIR / name).read_text())
    assert cfg["zero_optimization"]["stage"] == int(name[4])
    assert cfg["train_micro_batch_size_per_gpu"] == "auto" and cfg["gradient_accumulation_steps"] == "auto"
    assert cfg["bf16"]["enabled"] == "auto"


@pytest.mark.parametrize("name", sorted(p.name for p in DS_DIR.glob("accelerate_*.yaml")))
def test_accelerate_configs_load_with_accelerate(name):
    from accelerate.commands.config.config_args import load_config_from_file

    cfg = load_config_from_file(str(DS_DIR / name))
    assert cfg.num_processes >= 2 and not cfg.use_cpu
    ds = (cfg.deepspeed_config or {}).get("deepspeed_config_file")
    if ds is not None:
        assert (DS_DIR / ds).is_file()



def test_run_summary_step_time_rewards_share_and_memory():
    from vlmr1.trainers.metrics import describe_summary, run_summary

    history = [
        {"step": 1, "reward": 0.1, "step_time": 4.0, "timing/rewards_s": 0.2, "memory/max_allocated_gib": 3.0},
        {"step": 2, "reward": 0.2, "step_time": 2.0, "timing/rewards_s": 0.1, "memory/max_allocated_gib": 3.5},
        {"step": 3, "reward": 0.3, "step_time": 2.0, "timing/rewards_s": 0.1},
        {"train_runtime": 8.0},  # not a step
    ]
    s = run_summary(history)
    assert s["steps"] == 3 and s["first_step_s"] == 4.0 and s["mean_step_s"] == 2.0
    assert s["rewards_s_per_step"] == pytest.approx(0.4 / 3) and s["rewards_share"] == pytest.approx(0.4 / 8.0)
    assert s["peak_gpu_memory_gib"] == 3.5
    text = describe_summary(s)
    assert "then 2.00s/step" in text and "(5.00% of step time)" in text and "peak GPU memory 3.50 GiB" in text
    assert run_summary([]) == {"steps": 0}


def test_deepspeed_without_the_package_or_a_gpu_is_a_clear_error(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "deepspeed" else real(name, *a))
    with pytest.raises(ConfigError, match="DeepSpeed is not installed"):
        grpo.grpo_config({"deepspeed": "zero2"}, output_dir=str(tmp_path), runtime=_cpu())
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "deepspeed" else real(name, *a))
    with pytest.raises(ConfigError, match="needs GPUs"):
        grpo.grpo_config({"deepspeed": "zero3"}, output_dir=str(tmp_path), runtime=_cpu())


@pytest.mark.parametrize("doc, marker", [("trainer.md", "```yaml\ntask: rec"), ("benchmarks.md", "cat > gpu.yaml <<'YAML'\n")])
def test_configs_shown_in_the_docs_are_valid(doc, marker, tmp_path):
    """The train configs the docs show pass the schema, name GRPOConfig fields and valid options."""
    from vlmr1.config import load_config
    from vlmr1.trainers.settings import TrainSettings

    text = (Path(grpo.__file__).parents[1] / "docs" / doc).read_text()
    start = text.index(marker) + len(marker) - (len("task: rec") if marker.startswith("```") else 0)
    end = text.index("```" if marker.startswith("```") else "YAML\n", start)
    path = tmp_path / "doc.yaml"
    path.write_text(text[start:end])
    config = load_config(path)
    assert [r.name for r in config.rewards] == ["format", "iou"]
    settings = TrainSettings.from_config(config)  # every section typed: model, data, grpo, sft, stable_reinforce
    assert settings.model is not None and settings.data is not None and settings.grpo == config.extra["grpo"]


def test_rows_with_and_without_images_cannot_share_a_dataset(tmp_path):
    from PIL import Image

    from vlmr1.trl import trl_dataset

    Image.new("RGB", (30, 20)).save(tmp_path / "a.png")
    rows = [{"id": "img", "problem": "q", "image": str(tmp_path / "a.png")}, {"id": "txt", "problem": "q"}]

    class T:
        def render(self, q):
            return [{"role": "user", "content": q}]

    with pytest.raises(ConfigError, match=r"1 rows have an image and 1 do not \(first without: 'txt'\)"):
        trl_dataset(rows, lambda row: T())
    text_only = trl_dataset(rows[1:], lambda row: T())
    assert "images" not in text_only[0] and text_only[0]["prompt"] == [{"role": "user", "content": "q"}]
    with_images = trl_dataset(rows[:1], lambda row: T())
    assert [im.size for im in with_images[0]["images"]] == [(30, 20)]


def test_step_line_shows_rewards_that_applied_to_no_row_as_na():
    from types import SimpleNamespace

    from vlmr1.trainers.metrics import RewardPrinter

    said = []
    state = SimpleNamespace(global_step=4, is_world_process_zero=True)
    RewardPrinter(said.append).on_log(None, state, None, logs={
        "reward": 0.5, "rewards/format/mean": 1.0, "rewards/iou/mean": None, "rewards/math/mean": float("nan"),
        "step_time": 2.0, "timing/rewards_s": 0.25})
    assert said == ["step   4  reward 0.500  format 1.000  iou n/a  math n/a  2.00s/step (rewards 0.25s)"]
