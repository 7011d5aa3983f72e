"""`vlmr1 demo`: the README's main job, offline, on CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("trl")

from vlmr1.trainers import demo  # noqa: E402


def test_demo_config_is_a_valid_config_using_the_installed_rewards():
    config = demo.demo_config(steps=3, sft_steps=5)
    assert [r.name for r in config.rewards] == ["format", "iou"]
    assert config.extra["model"] == {"tiny": "qwen2.5-vl"}
    assert config.extra["grpo"]["max_steps"] == 3 and config.extra["sft"]["max_steps"] == 5
    from vlmr1.registry import get_registry

    reg = get_registry()
    assert reg.reward("format") and reg.reward("iou") and reg.template("rec")


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
def test_demo_runs_offline_in_a_fresh_process(tmp_path):
    """A fresh interpreter, an empty Hugging Face cache, the hub switched off."""
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "MPLCONFIGDIR": str(tmp_path / "mpl"), "VLMR1_PLUGINS": ""}
    out = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "vlmr1.cli", "demo", "--out", str(out), "--steps", "2",
                           "--sft-steps", "4"], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout
    assert "supervised warm-up: 4 steps on 32 reference answers" in text
    assert "GRPO: 2 steps, 4 generations per prompt, rewards format, iou" in text
    step_lines = [line for line in text.splitlines() if line.startswith("step ")]
    assert len(step_lines) == 2 and all("format " in s and "iou " in s for s in step_lines)
    assert f"plot:    {out / 'rewards.png'}" in text and f"metrics: {out / 'metrics.jsonl'}" in text
    records = demo.read_metrics(out / "metrics.jsonl")
    assert [r["step"] for r in records] == [1, 2]
    assert all(0.0 <= r["rewards/format/mean"] <= 1.0 and 0.0 <= r["rewards/iou/mean"] <= 1.0 for r in records)
    from PIL import Image

    with Image.open(out / "rewards.png") as im:
        assert im.format == "PNG"
