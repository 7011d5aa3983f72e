"""The checks before anything is scored (vlmr1.checks): every param key a config gives is
one the reward takes (a misspelling is refused with the right spelling), and the columns
the rewards need are in the rows: for an engine, for `vlmr1 score` on its first chunk,
and for `vlmr1 train` on the rows it loaded, before a model loads."""

from __future__ import annotations

import ast
import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

import vlmr1
from vlmr1 import Reward, Sample, Verdict
from vlmr1.cli import main
from vlmr1.config import Config, EngineConfig, RewardSpec, config_from_dict
from vlmr1.engine import Engine
from vlmr1.errors import ConfigError
from vlmr1.registry import Registry, load_registry

ROOT = Path(__file__).resolve().parents[1]
CALLS: list[str] = []


def _score(sample, gold, params):
    CALLS.append(sample.completion)
    return Verdict(1.0)


def _batch(samples, golds, params):
    CALLS.extend(s.completion for s in samples)
    return [Verdict(1.0) for _ in samples]


class Old:
    """Rewards as plugins wrote them before declarations: no defaults, any key read."""

    @vlmr1.hookimpl
    def register_rewards(self, register):
        register(Reward("free", score=_score, cheap=True))
        register(Reward("decaying", score_batch=_batch, cheap=True, defaults={"decay": 0.9, "floor": 0.0}))
        register(Reward("open", score=_score, cheap=True, defaults={"decay": 0.9}, params=None))
        register(Reward("declared", score=_score, cheap=True, defaults={"decay": 0.9}, params=("scale",)))
        register(Reward("labelled", score=_score, cheap=True, needs=("solution|label",)))
        register(Reward("graded", score_batch=_batch, cheap=True, needs=("solution", "rubric"), tasks={"essay"}))


def _registry() -> Registry:
    reg = load_registry(allow=set())
    assert reg.add_plugin(Old(), "old", "vlmr1-reward-old", "0.1").ok
    return reg


def _engine(*specs: RewardSpec, task: str | None = None) -> Engine:
    return Engine(Config(specs, EngineConfig(workers=0), task), _registry())


# -- param keys -------------------------------------------------------------------------------
@pytest.mark.parametrize("reward, bad, good", [
    ("fuzzy", "treshold", "threshold"),
    ("iou", "treshold", "threshold"),
    ("format", "strikt", "strict"),
    ("math", "rel_tl", "rel_tol"),
    ("consistency", "base_ur", "base_url"),
    ("decaying", "decy", "decay"),
])
def test_a_misspelled_param_key_is_refused_with_the_nearest_key(reward, bad, good):
    CALLS.clear()
    with pytest.raises(ConfigError) as info:
        _engine(RewardSpec("r", reward=reward, params={bad: 1}))
    msg = str(info.value)
    assert f"reward 'r' (registered reward {reward!r} from plugin" in msg
    assert f"has no param {bad!r} (did you mean {good!r}?)" in msg
    assert f"It takes: " in msg and good in msg.split("It takes: ")[1]
    assert CALLS == []


def test_every_unknown_key_is_named_and_a_key_with_no_near_spelling_gets_no_guess():
    with pytest.raises(ConfigError) as info:
        _engine(RewardSpec("d", reward="decaying", params={"decy": 1, "zzz": 2, "floor": 0.5}))
    msg = str(info.value)
    assert "'decy' (did you mean 'decay'?), 'zzz'." in msg and "It takes: decay, floor." in msg


def test_declared_params_without_defaults_are_taken_and_params_none_takes_anything():
    with _engine(RewardSpec("a", reward="declared", params={"scale": 2, "decay": 0.5}),
                 RewardSpec("b", reward="open", params={"anything": 1}),
                 RewardSpec("c", reward="free", params={"whatever": 1})) as eng:
        assert eng.names == ["a", "b", "c"]
    with pytest.raises(ConfigError, match=r"has no param 'scal' \(did you mean 'scale'\?\)"):
        _engine(RewardSpec("a", reward="declared", params={"scal": 2}))


