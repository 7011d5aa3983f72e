"""A third-party plugin, for real: built into a wheel, pip-installed into a throwaway
virtual environment beside vlmr1, found through its entry point, used by name.

Two environments are built once for this module (see tests/venvtools.py):

- ``world``: vlmr1, examples/vlmr1-reward-ocr, and three broken plugins from
  tests/plugin_pkgs (one fails at import, one in its hook, one implements a hook that is gone);
- ``clash``: vlmr1, the OCR plugin, and a plugin that also registers a reward ``ocr``.

vlmr1 itself is installed into each venv from a wheel of this checkout, so the
``vlmr1`` console script and the ``vlmr1`` distribution metadata are the venv's own;
its dependencies come from this interpreter through a ``.pth`` file.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from venvtools import REPO, Venv, build_wheels, clean_env, copy_source, create_venv, vlmr1_source

pytestmark = pytest.mark.slow

OCR_DIST = "vlmr1-reward-ocr"
OCR_VERSION = "0.1.0"
FIRST_PARTY = {"iou", "json", "math", "judge"}
FIXTURES = REPO / "tests" / "plugin_pkgs"


# -- environments -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sources")
    out = {"vlmr1": vlmr1_source(root / "vlmr1"), "ocr": copy_source(REPO / "examples" / "vlmr1-reward-ocr", root / "ocr")}
    for name in ("broken_import", "broken_hook", "ocr_clash", "old_verifier"):
        out[name] = copy_source(FIXTURES / name, root / name)
    return out


@pytest.fixture(scope="module")
def wheels(sources, tmp_path_factory) -> dict[str, Path]:
    return build_wheels(sources.values(), tmp_path_factory.mktemp("wheelhouse"))


@pytest.fixture(scope="module")
def world(wheels, tmp_path_factory) -> Venv:
    venv = create_venv(tmp_path_factory.mktemp("world") / "venv")
    venv.pip_install(wheels["vlmr1"], wheels[OCR_DIST], wheels["vlmr1-plugin-broken-import"], wheels["vlmr1-plugin-broken-hook"],
                     wheels["vlmr1-plugin-old-verifier"])
    return venv


@pytest.fixture(scope="module")
def clash(wheels, tmp_path_factory) -> Venv:
    venv = create_venv(tmp_path_factory.mktemp("clash") / "venv")
    venv.pip_install(wheels["vlmr1"], wheels[OCR_DIST], wheels["vlmr1-plugin-ocr-clash"])
    return venv


def vlmr1(venv: Venv, *args: str, allow: str | None = None) -> subprocess.CompletedProcess[str]:
    """The venv's own ``vlmr1`` console script; ``allow`` sets VLMR1_PLUGINS (None: unset)."""
    # a wide terminal, so the table is not wrapped mid-word
    return venv.run_script("vlmr1", *args, env=clean_env(VLMR1_PLUGINS=allow, COLUMNS="200"), timeout=120)


def listed(venv: Venv, what: str = "plugins", allow: str | None = None) -> tuple[dict[str, dict], str]:
    proc = vlmr1(venv, what, "--json", allow=allow)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {item["name"]: item for item in json.loads(proc.stdout)}, proc.stderr


