"""Registering through pluggy, lazily.

- Each plugin's hooks are called through pluggy (one plugin at a time, so a broken one is
  reported and the rest load): another plugin's hook wrapper and pluggy's tracing and
  call monitoring see every call.
- A reward's callables may be ``"module:attr"`` text: registering and listing import
  none of them; the engine imports them once, when it builds a column with the reward.
- `vlmr1 plugins` and `vlmr1 rewards` import no implementation of the first-party
  plugins (checked in a fresh process, by the modules it ends with).
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap
import types

import pytest

import vlmr1
from vlmr1 import Reward, Sample, Verdict
from vlmr1.config import Config, EngineConfig, RewardSpec
from vlmr1.engine import Engine
from vlmr1.lazy import ReferenceLoadError, resolve
from vlmr1.registry import Registry


def _score(sample, gold, params):
    return Verdict(1.0, "ok")


def _plugin(*names: str) -> types.SimpleNamespace:
    def register_rewards(register):
        for n in names:
            register(Reward(n, score=_score, cheap=True))

    return types.SimpleNamespace(register_rewards=vlmr1.hookimpl(register_rewards))


class Wrapper:
    """A plugin that wraps every other plugin's register_rewards (as a policy plugin would)."""

    def __init__(self) -> None:
        self.seen: list[bool] = []

    @vlmr1.hookimpl(wrapper=True)
    def register_rewards(self, register):
        self.seen.append(callable(register))  # the core's register callback, for this one plugin
        result = yield
        return result


# -- pluggy -----------------------------------------------------------------------------------
def test_a_hook_wrapper_of_another_plugin_wraps_each_plugins_call():
    reg = Registry()
    wrapper = Wrapper()
    assert reg.add_plugin(wrapper, "policy").ok
    assert reg.add_plugin(_plugin("a1", "a2"), "a").ok
    assert reg.add_plugin(_plugin("b1"), "b").ok
    assert wrapper.seen == [True, True]  # one call per plugin, each wrapped
    assert set(reg.rewards) == {"a1", "a2", "b1"}
    assert reg.plugins[1].registered == {"reward": ["a1", "a2"]} and reg.plugins[2].registered == {"reward": ["b1"]}


def test_pluggy_tracing_and_call_monitoring_see_every_registration_call():
    reg = Registry()
    traced: list[str] = []
    reg.pm.trace.root.setwriter(traced.append)
    reg.pm.enable_tracing()
    calls: list[tuple[str, list[str]]] = []
    reg.pm.add_hookcall_monitoring(lambda name, impls, kwargs: calls.append((name, [i.plugin_name for i in impls])),
                                   lambda outcome, name, impls, kwargs: None)
    reg.add_plugin(_plugin("x"), "px")
    reg.add_plugin(_plugin("y"), "py")
    assert ("register_rewards", ["px"]) in calls and ("register_rewards", ["py"]) in calls  # one plugin per call
    assert sum("register_rewards" in line for line in traced) >= 2
    assert set(reg.rewards) == {"x", "y"}


def test_a_hook_that_raises_under_a_wrapper_is_reported_and_the_rest_load():
    def register_rewards(register):
        register(Reward("half", score=_score, cheap=True))
        raise RuntimeError("lexicon missing")

    reg = Registry()
    reg.add_plugin(Wrapper(), "policy")
    bad = reg.add_plugin(types.SimpleNamespace(register_rewards=vlmr1.hookimpl(register_rewards)), "bad")
    good = reg.add_plugin(_plugin("fine"), "good")
    assert not bad.ok and "register_rewards raised RuntimeError: lexicon missing" in bad.error
    assert "half" not in reg.rewards and good.ok and reg.reward("fine")


def test_plugins_that_pluggy_cannot_hash_still_register():
    reg = Registry()
    plugin = _plugin("ns")  # a SimpleNamespace: unhashable
    with pytest.raises(TypeError):
        hash(plugin)
    assert reg.add_plugin(plugin, "ns").ok and reg.reward("ns").provenance.plugin == "ns"


