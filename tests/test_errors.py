"""Errors that teach: each user-facing error says what went wrong, what to do next and,
where a name was mistyped, the nearest valid one. These tests pin the messages."""

from __future__ import annotations

import asyncio
import socket

import pytest
from click.testing import CliRunner

import vlmr1
from vlmr1.cli import main
from vlmr1.config import config_from_dict, load_config
from vlmr1.errors import ConfigError, PluginConflictError, UnknownNameError
from vlmr1.testing import registered


def _score(samples, golds, params):
    return [vlmr1.Verdict(1.0) for _ in samples]


class Rewards:
    @vlmr1.hookimpl
    def register_rewards(self, register):
        for name in ("iou", "format", "accuracy"):
            register(vlmr1.Reward(name, score_batch=_score, cheap=True, doc=f"{name} reward"))


class Broken:
    @vlmr1.hookimpl
    def register_rewards(self, register):
        raise RuntimeError("cannot find my model file")


def test_unknown_reward_suggests_the_nearest_name_and_what_to_do():
    with registered(("base", Rewards())) as reg:
        with pytest.raises(UnknownNameError) as info:
            reg.reward("iuo")
    msg = str(info.value)
    assert msg.startswith("Unknown reward 'iuo'. Did you mean 'iou'?")
    assert "Installed rewards: accuracy, format, iou." in msg
    assert "Run `vlmr1 plugins` to see what is installed, or `pip install` the plugin that provides it." in msg
    assert info.value.suggestion == "iou"


def test_missing_plugin_says_to_install_it():
    with registered(("base", Rewards())) as reg:
        with pytest.raises(UnknownNameError) as info:
            reg.reward("ocr")
    msg = str(info.value)
    assert "Unknown reward 'ocr'." in msg and "Did you mean" not in msg
    assert "`pip install` the plugin that provides it" in msg


def test_unknown_command_suggests_the_nearest():
    result = CliRunner().invoke(main, ["scroe"])
    assert result.exit_code == 2
    assert "No such command 'scroe'. Did you mean 'score'? Run `vlmr1 --help` to list the commands." in result.output


def test_a_plugin_that_fails_to_load_is_named_with_its_error_and_the_rest_load():
    with pytest.raises(AssertionError, match=r"plugin 'broken' failed to load: register_rewards raised RuntimeError: cannot find my model file"):
        with registered(("broken", Broken())):
            pass
    from vlmr1.registry import Registry

    reg = Registry()
    reg.add_plugin(Broken(), "broken", "vlmr1-reward-broken", "1.2")
    reg.add_plugin(Rewards(), "base")
    assert reg.errors() == ["plugin 'broken' from vlmr1-reward-broken 1.2 failed to load: register_rewards raised RuntimeError: cannot find my model file"]
    assert "iou" in reg.rewards


def test_a_name_two_plugins_register_names_both_and_the_way_out():
    from vlmr1.registry import Registry

    reg = Registry()
    reg.add_plugin(Rewards(), "base", "vlmr1", "0.1.0")
    reg.add_plugin(Rewards(), "other", "vlmr1-reward-other", "2.0")
    with pytest.raises(PluginConflictError) as info:
        reg.reward("iou")
    msg = str(info.value)
    assert "The reward 'iou' is registered by both base (vlmr1 0.1.0) and other (vlmr1-reward-other 2.0)." in msg
    assert "Uninstall one of them, or restrict loading with VLMR1_PLUGINS=<plugin,...>." in msg


