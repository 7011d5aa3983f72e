"""Discovers plugins through entry points and keeps what they register.

pluggy calls the hooks (each plugin's own, through ``subset_hook_caller``, so that hook
wrappers, ordering and tracing apply); this module adds what pluggy does not: each entry
point is loaded and its hooks called on their own (a broken plugin is reported, the rest
load), names are unique across distributions, an allow list (``VLMR1_PLUGINS``) keeps an
unexpected package from changing a run's rewards, and every item knows who registered it.
Registering is cheap: a reward's callables may be ``"module:attr"`` text, imported only
when a run uses the reward (:meth:`vlmr1.Reward.resolved`). Which entry points there are,
and which are first-party, is :mod:`vlmr1.discovery`'s business.
"""

from __future__ import annotations

import dataclasses
import threading
import types
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint
from typing import TYPE_CHECKING, Any, Callable

import pluggy

from . import hookspecs
from .discovery import (  # noqa: F401  (allowed_plugins, discover, is_own_distribution: public names here too)
    ENV_ALLOW,
    FIRST_PARTY,
    GROUP,
    allowed_plugins,
    discover,
    dist_names,
    entry_points,
    is_allowed,
    is_own_distribution,
    normalize_name,
)
from .errors import PluginConflictError, UnknownNameError
from .reportviews import ReportView
from .types import VERIFIER_GONE, PromptTemplate, Provenance, Reward

if TYPE_CHECKING:
    import click


_KINDS: dict[str, tuple[str, type]] = {
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
        gone = [h for h in _GONE if self.pm.parse_hookimpl_opts(obj, h) is not None]  # type: ignore[arg-type]
        if gone:
            info.error = _GONE[gone[0]]
            return info
        try:
            obj = _hashable(obj, name, self.pm)
            self.pm.register(obj, name=name)
        except Exception as exc:  # a malformed hookimpl, a duplicate plugin name
            info.error = f"{type(exc).__name__}: {exc}"
            return info
        provenance = Provenance(name, distribution, version)
        for hook_name, (kind, cls) in _KINDS.items():
            got: list[Any] = []
            if self._call(obj, hook_name, info, register=_collector(got, cls, kind, name)):
                for item in got:
                    self._store(kind, dataclasses.replace(item, provenance=provenance), info)
        self._add_commands(obj, name, provenance, info)
        return info

    def _call(self, obj: object, hook_name: str, info: PluginInfo, **kwargs: Any) -> bool:
        """Call ``hook_name`` of this one plugin through pluggy (with every plugin's hook
        wrappers, so ordering, wrappers and tracing apply), recording a failure on ``info``.
        False when the plugin does not implement the hook or its implementation raised."""
        hook = getattr(self.pm.hook, hook_name)
        impls = hook.get_hookimpls()
        if not any(impl.plugin is obj and not _wraps(impl) for impl in impls):
            return False
        others = {id(impl.plugin): impl.plugin for impl in impls if impl.plugin is not obj and not _wraps(impl)}
        try:
            self.pm.subset_hook_caller(hook_name, remove_plugins=others.values())(**kwargs)
        except Exception as exc:
            info.error = f"{hook_name} raised {type(exc).__name__}: {exc}"
            return False
        return True

    def _add_commands(self, obj: object, name: str, provenance: Provenance, info: PluginInfo) -> None:
        """Call the plugin's ``register_commands`` with a group of its own and keep what it added."""
        if self.pm.parse_hookimpl_opts(obj, "register_commands") is None:  # type: ignore[arg-type]
            return  # no click import for a plugin that adds no command
        import click

        group = click.Group(name=name)
        if self._call(obj, "register_commands", info, cli=group):
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
        if dist is not None and not first_party and normalize_name(distribution) == FIRST_PARTY:
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


# Hooks that no longer exist, and what a plugin that still implements one should do.
_GONE = {"register_verifiers": VERIFIER_GONE}


def _hashable(obj: object, name: str, pm: pluggy.PluginManager) -> object:
    """``obj``, or when it cannot be hashed (a SimpleNamespace), a module holding its hook
    implementations: pluggy keeps plugins in sets when it calls a subset of them."""
    try:
        hash(obj)
        return obj
    except TypeError:
        proxy = types.ModuleType(name)
        for attr in dir(obj):
            if pm.parse_hookimpl_opts(obj, attr) is not None:  # type: ignore[arg-type]
                setattr(proxy, attr, getattr(obj, attr))
        return proxy


def _wraps(impl: Any) -> bool:
    """Whether a hook implementation wraps the others (pluggy's new- or old-style wrapper)."""
    return bool(getattr(impl, "wrapper", False) or getattr(impl, "hookwrapper", False))


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


def load_registry(allow: set[str] | None | str = "env") -> Registry:
    """A fresh registry with every allowed installed plugin loaded."""
    if allow == "env":
        allow = allowed_plugins()
    registry = Registry()
    found = entry_points()
    registry.held_back = sorted({ep.name for ep, first in found if not is_allowed(ep, first, allow)})
    if allow:  # the names _allowed compares with: entry-point and distribution names, as written
        names = {first: {ep.name for ep, f in found if f == first} | dist_names(ep for ep, f in found if f == first)
                 for first in (True, False)}
        registry.unmatched = sorted(n for n in allow if n not in names[True] | names[False])
        registry.installed = sorted(names[False])
    seen: set[tuple[str, str]] = set()
    for ep, first in found:
        if not is_allowed(ep, first, allow) or (ep.name, ep.value) in seen:
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
