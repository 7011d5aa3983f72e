"""`vlmr1 train CONFIG` end to end: a VLM-R1 data YAML, rewards from the installed
plugins through the engine, TRL's GRPOTrainer, per-reward metrics, a saved model."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("trl")

from vlmr1.cli import main  # noqa: E402

SIZES = [(96, 64), (64, 100), (120, 72), (80, 56)]


@pytest.fixture()
def vlmr1_layout(tmp_path):
    """VLM-R1's REC layout: images under an image root, a .json of rows with the answer box
    inside <answer> tags, and a data YAML naming it with a sampling strategy."""
    from PIL import Image

    (tmp_path / "imgs").mkdir()
    rows = []
    for i, (w, h) in enumerate(SIZES):
        Image.new("RGB", (w, h), (200, 40 * i, 40)).save(tmp_path / "imgs" / f"{i}.png")
        rows.append({"image": f"{i}.png", "problem": f"the red square number {i}",
                     "solution": f"<answer>[{i}, {i + 2}, {i + 20}, {i + 30}]</answer>"})
    (tmp_path / "rec.json").write_text(json.dumps(rows))
    (tmp_path / "mix.yaml").write_text(textwrap.dedent("""\
        datasets:
          - json_path: rec.json
            sampling_strategy: first:4
            image_root: imgs
        """))
    return tmp_path


def _config(root, grpo_extra: str = "", top: str = "") -> str:
    path = root / "train.yaml"
    path.write_text(textwrap.dedent(f"""\
        task: rec
        model: {{tiny: qwen2.5-vl}}
        data: {{mixture: mix.yaml}}
        rewards:
          - {{name: format, weight: 0.5}}
          - {{name: iou, weight: 1.0, gate: format}}
        engine: {{workers: 1}}
        grpo:
          max_steps: 1
          per_device_train_batch_size: 4
          num_generations: 2
          max_completion_length: 12
          {grpo_extra}
        seed: 3
        """) + top)
    return str(path)


@pytest.mark.slow
def test_train_from_a_vlm_r1_data_yaml(vlmr1_layout):
    out = vlmr1_layout / "run"
    result = CliRunner().invoke(main, ["train", _config(vlmr1_layout), "--output-dir", str(out)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "4 training rows" in result.output
    assert "timing: 1 steps: first" in result.output and "% of step time)" in result.output
    assert "rewards format, iou" in result.output
    assert "no GPU found: training in float32 on CPU" in result.output
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    step = next(r for r in records if "reward" in r)
    for key in ("rewards/format/mean", "rewards/iou/mean", "rewards/format/errors", "engine/items_per_s",
                "timing/rewards_s", "step_time"):
        assert key in step, key
    assert step["step"] == 1
    # the trained model is saved and loads back through `model.path`
    from vlmr1.trainers import tiny

    assert tiny.is_tiny_dir(out / "model")
    model, processor = tiny.load_tiny(out / "model")
    assert model.config.model_type == "qwen2_5_vl" and processor.tokenizer.eos_token == "<|im_end|>"


def test_unknown_grpo_option_fails_before_loading_with_the_line(vlmr1_layout):
    cfg = _config(vlmr1_layout, grpo_extra="num_generation: 4")
    result = CliRunner().invoke(main, ["train", cfg, "--output-dir", str(vlmr1_layout / "run")])
    assert result.exit_code == 2
    assert f"{cfg}:13: grpo: 'num_generation' is not a trl.GRPOConfig option. Did you mean 'num_generations'?" in result.output
    assert "training rows" not in result.output  # nothing loaded


def test_bad_stable_reinforce_option_is_a_schema_error_with_the_line(vlmr1_layout):
    cfg = _config(vlmr1_layout, top="stable_reinforce: {pre_clip: true, clip: 3}\n")
    result = CliRunner().invoke(main, ["train", cfg])
    assert result.exit_code == 2
    assert f"{cfg}:15" in result.output and "clip" in result.output


def test_missing_image_is_an_error_that_names_it(vlmr1_layout):
    (vlmr1_layout / "imgs" / "2.png").unlink()
    result = CliRunner().invoke(main, ["train", _config(vlmr1_layout), "--output-dir", str(vlmr1_layout / "run")])
    assert result.exit_code == 2
    assert "2.png" in result.output


@pytest.mark.slow
def test_train_under_two_processes(tmp_path):
    """`torchrun -m vlmr1.cli train` (what `accelerate launch` runs): two processes, gloo on
    CPU, one engine each, TRL gathering rewards across them, one voice on the terminal."""
    import os
    import socket
    import subprocess
    import sys

    cfg = tmp_path / "two.yaml"
    cfg.write_text(textwrap.dedent("""\
        task: rec
        model: {tiny: qwen2-vl}
        data: {synthetic: {n: 8, seed: 1, tasks: [rec]}}
        rewards:
          - {name: format, weight: 0.5}
          - {name: iou, weight: 1.0}
        engine: {workers: 1}
        grpo: {max_steps: 2, per_device_train_batch_size: 4, num_generations: 2, max_completion_length: 8}
        stable_reinforce: {advantage_filter: true}
        """))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "VLMR1_PLUGINS": ""}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
         "--master_port", str(port), "-m", "vlmr1.cli", "train", str(cfg), "-o", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "rewards format, iou, 2 processes" in out
    assert out.count("8 training rows") == 1 and out.count("metrics: ") == 1  # rank 0 only
    steps = [json.loads(line) for line in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in steps if "reward" in r]
    assert [r["step"] for r in steps] == [1, 2]
    assert all("rewards/iou/mean" in r and "stable_reinforce/filtered_frac" in r for r in steps)


def test_text_only_math_run_with_warm_up(tmp_path):
    """No images anywhere: a tiny Qwen2 (tokenizer as the processing class), math rows from
    JSONL, the warm-up on reference answers, then GRPO with format and math (isolated)."""
    rows = [{"id": str(i), "task": "math", "problem": f"What is {i} + {i}?", "solution": str(2 * i),
             "answer": f"<think>{i} plus {i}.</think><answer>{2 * i}</answer>"} for i in range(8)]
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = tmp_path / "t.yaml"
    cfg.write_text(textwrap.dedent("""\
        task: math
        model: {tiny: qwen2}
        data: {jsonl: m.jsonl}
        rewards:
          - {name: format, weight: 0.5}
          - {name: math, weight: 1.0}
        engine: {workers: 1}
        sft: {max_steps: 2, per_device_train_batch_size: 4}
        grpo: {max_steps: 1, per_device_train_batch_size: 4, num_generations: 2, max_completion_length: 8}
        """))
    result = CliRunner().invoke(main, ["train", str(cfg), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "supervised warm-up: 2 steps on 8 reference answers" in result.output
    step = next(json.loads(x) for x in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines() if '"reward"' in x)
    assert "rewards/math/mean" in step and step["rewards/math/errors"] == 0


def _vlmr1_jsonl(tmp_path):
    """A VLM-R1 JSONL (grpo_jsonl.py's format): conversations, an image, and a per-row
    accu_reward_method; answers in <answer> tags as its data files write them."""
    from PIL import Image

    (tmp_path / "imgs").mkdir()
    gold = '```json\n[{"bbox_2d": [2, 3, 40, 30], "label": "square"}]\n```'
    methods = [("od_ap", gold), ("odLength", gold), ("mcq", "B"), ("yes_no", "Yes"), ("all_match", "a red square"),
               ("weighted_sum", gold), ("od_ap50", gold), ("map", gold)]
    rows = []
    for i, (method, answer) in enumerate(methods):
        Image.new("RGB", (64, 48), (200, 30 * i, 40)).save(tmp_path / "imgs" / f"{i}.png")
        rows.append({"id": i, "image": f"{i}.png", "accu_reward_method": method,
                     "conversations": [{"from": "human", "value": f"<image>Where is the square? ({method})"},
                                       {"from": "gpt", "value": f"<answer>{answer}</answer>"}]})
    path = tmp_path / "vlmr1.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_preset_reward_functions_give_vlmr1_values_on_loaded_rows(tmp_path):
    """What `vlmr1 train` hands TRL: rows loaded from a VLM-R1 JSONL, repeated per generation,
    scored by the preset's reward functions, equal VLM-R1's accuracy_reward and format_reward."""
    import vlmr1_reference as ref
    from vlmr1.config import load_config
    from vlmr1.trl_rewards import trl_reward_functions
    from vlmr1.trainers.data import load_rows
    from vlmr1_rows import vlmr1_solution

    rows = load_rows({"jsonl": str(_vlmr1_jsonl(tmp_path)), "image_root": str(tmp_path / "imgs")}, base_dir=tmp_path)
    preset = load_config(Path(__file__).parents[1] / "examples" / "configs" / "vlm-r1.yaml").with_engine(workers=1)
    funcs, weights = trl_reward_functions(preset)
    answers = ['<think>t</think><answer>```json\n[{"bbox_2d": [2, 3, 40, 31], "label": "square"}]\n```</answer>',
               "<think>t</think><answer>B</answer>", "<answer>yes</answer>", "A red square.",
               '<think>t</think>\n<answer>```json\n[{"bbox_2d": [2, 3, 40, 30], "label": "square"}, {"bbox_2d": [0, 0, 9, 9], "label": "square"}]\n```</answer>']
    completions, columns = [], {}
    for row in rows:
        for answer in answers:  # every row with every answer, as num_generations completions
            completions.append([{"role": "assistant", "content": answer}])
            for key, value in row.items():
                columns.setdefault(key, []).append(value)
    names = [f.__name__ for f in funcs]
    got = {name: f(prompts=None, completions=completions, **columns) for name, f in zip(names, funcs)}
    import asyncio

    got = {k: asyncio.run(v) if asyncio.iscoroutine(v) else v for k, v in got.items()}
    raw = {str(json.loads(line)["id"]): json.loads(line) for line in (tmp_path / "vlmr1.jsonl").read_text().splitlines()}
    for i, c in enumerate(completions):
        row = raw[columns["id"][i]]
        sol = vlmr1_solution(row["conversations"][1]["value"])
        want = ref.accuracy_reward(c[0]["content"], sol, row["accu_reward_method"])
        assert got["accuracy"][i] == pytest.approx(want, abs=1e-6), (row["accu_reward_method"], c, got["accuracy"][i], want)
        assert got["format"][i] == ref.format_reward(c[0]["content"])
    assert weights[names.index("accuracy")] == 1.0 and weights[names.index("accuracy.od_ap")] == 0.0


@pytest.mark.slow
def test_train_with_the_vlmr1_preset(tmp_path):
    import yaml

    preset = yaml.safe_load((Path(__file__).parents[1] / "examples" / "configs" / "vlm-r1.yaml").read_text())
    preset.update({"template": "rec", "model": {"tiny": "qwen2.5-vl"}, "engine": {"workers": 1},
                   "data": {"jsonl": str(_vlmr1_jsonl(tmp_path)), "image_root": str(tmp_path / "imgs")},
                   "grpo": {"max_steps": 2, "per_device_train_batch_size": 4, "num_generations": 2, "max_completion_length": 12},
                   "seed": 5})
    cfg = tmp_path / "train.yaml"
    cfg.write_text(yaml.safe_dump(preset))
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["train", str(cfg), "--output-dir", str(out)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    steps = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if '"reward"' in x]
    assert [s["step"] for s in steps] == [1, 2]
    for s in steps:
        assert "rewards/accuracy/mean" in s and "rewards/format/mean" in s
        assert s["rewards/accuracy/errors"] == 0
