"""The plugin registry: loading, isolation of failures, conflicts, provenance, allow list."""

from __future__ import annotations

import types

import pytest

from vlmr1 import PromptTemplate, Reward, Verdict, Verifier, hookimpl
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
    def register_verifiers(register):
        register(Verifier("v1", extract=lambda c, p: c, compare=lambda a, g, s, p: Verdict(1.0)))

    def register_prompt_templates(register):
        register(PromptTemplate("t1", system="sys"))

    reg = Registry()
    info = reg.add_plugin(_plugin(register_verifiers=register_verifiers, register_prompt_templates=register_prompt_templates), "p")
    assert info.ok, info.error
    assert reg.verifier("v1").name == "v1"
    assert reg.template("t1").system == "sys"


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
        Reward("x", score=_score, verifier="v")
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
