"""Throwaway virtual environments for tests that install packages for real.

Creating a venv and installing vlmr1's dependencies into it would take minutes and
need the network. Instead a venv is made without pip, and a ``.pth`` file in its
site-packages adds this interpreter's site directories *after* the venv's own: pip,
setuptools, pluggy, click and the rest are importable, while anything pip installs
into the venv (vlmr1 itself, a plugin) comes first and is what the venv sees.
``site.addsitedir`` processes those directories' own ``.pth`` files too, so an
editable install, or a CI venv that itself chains to system packages, keeps working.

Packages are built into wheels from copies of their sources (an in-tree build would
leave ``build/`` and ``*.egg-info`` in the checkout) with ``--no-build-isolation``
and ``--no-index``: offline, using the setuptools this interpreter already has.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

REPO = Path(__file__).resolve().parent.parent

# Variables that would make a subprocess see something other than the venv: an allow
# list set by the test suite's conftest, a PYTHONPATH into the checkout, a user pip config.
_DROP = ("VLMR1_PLUGINS", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PIP_REQUIRE_VIRTUALENV", "VIRTUAL_ENV")
_QUIET_PIP = {
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    "PIP_NO_INPUT": "1",
    "PIP_CONFIG_FILE": os.devnull,
    "PYTHONDONTWRITEBYTECODE": "1",
}
_BUILD_LITTER = shutil.ignore_patterns(
    "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis", "*.pyc", ".venv", ".git"
)


class CommandFailed(AssertionError):
    """A subprocess a test relied on failed; the message carries its output."""


def clean_env(**overrides: str | None) -> dict[str, str]:
    """This process's environment without the variables that leak into a venv.

    ``overrides`` set variables; a value of None removes one (``VLMR1_PLUGINS=None``
    means "unset", which is not the same as the empty string).
    """
    env = {k: v for k, v in os.environ.items() if k not in _DROP}
    env.update(_QUIET_PIP)
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def parent_site_dirs() -> list[str]:
    """The site directories of this interpreter, in sys.path order, without duplicates."""
    paths = sysconfig.get_paths()
    found: list[str] = []
    candidates = [*sys.path, paths["purelib"], paths["platlib"]]
    for entry in candidates:
        if not entry or Path(entry).name not in ("site-packages", "dist-packages") or not Path(entry).is_dir():
            continue
        if entry not in found:
            found.append(entry)
    return found


def run_checked(cmd: Sequence[str | os.PathLike[str]], *, env: Mapping[str, str] | None = None,
                cwd: str | os.PathLike[str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``cmd``; on a non-zero exit raise with its stdout and stderr in the message."""
    proc = subprocess.run([str(c) for c in cmd], env=dict(env) if env is not None else clean_env(),
                          cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise CommandFailed(
            f"command failed with exit code {proc.returncode}: {' '.join(map(str, cmd))}\n"
            f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
        )
    return proc


@dataclass(frozen=True)
class Venv:
    """A virtual environment at ``root``; its python, scripts and site-packages."""

    root: Path

    @property
    def bin(self) -> Path:
        return self.root / ("Scripts" if os.name == "nt" else "bin")

    @property
    def python(self) -> Path:
        return self.bin / ("python.exe" if os.name == "nt" else "python")

    @property
    def site_packages(self) -> Path:
        code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
        return Path(run_checked([self.python, "-c", code]).stdout.strip())

    def script(self, name: str) -> Path:
        """A console script pip installed into the venv (``vlmr1``, ``pytest``, ...)."""
        return self.bin / name

    def run(self, *args: str | os.PathLike[str], env: Mapping[str, str] | None = None,
            cwd: str | os.PathLike[str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """``python *args`` in the venv; returns the completed process whatever its exit code.

        It runs in the venv's folder unless ``cwd`` says otherwise: ``python -c`` puts the
        working directory first on sys.path, and a checkout's ``*.egg-info`` there would
        be found before the venv's own metadata.
        """
        return subprocess.run([str(self.python), *map(str, args)], env=dict(env) if env is not None else clean_env(),
                              cwd=cwd or self.root, capture_output=True, text=True, timeout=timeout)

    def run_script(self, name: str, *args: str, env: Mapping[str, str] | None = None,
                   cwd: str | os.PathLike[str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """A console script of the venv, as a user would type it."""
        return subprocess.run([str(self.script(name)), *args], env=dict(env) if env is not None else clean_env(),
                              cwd=cwd or self.root, capture_output=True, text=True, timeout=timeout)

    def pip_install(self, *targets: str | os.PathLike[str]) -> subprocess.CompletedProcess[str]:
        """``pip install`` wheels or source trees into the venv, offline and without dependencies.

        ``--ignore-installed`` keeps pip from touching a same-named distribution that
        is visible through the parent environment (it is outside this venv).
        """
        return run_checked([self.python, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                            "--no-build-isolation", "--ignore-installed", *targets])


def create_venv(root: Path, *, inherit: bool = True) -> Venv:
    """A fresh venv at ``root``; with ``inherit`` it also sees this interpreter's packages (after its own)."""
    run_checked([sys.executable, "-m", "venv", "--without-pip", str(root)])
    venv = Venv(Path(root))
    if inherit:
        lines = "".join(f"import site; site.addsitedir({d!r})\n" for d in parent_site_dirs())
        (venv.site_packages / "_vlmr1_test_parent_env.pth").write_text(lines)
    return venv


def copy_source(src: Path, dest: Path) -> Path:
    """A copy of a source tree without build litter, so building it leaves ``src`` untouched."""
    shutil.copytree(src, dest, ignore=_BUILD_LITTER)
    return dest


def vlmr1_source(dest: Path) -> Path:
    """A copy of this checkout's vlmr1 distribution: pyproject.toml, README and the package folders."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    folders = sorted(set(project["tool"]["setuptools"]["package-dir"].values()))
    dest.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (REPO / name).exists():
            shutil.copy2(REPO / name, dest / name)
    for folder in folders:
        top = folder.split("/")[0]
        if not (dest / top).exists():
            shutil.copytree(REPO / top, dest / top, ignore=_BUILD_LITTER)
    return dest


def _require_wheel_backend() -> None:
    """Offline builds use this interpreter's setuptools; say so plainly when it cannot make wheels."""
    from importlib.metadata import PackageNotFoundError, version

    from packaging.version import Version

    try:
        setuptools = Version(version("setuptools"))
    except PackageNotFoundError:
        setuptools = None
    try:
        version("wheel")
        has_wheel = True
    except PackageNotFoundError:
        has_wheel = False
    if setuptools is None or (setuptools < Version("70.1") and not has_wheel):
        raise CommandFailed(
            f"building wheels offline needs setuptools>=70.1 (or setuptools with wheel) in {sys.executable}; "
            f"found setuptools {setuptools or 'none'}. Install the test extras: pip install -e '.[dev]'"
        )


def build_wheels(sources: Iterable[Path], wheelhouse: Path) -> dict[str, Path]:
    """Build one wheel per source tree into ``wheelhouse`` (one pip call); {distribution: wheel}."""
    from packaging.utils import canonicalize_name, parse_wheel_filename

    _require_wheel_backend()
    sources = list(sources)
    wheelhouse.mkdir(parents=True, exist_ok=True)
    run_checked([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-index", "--no-build-isolation",
                 "-w", str(wheelhouse), *map(str, sources)])
    wheels: dict[str, Path] = {}
    for wheel in sorted(wheelhouse.glob("*.whl")):
        name = parse_wheel_filename(wheel.name)[0]
        wheels[str(canonicalize_name(name))] = wheel
    return wheels


def pip_from_registry(venv: "Venv", *args: str) -> Any:
    """``pip install`` into ``venv`` from the package registry: the user's pip configuration
    (index, mirrors) applies, unlike the offline installs above."""
    return run_checked([venv.python, "-m", "pip", "install", "-q", *args],
                       env=clean_env(PIP_CONFIG_FILE=None), timeout=1200)


def run_pytest(venv: "Venv", *args: str, timeout: float = 1500) -> Any:
    """This checkout's tests, run by ``venv``'s pytest, with no third-party plugin loaded."""
    env = clean_env(VLMR1_PLUGINS="", PYTHONPATH=str(REPO / "tests"))
    return venv.run("-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", "--rootdir", str(venv.root),
                    *args, env=env, timeout=timeout)


def passed_count(out: str) -> int:
    """How many tests a pytest run's output says passed (0 when it says none)."""
    import re

    found = re.findall(r"(\d+) passed", out)
    return int(found[-1]) if found else 0
