"""The package builds without a setuptools warning and its wheel carries every data file
the code reads at run time (the demo config, the plugin scaffold, DeepSpeed configs, schemas).

A missing data file only shows on a user's non-editable install, never in this editable
checkout, so the wheel is built from a copy of the tracked sources and opened.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tracked_copy(dest: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    if not (ROOT / ".git").exists():
        pytest.fail("tests/test_install.py needs the git checkout (it builds from the tracked files)")
    src = _tracked_copy(tmp_path_factory.mktemp("src"))
    out = tmp_path_factory.mktemp("dist")
    # PYTHONDONTWRITEBYTECODE makes setuptools warn that it skips byte-compiling: a
    # setting of the machine running the tests, not of the package
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    proc = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(src)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (wheel,) = out.glob("vlmr1-*.whl")
    return proc.stdout + proc.stderr, set(zipfile.ZipFile(wheel).namelist())


def test_build_prints_no_setuptools_warning(built):
    log, _ = built
    noisy = [line for line in log.splitlines() if "warning" in line.lower() or "deprecat" in line.lower()
             or "would be ignored" in line.lower()]
    assert not noisy, "\n".join(noisy[:20])


# wheel folder -> the source folder setuptools maps it from (package-dir in pyproject.toml)
DATA_FOLDERS = {"vlmr1/data": "core/data", "vlmr1/templates": "core/templates",
                "vlmr1/trainers/deepspeed": "trainers/deepspeed", "vlmr1/schemas": "schemas"}


def test_wheel_carries_the_data_files_the_code_reads(built):
    _, names = built
    assert "vlmr1/py.typed" in names
    for inside, source in DATA_FOLDERS.items():
        here = {f"{inside}/{p.relative_to(ROOT / source).as_posix()}" for p in (ROOT / source).rglob("*")
                if p.is_file() and "__pycache__" not in p.parts}
        assert here, source
        assert here <= names, f"not in the wheel: {sorted(here - names)}"
