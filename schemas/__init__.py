"""JSON Schemas (2020-12) shipped with vlmr1: config, dataset row, data mixture, scored record."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib.resources import files
from typing import Any

NAMES = ("config", "row", "mixture", "scored")


@lru_cache(maxsize=None)
def load(name: str) -> dict[str, Any]:
    """The schema called ``name`` (one of :data:`NAMES`)."""
    if name not in NAMES:
        raise KeyError(f"no schema {name!r}; known: {', '.join(NAMES)}")
    return json.loads(files(__name__).joinpath(f"{name}.schema.json").read_text(encoding="utf-8"))