# -- lazy references --------------------------------------------------------------------------
@pytest.fixture()
def impl_module(tmp_path, monkeypatch):
    """A module of scoring functions that nothing has imported yet."""
    name = "vlmr1_lazy_impl_for_test"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent("""
        import vlmr1
        LOADS = []
        LOADS.append(1)

        def extract(completion, params):
            return completion.strip() or None

        def compare(answer, gold, sample, params):
            return vlmr1.Verdict(float(answer == gold), "ok" if answer == gold else "wrong", answer)

        def prepare(solution, params):
            return str(solution).strip()

        def check(params):
            if params["mode"] not in ("exact",):
                raise ValueError(f"mode {params['mode']!r} is not one of: exact")

        NOT_A_FUNCTION = 3
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop(name, None)
    yield name
    sys.modules.pop(name, None)


def _lazy_registry(module: str, **overrides) -> Registry:
    fields = dict(extract=f"{module}:extract", compare=f"{module}:compare", prepare=f"{module}:prepare",
                  check_params=f"{module}:check", defaults={"mode": "exact"})
    fields.update(overrides)

    def register_rewards(register):
        register(Reward("lazy", **fields))

    reg = Registry()
    info = reg.add_plugin(types.SimpleNamespace(register_rewards=vlmr1.hookimpl(register_rewards)), "lazyplugin")
    assert info.ok, info.error
    return reg


def _config(**params) -> Config:
    return Config((RewardSpec("lazy", params=params),), EngineConfig(workers=1, timeout=10))


def test_registering_imports_nothing_and_the_engine_imports_once(impl_module):
    reg = _lazy_registry(impl_module)
    reward = reg.reward("lazy")
    assert impl_module not in sys.modules and reward.compare == f"{impl_module}:compare"
    assert pickle.loads(pickle.dumps(reward)).compare == reward.compare
    with Engine(_config(), reg) as eng:
        assert impl_module in sys.modules and eng.column_mode("lazy") == "isolated"
        got = eng.score([Sample(" a ", solution="a"), Sample(" b ", solution="a"), Sample("  ", solution="a")])
    assert got.columns["lazy"] == [1.0, 0.0, 0.0]
    assert got.reasons["lazy"] == ["ok", "wrong", "no_answer"]
    with Engine(_config(), reg) as eng:
        eng.score([Sample("a", solution="a")])
    assert sys.modules[impl_module].LOADS == [1]
    assert reward.resolved() is reward.resolved() and reward.resolved().compare is sys.modules[impl_module].compare


def test_a_resolved_check_params_runs_when_the_engine_is_built(impl_module):
    from vlmr1.errors import ConfigError

    with pytest.raises(ConfigError, match=r"bad params: mode 'fuzzy' is not one of: exact"):
        Engine(_config(mode="fuzzy"), _lazy_registry(impl_module))


@pytest.mark.parametrize("ref, why", [
    ("vlmr1_no_such_module_here:score", "ModuleNotFoundError"),
    ("{m}:no_such_function", "AttributeError"),
    ("{m}:NOT_A_FUNCTION", "is a int, not a function"),
])
def test_a_reference_that_does_not_load_fails_the_engine_build_naming_reward_plugin_and_reference(impl_module, ref, why):
    ref = ref.format(m=impl_module)
    reg = _lazy_registry(impl_module, compare=ref)
    with pytest.raises(ReferenceLoadError) as info:
        Engine(_config(), reg)
    msg = str(info.value)
    assert "reward 'lazy' of plugin 'lazyplugin': compare" in msg and repr(ref) in msg and why in msg


def test_malformed_reference_text_is_refused_when_registering():
    with pytest.raises(ValueError, match=r"Reward 'r': score: 'not a reference' is not a 'package.module:attr' reference"):
        Reward("r", score="not a reference")
    with pytest.raises(ValueError, match="is not a 'package.module:attr'"):
        Reward("r", score="module.only")
    assert resolve("json:dumps") is json.dumps and resolve(len) is len


# -- what listing imports, in a fresh process -------------------------------------------------
IMPLEMENTATION = {"numpy", "shapely", "scipy", "jsonschema", "math_verify", "sympy", "rapidfuzz", "starlette",
                  "uvicorn", "httpx", "prometheus_client", "torch", "transformers", "trl", "PIL", "yaml"}
# the plugin modules registering may import: the package, its plain-data params, the
# json plugin's templates (data), and the click commands the serve and judge plugins add
ALLOWED_PLUGIN_MODULES = {"vlmr1.plugins.json.templates", "vlmr1.plugins.serve.command", "vlmr1.plugins.judge.commands"}


@pytest.mark.parametrize("command", [["plugins", "--json"], ["rewards", "--json"], ["rewards"]])
def test_listing_imports_no_implementation(command):
    code = (f"import sys, json\nfrom vlmr1.cli import main\ntry:\n    main({command!r})\nexcept SystemExit:\n    pass\n"
            "print(json.dumps(sorted(sys.modules)), file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    modules = set(json.loads(proc.stderr.strip().splitlines()[-1]))
    assert "consistency" in proc.stdout and "iou" in proc.stdout  # it did list the rewards
    assert {m.split(".")[0] for m in modules} & IMPLEMENTATION == set()
    plugin_modules = {m for m in modules if m.startswith("vlmr1.plugins.")}
    extra = {m for m in plugin_modules if m.count(".") > 2 and not m.endswith(".params")} - ALLOWED_PLUGIN_MODULES
    assert extra == set(), f"listing imported plugin implementation modules: {sorted(extra)}"
    assert {"vlmr1.plugins.iou", "vlmr1.plugins.math", "vlmr1.plugins.text"} <= plugin_modules


# -- the README's plugin ------------------------------------------------------------------------
def test_the_readme_plugin_in_twenty_lines_registers_and_scores(tmp_path, monkeypatch):
    from pathlib import Path

    from vlmr1.testing import assert_verdict, registered, score_one

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## A plugin in twenty lines", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert len([line for line in code.splitlines() if line.strip()]) <= 20
    (tmp_path / "vlmr1_reward_exact").mkdir()
    (tmp_path / "vlmr1_reward_exact" / "__init__.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    import vlmr1_reward_exact as plugin

    try:
        with registered(plugin) as reg:
            assert reg.reward("exact").way == "extract" and reg.plugins[0].registered == {"reward": ["exact"]}
            assert_verdict(score_one("<answer> Paris </answer>", "paris", reward="exact"), score=1.0, reason="ok")
            assert_verdict(score_one("<answer>Lyon</answer>", "paris", reward="exact"), score=0.0, reason="mismatch")
            assert_verdict(score_one("Paris", "paris", reward="exact"), score=0.0, reason="no_answer")
    finally:
        sys.modules.pop("vlmr1_reward_exact", None)
