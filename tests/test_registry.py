"""The plugin registry: loading, isolation of failures, conflicts, provenance, allow list."""

from __future__ import annotations

import types

import pytest

from vlmr1 import PromptTemplate, Reward, Verdict, hookimpl
from vlmr1.errors import PluginConflictError, UnknownNameError
from vlmr1.registry import Registry, allowed_plugins, discover, load_registry


def _score(sample, gold, params):
    return Verdict(1.0)


def _plugin(**hooks) -> types.SimpleNamespace:
    ns = types.SimpleNamespace()
    for name, fn in hooks.items():
        setattr(ns, name, hookimpl(fn))
    return ns


def rewards_plugin(*names):
    def register_rewards(register):
        for n in names:
            register(Reward(n, doc=f"{n} doc", score=_score, cheap=True))

    return _plugin(register_rewards=register_rewards)


def test_first_party_plugins_are_discovered_through_entry_points():
    names = {ep.name for ep in discover(allow=set())}
    assert {"iou", "json", "math", "judge"} <= names
    reg = load_registry(allow=set())
    loaded = {p.name: p for p in reg.plugins}
    assert {"iou", "json", "math", "judge"} <= set(loaded)
    assert all(loaded[n].ok and loaded[n].distribution == "vlmr1" for n in ("iou", "json", "math", "judge"))


def test_registered_items_carry_provenance():
    reg = Registry()
    reg.add_plugin(rewards_plugin("alpha"), "demo", "vlmr1-reward-demo", "1.2.3")
    r = reg.reward("alpha")
    assert (r.provenance.plugin, r.provenance.distribution, r.provenance.version) == ("demo", "vlmr1-reward-demo", "1.2.3")
    assert reg.plugins[0].registered == {"reward": ["alpha"]}


def test_every_hook_registers_its_kind():
    def register_rewards(register):
        register(Reward("v1", extract=lambda c, p: c, compare=lambda a, g, s, p: Verdict(1.0)))

    def register_prompt_templates(register):
        register(PromptTemplate("t1", system="sys"))

    reg = Registry()
    info = reg.add_plugin(_plugin(register_rewards=register_rewards, register_prompt_templates=register_prompt_templates), "p")
    assert info.ok, info.error
    assert reg.reward("v1").way == "extract"
    assert reg.template("t1").system == "sys"
    assert info.registered == {"reward": ["v1"], "template": ["t1"]}


def test_a_plugin_that_still_registers_verifiers_fails_to_load_saying_what_to_register():
    def register_verifiers(register):
        raise AssertionError("a removed hook must not be called")

    def register_rewards(register):
        register(Reward("kept_out", score=_score, cheap=True))

    reg = Registry()
    old = reg.add_plugin(_plugin(register_verifiers=register_verifiers, register_rewards=register_rewards), "old", "vlmr1-reward-old", "0.3")
    good = reg.add_plugin(rewards_plugin("fine"), "good")
    assert not old.ok and old.registered == {}
    assert "register_verifiers hook are gone" in old.error
    assert "Reward(name, extract=..., compare=..., prepare=...)" in old.error and "register_rewards" in old.error
    assert good.ok and reg.reward("fine")
    assert "kept_out" not in reg.rewards
    assert any("'old'" in e and "vlmr1-reward-old" in e and "register_verifiers" in e for e in reg.errors())


def test_importing_the_old_verifier_record_says_what_to_use_instead():
    with pytest.raises(ImportError, match=r"a verifier is now a Reward.*Reward\(name, extract=\.\.\., compare="):
        from vlmr1 import Verifier  # noqa: F401
    with pytest.raises(ImportError, match="register_rewards"):
        from vlmr1.types import Verifier  # noqa: F401,F811
    with pytest.raises(AttributeError):
        vlmr1_missing = __import__("vlmr1").no_such_name  # noqa: F841


def test_a_hook_that_raises_is_reported_and_others_still_load():
    def register_rewards(register):
        raise RuntimeError("boom")

    reg = Registry()
    bad = reg.add_plugin(_plugin(register_rewards=register_rewards), "bad", "vlmr1-reward-bad", "0.1")
    good = reg.add_plugin(rewards_plugin("fine"), "good")
    assert not bad.ok and "boom" in bad.error
    assert good.ok and reg.reward("fine")
    assert any("bad" in e and "boom" in e for e in reg.errors())


def test_registering_the_wrong_type_is_a_plugin_error_not_a_crash():
    def register_rewards(register):
        register("not a reward")

    reg = Registry()
    info = reg.add_plugin(_plugin(register_rewards=register_rewards), "wrong")
    assert not info.ok and "expected a vlmr1.Reward" in info.error


def test_name_conflict_names_both_distributions():
    reg = Registry()
    reg.add_plugin(rewards_plugin("same", "only_a"), "a", "dist-a", "1")
    reg.add_plugin(rewards_plugin("same"), "b", "dist-b", "2")
    with pytest.raises(PluginConflictError) as exc:
        reg.reward("same")
    assert "dist-a" in str(exc.value) and "dist-b" in str(exc.value)
    assert reg.reward("only_a").name == "only_a"
    assert any("same" in e and "dist-a" in e and "dist-b" in e for e in reg.errors())


def test_unknown_name_suggests_the_nearest():
    reg = Registry()
    reg.add_plugin(rewards_plugin("accuracy"), "p")
    with pytest.raises(UnknownNameError) as exc:
        reg.reward("acuracy")
    assert "Did you mean 'accuracy'" in str(exc.value)
    assert "vlmr1 plugins" in str(exc.value)


def test_allow_list_parsing():
    assert allowed_plugins({}) is None
    assert allowed_plugins({"VLMR1_PLUGINS": ""}) == set()
    assert allowed_plugins({"VLMR1_PLUGINS": "a, b,,"}) == {"a", "b"}


def test_reward_must_give_exactly_one_way_of_scoring():
    with pytest.raises(ValueError, match="exactly one"):
        Reward("x")
    with pytest.raises(ValueError, match="exactly one"):
        Reward("x", score=_score, extract=lambda c, p: c, compare=lambda a, g, s, p: Verdict(1.0))
    with pytest.raises(ValueError, match="needs both extract and compare"):
        Reward("x", extract=lambda c, p: c)
    with pytest.raises(TypeError):
        Reward("x", score=_score, verifier="v")  # the old way to name a verifier is gone
    with pytest.raises(ValueError, match="cheap"):
        Reward("x", score_batch=lambda s, g, p: [])


def test_registry_is_lazy_and_cached(monkeypatch):
    from vlmr1 import registry

    assert registry._default is None
    first = registry.get_registry()
    assert registry.get_registry() is first


def test_unknown_name_mentions_plugins_the_allow_list_held_back():
    reg = Registry()
    reg.held_back = ["ocr"]
    with pytest.raises(UnknownNameError) as exc:
        reg.reward("ocr")
    assert "VLMR1_PLUGINS leaves them out: ocr" in str(exc.value)
