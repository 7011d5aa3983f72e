"""Discovers plugins through entry points and keeps what they register.

pluggy calls hooks; this module adds what pluggy does not: each entry point is
loaded and called on its own (a broken plugin is reported, the rest load), names
are unique across distributions, an allow list (``VLMR1_PLUGINS``) keeps an
unexpected package from changing a run's rewards, and every item knows who
registered it.

First-party means our own entry points from our own distribution's files, not a name in
some metadata: the entry point's module is inside the ``vlmr1`` package, and its
distribution is the one this ``vlmr1`` was installed from (:func:`is_own_distribution`).
A package that merely calls itself ``vlmr1`` is third-party, so ``VLMR1_PLUGINS`` decides
about it. Entry points are read from every installed distribution, not through
``entry_points()``, which keeps only the first distribution of each name on the path and
would let such a package hide the real plugins.
"""

from __future__ import annotations

import dataclasses
import os
import re
import threading
from dataclasses import dataclass, field
from importlib.metadata import Distribution, EntryPoint, distributions
from typing import TYPE_CHECKING, Any, Callable, Iterable

import pluggy

from . import hookspecs
from .errors import PluginConflictError, UnknownNameError
from .reportviews import ReportView
from .types import PromptTemplate, Provenance, Reward, Verifier

if TYPE_CHECKING:
    import click

GROUP = "vlmr1"
FIRST_PARTY = "vlmr1"
ENV_ALLOW = "VLMR1_PLUGINS"

_KINDS: dict[str, tuple[str, type]] = {
    "register_verifiers": ("verifier", Verifier),
    "register_rewards": ("reward", Reward),
    "register_prompt_templates": ("template", PromptTemplate),
    "register_report_views": ("report_view", ReportView),
}


@dataclass(frozen=True)
class PluginCommand:
    """A ``vlmr1`` subcommand a plugin added through ``register_commands``."""

    name: str
    command: click.Command
    provenance: Provenance | None = None


@dataclass
class PluginInfo:
    """One loaded (or failed) plugin, as `vlmr1 plugins` shows it."""

    name: str
    distribution: str
    version: str
    module: str
    error: str | None = None
    registered: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"ok": self.ok}


