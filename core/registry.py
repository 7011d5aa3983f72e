"""Discovers plugins through entry points and keeps what they register.

pluggy calls hooks; this module adds what pluggy does not: each entry point is
loaded and called on its own (a broken plugin is reported, the rest load), names
are unique across distributions, an allow list (``VLMR1_PLUGINS``) keeps an
unexpected package from changing a run's rewards, and every item knows who
registered it.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any, Callable, Iterable

import pluggy

from . import hookspecs
from .errors import PluginConflictError, UnknownNameError
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
            raise UnknownNameError(kind, name, self.items[kind], self.held_back) from None

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

    def load_entry_point(self, ep: EntryPoint) -> PluginInfo:
        dist = getattr(ep, "dist", None)
        distribution = dist.metadata["Name"] if dist is not None else "<unknown>"
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
        """Human-readable problems: failed plugins and name conflicts."""
        out = [f"plugin {p.name!r} from {p.distribution} {p.version} failed to load: {p.error}" for p in self.failed]
        for (kind, name), who in self.conflicts.items():
            out.append(f"{kind} {name!r} is registered by more than one plugin: " + ", ".join(map(str, who)))
        return out


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


def _allowed(ep: EntryPoint, allow: set[str] | None) -> bool:
    dist = getattr(ep, "dist", None)
    dist_name = dist.metadata["Name"] if dist is not None else None
    return dist_name == FIRST_PARTY or allow is None or ep.name in allow or dist_name in allow


def discover(allow: set[str] | None = None) -> Iterable[EntryPoint]:
    """Entry points of group ``vlmr1``; first-party ones always, third-party ones if allowed."""
    return [ep for ep in entry_points(group=GROUP) if _allowed(ep, allow)]


def load_registry(allow: set[str] | None | str = "env") -> Registry:
    """A fresh registry with every allowed installed plugin loaded."""
    if allow == "env":
        allow = allowed_plugins()
    registry = Registry()
    registry.held_back = sorted({ep.name for ep in entry_points(group=GROUP) if not _allowed(ep, allow)})
    seen: set[tuple[str, str, str]] = set()
    for ep in discover(allow):  # an editable install can list an entry point twice
        dist = getattr(ep, "dist", None)
        key = (ep.name, ep.value, dist.metadata["Name"] if dist is not None else "")
        if key in seen:
            continue
        seen.add(key)
        registry.load_entry_point(ep)
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
