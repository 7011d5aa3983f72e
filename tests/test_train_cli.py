"""`vlmr1 train` as a person uses it: the command comes from the trainers through the
`register_commands` hook, `--set`/`--seed`/`--report-to`/`--max-steps`/`-o` reach the run,
and every mistake in a config is reported before a model is loaded or a warm-up runs.

"Before a model is loaded" is shown without timing: the loader and the warm-up are
replaced by recorders, and the tests assert that neither was called."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

pytest.importorskip("trl")

from vlmr1.cli import main  # noqa: E402
from vlmr1.errors import ConfigError  # noqa: E402
from vlmr1.trainers import grpo, sft  # noqa: E402
from vlmr1.trainers.configfile import apply_sets, parse_value, read_train_config  # noqa: E402
from vlmr1.trainers.settings import TrainSettings  # noqa: E402

CONFIG = """\
task: rec
model: {tiny: qwen2-vl}
data:
  synthetic: {n: 4, seed: 1, tasks: [rec]}
rewards:
  - {name: format, weight: 0.5}
  - {name: iou, weight: 1.0}
engine: {workers: 1}
sft:
  max_steps: 2
  per_device_train_batch_size: 4
grpo:
  max_steps: 1
  per_device_train_batch_size: 4
  num_generations: 2
  max_completion_length: 8
