"""Finding plugins: the ``vlmr1`` entry points of every installed distribution, which of
them are first-party, and which third-party ones ``VLMR1_PLUGINS`` lets load.

First-party means our own entry points from our own distribution's files, not a name in
some metadata: the entry point's module is inside the ``vlmr1`` package, and its
distribution is the one this ``vlmr1`` was installed from (:func:`is_own_distribution`).
A package that merely calls itself ``vlmr1`` is third-party, so ``VLMR1_PLUGINS`` decides
about it. Entry points are read from every installed distribution, not through
``entry_points()``, which keeps only the first distribution of each name on the path and
would let such a package hide the real plugins.
"""

from __future__ import annotations

import os
import re
from importlib.metadata import Distribution, EntryPoint, distributions
from typing import Iterable

__all__ = ["ENV_ALLOW", "FIRST_PARTY", "GROUP", "allowed_plugins", "discover", "dist_names", "entry_points", "is_allowed",
           "is_own_distribution", "normalize_name"]

GROUP = "vlmr1"
FIRST_PARTY = "vlmr1"
ENV_ALLOW = "VLMR1_PLUGINS"


def allowed_plugins(env: dict[str, str] | None = None) -> set[str] | None:
    """The third-party plugins ``VLMR1_PLUGINS`` allows; None when it is unset (all)."""
    value = (env if env is not None else os.environ).get(ENV_ALLOW)
    if value is None:
        return None
    return {p.strip() for p in value.split(",") if p.strip()}


def normalize_name(name: str | None) -> str:
    return re.sub(r"[-_.]+", "-", name or "").lower()


_OWN: dict[str, bool] = {}


def is_own_distribution(dist: Distribution) -> bool:
    """Whether ``dist`` is the distribution this ``vlmr1`` package was installed from: one
    of its recorded files is this package's ``__init__.py`` (a wheel), or an editable
    install's ``.pth`` or finder file that points at this package's folder."""
    if normalize_name(dist.metadata["Name"]) != FIRST_PARTY:
        return False
    key = str(dist.locate_file(""))
    if key not in _OWN:
        _OWN[key] = _records_this_package(dist)
    return _OWN[key]


def _records_this_package(dist: Distribution) -> bool:
    from . import __file__ as init

    init = os.path.realpath(init)
    folders = {os.path.dirname(init), os.path.dirname(os.path.abspath(__file__))}
    for rel in dist.files or ():
        name = str(rel).replace("\\", "/")
        if name.endswith("vlmr1/__init__.py") and os.path.realpath(str(dist.locate_file(rel))) == init:
            return True
        if name.endswith(".pth") or (name.endswith(".py") and "__editable__" in name):
            try:
                text = open(str(dist.locate_file(rel)), encoding="utf-8", errors="replace").read(200_000)
            except OSError:
                continue
            if any(folder in text for folder in folders):
                return True
    return False


def _build_residue(dist: Distribution) -> bool:
    """The ``vlmr1.egg-info`` that setuptools leaves beside the sources of an editable install.

    When the checkout itself is on ``sys.path`` (``python -m pytest`` run from it), that folder
    reads as a second distribution named vlmr1, possibly with stale entry points; it is not an
    installed distribution at all."""
    path = getattr(dist, "_path", None)
    if path is None or not str(path).endswith("vlmr1.egg-info"):
        return False
    from . import __file__ as init

    root = os.path.dirname(os.path.dirname(os.path.realpath(init)))
    return os.path.realpath(str(path)) == os.path.join(root, "vlmr1.egg-info")


def _vlmr1_module(ep: EntryPoint) -> bool:
    module = ep.value.split(":", 1)[0].strip()
    return module == FIRST_PARTY or module.startswith(FIRST_PARTY + ".")


def _group(dist: Distribution) -> list[EntryPoint]:
    try:
        return [ep for ep in dist.entry_points if ep.group == GROUP]
    except Exception:  # unreadable metadata of some unrelated package
        return []


def entry_points() -> list[tuple[EntryPoint, bool]]:
    """Every ``vlmr1`` entry point of every distribution, with whether it is first-party;
    first-party ones first. When no distribution named vlmr1 proves to be this one (an
    unusual install), the name and the module path decide."""
    found = [(dist, ep) for dist in distributions() if not _build_residue(dist) for ep in _group(dist)]
    named = [dist for dist, _ in found if normalize_name(dist.metadata["Name"]) == FIRST_PARTY]
    proven = any(is_own_distribution(d) for d in named)
    out = []
    for dist, ep in found:
        own = is_own_distribution(dist) if proven else normalize_name(dist.metadata["Name"]) == FIRST_PARTY
        out.append((ep, own and _vlmr1_module(ep)))
    return sorted(out, key=lambda pair: not pair[1])


def is_allowed(ep: EntryPoint, first_party: bool, allow: set[str] | None) -> bool:
    dist = getattr(ep, "dist", None)
    dist_name = dist.metadata["Name"] if dist is not None else None
    return first_party or allow is None or ep.name in allow or dist_name in allow


def dist_names(eps: Iterable[EntryPoint]) -> set[str]:
    return {ep.dist.metadata["Name"] for ep in eps if getattr(ep, "dist", None) is not None}


def discover(allow: set[str] | None = None) -> Iterable[EntryPoint]:
    """Entry points of group ``vlmr1``; first-party ones always, third-party ones if allowed."""
    return [ep for ep, first in entry_points() if is_allowed(ep, first, allow)]
