"""Per-row reward methods: one configured column whose reward is chosen by a row column.

VLM-R1 datasets name each row's accuracy method in a column (``accu_reward_method``:
``mcq``, ``od_ap``, ``all_match``...). A config says the same with

    - name: accuracy
      dispatch: accu_reward_method
      otherwise: default          # the case for any other value (or a missing column)
      cases:
        mcq: {reward: mcq}
        od_ap: {reward: detection_ap, params: {compat: vlm-r1}}
        default: {reward: default_accuracy}

which is expanded here into ordinary columns, one per case (``accuracy.mcq``, weight 0,
scored by the engine like any column, only on rows whose column names that case), and
the column ``accuracy`` that takes, row by row, the verdict of the case that applied.
The engine therefore needs no new way of running rewards: isolation, timeouts,
deduplication and metrics are those of the case columns.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError
from .types import Sample, Verdict

__all__ = ["RowFilter", "expand_dispatch", "merge_column"]

_CASE_KEY = re.compile(r"^[A-Za-z0-9_.-]+$")
_CASE_FIELDS = frozenset({"reward", "params"})


@dataclass(frozen=True)
class RowFilter:
    """Rows whose ``column`` holds one of ``values`` (a string), or with ``exclude`` the
    rows whose column holds none of them (missing and non-string values included)."""

    column: str
    values: frozenset[str]
    exclude: bool = False

    def matches(self, sample: Sample) -> bool:
        value = sample.get(self.column)
        hit = isinstance(value, str) and value in self.values
        return hit != self.exclude


def expand_dispatch(entry: Mapping[str, Any], source: str) -> list[dict[str, Any]]:
    """The plain reward entries of one ``dispatch`` entry: the case columns, then the
    merged column under the entry's own name (with its weight, gate and tasks)."""
    name = entry["name"]
    column = entry["dispatch"]
    cases = entry.get("cases")
    if not isinstance(cases, Mapping) or not cases:
        raise ConfigError(f"{source}: reward {name!r} dispatches on {column!r} but has no `cases`: map each value of that column to a reward, e.g. cases: {{mcq: {{reward: mcq}}}}.")
    for key in ("reward", "formula", "params"):
        if key in entry:
            raise ConfigError(f"{source}: reward {name!r} dispatches on {column!r}: `{key}` belongs inside each case, not beside `dispatch`.")
    otherwise = entry.get("otherwise")
    if otherwise is not None and otherwise not in cases:
        raise ConfigError(f"{source}: reward {name!r}: otherwise={otherwise!r} is not one of its cases ({', '.join(map(str, cases))}).")
    keys = frozenset(str(k) for k in cases)
    out: list[dict[str, Any]] = []
    filters: list[tuple[str, RowFilter]] = []
    for key, case in cases.items():
        key = str(key)
        if not _CASE_KEY.match(key):
            raise ConfigError(f"{source}: reward {name!r}: case {key!r} may use only letters, digits, '_', '.' and '-'.")
        if isinstance(case, str):
            case = {"reward": case}
        if not isinstance(case, Mapping) or "reward" not in case or set(case) - _CASE_FIELDS:
            raise ConfigError(f"{source}: reward {name!r}: case {key!r} must be {{reward: NAME, params: {{...}}}} (got {case!r}).")
        where = RowFilter(column, keys - {key}, exclude=True) if key == otherwise else RowFilter(column, frozenset({key}))
        case_name = f"{name}.{key}"
        filters.append((case_name, where))
        spec: dict[str, Any] = {"name": case_name, "reward": case["reward"], "weight": 0.0,
                                "params": dict(case.get("params") or {}), "where": where}
        if entry.get("tasks") is not None:
            spec["tasks"] = entry["tasks"]
        out.append(spec)
    merged = {k: v for k, v in entry.items() if k not in ("dispatch", "cases", "otherwise")}
    merged["merge"] = tuple(filters)
    out.append(merged)
    return out


def merge_column(cases: Sequence[tuple[str, RowFilter]], verdicts: Mapping[str, list[Verdict]],
                 batch: Sequence[Sample], column: str) -> list[Verdict]:
    """Row by row, the verdict of the case whose filter the row matches."""
    out = []
    for i, sample in enumerate(batch):
        for case_name, where in cases:
            if where.matches(sample):
                out.append(verdicts[case_name][i])
                break
        else:
            value = sample.get(column)
            out.append(Verdict(None, f"no_case: {str(value)[:40]}"))
    return out
