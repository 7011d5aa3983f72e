"""The lowest versions the train extra claims (transformers, trl) really work: the TRL-facing
tests run in a throwaway environment with exactly those versions (from the package registry),
while the default environment proves the highest. About a minute; part of the default run, so
CI proves both ends of the range pyproject.toml states."""

from __future__ import annotations

import re

import pytest
from venvtools import REPO, create_venv, passed_count, pip_from_registry, run_pytest

pytestmark = pytest.mark.timeout(1800)


def _lowest(requirement_group: str, name: str) -> str:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    spec = next(r for r in project["project"]["optional-dependencies"][requirement_group] if r.startswith(name))
    return re.search(r">=\s*([\w.]+)", spec).group(1)


def test_lowest_claimed_transformers_and_trl(tmp_path):
    low = {name: _lowest("train", name) for name in ("transformers", "trl")}
    venv = create_venv(tmp_path / "venv")
    # --ignore-installed: the venv gets its own copies (and console scripts) even where a version matches
    pip_from_registry(venv, "--no-deps", "--ignore-installed", *(f"{name}=={version}" for name, version in low.items()))
    got = venv.run("-c", "import transformers, trl; print(transformers.__version__, trl.__version__)").stdout.split()
    from packaging.version import Version

    assert [Version(v) for v in got] == [Version(low["transformers"]), Version(low["trl"])], got
    proc = run_pytest(venv, str(REPO / "tests" / "test_trl_rewards.py"), str(REPO / "tests" / "test_grpo_train.py"),
                   str(REPO / "tests" / "test_adapters.py"), str(REPO / "tests" / "test_remote.py"), "-k", "not two_processes", "-x")
    print(proc.stdout[-2000:])
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    assert passed_count(proc.stdout) >= 10