class Registry:
    """What the installed plugins registered. Build one with :func:`load_registry`."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: list[PluginInfo] = []
        self.items: dict[str, dict[str, Any]] = {kind: {} for kind, _ in _KINDS.values()}
        self.items["command"] = {}
        self.conflicts: dict[tuple[str, str], list[Provenance]] = {}
        self.held_back: list[str] = []  # installed entry points the allow list left out
        self.unmatched: list[str] = []  # names in the allow list that no installed plugin has
        self.installed: list[str] = []  # third-party plugins' entry-point and distribution names

    # -- lookup -----------------------------------------------------------------------
    @property
    def rewards(self) -> dict[str, Reward]:
        return self.items["reward"]

    @property
    def verifiers(self) -> dict[str, Verifier]:
        return self.items["verifier"]

    @property
    def templates(self) -> dict[str, PromptTemplate]:
        return self.items["template"]

    @property
    def report_views(self) -> dict[str, ReportView]:
        return self.items["report_view"]

    def _get(self, kind: str, name: str) -> Any:
        if (kind, name) in self.conflicts:
            who = " and ".join(str(p) for p in self.conflicts[(kind, name)])
            raise PluginConflictError(
                f"The {kind} {name!r} is registered by both {who}. Uninstall one of them, "
                f"or restrict loading with {ENV_ALLOW}=<plugin,...>."
            )
        try:
            return self.items[kind][name]
        except KeyError:
            broken = [f"{p.name} ({p.distribution} {p.version}): {_one_line(p.error)[:300]}" for p in self.failed]
            raise UnknownNameError(kind, name, self.items[kind], self.held_back, broken) from None

    @property
    def commands(self) -> dict[str, PluginCommand]:
        return self.items["command"]

    def command(self, name: str) -> click.Command:
        """The click command a plugin registered under ``name``."""
        return self._get("command", name).command

    def reward(self, name: str) -> Reward:
        return self._get("reward", name)

    def verifier(self, name: str) -> Verifier:
        return self._get("verifier", name)

    def template(self, name: str) -> PromptTemplate:
        return self._get("template", name)

    @property
    def failed(self) -> list[PluginInfo]:
        return [p for p in self.plugins if not p.ok]

    # -- loading ----------------------------------------------------------------------
    def add_plugin(self, obj: object, name: str, distribution: str = "<local>", version: str = "0") -> PluginInfo:
        """Register a module or object carrying ``@hookimpl`` functions, then call its hooks.

        Failures are recorded on the returned :class:`PluginInfo`, never raised.
        """
        info = PluginInfo(name, distribution, version, getattr(obj, "__name__", type(obj).__name__))
        self.plugins.append(info)
        try:
            self.pm.register(obj, name=name)
        except Exception as exc:  # a malformed hookimpl, a duplicate plugin name
            info.error = f"{type(exc).__name__}: {exc}"
            return info
        provenance = Provenance(name, distribution, version)
        for hook_name, (kind, cls) in _KINDS.items():
            hook = getattr(self.pm.hook, hook_name)
            for impl in hook.get_hookimpls():
                if impl.plugin_name != name:
                    continue
                got: list[Any] = []
                try:
                    impl.function(register=_collector(got, cls, kind, name))
                except Exception as exc:
                    info.error = f"{hook_name} raised {type(exc).__name__}: {exc}"
                    continue
                for item in got:
                    self._store(kind, dataclasses.replace(item, provenance=provenance), info)
        self._add_commands(name, provenance, info)
        return info

    def _add_commands(self, name: str, provenance: Provenance, info: PluginInfo) -> None:
        """Call the plugin's ``register_commands`` with a group of its own and keep what it added."""
        import click

        for impl in self.pm.hook.register_commands.get_hookimpls():
            if impl.plugin_name != name:
                continue
            group = click.Group(name=name)
            try:
                impl.function(cli=group)
            except Exception as exc:
                info.error = f"register_commands raised {type(exc).__name__}: {exc}"
                continue
            for cmd_name, command in group.commands.items():
                self._store("command", PluginCommand(cmd_name, command, provenance), info)

    def _store(self, kind: str, item: Any, info: PluginInfo) -> None:
        table = self.items[kind]
        info.registered.setdefault(kind, []).append(item.name)
        if (kind, item.name) in self.conflicts:
            self.conflicts[(kind, item.name)].append(item.provenance)
        elif item.name in table:
            self.conflicts[(kind, item.name)] = [table.pop(item.name).provenance, item.provenance]
        else:
            table[item.name] = item

    def load_entry_point(self, ep: EntryPoint, first_party: bool = False) -> PluginInfo:
        dist = getattr(ep, "dist", None)
        distribution = dist.metadata["Name"] if dist is not None else "<unknown>"
        if dist is not None and not first_party and _norm(distribution) == FIRST_PARTY:
            distribution += f" (not this vlmr1: {dist.locate_file('')})"
        version = dist.version if dist is not None else "?"
        try:
            obj = ep.load()
        except BaseException as exc:  # ImportError, SyntaxError, even SystemExit at import
            if isinstance(exc, KeyboardInterrupt):
                raise
            info = PluginInfo(ep.name, distribution, version, ep.value, error=f"{type(exc).__name__}: {exc}")
            self.plugins.append(info)
            return info
        return self.add_plugin(obj, ep.name, distribution, version)

    def errors(self) -> list[str]:
        """Human-readable problems, one line each: failed plugins, name conflicts, and
        ``VLMR1_PLUGINS`` naming plugins that are not installed."""
        out = [f"plugin {p.name!r} from {p.distribution} {p.version} failed to load: {_one_line(p.error)}" for p in self.failed]
        for (kind, name), who in self.conflicts.items():
            out.append(f"{kind} {name!r} is registered by more than one plugin: " + ", ".join(map(str, who)))
        if self.unmatched:
            import difflib

            close = {n: difflib.get_close_matches(n, self.installed, n=1, cutoff=0.6) for n in self.unmatched}
            names = ", ".join(f"{n!r}" + (f" (did you mean {c[0]!r}?)" if c else "") for n, c in close.items())
            out.append(f"{ENV_ALLOW} names {names}, which no installed plugin is called (entry-point or distribution "
                       f"name), so nothing is loaded for it; installed third-party plugins: {', '.join(self.installed) or 'none'}.")
        return out