def test_first_party_rewards_take_every_param_their_docs_and_defaults_name():
    reg = load_registry(allow=set())
    judge = reg.reward("consistency").known_params()
    assert {"base_url", "model", "backend", "model_path", "device", "dtype", "batch_size", "backoff_s"} <= judge
    assert {"frame", "gt_frame", "model_family", "patch_size", "merge_size", "min_pixels", "max_pixels"} <= reg.reward("iou").known_params()
    assert reg.reward("preference").known_params() == {"answer_tags"}
    for name, reward in reg.rewards.items():
        assert reward.known_params() is not None, f"first-party reward {name!r} declares no params"


_PARAM_NAMES = {"params", "p", "merged"}


def _loop_names(fn: ast.AST) -> set[str]:
    """Names a function binds in a for loop or a comprehension (``for p in pred``: not params)."""
    out = set()
    for node in ast.walk(fn):
        targets = [node.target] if isinstance(node, (ast.For, ast.comprehension)) else []
        for t in targets:
            out.update(n.id for n in ast.walk(t) if isinstance(n, ast.Name))
    return out


def _keys_read(path: Path) -> set[str]:
    """String keys a module's functions read from a mapping called params / p / merged
    (``p["k"]``, ``p.get("k")``), unless the function binds that name in a loop."""
    keys = set()
    for fn in ast.walk(ast.parse(path.read_text())):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        names = _PARAM_NAMES - _loop_names(fn)
        for node in ast.walk(fn):
            if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in names:
                if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
                    keys.add(node.slice.value)
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id in names
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                keys.add(node.args[0].value)
    return keys


@pytest.mark.parametrize("plugin", ["iou", "json", "judge", "math", "text"])
def test_every_param_a_first_party_plugin_reads_is_declared(plugin):
    reg = load_registry(allow=set())
    declared = set().union(*(r.known_params() or set() for r in reg.rewards.values() if r.provenance.plugin == plugin))
    read = set().union(*(_keys_read(p) for p in (ROOT / "plugins" / plugin).glob("*.py")))
    assert read, "the scan found nothing: the test would prove nothing"
    assert read - declared == set(), f"plugin {plugin!r} reads params it does not declare"


