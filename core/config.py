"""The reward config: which rewards, with which weights, params, gates and formulas.

A config file is read once (:func:`load_config`); the :class:`Config` keeps the line of
every value (``Config.lines``, ``Config.where(...)``), so that whatever checks it later —
the engine's plan, the trainer's settings — can point at the line without reading the
file again. References between entries (gates, formula inputs, dispatch cases) are
checked here, once, whenever a Config is made, whoever makes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

from .documents import Path_, line_of, load_document, schema_problems
from .errors import ConfigError


@dataclass(frozen=True)
class RewardSpec:
    """One configured reward column.

    ``reward`` is the registered reward to run (defaults to ``name``), so one reward can
    appear twice with different params. A ``formula`` entry computes its column from
    other columns instead of running a reward.
    """

    name: str
    reward: str | None = None
    weight: float = 1.0
    params: Mapping[str, Any] = field(default_factory=dict)
    tasks: frozenset[str] | None = None
    gate: str | None = None
    gate_min: float = 1.0
    formula: str | None = None
    where: Any = None  # a dispatch.RowFilter: only rows it matches (a case of a dispatch)
    merge: tuple[tuple[str, Any], ...] = ()  # (case column, RowFilter) of a dispatch column
    origin: Path_ = field(default=(), compare=False)  # where the entry is in its file: ("rewards", i)

    @property
    def target(self) -> str:
        return self.reward or self.name

    def references(self, label: str = "") -> set[str]:
        """The other columns this one reads: its gate, its formula's names, its dispatch cases."""
        refs: set[str] = set()
        if self.formula:
            from .formula import names_in

            refs = set(names_in(self.formula, label or f"reward {self.name!r}"))
        if self.gate:
            refs.add(self.gate)
        refs.update(case for case, _ in self.merge)
        return refs


@dataclass(frozen=True)
class EngineConfig:
    """How isolated rewards run. Defaults suit a 2-core machine and a training loop."""

    workers: int = 2
    timeout: float = 10.0
    max_tasks_per_worker: int = 2000
    memory_mb: int | None = 4096
    strict: bool = False
    dedupe: bool = True
    async_timeout: float = 60.0
    spare_workers: int = 8
    stall_after: float | None = None
    inline_timeout: float = 5.0
    warmup_timeout: float = 120.0


@dataclass(frozen=True)
class Config:
    """A reward config (and, in ``extra``, the sections other readers own: a trainer's
    ``model``, ``data``, ``grpo``...). ``source`` and ``lines`` (value path -> 1-based
    line) come from the file it was read from; :meth:`where` turns them into "file:line"."""

    rewards: tuple[RewardSpec, ...]
    engine: EngineConfig = EngineConfig()
    task: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    source: str = field(default="<config>", compare=False)  # where it was read: not part of what it says
    lines: Mapping[Path_, int] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        check_references(self)

    def where(self, *path: Any) -> str:
        """``"file:line"`` of the value at ``path`` (e.g. ``"grpo", "learning_rate"``), or of
        its nearest ancestor that has a line; the bare source when the config has no lines."""
        line = line_of(dict(self.lines), tuple(path)) if self.lines else None
        return f"{self.source}:{line}" if line else self.source

    def with_engine(self, **overrides: Any) -> "Config":
        clean = {k: v for k, v in overrides.items() if v is not None}
        return replace(self, engine=replace(self.engine, **clean))


def check_references(config: Config) -> None:
    """Names unique, and every gate, formula input and dispatch case a configured name.
    The one place these are checked: a Config cannot exist without passing here."""
    names = [s.name for s in config.rewards]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        first = next(s for s in config.rewards if s.name == dupes[0])
        raise ConfigError(f"{config.where(*first.origin)}: reward names must be unique; repeated: {', '.join(dupes)}. "
                          f"Give each entry its own name and set `reward:` to the registered reward.")
    for s in config.rewards:
        at = config.where(*s.origin, "formula" if s.formula else "gate" if s.gate else "cases")
        unknown = s.references(f"{at}: reward {s.name!r}") - set(names)
        if unknown:
            raise ConfigError(f"{at}: reward {s.name!r} refers to {', '.join(sorted(unknown))}, which is not a configured "
                              f"reward name ({', '.join(names)}).")


def config_from_dict(data: Mapping[str, Any], source: str = "<config>", lines: Mapping[Path_, int] | None = None) -> Config:
    """Build a Config from already-validated data (``lines``: what :func:`load_document` gave
    beside it); dispatch entries are expanded, references checked."""
    from .dispatch import expand_dispatch

    specs = []
    for i, raw in enumerate(data["rewards"]):
        at = line_of(dict(lines), ("rewards", i)) if lines else None
        entries = expand_dispatch(raw, f"{source}:{at}" if at else source) if "dispatch" in raw else [raw]
        for entry in entries:
            entry = dict(entry)
            tasks = entry.pop("tasks", None)
            specs.append(RewardSpec(**entry, tasks=frozenset(tasks) if tasks is not None else None, origin=("rewards", i)))
    known = {f.name for f in fields(EngineConfig)}
    engine = EngineConfig(**{k: v for k, v in dict(data.get("engine") or {}).items() if k in known})
    extra = {k: v for k, v in data.items() if k not in ("rewards", "engine", "task")}
    return Config(tuple(specs), engine, data.get("task"), extra, source, dict(lines or {}))


def load_config(path: str | Path) -> Config:
    """Read (once) and validate a YAML or JSON config; errors name the file and line."""
    data, lines = load_document(path)
    problems = schema_problems(data, "config", str(path), lines)
    if problems:
        raise ConfigError("invalid config:\n  " + "\n  ".join(map(str, problems)))
    return config_from_dict(data, str(path), lines)