def test_bad_config_points_at_the_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("rewards:\n  - name: format\n    weight: heavy\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = str(info.value)
    assert f"{path}:3:" in msg and "$.rewards[0].weight" in msg
    path.write_text("rewards: [\n  {name: format\n")
    with pytest.raises(ConfigError, match=rf"{path}:\d+: +not valid YAML/JSON"):
        load_config(path)


def test_config_references_are_checked_with_the_names_that_exist():
    with pytest.raises(ConfigError) as info:
        config_from_dict({"rewards": [{"name": "format"}, {"name": "iou", "gate": "fromat"}]}, "rec.yaml")
    assert "rec.yaml: reward 'iou' refers to fromat, which is not a configured reward name (format, iou)." in str(info.value)
    with pytest.raises(ConfigError, match="repeated: iou. Give each entry its own name and set `reward:` to the registered reward."):
        config_from_dict({"rewards": [{"name": "iou"}, {"name": "iou"}]}, "rec.yaml")


def test_cli_prints_errors_without_a_traceback(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("rewards:\n  - name: format\n    weight: heavy\n")
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code != 0
    assert "bad.yaml:3" in result.output and "Traceback" not in result.output


def test_new_plugin_name_errors_give_the_rule_and_a_name_that_works(tmp_path):
    result = CliRunner().invoke(main, ["new-plugin", "OCR-lines", "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.strip() == (
        "Error: Plugin name 'OCR-lines' is not valid: a name starts with a lowercase letter and has only lowercase "
        "letters, digits and underscores (at most 40), because it becomes the reward name and the Python module "
        "vlmr1_reward_NAME. Try `vlmr1 new-plugin ocr_lines`."
    )


def test_inspect_on_an_unscored_file_says_how_to_score_it(tmp_path):
    path = tmp_path / "outputs.jsonl"
    path.write_text('{"completion": "x", "solution": "y"}\n')
    result = CliRunner().invoke(main, ["inspect", str(path)])
    assert result.exit_code == 2
    assert 'outputs.jsonl:1: this row has no "rewards" object, so it is not a scored row.' in result.output
    assert "vlmr1 score --config CONFIG --input outputs.jsonl --output scored.jsonl" in result.output


def test_missing_image_names_the_row_and_the_path(tmp_path):
    from vlmr1.trl import open_images

    with pytest.raises(ConfigError) as info:
        open_images({"id": "rec-7", "image": str(tmp_path / "nope.png")})
    msg = str(info.value)
    assert msg.startswith("row 'rec-7': cannot open image ") and "nope.png" in msg


def test_judge_unreachable_is_a_null_with_a_reason_not_a_crash():
    from vlmr1.plugins.judge.rewards import consistency_ascore

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    params = {"base_url": f"http://127.0.0.1:{port}/v1", "model": "judge", "max_retries": 0, "cache": False}
    [verdict] = asyncio.run(consistency_ascore([vlmr1.Sample("<think>2 and 2</think><answer>4</answer>")], params))
    assert verdict.score is None and verdict.reason == "judge_error: connect"


def test_judge_without_a_server_says_which_params_to_set():
    from vlmr1.plugins.judge.rewards import consistency_ascore

    with pytest.raises(ConfigError) as info:
        asyncio.run(consistency_ascore([vlmr1.Sample("<think>a</think><answer>b</answer>")], {}))
    assert "judge params base_url, model missing: set base_url (e.g. http://127.0.0.1:8000/v1) and model" in str(info.value)


def test_score_with_an_unknown_reward_names_the_nearest_and_writes_nothing(tmp_path):
    (tmp_path / "c.yaml").write_text("rewards:\n  - {name: fromat}\n")
    (tmp_path / "in.jsonl").write_text('{"completion": "x", "solution": "y"}\n')
    with registered(("base", Rewards())):
        result = CliRunner().invoke(main, ["score", "--config", str(tmp_path / "c.yaml"), "--input", str(tmp_path / "in.jsonl"),
                                           "--output", str(tmp_path / "out.jsonl"), "--no-progress"])
    assert result.exit_code == 2
    assert f"Error: {tmp_path / 'c.yaml'}:2: Unknown reward 'fromat'. Did you mean 'format'? Installed rewards: accuracy, format, iou." in result.output
    assert "Traceback" not in result.output and not (tmp_path / "out.jsonl").exists()


def _explode(sample, gold, params):
    raise ValueError("bad gold box")


class Exploding:
    @vlmr1.hookimpl
    def register_rewards(self, register):
        register(vlmr1.Reward("exploding", score=_explode, cheap=True))


def test_a_failing_plugin_is_a_null_with_its_error_or_in_strict_mode_names_plugin_and_way_out():
    from vlmr1.errors import PluginFailure
    from vlmr1.testing import score

    with registered(("boom", Exploding())):
        result = score(["x"], rewards=["exploding"])
        assert result.columns["exploding"] == [None]
        assert result.reasons["exploding"] == ["error: ValueError: bad gold box"]
        with pytest.raises(PluginFailure) as info:
            score(["x"], rewards=["exploding"], strict=True)
    msg = str(info.value)
    assert "reward 'exploding' (registered reward 'exploding' from plugin 'boom' (distribution <test> 0)) failed on item 0" in msg
    assert "bad gold box" in msg
    assert "Fix or uninstall the plugin, or set `engine.strict: false`" in msg