def test_the_misspelling_stops_vlmr1_score_before_a_row_is_scored(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("rewards:\n  - {name: format}\n  - {name: fuzzy, params: {treshold: 0.5}}\n")
    rows = tmp_path / "in.jsonl"
    rows.write_text(json.dumps({"completion": "<answer>a</answer>", "solution": "a"}) + "\n")
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(main, ["score", "--config", str(cfg), "--input", str(rows), "--output", str(out), "--no-progress"])
    assert result.exit_code == 2, result.output
    assert "has no param 'treshold' (did you mean 'threshold'?)" in result.output
    assert not out.exists() and not (tmp_path / "out.jsonl.partial").exists()


# -- columns ---------------------------------------------------------------------------------
def test_a_column_no_row_has_is_refused_naming_the_reward_the_rows_and_a_likely_rename():
    rows = [{"completion": "c", "task": "math", "solutions": "1"}, {"completion": "c", "task": "math", "solutions": "2"}]
    with _engine(RewardSpec("acc", reward="math"), RewardSpec("fmt", reward="format")) as eng:
        with pytest.raises(ConfigError) as info:
            eng.check_rows(rows, source="the first 2 rows of in.jsonl", labels=["line 1", "line 2"])
    msg = str(info.value)
    assert "reward 'acc' needs the column `solution`, which none of the first 2 rows of in.jsonl has" in msg
    assert "(2 in its scope: line 1, line 2)" in msg and "The rows have 'solutions': rename it to 'solution'." in msg
    assert "'fmt'" not in msg  # format needs no column


def test_rows_that_have_the_column_somewhere_pass_and_the_rest_score_as_usual():
    rows = [Sample("a", solution="1"), Sample("b"), Sample("c", solution=None)]
    with _engine(RewardSpec("acc", reward="math")) as eng:
        eng.check_rows(rows)
        assert eng.score(rows).verdicts["acc"][1].reason == "no_solution"


def test_alternatives_scope_and_several_needs():
    with _engine(RewardSpec("l", reward="labelled"), RewardSpec("g", reward="graded")) as eng:
        eng.check_rows([{"completion": "x", "label": "1", "task": "qa"}])  # label stands for solution; no essay rows
        with pytest.raises(ConfigError) as info:
            eng.check_rows([{"completion": "x", "task": "essay", "solution": "s"}, {"completion": "y", "task": "qa"}])
    msg = str(info.value)
    assert "reward 'g' needs the column `rubric`" in msg and "(1 in its scope: row 1)" in msg
    assert "`solution`" not in msg and "reward 'l'" not in msg


def test_a_dispatch_column_without_otherwise_needs_the_column_it_dispatches_on():
    data = {"rewards": [{"name": "accuracy", "dispatch": "accu_reward_method",
                         "cases": {"mcq": {"reward": "mcq"}, "math": {"reward": "math"}}}]}
    with Engine(config_from_dict(data).with_engine(workers=0), _registry()) as eng:
        with pytest.raises(ConfigError, match="reward 'accuracy' needs the column `accu_reward_method`"):
            eng.check_rows([{"completion": "c", "solution": "B", "method": "mcq"}])
        eng.check_rows([{"completion": "c", "solution": "B", "accu_reward_method": "mcq"}])
    data["rewards"][0]["otherwise"] = "math"
    with Engine(config_from_dict(data).with_engine(workers=0), _registry()) as eng:
        eng.check_rows([{"completion": "c", "solution": "B"}])  # every row has a case


def test_vlmr1_score_checks_its_first_chunk_before_scoring_it(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("rewards:\n  - {name: format}\n  - {name: all_match}\nengine: {workers: 0}\n")
    rows = tmp_path / "in.jsonl"
    rows.write_text("".join(json.dumps({"completion": f"<answer>{i}</answer>", "answer": str(i)}) + "\n" for i in range(3)))
    out = tmp_path / "out.jsonl"
    args = ["score", "--config", str(cfg), "--input", str(rows), "--output", str(out), "--no-progress"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert f"reward 'all_match' needs the column `solution`, which none of the first 3 rows of {rows} has" in result.output
    assert "line 1, line 2, line 3" in result.output
    assert not out.exists()
    partial = tmp_path / "out.jsonl.partial"
    assert not partial.exists() or partial.read_text() == ""  # nothing was scored
    rows.write_text("".join(json.dumps({"completion": f"<answer>{i}</answer>", "solution": str(i)}) + "\n" for i in range(3)))
    assert CliRunner().invoke(main, args).exit_code == 0
    assert [json.loads(line)["rewards"]["all_match"] for line in out.read_text().splitlines()] == [1.0, 1.0, 1.0]


def test_vlmr1_train_checks_the_loaded_rows_before_a_model_loads(tmp_path, monkeypatch):
    pytest.importorskip("trl")
    from vlmr1.trainers import grpo

    def load_model(*args, **kwargs):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(grpo, "load_model", load_model)
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps({"problem": f"{i} + 1 = ?", "solution": str(i + 1), "method": "math"}) + "\n"
                            for i in range(4)))
    cfg = tmp_path / "train.yaml"
    cfg.write_text(textwrap.dedent(f"""\
        task: math
        model: {{tiny: qwen2-vl}}
        data: {{jsonl: {data.name}}}
        rewards:
          - {{name: accuracy, dispatch: accu_reward_method, cases: {{mcq: {{reward: mcq}}, math: {{reward: math}}}}}}
        engine: {{workers: 1}}
        grpo: {{max_steps: 1, per_device_train_batch_size: 2, num_generations: 2, max_completion_length: 8}}
        """))
    result = CliRunner().invoke(main, ["train", str(cfg), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "reward 'accuracy' needs the column `accu_reward_method`, which none of the 4 training rows has" in result.output
    assert "(4 in its scope: row 1, row 2, row 3, row 4)" in result.output