def in_venv(venv: Venv, code: str, allow: str | None = None) -> dict:
    """Run ``code`` with the venv's python; it prints one JSON object as its last line."""
    proc = venv.run("-c", code, env=clean_env(VLMR1_PLUGINS=allow), timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def unknown_reward_error(venv: Venv, name: str, allow: str | None = None) -> str | None:
    """What the venv's registry says when asked for reward ``name`` (None: it has it)."""
    code = f"""
import json
from vlmr1.registry import get_registry
from vlmr1.errors import UnknownNameError
try:
    get_registry().reward({name!r})
    print(json.dumps({{"error": None}}))
except UnknownNameError as exc:
    print(json.dumps({{"error": str(exc)}}))
"""
    return in_venv(venv, code, allow=allow)["error"]


# -- the environment is what it claims to be ----------------------------------------------
def test_the_venv_runs_its_own_vlmr1_install(world):
    got = in_venv(world, """
import json, sys, vlmr1, pluggy, importlib.metadata as md
dists = [d.metadata["Name"] for d in md.distributions()]
print(json.dumps({"prefix": sys.prefix, "vlmr1": vlmr1.__file__, "pluggy": pluggy.__file__,
                  "dist": str(md.distribution("vlmr1").locate_file("")),
                  "ocr": md.version("vlmr1-reward-ocr")}))
""")
    root = str(world.root.resolve())
    assert got["prefix"] == str(world.root)
    # vlmr1 and the plugin come from the venv, not from the checkout or the parent environment ...
    assert Path(got["vlmr1"]).resolve().is_relative_to(root), got
    assert Path(got["dist"]).resolve().is_relative_to(root), got
    assert got["ocr"] == OCR_VERSION
    # ... while vlmr1's dependencies are shared with the interpreter running this suite
    assert not Path(got["pluggy"]).resolve().is_relative_to(root)
    assert world.script("vlmr1").is_file()


# -- 1. listed, with provenance, and usable by name ----------------------------------------
def test_plugins_lists_ocr_beside_the_first_party_plugins(world):
    plugins, _ = listed(world)
    ocr = plugins["ocr"]
    assert ocr["ok"] and ocr["error"] is None
    assert (ocr["distribution"], ocr["version"], ocr["module"]) == (OCR_DIST, OCR_VERSION, "vlmr1_reward_ocr")
    assert ocr["registered"] == {"reward": ["ocr", "ocr_strict"], "template": ["ocr_lines"]}
    for name in FIRST_PARTY:
        assert plugins[name]["ok"] and plugins[name]["distribution"] == "vlmr1", plugins[name]


def test_the_table_shows_it_too(world):
    proc = vlmr1(world, "plugins")
    assert proc.returncode == 0, proc.stderr
    assert OCR_DIST in proc.stdout and "ocr_strict" in proc.stdout


def test_rewards_and_templates_carry_provenance(world):
    rewards, _ = listed(world, "rewards")
    for name in ("ocr", "ocr_strict"):
        record = rewards[name]
        assert (record["plugin"], record["distribution"], record["version"]) == ("ocr", OCR_DIST, OCR_VERSION)
        assert record["mode"] == "inline" and record["doc"]
    assert rewards["consistency"]["distribution"] == "vlmr1"
    gone = vlmr1(world, "verifiers")  # one concept for scoring: there is nothing else to list
    assert gone.returncode != 0 and "No such command 'verifiers'" in gone.stderr
    templates, _ = listed(world, "templates")
    assert templates["ocr_lines"]["distribution"] == OCR_DIST and templates["ocr_lines"]["answer_kind"] == "text"


_SCORE_BY_NAME = """
import json
from vlmr1 import Sample
from vlmr1.registry import get_registry

reg = get_registry()
out = {}
for name in ("ocr", "ocr_strict"):
    reward = reg.reward(name)
    params = dict(reward.defaults)
    rows = [("<answer>OPEN DAILY</answer>", "open daily"), ("<answer>open dally</answer>", "open daily"),
            ("no tags", "open daily")]
    out[name] = [reward.verify(Sample(c, s), reward.prepare(s, params), params).score for c, s in rows]
    out[name + "_provenance"] = [reward.provenance.plugin, reward.provenance.distribution, reward.provenance.version]
print(json.dumps(out))
"""


def test_the_reward_is_usable_by_name(world):
    got = in_venv(world, _SCORE_BY_NAME)
    assert got["ocr"] == [1.0, 0.9, 0.0]
    assert got["ocr_strict"] == [1.0, 0.0, 0.0]
    assert got["ocr_provenance"] == ["ocr", OCR_DIST, OCR_VERSION]


def test_the_plugins_own_tests_pass_where_it_is_installed(world, sources):
    # run in the copy the wheel was built from: src/ is not on sys.path there, so the
    # tests import the installed package, and the checkout gets no caches
    proc = world.run("-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=sources["ocr"], timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = proc.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "skipped" not in summary and "failed" not in summary, summary


# -- 2. a broken plugin is reported and hides nothing ----------------------------------------
def test_broken_plugins_are_reported_and_the_rest_load(world):
    plugins, stderr = listed(world)
    broken = plugins["broken_import"]
    assert not broken["ok"]
    assert (broken["distribution"], broken["version"]) == ("vlmr1-plugin-broken-import", "0.0.1")
    assert "ModuleNotFoundError" in broken["error"] and "vlmr1_dependency_that_is_not_installed" in broken["error"]
    hook = plugins["broken_hook"]
    assert not hook["ok"] and hook["registered"] == {}
    assert (hook["distribution"], hook["version"]) == ("vlmr1-plugin-broken-hook", "0.0.2")
    assert "register_rewards raised RuntimeError" in hook["error"] and "lexicon" in hook["error"]
    assert "Warning: plugin 'broken_import' from vlmr1-plugin-broken-import 0.0.1 failed to load" in stderr
    assert "Warning: plugin 'broken_hook' from vlmr1-plugin-broken-hook 0.0.2 failed to load" in stderr
    assert plugins["ocr"]["ok"] and all(plugins[n]["ok"] for n in FIRST_PARTY)


def test_a_plugin_written_for_register_verifiers_is_reported_with_what_to_register_instead(world):
    plugins, stderr = listed(world)
    old = plugins["old_verifier"]
    assert not old["ok"] and old["registered"] == {}
    assert (old["distribution"], old["version"]) == ("vlmr1-plugin-old-verifier", "0.0.4")
    assert "register_verifiers hook are gone" in old["error"]
    assert "Reward(name, extract=..., compare=..., prepare=...) through register_rewards" in old["error"]
    assert "Warning: plugin 'old_verifier' from vlmr1-plugin-old-verifier 0.0.4 failed to load" in stderr
    rewards, _ = listed(world, "rewards")
    assert "old_exact" not in rewards and {"ocr", "ocr_strict"} <= set(rewards)
    error = unknown_reward_error(world, "old_exact")
    # using its reward names the broken plugin and why it failed
    assert "Unknown reward 'old_exact'" in error
    assert "old_verifier (vlmr1-plugin-old-verifier 0.0.4)" in error and "register_verifiers hook are gone" in error


def test_the_table_marks_the_broken_one_and_still_exits_zero(world):
    proc = vlmr1(world, "plugins")
    assert proc.returncode == 0, proc.stderr
    assert "FAILED" in proc.stdout and "vlmr1-plugin-broken-import" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_other_commands_keep_working_beside_a_broken_plugin(world):
    rewards, stderr = listed(world, "rewards")
    assert {"ocr", "ocr_strict", "consistency"} <= set(rewards)
    assert "broken_import" in stderr


# -- 3. the allow list --------------------------------------------------------------------
def test_allow_list_loads_only_the_named_plugin(world):
    plugins, stderr = listed(world, allow="ocr")
    assert plugins["ocr"]["ok"]
    assert "broken_import" not in plugins and "broken_hook" not in plugins
    assert FIRST_PARTY <= set(plugins)
    assert "Warning" not in stderr


def test_allow_list_accepts_a_distribution_name(world):
    plugins, _ = listed(world, allow=f"{OCR_DIST}, broken_hook")
    assert plugins["ocr"]["ok"] and not plugins["broken_hook"]["ok"]
    assert "broken_import" not in plugins


def test_an_empty_allow_list_loads_no_third_party_plugin(world):
    plugins, stderr = listed(world, allow="")
    assert {p["distribution"] for p in plugins.values()} == {"vlmr1"}
    assert FIRST_PARTY <= set(plugins)
    assert "Warning" not in stderr
    rewards, _ = listed(world, "rewards", allow="")
    assert "ocr" not in rewards
    error = unknown_reward_error(world, "ocr", allow="")
    assert error and "Unknown reward 'ocr'" in error


# -- 4. two plugins, one name ---------------------------------------------------------------
_USE_OCR = """
import json
from vlmr1.registry import get_registry
from vlmr1.errors import PluginConflictError
try:
    reward = get_registry().reward("ocr")
    print(json.dumps({"error": None, "distribution": reward.provenance.distribution}))
except PluginConflictError as exc:
    print(json.dumps({"error": str(exc)}))
"""


def test_a_conflicting_name_is_an_error_naming_both_distributions(clash):
    got = in_venv(clash, _USE_OCR)
    assert got["error"], got
    assert OCR_DIST in got["error"] and "vlmr1-plugin-ocr-clash" in got["error"]
    assert "VLMR1_PLUGINS" in got["error"]  # and says what to do about it


def test_the_listing_shows_the_conflict(clash):
    plugins, stderr = listed(clash)
    assert plugins["ocr"]["ok"] and plugins["ocr_clash"]["ok"]  # both loaded; the name is what clashes
    assert "reward 'ocr' is registered by more than one plugin" in stderr
    assert f"ocr ({OCR_DIST} {OCR_VERSION})" in stderr and "ocr_clash (vlmr1-plugin-ocr-clash 0.0.3)" in stderr
    rewards, _ = listed(clash, "rewards")
    assert "ocr" not in rewards  # an ambiguous name is not offered
    assert rewards["ocr_strict"]["distribution"] == OCR_DIST  # the rest of the plugin is


def test_the_allow_list_resolves_a_conflict(clash):
    assert in_venv(clash, _USE_OCR, allow="ocr") == {"error": None, "distribution": OCR_DIST}
    assert in_venv(clash, _USE_OCR, allow="ocr_clash") == {"error": None, "distribution": "vlmr1-plugin-ocr-clash"}
