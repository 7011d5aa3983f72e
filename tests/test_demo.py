"""`vlmr1 demo`: the README's main job, offline, on CPU."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

pytest.importorskip("trl")

from vlmr1.trainers import demo  # noqa: E402


def test_demo_config_is_a_valid_config_using_the_installed_rewards():
    config = demo.demo_config(steps=3, sft_steps=5)
    assert [r.name for r in config.rewards] == ["format", "math"]
    assert config.extra["model"]["tiny"] == "qwen2.5-vl"
    assert config.extra["grpo"]["max_steps"] == 3 and config.extra["sft"]["max_steps"] == 5
    assert config.extra["grpo"]["logging_steps"] == 1  # a short run still logs every step
    from vlmr1.registry import get_registry

    reg = get_registry()
    assert reg.reward("format") and reg.reward("math") and reg.template("counting")


def test_demo_config_seed_moves_model_data_and_sampling_together():
    base, other = demo.demo_config(), demo.demo_config(seed=7)
    assert base.extra["seed"] == 0 and other.extra["seed"] == 7
    assert other.extra["model"]["seed"] == 7 and other.extra["data"]["synthetic"]["seed"] == 7
    assert other.extra["grpo"] == base.extra["grpo"]
    # a 30-step run logs every 3rd step: ten points, so first 5 and last 5 do not overlap
    assert demo.demo_config(steps=30).extra["grpo"]["logging_steps"] == 3


def test_reward_rise_compares_first_and_last_logged_steps():
    records = [{"step": s, "reward": r, "rewards/format/mean": f, "rewards/math/mean": m}
               for s, r, f, m in [(1, 0.1, 0.2, 0.0), (2, 0.3, 0.4, 0.1), (3, 0.5, 0.6, 0.2), (4, 0.9, 1.0, 0.4)]]
    rise = demo.reward_rise(records, k=2)
    assert (round(rise.first, 6), round(rise.last, 6), round(rise.gain, 6)) == (0.2, 0.7, 0.5)
    assert {k: tuple(round(x, 6) for x in v) for k, v in rise.rewards.items()} == {"format": (0.3, 0.8), "math": (0.05, 0.3)}
    assert "0.200 -> last 2 0.700 (+0.500" in rise.describe()
    assert demo.reward_rise(records, k=3) is None  # overlapping halves say nothing


def test_plot_and_metrics_reader(tmp_path):
    from PIL import Image

    path = tmp_path / "metrics.jsonl"
    lines = [{"step": 1, "loss": 0.1}]  # a record without rewards (not a GRPO step) is skipped
    lines += [{"step": s, "reward": 0.1 * s, "rewards/format/mean": 0.2 * s, "rewards/iou/mean": 0.05 * s} for s in (1, 2, 3)]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    records = demo.read_metrics(path)
    assert [r["step"] for r in records] == [1, 2, 3]
    png = demo.plot_rewards(records, tmp_path / "r.png")
    with Image.open(png) as im:
        assert im.format == "PNG" and im.size == (640, 400)
        colours = im.convert("RGB").getcolors(maxcolors=1 << 16)
    assert len(colours) > 10  # something was drawn


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_demo_learns_offline_in_a_fresh_process(tmp_path):
    """`vlmr1 demo` as a user runs it (a fresh interpreter, an empty Hugging Face cache, the
    hub switched off): the mean total reward of the last 5 logged GRPO steps beats the first
    5 by at least 0.2 on the 0-1.5 scale, on the training pictures and on new ones.

    Measured: seeds 0, 1 and 2 rose by +0.34, +0.23 and +0.44 (docs/trainer.md has the
    table); this runs seed 0, the default."""
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "MPLCONFIGDIR": str(tmp_path / "mpl"), "VLMR1_PLUGINS": ""}
    out = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "vlmr1.cli", "demo", "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=850)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout
    assert "supervised warm-up: 120 steps on 512 reference answers" in text
    assert "GRPO: 80 steps, 4 generations per prompt, rewards format, math" in text
    step_lines = [line for line in text.splitlines() if line.startswith("step ")]
    assert len(step_lines) == 20 and all("format " in s and "math " in s for s in step_lines)
    assert f"plot:    {out / 'rewards.png'}" in text and f"metrics: {out / 'metrics.jsonl'}" in text
    records = demo.read_metrics(out / "metrics.jsonl")
    assert [r["step"] for r in records] == list(range(4, 81, 4))
    assert all(0.0 <= r["rewards/format/mean"] <= 1.0 and 0.0 <= r["rewards/math/mean"] <= 1.0 for r in records)
    rise = demo.reward_rise(records)
    assert rise.gain >= 0.2, rise
    assert f"{rise.first:.3f} -> last 5 {rise.last:.3f}" in text  # the line the user reads says the same
    held = re.search(r"new pictures, 4 answers each sampled as in training: reward (\d\.\d+) -> (\d\.\d+)", text)
    assert held and float(held.group(2)) > float(held.group(1)), text[-1500:]
    from PIL import Image

    with Image.open(out / "rewards.png") as im:
        assert im.format == "PNG"
