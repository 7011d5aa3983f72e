"""The CLI a person expects: ``-h`` everywhere, an Examples section in every command's
help, a docs link, shell completion; broken plugins warned about by every command before
its work (not on help); an unknown reward that a broken plugin may provide says so;
``VLMR1_PLUGINS`` naming nothing installed warns; `vlmr1 validate` checks a config
against the installed plugins without starting anything; the report's reason buckets
keep names whole."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import vlmr1
from vlmr1.errors import ConfigError
from vlmr1.cli import COMMANDS, DOCS_URL, main
from vlmr1.registry import load_registry, set_registry
from vlmr1.report import reason_bucket

VLMR1 = str(Path(sys.executable).with_name("vlmr1"))


def _all_commands() -> dict[str, click.Command]:
    ctx = click.Context(main)
    return {name: main.get_command(ctx, name) for name in main.list_commands(ctx)}


def test_every_command_is_reached_by_both_help_options_and_shows_examples():
    commands = _all_commands()
    assert set(COMMANDS) <= set(commands) and {"vote", "serve"} <= set(commands)
    runner = CliRunner()
    for name in commands:
        short, long = (runner.invoke(main, [name, h], prog_name="vlmr1") for h in ("-h", "--help"))
        assert short.exit_code == long.exit_code == 0, (name, short.output)
        assert short.output == long.output and f"Usage: vlmr1 {name}" in short.output
        examples = short.output.split("Examples:", 1)
        assert len(examples) == 2, f"`vlmr1 {name} -h` has no Examples section"
        assert f"vlmr1 {name}" in examples[1], (name, examples[1])


def test_top_level_help_has_examples_the_docs_link_and_completion():
    short, long = CliRunner().invoke(main, ["-h"]), CliRunner().invoke(main, ["--help"])
    assert short.exit_code == 0 and short.output == long.output
    assert "Examples:" in short.output and DOCS_URL in short.output
    assert "_VLMR1_COMPLETE=bash_source vlmr1" in short.output


def test_the_docs_link_is_the_one_the_package_and_the_site_declare():
    import tomllib
    from pathlib import Path

    import yaml

    root = Path(__file__).parents[1]
    urls = tomllib.loads((root / "pyproject.toml").read_text())["project"]["urls"]
    site = yaml.safe_load((root / "mkdocs.yml").read_text())["site_url"]
    assert DOCS_URL == urls.get("Documentation") == site


def test_shell_completion_completes_command_names():
    env = {**os.environ, "_VLMR1_COMPLETE": "bash_source"}
    script = subprocess.run([VLMR1], env=env, capture_output=True, text=True, timeout=60)
    assert script.returncode == 0 and "_vlmr1_completion" in script.stdout
    env = {**os.environ, "_VLMR1_COMPLETE": "bash_complete", "COMP_WORDS": "vlmr1 sco", "COMP_CWORD": "1"}
    got = subprocess.run([VLMR1], env=env, capture_output=True, text=True, timeout=60)
    assert got.stdout.split() == ["plain,score"], got.stdout + got.stderr


class _Broken:
    @vlmr1.hookimpl
    def register_rewards(self, register):
        raise ImportError("No module named 'ocr_engine'\n(installed without its extra?)")


def _with_broken_plugin() -> None:
    reg = load_registry(allow=set())
    reg.add_plugin(_Broken(), "ocr", "vlmr1-reward-ocr", "1.4")
    set_registry(reg)


WARNING = ("Warning: plugin 'ocr' from vlmr1-reward-ocr 1.4 failed to load: register_rewards raised ImportError: "
           "No module named 'ocr_engine' (installed without its extra?)")


def test_every_command_warns_about_a_broken_plugin_first_and_once(tmp_path):
    _with_broken_plugin()
    cfg = tmp_path / "c.yaml"
    cfg.write_text("rewards:\n  - {name: format}\nengine: {workers: 0}\n")
    (tmp_path / "in.jsonl").write_text('{"completion": "<answer>1</answer>"}\n')
    runs = {
        "plugins": [], "rewards": [], "templates": [], "validate": [str(cfg)],
        "score": ["--config", str(cfg), "--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "o.jsonl"), "--no-progress"],
        "inspect": [str(tmp_path / "missing.jsonl")], "new-plugin": ["bad name"], "vote": ["--input", str(tmp_path / "nope.jsonl")],
        # commands whose work is expensive: an unknown option stops them right after the warning
        "serve": ["--no-such-option"], "train": ["--no-such-option"], "demo": ["--no-such-option"],
    }
    assert set(runs) == set(_all_commands()), "a command without a case here"
    for name, args in runs.items():
        result = CliRunner().invoke(main, [name, *args])
        assert result.stderr.count(WARNING) == 1, (name, result.stderr)
        assert result.output.startswith(WARNING + "\n"), (name, result.output[:300])  # before the command's work
        for help_args in (["-h"], ["--help"], [*args, "--help"]):
            assert "Warning" not in CliRunner().invoke(main, [name, *help_args]).output, (name, help_args)
    assert "Warning" not in CliRunner().invoke(main, ["-h"]).output


def test_an_unknown_reward_names_the_installed_plugin_that_failed_to_load(tmp_path):
    _with_broken_plugin()
    (tmp_path / "c.yaml").write_text("rewards:\n  - {name: ocr}\n")
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "c.yaml")])
    assert result.exit_code == 2
    assert (f"Error: {tmp_path / 'c.yaml'}:2: Unknown reward 'ocr'. Installed rewards: " in result.stderr)
    assert ("Installed plugin(s) that failed to load, so whatever they register is missing: ocr (vlmr1-reward-ocr 1.4): "
            "register_rewards raised ImportError: No module named 'ocr_engine' (installed without its extra?). "
            "Fix or reinstall the one that provides 'ocr' (`vlmr1 plugins` shows its error).") in result.stderr
    assert "pip install" not in result.stderr


def test_vlmr1_plugins_naming_nothing_installed_warns(monkeypatch):
    monkeypatch.setenv("VLMR1_PLUGINS", "vlmr1-reward-orc,iou")
    result = CliRunner().invoke(main, ["rewards"])
    assert result.exit_code == 0
    assert result.stderr.count("Warning: ") == 1
    assert ("Warning: VLMR1_PLUGINS names 'vlmr1-reward-orc', which no installed plugin is called (entry-point or "
            "distribution name), so nothing is loaded for it; installed third-party plugins: none.") in result.stderr
    monkeypatch.setenv("VLMR1_PLUGINS", "")  # load none: nothing named, nothing to warn about
    set_registry(None)
    assert "Warning" not in CliRunner().invoke(main, ["rewards"]).stderr


class _Checked:
    warmed: list[str] = []

    @vlmr1.hookimpl
    def register_rewards(self, register):
        def check(params):
            if params.get("k", 0) < 0:
                raise ConfigError(f"k={params['k']} must be >= 0")

        register(vlmr1.Reward("checked", score=_one, warmup=lambda: _Checked.warmed.append("warm"), check_params=check))


def _one(sample, gold, params):
    return vlmr1.Verdict(1.0)


@pytest.mark.parametrize("body, words", [
    ("  - {name: format}\n  - {name: chekced}\n", ":3: Unknown reward 'chekced'. Did you mean 'checked'?"),
    ("  - {name: checked, params: {k: -1}}\n", ":2: reward 'checked' (registered reward 'checked'): bad params: k=-1 must be >= 0"),
    ("  - {name: format}\n  - {name: checked, gate: fromat}\n", ":3: reward 'checked' refers to fromat, which is not a configured reward name"),
    ("  - {name: a, formula: 'b + 1'}\n  - {name: b, formula: 'a * 2'}\n", "rewards refer to each other in a cycle"),
])
def test_validate_checks_a_config_against_the_installed_plugins(tmp_path, body, words):
    reg = load_registry(allow=set())
    reg.add_plugin(_Checked(), "checked")
    set_registry(reg)
    path = tmp_path / "c.yaml"
    path.write_text("rewards:\n" + body)
    _Checked.warmed.clear()
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("Error: ") and words in result.stderr
    assert "Traceback" not in result.output
    path.write_text("rewards:\n  - {name: format}\n  - {name: checked, gate: format, params: {k: 2}}\n")
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "valid config (reward names and params checked against the installed plugins)" in result.stdout
    assert _Checked.warmed == []  # nothing was warmed up, no worker started


def test_reason_buckets_take_out_values_not_digits_in_names():
    assert reason_bucket("iou=0.43 matched=1/2 pred=3") == "iou=# matched=#/# pred=#"
    assert reason_bucket("'point_2d' is a required property") == "'point_2d' is a required property"
    assert reason_bucket("bad_frame_settings: frame norm1000 needs image_size") == "bad_frame_settings: frame norm1000 needs image_size"
    assert reason_bucket("model_family qwen2.5-vl: crashed: exit -9") == "model_family qwen2.5-vl: crashed: exit #"
    assert reason_bucket("score 1e-05 out of range") == "score # out of range"
    assert reason_bucket("gpt-4o said no") == "gpt-4o said no"


def test_plugins_json_is_clean_json_with_warnings_on_stderr():
    _with_broken_plugin()
    result = CliRunner().invoke(main, ["plugins", "--json"])
    listing = json.loads(result.stdout)
    assert next(p for p in listing if p["name"] == "ocr")["ok"] is False and WARNING in result.stderr


def test_the_engine_check_starts_no_worker_and_warms_nothing():
    from vlmr1.config import config_from_dict
    from vlmr1.engine import check_config

    reg = load_registry(allow=set())
    reg.add_plugin(_Checked(), "checked")
    _Checked.warmed.clear()
    cfg = config_from_dict({"rewards": [{"name": "checked"}, {"name": "format"}], "engine": {"workers": 4}})
    before = set(p.pid for p in multiprocessing.active_children())
    assert check_config(cfg, reg) == ["checked", "format"]
    assert _Checked.warmed == [] and set(p.pid for p in multiprocessing.active_children()) == before
    with pytest.raises(ConfigError, match="bad params: k=-3"):
        check_config(config_from_dict({"rewards": [{"name": "checked", "params": {"k": -3}}]}), reg)

