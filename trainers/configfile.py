"""Reading a training config file once: the document and its line map, ``--set`` overrides,
the schema, then the typed settings (:mod:`vlmr1.trainers.settings`).

One read serves every message: a problem in the file names its line, a problem in an
override names the ``--set`` that gave it.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any, Sequence

from vlmr1.errors import ConfigError

from .settings import Located, PathKey, TrainSettings


def parse_value(text: str) -> Any:
    """A ``--set`` value: YAML (``true``, ``3``, ``[wandb]``, ``null``), with numbers such as
    ``1e-6`` read as numbers (YAML 1.1 would keep them as text)."""
    import yaml

    value = yaml.safe_load(text) if text.strip() else ""
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        if math.isfinite(number) and value.strip().lower() not in ("nan", "inf", "infinity"):
            return number
    return value


def apply_sets(data: Any, sets: Sequence[str]) -> tuple[Any, frozenset[PathKey]]:
    """``data`` with each ``KEY=VALUE`` applied (dotted keys; list entries by number)."""
    if not sets:
        return data, frozenset()
    data = copy.deepcopy(data) if isinstance(data, dict) else {}
    done: set[PathKey] = set()
    for text in sets:
        key, eq, raw = text.partition("=")
        parts = key.strip().split(".")
        if not eq or not all(p.strip() for p in parts):
            raise ConfigError(f"--set {text!r}: write KEY=VALUE with a dotted KEY, e.g. --set grpo.learning_rate=1e-6")
        path: list[Any] = []
        node: Any = data
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise ConfigError(f"--set {key}: {'.'.join(map(str, path))} is a list of {len(node)} entries; "
                                      f"use an index from 0 to {len(node) - 1}, not {part!r}.")
                part = int(part)
            elif not isinstance(node, dict):
                raise ConfigError(f"--set {key}: {'.'.join(map(str, path))} is {type(node).__name__} {node!r}, "
                                  "not a mapping: it has no keys to set.")
            path.append(part)
            if last:
                node[part] = parse_value(raw)
            else:
                if isinstance(node, dict) and node.get(part) is None:
                    node[part] = {}
                node = node[part]
        done.add(tuple(path))
    return data, frozenset(done)


def read_train_config(path: str | Path, sets: Sequence[str] = ()) -> tuple[Any, TrainSettings]:
    """``(Config, TrainSettings)`` of a YAML file, read once, ``--set`` overrides applied.

    Schema problems, unknown keys and TRL options that do not exist are all raised here,
    each located at its line (or its ``--set``).
    """
    from vlmr1.config import config_from_dict
    from vlmr1.documents import json_path, load_document, schema_problems

    data, lines = load_document(path)
    data, overridden = apply_sets(data, sets)
    at = Located(str(path), lines, overridden)
    problems = []
    for p in schema_problems(data, "config", str(path), lines):
        given = next((k for k in sorted(overridden, key=len) if p.path.startswith(json_path(k))), None)
        problems.append(f"--set {'.'.join(map(str, given))}:{' at ' + p.path if p.path else ''} {p.message}" if given else str(p))
    if problems:
        raise ConfigError("invalid config:\n  " + "\n  ".join(problems))
    config = config_from_dict(data, str(path))
    return config, TrainSettings.from_config(config, at)
