"""vlmr1.testing: the helpers plugin authors write their tests with."""

from __future__ import annotations

import re
import sys
import types

import pytest

import vlmr1
from vlmr1.registry import get_registry
from vlmr1.testing import ANY, PluginLoadError, assert_verdict, make_sample, registered, score, score_one


# -- a tiny plugin, module-level so its functions pickle into worker processes ---------
def _extract(completion, params):
    m = re.search(r"<answer>(.*?)</answer>", completion, re.DOTALL)
    return m.group(1).strip() if m else None


def _compare(answer, gold, sample, params):
    if answer.upper() == gold:
        return vlmr1.Verdict(1.0, "ok", answer)
    return vlmr1.Verdict(params.get("miss", 0.0), "mismatch", answer)


def _prepare(solution, params):
    return str(solution).upper()


def _length(samples, golds, params):
    return [vlmr1.Verdict(float(len(s.completion) <= params["max_chars"]), "ok") for s in samples]


class UpperPlugin:
    @vlmr1.hookimpl
    def register_rewards(self, register):
        register(vlmr1.Reward("upper", extract=_extract, compare=_compare, prepare=_prepare, doc="case-insensitive match"))
        register(vlmr1.Reward("short", score_batch=_length, cheap=True, defaults={"max_chars": 40}))


class BrokenPlugin:
    @vlmr1.hookimpl
    def register_rewards(self, register):
        register("not a reward")


def test_registered_installs_a_fresh_registry_and_restores_the_old_one():
    before = get_registry()
    with registered(UpperPlugin(), name="upper_plugin") as reg:
        assert get_registry() is reg
        assert set(reg.rewards) == {"upper", "short"}
        assert "iou" not in reg.rewards  # first-party plugins only on request
        assert reg.plugins[0].name == "upper_plugin"
    assert get_registry() is before


def test_registered_can_add_first_party_plugins():
    with registered(("upper", UpperPlugin()), first_party=True) as reg:
        assert "upper" in reg.rewards
        assert {p.name for p in reg.plugins} >= {"upper", "iou", "json", "math"}


def _register_demo(register):
    register(vlmr1.Reward("demo", score_batch=_length, cheap=True, defaults={"max_chars": 5}))


def test_a_module_plugin_is_named_after_its_module():
    mod = types.ModuleType("pkg.vlmr1_reward_demo")
    mod.register_rewards = vlmr1.hookimpl(_register_demo)
    with registered(mod) as reg:
        assert reg.plugins[0].name == "vlmr1_reward_demo"
        assert reg.reward("demo").provenance.distribution == "<test>"
    with registered(UpperPlugin()) as reg:
        assert reg.plugins[0].name == "UpperPlugin"


def test_a_broken_plugin_fails_the_test_at_once_with_its_reason():
    with pytest.raises(PluginLoadError, match=r"plugin 'BrokenPlugin' failed to load: .*expected a vlmr1.Reward"):
        with registered(BrokenPlugin()):
            pass
    with pytest.raises(PluginLoadError, match="registered by more than one plugin"):
        with registered(("a", UpperPlugin()), ("b", UpperPlugin())):
            pass


def test_make_sample_builds_completions_and_columns():
    s = make_sample(answer={"bbox_2d": [1, 2, 3, 4]}, solution=[1, 2, 3, 4], image_size=[640, 480], difficulty="hard")
    assert s.completion == '<think>I looked carefully.</think><answer>{"bbox_2d": [1, 2, 3, 4]}</answer>'
    assert s.image_size == (640, 480) and s.get("difficulty") == "hard" and s.columns == {"difficulty": "hard"}
    assert make_sample("raw text", "gold", task="ocr").task == "ocr"
    with pytest.raises(TypeError, match="exactly one of completion or answer"):
        make_sample("x", answer="y")


def test_assert_verdict_passes_and_fails_with_a_readable_message():
    v = vlmr1.Verdict(0.5, "iou=0.50", answer=[1, 2])
    assert assert_verdict(v, score=0.5, reason="iou=0.50", answer=[1, 2]) is v
    assert_verdict(v, score=0.5000001, reason=re.compile(r"^iou="))
    assert_verdict(vlmr1.Verdict.skip("n/a"), score=None, reason=ANY)
    assert_verdict(v, score=pytest.approx(0.49, abs=0.02))
    with pytest.raises(AssertionError, match="score: expected 0.3"):
        assert_verdict(v, score=pytest.approx(0.3, abs=0.01))
    with pytest.raises(AssertionError) as info:
        assert_verdict(v, score=1.0, reason="ok")
    msg = str(info.value)
    assert "score: expected 1.0, got 0.5" in msg and "reason: expected 'ok', got 'iou=0.50'" in msg
    with pytest.raises(AssertionError, match="score: expected None, got 0.5"):
        assert_verdict(v, score=None)
    with pytest.raises(AssertionError, match="expected a vlmr1.Verdict, got float"):
        assert_verdict(0.5, score=0.5)  # type: ignore[arg-type]


def test_score_runs_the_engine_with_extract_compare_and_inline_rewards():
    with registered(UpperPlugin()):
        rows = [
            make_sample(answer="abc", solution="ABC"),
            make_sample(answer="abd", solution="ABC"),
            {"completion": "<answer>xyz</answer>", "solution": "xyz"},
            "no tags at all",
        ]
        result = score(rows, rewards=["upper", {"name": "short", "params": {"max_chars": 30}}])
    assert result.columns["upper"][:3] == [1.0, 0.0, 1.0]
    assert result.verdicts["upper"][1].reason == "mismatch"
    assert result.columns["upper"][3] == 0.0
    assert result.columns["short"] == [0.0, 0.0, 1.0, 1.0]


def test_score_one_passes_params():
    with registered(UpperPlugin()):
        v = score_one(answer="nope", solution="yes", reward="upper", params={"miss": 0.25})
    assert_verdict(v, score=0.25, reason="mismatch", answer="nope")


def test_score_names_an_unknown_reward():
    with registered(UpperPlugin()):
        with pytest.raises(vlmr1.errors.UnknownNameError, match="Did you mean 'upper'"):
            score(["x"], rewards=["uper"])


def test_importing_vlmr1_testing_stays_light():
    import subprocess

    code = "import sys, vlmr1.testing; print(sorted(m for m in ('torch', 'vlmr1.engine', 'shapely', 'math_verify') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