"""


@pytest.fixture()
def loads(monkeypatch):
    """Records every model load and warm-up instead of doing them."""
    calls: list[str] = []

    def load_model(*args, **kwargs):
        calls.append("load_model")
        raise AssertionError("a model was loaded")

    def warm_up(*args, **kwargs):
        calls.append("warm_up")
        raise AssertionError("the warm-up ran")

    monkeypatch.setattr(grpo, "load_model", load_model)
    monkeypatch.setattr(sft, "warm_up", warm_up)
    return calls


def _write(tmp_path, text: str = CONFIG, name: str = "train.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def _train(*args: str):
    return CliRunner().invoke(main, ["train", *args])


def _line(path: str, needle: str) -> int:
    return next(i for i, line in enumerate(open(path).read().splitlines(), 1) if needle in line)


# -- errors before anything expensive --------------------------------------------------------


def test_misspelled_reward_name_fails_before_the_model_and_the_warm_up(tmp_path, loads):
    cfg = _write(tmp_path, CONFIG.replace("{name: iou, weight: 1.0}", "{name: iuo, weight: 1.0}"))
    result = _train(cfg, "-o", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    assert "Unknown reward 'iuo'. Did you mean 'iou'?" in result.output
    assert loads == [] and "training rows" not in result.output


def test_bad_reward_param_fails_before_the_model(tmp_path, loads):
    cfg = _write(tmp_path, CONFIG.replace("{name: iou, weight: 1.0}", "{name: iou, weight: 1.0, params: {frame: sideways}}"))
    result = _train(cfg, "-o", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    assert "reward 'iou'" in result.output and "bad params" in result.output and "sideways" in result.output
    assert loads == []


def test_bad_param_given_with_set_fails_before_the_model(tmp_path, loads):
    result = _train(_write(tmp_path), "--set", "rewards.1.params.frame=sideways", "-o", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    assert "bad params" in result.output and "sideways" in result.output
    assert loads == []


@pytest.mark.parametrize("section, bad, good, what", [
    ("model", "tinny: qwen2-vl", "tiny", "a model setting"),
    ("data", "imge_root: pics", "image_root", "a data setting"),
    ("sft", "learning_rte: 0.1", "learning_rate", "a trl.SFTConfig option"),
    ("grpo", "num_generation: 4", "num_generations", "a trl.GRPOConfig option"),
])
def test_unknown_key_in_a_training_section_names_its_line_and_the_nearest_key(tmp_path, loads, section, bad, good, what):
    lines = CONFIG.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith(f"{section}:"))
    if section == "model":
        lines[at] = "model:\n  " + bad
    else:
        lines.insert(at + 1, "  " + bad)
    cfg = _write(tmp_path, "\n".join(lines) + "\n")
    key = bad.split(":")[0]
    result = _train(cfg, "-o", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    assert f"{cfg}:{_line(cfg, key + ':')}: {section}: {key!r} is not {what}. Did you mean {good!r}?" in result.output
    assert loads == []


def test_misspelt_tiny_size_names_its_line_and_fails_before_the_data_and_the_model(tmp_path, loads):
    cfg = _write(tmp_path, CONFIG.replace("model: {tiny: qwen2-vl}",
                                          "model:\n  tiny: qwen2-vl\n  sizes:\n    hiden_size: 96"))
    result = _train(cfg, "-o", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    assert (f"{cfg}:{_line(cfg, 'hiden_size:')}: model.sizes: 'hiden_size' is not a tiny model size. "
            "Did you mean 'hidden_size'?") in result.output
    assert loads == [] and "training rows" not in result.output


def test_unknown_grpo_key_from_set_is_named_as_the_set(tmp_path, loads):
    result = _train(_write(tmp_path), "--set", "grpo.num_generation=4")
    assert result.exit_code == 2, result.output
    assert "--set grpo.num_generation: grpo: 'num_generation' is not a trl.GRPOConfig option. " \
           "Did you mean 'num_generations'?" in result.output
    assert loads == []


def test_grpo_config_checks_and_missing_images_fail_before_the_model(tmp_path, loads):
    # a generation batch of 4 cannot be split into groups of 3: trl.GRPOConfig's own check
    result = _train(_write(tmp_path), "--set", "grpo.num_generations=3")
    assert result.exit_code == 2 and "trl.GRPOConfig rejected these settings" in result.output, result.output
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"id": "a", "task": "rec", "problem": "Find it.", "image": "gone.png",
                                "solution": [1, 2, 3, 4]}) + "\n")
    cfg = _write(tmp_path, CONFIG.replace("synthetic: {n: 4, seed: 1, tasks: [rec]}", "jsonl: rows.jsonl"))
    result = _train(cfg, "-o", str(tmp_path / "out"))
    assert result.exit_code == 2 and "image not found" in result.output and "gone.png" in result.output, result.output
    assert loads == []


def test_unknown_template_of_a_row_fails_before_the_model(tmp_path, loads):
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"id": "a", "task": "recc", "problem": "Find it.", "solution": [1, 2, 3, 4]}) + "\n")
    cfg = _write(tmp_path, CONFIG.replace("synthetic: {n: 4, seed: 1, tasks: [rec]}", "jsonl: rows.jsonl"))
    result = _train(cfg, "-o", str(tmp_path / "out"))
    assert result.exit_code == 2 and "Unknown template 'recc'. Did you mean 'rec'?" in result.output, result.output
    assert loads == []


@pytest.mark.parametrize("option, package, extra", [("wandb", "wandb", "wandb"), ("tensorboard", "tensorboard", "tensorboard")])
def test_report_to_a_missing_package_says_which_extra(tmp_path, loads, monkeypatch, option, package, extra):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("wandb", "tensorboard", "tensorboardX") else real(name, *a))
    result = _train(_write(tmp_path), "--report-to", option)
    assert result.exit_code == 2, result.output
    assert f"--set grpo.report_to: reporting to {option} needs the {package} package" in result.output
    assert f"pip install 'vlmr1[{extra}]'" in result.output and loads == []


def test_numbers_written_as_text_become_numbers_and_other_text_is_an_error(tmp_path):
    cfg = _write(tmp_path, CONFIG.replace("  max_steps: 1\n", "  max_steps: 1\n  learning_rate: 1e-6\n"))
    _, settings = read_train_config(cfg)  # YAML 1.1 reads 1e-6 as text; GRPOConfig would keep it so
    assert settings.grpo["learning_rate"] == 1e-6 and isinstance(settings.grpo["learning_rate"], float)
    cfg = _write(tmp_path, CONFIG.replace("  max_steps: 1\n", "  max_steps: 1\n  learning_rate: fast\n"))
    with pytest.raises(ConfigError, match=rf"{cfg}:{_line(cfg, 'learning_rate')}: grpo: 'learning_rate' takes a number, not 'fast'"):
        read_train_config(cfg)


def test_settings_reject_unknown_top_level_keys_of_a_config_built_in_code():
    from vlmr1.config import config_from_dict

    config = config_from_dict({"rewards": [{"name": "format"}], "modle": {"tiny": "qwen2"}})
    with pytest.raises(ConfigError, match="'modle' is not a config key. Did you mean 'model'?"):
        TrainSettings.from_config(config)


# -- --set and the options --------------------------------------------------------------------


def test_set_values_are_yaml_with_numbers_as_numbers():
    assert parse_value("1e-6") == 1e-6 and parse_value("3") == 3 and parse_value("true") is True
    assert parse_value("[wandb, tensorboard]") == ["wandb", "tensorboard"] and parse_value("null") is None
    assert parse_value("runs/a") == "runs/a" and parse_value("nan") == "nan"


def test_set_walks_dotted_keys_and_list_entries():
    data = {"rewards": [{"name": "format"}, {"name": "iou"}], "grpo": {"beta": 0.04}}
    out, done = apply_sets(data, ["grpo.beta=0", "rewards.1.params.frame=input", "sft.max_steps=5"])
    assert out["grpo"]["beta"] == 0 and out["rewards"][1]["params"] == {"frame": "input"} and out["sft"] == {"max_steps": 5}
    assert data["grpo"]["beta"] == 0.04  # the document read from the file is not changed
    assert done == {("grpo", "beta"), ("rewards", 1, "params", "frame"), ("sft", "max_steps")}


@pytest.mark.parametrize("given, message", [
    ("grpo.beta", "--set 'grpo.beta': write KEY=VALUE"),
    ("grpo..beta=1", "--set 'grpo..beta=1': write KEY=VALUE"),
    ("rewards.2.weight=1", "--set rewards.2.weight: rewards is a list of 2 entries; use an index from 0 to 1, not '2'"),
    ("grpo.beta.x=1", "--set grpo.beta.x: grpo.beta is float 0.04, not a mapping"),
])
def test_set_errors_name_the_key(given, message):
    with pytest.raises(ConfigError) as err:
        apply_sets({"rewards": [{"name": "a"}, {"name": "b"}], "grpo": {"beta": 0.04}}, [given])
    assert message in str(err.value)


def test_options_reach_the_run(tmp_path, monkeypatch):
    seen = {}

    def fake_train(config, *, settings, output_dir, base_dir, say):
        seen.update(config=config, settings=settings, output_dir=output_dir)
        return grpo.TrainResult(tmp_path, tmp_path / "metrics.jsonl", None, [])

    monkeypatch.setattr(grpo, "train", fake_train)
    result = _train(_write(tmp_path), "--set", "grpo.max_steps=9", "--set", "grpo.learning_rate=1e-6",
                    "--set", "rewards.0.weight=0.25", "--seed", "7", "--report-to", "none", "--max-steps", "3",
                    "-o", str(tmp_path / "run"))
    assert result.exit_code == 0, result.output
    settings = seen["settings"]
    assert settings.seed == 7 and settings.grpo["report_to"] == "none"
    assert settings.grpo["max_steps"] == 3  # the dedicated option wins over --set
    assert settings.grpo["learning_rate"] == 1e-6 and seen["config"].rewards[0].weight == 0.25
    assert str(seen["output_dir"]) == str(tmp_path / "run") and f"metrics: {tmp_path / 'metrics.jsonl'}" in result.output


def test_set_of_a_wrong_type_is_a_schema_error_naming_the_set(tmp_path, loads):
    result = _train(_write(tmp_path), "--set", "rewards.0.weight=heavy")
    assert result.exit_code == 2, result.output
    assert "--set rewards.0.weight: at $.rewards[0].weight 'heavy' is not of type 'number'" in result.output


# -- the command itself -------------------------------------------------------------------------


def test_train_and_demo_come_from_the_trainers_plugin_with_examples():
    from vlmr1.cli import COMMANDS
    from vlmr1.registry import load_registry

    registry = load_registry(allow=set())
    assert {"train", "demo"} <= set(registry.commands) and not {"train", "demo"} & set(COMMANDS)
    assert registry.commands["train"].provenance.plugin == "trainers"
    assert registry.commands["train"].provenance.distribution == "vlmr1"
    for name in ("train", "demo"):
        result = CliRunner().invoke(main, [name, "--help"])
        assert result.exit_code == 0 and "Examples:" in result.output, result.output
    assert "vlmr1 train train.yaml --set grpo.learning_rate=1e-6" in CliRunner().invoke(main, ["train", "--help"]).output


HEAVY = {"torch", "transformers", "trl", "datasets", "accelerate"}


@pytest.mark.parametrize("args", [["--help"], ["train", "--help"], ["demo", "--help"], ["plugins", "--json"]])
def test_help_and_plugins_do_not_import_torch(args):
    code = ("import io, contextlib, sys, json\nfrom vlmr1.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n    try:\n"
            f"        main({args!r})\n    except SystemExit:\n        pass\n"
            "print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert not HEAVY & set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("command", ["train", "demo"])
def test_without_the_train_extra_the_command_says_what_to_install(tmp_path, command):
    cfg = _write(tmp_path)
    args = [command, cfg] if command == "train" else [command, "--out", str(tmp_path / "d")]
    code = ("import sys\nsys.modules['torch'] = None  # as if the train extra were not installed\n"
            f"from vlmr1.cli import main\nmain({args!r})")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert f"Error: `vlmr1 {command}` needs the train extra (torch is not installed): pip install 'vlmr1[train]'" in proc.stderr


def test_cli_page_documents_every_option_of_train_and_demo():
    import re
    from pathlib import Path

    import click

    from vlmr1.registry import load_registry

    text = (Path(__file__).parents[1] / "docs" / "cli.md").read_text(encoding="utf-8")
    registry = load_registry(allow=set())
    missing = []
    for name in ("train", "demo"):
        m = re.search(rf"^## vlmr1 {name}\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
        section = m.group(1) if m else ""
        for param in registry.command(name).params:
            longs = [o for o in param.opts if o.startswith("--")] if isinstance(param, click.Option) else []
            if longs and not any(f"`{o}" in section for o in longs):
                missing.append(f"vlmr1 {name} {longs[0]}")
    assert section and not missing, missing


def test_several_jsonl_files_with_one_image_folder_each_are_a_valid_config(tmp_path):
    """The data loader takes lists (VLM-R1's --data_file_paths a:b --image_folders x:y); the schema does too."""
    from vlmr1.trainers import data

    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        from PIL import Image

        Image.new("RGB", (30, 20)).save(tmp_path / name / "im.png")
        (tmp_path / f"{name}.jsonl").write_text(json.dumps({"id": name, "task": "rec", "problem": "Find it.",
                                                            "image": "im.png", "solution": [1, 2, 3, 4]}) + "\n")
    cfg = _write(tmp_path, CONFIG.replace("synthetic: {n: 4, seed: 1, tasks: [rec]}",
                                          "jsonl: [a.jsonl, b.jsonl]\n  image_root: [a, b]"))
    _, settings = read_train_config(cfg)
    assert settings.data.jsonl == ["a.jsonl", "b.jsonl"] and settings.data.image_root == ["a", "b"]
    rows = data.read_rows(settings.data, tmp_path).rows
    assert [r["image"] for r in rows] == [str(tmp_path / "a" / "im.png"), str(tmp_path / "b" / "im.png")]
