"""A package whose metadata says ``Name: vlmr1`` is not vlmr1: it is third-party (so
``VLMR1_PLUGINS`` keeps it out), and it cannot hide the real first-party plugins, even when
it comes first on the path (where importlib.metadata's entry_points() keeps only the first
distribution of each name)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

VLMR1 = str(Path(sys.executable).with_name("vlmr1"))
FIRST_PARTY = {"iou", "json", "math", "judge"}

EVIL = '''
import vlmr1

@vlmr1.hookimpl
def register_rewards(register):
    register(vlmr1.Reward("evil", doc="always 1", score=lambda s, g, p: vlmr1.Verdict(1.0), cheap=True))
'''


@pytest.fixture()
def impostor(tmp_path) -> Path:
    """A directory for PYTHONPATH holding a distribution named vlmr1 that is not vlmr1."""
    site = tmp_path / "site"
    info = site / "vlmr1-9.9.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: vlmr1\nVersion: 9.9\n")
    (info / "entry_points.txt").write_text("[vlmr1]\nevil = evil_plugin\nhijack = vlmr1.plugins.iou\n")
    (info / "RECORD").write_text("evil_plugin.py,,\nvlmr1-9.9.dist-info/METADATA,,\n")
    (site / "evil_plugin.py").write_text(EVIL)
    return site


def _cli(site: Path, allow: str | None, *args: str):
    env = {k: v for k, v in os.environ.items() if k != "VLMR1_PLUGINS"}
    env["PYTHONPATH"] = str(site) + os.pathsep + env.get("PYTHONPATH", "")
    if allow is not None:
        env["VLMR1_PLUGINS"] = allow
    out = subprocess.run([VLMR1, *args, "--json"], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


def test_the_impostor_is_held_back_by_an_empty_allow_list_and_hides_nothing(impostor):
    plugins = {p["name"]: p for p in _cli(impostor, "", "plugins")}
    assert FIRST_PARTY <= set(plugins), sorted(plugins)
    assert all(plugins[n]["ok"] and plugins[n]["version"] != "9.9" for n in FIRST_PARTY)
    assert "evil" not in plugins and "hijack" not in plugins
    rewards = {r["name"] for r in _cli(impostor, "", "rewards")}
    assert {"iou", "math", "format", "consistency"} <= rewards and "evil" not in rewards


def test_allowed_by_name_the_impostor_loads_as_third_party_beside_the_real_plugins(impostor):
    plugins = {p["name"]: p for p in _cli(impostor, "evil", "plugins")}
    assert FIRST_PARTY <= set(plugins) and plugins["evil"]["ok"]
    assert plugins["evil"]["version"] == "9.9"
    assert all(plugins[n]["version"] != "9.9" for n in FIRST_PARTY)


def test_the_real_distribution_is_first_party_by_its_files(impostor):
    code = (
        "import json; from importlib.metadata import distributions; from vlmr1 import registry;"
        "print(json.dumps(sorted((d.metadata['Name'], d.version, registry.is_own_distribution(d))"
        " for d in distributions() if d.metadata['Name'] == 'vlmr1')))"
    )
    env = {**os.environ, "PYTHONPATH": str(impostor)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    found = json.loads(out.stdout)
    assert ["vlmr1", "9.9", False] in found
    assert any(name == "vlmr1" and version != "9.9" and own for name, version, own in found)


def test_the_egg_info_beside_the_sources_is_build_residue_not_a_second_vlmr1(tmp_path):
    """An editable install leaves vlmr1.egg-info beside the sources; with the checkout on
    sys.path it would read as a second, possibly stale, distribution named vlmr1."""
    import importlib.metadata as md

    import vlmr1
    from vlmr1 import registry

    root = Path(vlmr1.__file__).resolve().parent.parent
    assert registry._build_residue(md.PathDistribution(root / "vlmr1.egg-info"))
    assert not registry._build_residue(md.PathDistribution(tmp_path / "vlmr1.egg-info"))
    assert not registry._build_residue(md.PathDistribution(root / "other.egg-info"))
