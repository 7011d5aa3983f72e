"""The reward config: which rewards, with which weights, params, gates and formulas."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

from .documents import load_document, schema_problems
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

    @property
    def target(self) -> str:
        return self.reward or self.name


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
    rewards: tuple[RewardSpec, ...]
    engine: EngineConfig = EngineConfig()
    task: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def with_engine(self, **overrides: Any) -> "Config":
        clean = {k: v for k, v in overrides.items() if v is not None}
        return replace(self, engine=replace(self.engine, **clean))


def config_from_dict(data: Mapping[str, Any], source: str = "<config>") -> Config:
    """Build a Config from already-validated data; names and formulas are checked here."""
    from .dispatch import expand_dispatch

    entries = [e for raw in data["rewards"] for e in (expand_dispatch(raw, source) if "dispatch" in raw else [raw])]
    specs = []
    for entry in entries:
        entry = dict(entry)
        tasks = entry.pop("tasks", None)
        specs.append(RewardSpec(**entry, tasks=frozenset(tasks) if tasks is not None else None))
    names = [s.name for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{source}: reward names must be unique; repeated: {', '.join(dupes)}. Give each entry its own name and set `reward:` to the registered reward.")
    for s in specs:
        refs = set()
        if s.formula:
            from .formula import names_in

            refs = names_in(s.formula, f"{source}: reward {s.name!r}")
        if s.gate:
            refs.add(s.gate)
        refs.update(case for case, _ in s.merge)
        unknown = refs - set(names)
        if unknown:
            raise ConfigError(f"{source}: reward {s.name!r} refers to {', '.join(sorted(unknown))}, which is not a configured reward name ({', '.join(names)}).")
    known = {f.name for f in fields(EngineConfig)}
    engine = EngineConfig(**{k: v for k, v in dict(data.get("engine") or {}).items() if k in known})
    extra = {k: v for k, v in data.items() if k not in ("rewards", "engine", "task")}
    return Config(tuple(specs), engine, data.get("task"), extra)


def load_config(path: str | Path) -> Config:
    """Read and validate a YAML or JSON config; errors name the file and line."""
    data, lines = load_document(path)
    problems = schema_problems(data, "config", str(path), lines)
    if problems:
        raise ConfigError("invalid config:\n  " + "\n  ".join(map(str, problems)))
    return config_from_dict(data, str(path))
