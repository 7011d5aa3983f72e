"""Config loading, schema validation with line numbers, formulas."""

from __future__ import annotations

import pytest

from vlmr1.config import config_from_dict, load_config
from vlmr1.documents import validate_file
from vlmr1.errors import ConfigError
from vlmr1.formula import compile_formula, names_in


def test_load_yaml_config(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(
        "rewards:\n"
        "  - name: format\n    weight: 0.5\n"
        "  - name: acc\n    reward: math\n    gate: format\n"
        "  - name: total\n    weight: 1\n    formula: 0.5*format + acc*(1 + 0.5*format)\n"
        "engine:\n  workers: 1\n  timeout: 2.5\n"
    )
    cfg = load_config(p)
    assert [s.name for s in cfg.rewards] == ["format", "acc", "total"]
    assert cfg.rewards[1].target == "math" and cfg.rewards[0].target == "format"
    assert cfg.engine.workers == 1 and cfg.engine.timeout == 2.5
    assert cfg.with_engine(workers=3, timeout=None).engine.workers == 3


def test_schema_error_points_at_the_line(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("rewards:\n  - name: format\n    weight: heavy\n")
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    msg = str(exc.value)
    assert f"{p}:3" in msg and "$.rewards[0].weight" in msg and "'heavy' is not of type 'number'" in msg


def test_unknown_key_lists_the_allowed_ones(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("rewards:\n  - name: format\n    wieght: 1\n")
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    assert "wieght" in str(exc.value) and "allowed keys:" in str(exc.value) and "weight" in str(exc.value)


def test_bad_yaml_is_located(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("rewards:\n  - name: [unclosed\n")
    with pytest.raises(ConfigError, match=r"c.yaml:\d+"):
        load_config(p)


def test_references_must_exist():
    with pytest.raises(ConfigError, match="nope"):
        config_from_dict({"rewards": [{"name": "a", "gate": "nope"}]})
    with pytest.raises(ConfigError, match="unique"):
        config_from_dict({"rewards": [{"name": "a"}, {"name": "a"}]})


def test_formula_is_safe_and_propagates_none():
    f = compile_formula("0.5*format + accuracy*(1 + 0.5*consistency)")
    assert f({"format": 1.0, "accuracy": 1.0, "consistency": 1.0}) == pytest.approx(2.0)
    assert f({"format": 1.0, "accuracy": 0.0, "consistency": -1.0}) == pytest.approx(0.5)
    assert f({"format": 1.0, "accuracy": None, "consistency": 1.0}) is None
    assert names_in("max(a, b) - abs(c)") == {"a", "b", "c"}
    for bad in ("__import__('os')", "a.b", "a if b else c", "'x'", "open(1)", "a**b"):
        with pytest.raises(ConfigError):
            compile_formula(bad)


def test_validate_detects_kinds_and_lines(tmp_path):
    mix = tmp_path / "mix.yaml"
    mix.write_text("datasets:\n  - json_path: a.jsonl\n    sampling_strategy: first:10\n  - json_path: b.jsonl\n    sampling_strategy: sometimes\n")
    kind, problems = validate_file(mix)
    assert kind == "mixture" and len(problems) == 1 and problems[0].line == 5
    data = tmp_path / "d.jsonl"
    data.write_text('{"completion": "x", "solution": 1}\n{not json}\n{"image_size": [10]}\n')
    kind, problems = validate_file(data)
    assert kind == "row" and [p.line for p in problems] == [2, 3]


def test_a_config_is_read_once_and_keeps_its_lines(tmp_path, monkeypatch):
    import yaml

    path = tmp_path / "c.yaml"
    path.write_text("rewards:\n  - {name: format}\n  - name: iou\n    gate: format\n    params: {frame: input}\n"
                    "grpo:\n  learning_rate: 1.0e-6\n")
    composed = []
    original = yaml.composer.Composer.compose_document
    monkeypatch.setattr(yaml.composer.Composer, "compose_document",
                        lambda self: composed.append(1) or original(self))
    cfg = load_config(path)
    assert len(composed) == 1  # one parse gives the data and the line map
    assert cfg.where("rewards", 1, "gate") == f"{path}:4"
    assert cfg.where("rewards", 1, "params", "frame") == f"{path}:5"
    assert cfg.where("grpo", "learning_rate") == f"{path}:7" and cfg.where("grpo", "no_such_key") == f"{path}:6"
    assert cfg.with_engine(workers=0).where("grpo") == f"{path}:6"  # the map travels with the config
    assert config_from_dict({"rewards": [{"name": "a"}]}, "inline").where("rewards", 0) == "inline"


def test_references_are_checked_where_a_config_is_made_and_name_the_line(tmp_path):
    from vlmr1.config import Config, RewardSpec

    path = tmp_path / "c.yaml"
    path.write_text("rewards:\n  - {name: format}\n  - name: total\n    formula: 'format + acuracy'\n")
    with pytest.raises(ConfigError, match=rf"{path}:4: reward 'total' refers to acuracy, which is not a configured reward name"):
        load_config(path)
    # a Config built in code is checked the same way: no engine needed to find it
    with pytest.raises(ConfigError, match="reward 'b' refers to nope"):
        Config((RewardSpec("a"), RewardSpec("b", gate="nope")))
    with pytest.raises(ConfigError, match="reward names must be unique; repeated: a"):
        Config((RewardSpec("a"), RewardSpec("a")))
