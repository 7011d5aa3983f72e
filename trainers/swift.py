"""vlmr1 rewards in ms-swift, as ORM classes for ``swift rlhf --rlhf_type grpo``.

ms-swift looks reward names up in ``swift.rewards.orms`` (filled by the files given to
``--external_plugins``), builds each class with ``cls(args=args)`` and calls the
instance as ``reward(completions, **kwargs)``: plain completion strings, and one list
per dataset column (``solution``, ``task``, ...) plus ``trainer_state``. It turns None
into NaN and sums the columns with ``--reward_weights``. So one plugin file::

    # vlmr1_swift_plugin.py
    from vlmr1.trainers.swift import register
    register()

adds ``vlmr1`` (the config's weighted total) and ``vlmr1_<reward>`` (one per configured
reward, None where it does not apply) to ``orms``. The config comes from
``VLMR1_CONFIG`` (or ``register(config=...)``). The per-reward classes share one engine
call per batch.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

PREFIX = "vlmr1"
_shared: dict[Any, Any] = {}


def _columns(n: int, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The per-row dataset columns among ms-swift's keywords (one value per completion)."""
    skip = {"trainer_state", "trajectory_inputs", "completions"}
    return {k: v for k, v in kwargs.items() if k not in skip and isinstance(v, (list, tuple)) and len(v) == n}


def _batch(config: Any) -> Any:
    from vlmr1.trainers.verl import engine
    from vlmr1.trl import _SharedBatch

    eng = engine(config)
    shared = _shared.get(id(eng))
    if shared is None or shared.engine is not eng:
        shared = _shared[id(eng)] = _SharedBatch(eng, [*eng.names, PREFIX])
    return shared


def make_orm(column: str | None, config: Any = None) -> type:
    """An ORM class for one configured reward (``column``), or for the weighted total (None)."""
    key = column or PREFIX

    class VlmrORM:
        def __init__(self, args: Any = None, **kwargs: Any) -> None:
            self.args = args

        def __call__(self, completions: list[str], **kwargs: Any) -> list[float | None]:
            completions = list(completions)
            shared = _batch(config)
            result, _ = shared.sync(key, None, completions, _columns(len(completions), kwargs))
            values = result.total if column is None else result.columns[column]
            return [float(v) if v is not None else None for v in values]

    VlmrORM.__name__ = VlmrORM.__qualname__ = key if column is None else f"{PREFIX}_{column}"
    VlmrORM.__doc__ = f"vlmr1 reward {key!r} as an ms-swift ORM."
    return VlmrORM


def register(orms: MutableMapping[str, Any] | None = None, config: Any = None) -> list[str]:
    """Add ``vlmr1`` and ``vlmr1_<reward>`` to ms-swift's ``orms``; the names added."""
    from vlmr1.trainers.verl import engine

    if orms is None:
        from swift.rewards import orms as swift_orms  # inside ms-swift's own process

        orms = swift_orms
    names = engine(config).names
    added = {PREFIX: make_orm(None, config)}
    added.update({f"{PREFIX}_{name}": make_orm(name, config) for name in names})
    orms.update(added)
    return list(added)
