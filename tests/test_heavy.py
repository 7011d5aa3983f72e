"""Tests that install big packages into throwaway virtual environments (from the package
registry, so they need network) and take minutes. Marked ``heavy``: the default run leaves
them out; run them with ``pytest -m heavy``.

- OpenRLHF 0.11.2's reward-calling code (the wheel without its GPU dependencies):
  tests/openrlhf_env_checks.py.
- ms-swift 4.6.0 (it pins transformers<5.20 and trl<1.0): tests/swift_env_checks.py runs there.
- verl 0.9.1 and Ray: verl pins transformers below what ``vlmr1[train]`` needs, so they get
  an environment of their own, with plain ``vlmr1`` (no extras) installed from a wheel.
  tests/verl_env_checks.py then runs there.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from venvtools import build_wheels, create_venv, passed_count, pip_from_registry, run_pytest, vlmr1_source

pytestmark = [pytest.mark.heavy, pytest.mark.timeout(1800)]

TESTS = Path(__file__).resolve().parent
VERL = ["verl==0.9.1"]  # installed without its dependencies: wandb, tensorboard, ray[default] are not needed here
VERL_DEPS = ["transformers>=5.5.3,<5.11,!=5.6.0", "tensordict>=0.8,<=0.10.0,!=0.9.0", "ray>=2.41", "codetiming",
             "hydra-core", "pylatexenc", "aiohttp", "dill"]


def _with_vlmr1(venv, tmp_path):
    """Plain vlmr1 from a wheel of this checkout, no extras, no dependencies (they are inherited)."""
    wheels = build_wheels([vlmr1_source(tmp_path / "src")], tmp_path / "wheels")
    venv.pip_install(wheels["vlmr1"])


def test_verl_0_9_1_managers_and_ray_actor(tmp_path):
    venv = create_venv(tmp_path / "venv")
    pip_from_registry(venv, "--no-deps", *VERL)
    pip_from_registry(venv, *VERL_DEPS)
    _with_vlmr1(venv, tmp_path)
    where = venv.run("-c", "import vlmr1, verl, transformers; print(vlmr1.__file__, verl.__version__, transformers.__version__)")
    assert str(venv.root) in where.stdout and " 0.9.1 " in where.stdout, where.stdout + where.stderr
    proc = run_pytest(venv, str(TESTS / "verl_env_checks.py"))
    print(proc.stdout[-3000:])
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    assert passed_count(proc.stdout) == 10


def test_ms_swift_4_6_0_orms(tmp_path):
    venv = create_venv(tmp_path / "venv")
    pip_from_registry(venv, "ms-swift==4.6.0")  # with its own transformers<5.20 and trl<1.0, into this venv only
    proc = run_pytest(venv, str(TESTS / "swift_env_checks.py"))
    print(proc.stdout[-2000:])
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    assert passed_count(proc.stdout) == 1


def test_openrlhf_0_11_2_agent_executor(tmp_path):
    """OpenRLHF's training stack needs vLLM, DeepSpeed and CUDA flash-attn; the module that calls
    rewards (openrlhf.utils.agent) needs aiohttp and pylatexenc: the wheel goes in without its
    dependencies, those two with theirs."""
    venv = create_venv(tmp_path / "venv")
    pip_from_registry(venv, "--no-deps", "openrlhf==0.11.2")
    pip_from_registry(venv, "aiohttp", "pylatexenc")
    proc = run_pytest(venv, str(TESTS / "openrlhf_env_checks.py"))
    print(proc.stdout[-2000:])
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    assert passed_count(proc.stdout) == 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-m", "heavy"]))
