"""Request bodies in, response bodies out, for ``/score`` and ``/get_reward``.

Rows become Samples through ``vlmr1.rows`` exactly as `vlmr1 score` builds them. A
row that cannot become a Sample (no completion, a malformed size) costs that row a
null in every column with the reason ``bad_row: ...``; the rest of the request is
scored. A body that is not the expected shape is the client's error (4xx).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from vlmr1.rows import RowError, response_from_query, row_from_label, sample_from_row
from vlmr1.types import Sample

__all__ = ["RequestError", "Rows", "openrlhf_body", "openrlhf_rows", "score_body", "score_rows"]


class RequestError(Exception):
    """A request the service refuses, with the HTTP status and a message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Rows:
    """A request's rows as Samples, with the rows that could not become one."""

    def __init__(self, rows: Sequence[Any], default_task: str | None) -> None:
        self.n = len(rows)
        self.samples: list[Sample] = []
        self.positions: list[int] = []
        self.bad: dict[int, str] = {}
        for i, row in enumerate(rows):
            try:
                self.samples.append(sample_from_row(row, index=i, default_task=default_task))
                self.positions.append(i)
            except RowError as exc:
                self.bad[i] = f"bad_row: {exc}"

    def spread(self, values: Sequence[Any], fill: Any) -> list[Any]:
        """Values of the good rows put back at their positions; ``fill`` for bad rows."""
        out = [fill] * self.n
        for pos, value in zip(self.positions, values):
            out[pos] = value
        return out

    def reasons(self, values: Sequence[str]) -> list[str]:
        out = self.spread(values, "")
        for pos, reason in self.bad.items():
            out[pos] = reason
        return out


def _limit(n: int, max_rows: int) -> None:
    if n > max_rows:
        raise RequestError(413, f"{n} rows in one request; this service takes at most {max_rows} "
                                f"(split the batch, or start it with a larger --max-rows)")


def score_rows(body: Any, max_rows: int, default_task: str | None) -> Rows:
    """``{"rows": [{...}, ...]}`` as Rows."""
    if not isinstance(body, Mapping) or not isinstance(body.get("rows"), list):
        raise RequestError(422, 'expected a JSON object {"rows": [{"completion": ..., "solution": ...}, ...]}')
    _limit(len(body["rows"]), max_rows)
    return Rows(body["rows"], default_task)


def _finite(value: float | None) -> float | None:
    return value if value is None or math.isfinite(value) else None


def score_body(rows: Rows, result: Any, weights: Mapping[str, float]) -> dict[str, Any]:
    """The /score response: columns (null where a reward does not apply), total, reasons, metrics."""
    rewards = {name: rows.spread([_finite(v) for v in col], None) for name, col in result.columns.items()}
    reasons = {name: rows.reasons(col) for name, col in result.reasons.items()}
    metrics = dict(result.metrics)
    for name in rewards:
        metrics[f"rewards/{name}/none"] = float(sum(v is None for v in rewards[name]))
    if rows.bad:
        metrics["service/bad_rows"] = float(len(rows.bad))
    return {"rewards": rewards, "total": rows.spread([_finite(t) for t in result.total], None),
            "reasons": reasons, "weights": dict(weights), "metrics": metrics}


def openrlhf_rows(body: Any, max_rows: int, default_task: str | None) -> Rows:
    """OpenRLHF's ``{"query": [...], "prompts": [...], "labels": [...]}`` as Rows."""
    if not isinstance(body, Mapping) or not isinstance(body.get("query"), list):
        raise RequestError(422, 'expected a JSON object {"query": [prompt + response, ...], "prompts": [...], '
                                '"labels": [...]} (OpenRLHF\'s remote reward protocol)')
    queries = body["query"]
    _limit(len(queries), max_rows)
    prompts = body.get("prompts")
    labels = body.get("labels")
    for key, values in (("prompts", prompts), ("labels", labels)):
        if values is not None and (not isinstance(values, list) or len(values) != len(queries)):
            raise RequestError(422, f"`{key}` must be a list with one entry per query ({len(queries)}); "
                                    f"got {len(values) if isinstance(values, list) else type(values).__name__}")
    rows: list[Any] = []
    for i, query in enumerate(queries):
        if not isinstance(query, str):
            rows.append({"completion": None})  # becomes a bad row with its reason
            continue
        prompt = prompts[i] if prompts is not None else None
        completion = response_from_query(query, prompt if isinstance(prompt, str) else None)
        rows.append(row_from_label(completion, labels[i] if labels is not None else None, prompt))
    return Rows(rows, default_task)


def openrlhf_body(rows: Rows, result: Any, na_reward: float) -> dict[str, Any]:
    """``{"rewards", "scores", "extra_logs"}``: numbers only, rows in order.

    ``rewards`` and ``scores`` are the weighted total (a reward that does not apply adds
    nothing); a row no reward applies to gets ``na_reward``. ``extra_logs`` has one list
    per configured reward, with ``na_reward`` where that reward does not apply.
    """
    totals = rows.spread([t if t is not None and math.isfinite(t) else na_reward for t in result.total], na_reward)
    logs = {name: rows.spread([v if v is not None and math.isfinite(v) else na_reward for v in col], na_reward)
            for name, col in result.columns.items()}
    return {"rewards": totals, "scores": list(totals), "extra_logs": logs}