def _one_line(text: str | None) -> str:
    """An error message on one line (a SyntaxError or a traceback can span several)."""
    return " ".join(str(text or "").split())


def _collector(got: list[Any], cls: type, kind: str, plugin: str) -> Callable[[Any], None]:
    def register(item: Any) -> None:
        if not isinstance(item, cls):
            raise TypeError(f"plugin {plugin!r} registered {item!r} as a {kind}; expected a vlmr1.{cls.__name__}")
        if not item.name or not isinstance(item.name, str):
            raise ValueError(f"plugin {plugin!r} registered a {kind} without a name")
        got.append(item)

    return register


def allowed_plugins(env: dict[str, str] | None = None) -> set[str] | None:
    """The third-party plugins ``VLMR1_PLUGINS`` allows; None when it is unset (all)."""
    value = (env if env is not None else os.environ).get(ENV_ALLOW)
    if value is None:
        return None
    return {p.strip() for p in value.split(",") if p.strip()}


def _norm(name: str | None) -> str:
    return re.sub(r"[-_.]+", "-", name or "").lower()


_OWN: dict[str, bool] = {}


def is_own_distribution(dist: Distribution) -> bool:
    """Whether ``dist`` is the distribution this ``vlmr1`` package was installed from: one
    of its recorded files is this package's ``__init__.py`` (a wheel), or an editable
    install's ``.pth`` or finder file that points at this package's folder."""
    if _norm(dist.metadata["Name"]) != FIRST_PARTY:
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


def _all_entry_points() -> list[tuple[EntryPoint, bool]]:
    """Every ``vlmr1`` entry point of every distribution, with whether it is first-party;
    first-party ones first. When no distribution named vlmr1 proves to be this one (an
    unusual install), the name and the module path decide."""
    found = [(dist, ep) for dist in distributions() if not _build_residue(dist) for ep in _group(dist)]
    named = [dist for dist, _ in found if _norm(dist.metadata["Name"]) == FIRST_PARTY]
    proven = any(is_own_distribution(d) for d in named)
    out = []
    for dist, ep in found:
        own = is_own_distribution(dist) if proven else _norm(dist.metadata["Name"]) == FIRST_PARTY
        out.append((ep, own and _vlmr1_module(ep)))
    return sorted(out, key=lambda pair: not pair[1])


def _allowed(ep: EntryPoint, first_party: bool, allow: set[str] | None) -> bool:
    dist = getattr(ep, "dist", None)
    dist_name = dist.metadata["Name"] if dist is not None else None
    return first_party or allow is None or ep.name in allow or dist_name in allow


def _dists(eps: Iterable[EntryPoint]) -> set[str]:
    return {ep.dist.metadata["Name"] for ep in eps if getattr(ep, "dist", None) is not None}


def discover(allow: set[str] | None = None) -> Iterable[EntryPoint]:
    """Entry points of group ``vlmr1``; first-party ones always, third-party ones if allowed."""
    return [ep for ep, first in _all_entry_points() if _allowed(ep, first, allow)]


def load_registry(allow: set[str] | None | str = "env") -> Registry:
    """A fresh registry with every allowed installed plugin loaded."""
    if allow == "env":
        allow = allowed_plugins()
    registry = Registry()
    found = _all_entry_points()
    registry.held_back = sorted({ep.name for ep, first in found if not _allowed(ep, first, allow)})
    if allow:  # the names _allowed compares with: entry-point and distribution names, as written
        names = {first: {ep.name for ep, f in found if f == first} | _dists(ep for ep, f in found if f == first)
                 for first in (True, False)}
        registry.unmatched = sorted(n for n in allow if n not in names[True] | names[False])
        registry.installed = sorted(names[False])
    seen: set[tuple[str, str]] = set()
    for ep, first in found:
        if not _allowed(ep, first, allow) or (ep.name, ep.value) in seen:
            continue  # an editable install can list an entry point twice
        seen.add((ep.name, ep.value))
        registry.load_entry_point(ep, first_party=first)
    return registry


_lock = threading.Lock()
_default: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry, loaded on first use (never at import time)."""
    global _default
    with _lock:
        if _default is None:
            _default = load_registry()
        return _default


def set_registry(registry: Registry | None) -> Registry | None:
    """Swap the process-wide registry (tests use this); returns the previous one."""
    global _default
    with _lock:
        previous, _default = _default, registry
        return previous
