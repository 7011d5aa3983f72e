"""Scoring a JSONL file with the engine: streaming, resumable, atomic.

Record ``k`` of the output belongs to the ``k``-th non-blank input line, always (a
malformed line gets a record too), so a run can resume from the number of whole
records already in ``OUT.partial``. Records are written one chunk at a time, each
chunk flushed and fsynced; a torn last line (killed mid-write) is cut off on resume.
The finished file is moved into place with ``os.replace``, so ``OUT`` either does
not exist or is complete.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import Config
from .documents import iter_jsonl
from .errors import VlmrError
from .rows import RowError, sample_from_row

__all__ = ["ScoreSummary", "recover_partial", "score_file"]

FAILURE_PREFIXES = ("error", "crashed", "memory", "gold_error")


@dataclass
class RewardTally:
    count: int = 0
    total: float = 0.0
    none: int = 0
    errors: int = 0
    timeouts: int = 0

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None


@dataclass
class ScoreSummary:
    """What a run did: rows written (resumed + new), malformed rows, per-reward tallies."""

    rows: int = 0
    resumed: int = 0
    malformed: int = 0
    rewards: dict[str, RewardTally] = field(default_factory=dict)
    total: RewardTally = field(default_factory=RewardTally)

    def add(self, record: dict[str, Any]) -> None:
        self.rows += 1
        rewards = record.get("rewards") or {}
        reasons = record.get("reasons") or {}
        for name, value in rewards.items():
            t = self.rewards.setdefault(name, RewardTally())
            reason = str(reasons.get(name, ""))
            if value is None:
                t.none += 1
                t.timeouts += reason == "timeout"
                t.errors += reason.startswith(FAILURE_PREFIXES)
            else:
                t.count += 1
                t.total += float(value)
        if record.get("reward") is None:
            self.total.none += 1
        else:
            self.total.count += 1
            self.total.total += float(record["reward"])


def recover_partial(partial: Path) -> int:
    """Cut a torn last line off ``partial`` and return how many whole records it holds.

    Returns the count; the file is truncated in place to the end of the last whole record.
    """
    if not partial.exists():
        return 0
    good_end = 0
    count = 0
    with open(partial, "rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                break
            try:
                json.loads(raw)
            except ValueError:
                break
            good_end += len(raw)
            count += 1
    if good_end != partial.stat().st_size:
        with open(partial, "r+b") as fh:
            fh.truncate(good_end)
            fh.flush()
            os.fsync(fh.fileno())
    return count


def count_records(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for raw in fh if raw.strip())


def score_file(
    config: Config,
    input_path: str | Path,
    output_path: str | Path,
    *,
    registry: Any = None,
    chunk_size: int = 256,
    on_bad_line: Callable[[int, str], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ScoreSummary:
    """Score ``input_path`` into ``output_path`` (resuming ``output_path + '.partial'``)."""
    from .engine import Engine

    input_path, output_path = Path(input_path), Path(output_path)
    partial = output_path.with_name(output_path.name + ".partial")
    summary = ScoreSummary()
    done = recover_partial(partial)
    if done:
        with open(partial, encoding="utf-8") as fh:
            for line in fh:
                summary.add(json.loads(line))
        summary.resumed = done
    names: list[str] = []
    with Engine(config, registry=registry) as engine, open(partial, "a", encoding="utf-8") as out:
        names = engine.names
        seen = 0
        chunk: list[tuple[int, dict[str, Any] | None, str | None]] = []
        for item in iter_jsonl(input_path):
            seen += 1
            if seen <= done:
                continue
            chunk.append(item)
            if len(chunk) >= chunk_size:
                _write_chunk(engine, names, chunk, out, summary, on_bad_line)
                if on_progress:
                    on_progress(len(chunk))
                chunk = []
        if chunk:
            _write_chunk(engine, names, chunk, out, summary, on_bad_line)
            if on_progress:
                on_progress(len(chunk))
        if seen < done:
            raise RowCountError(f"{partial} holds {done} records but {input_path} has only {seen} rows: it was written for another input. "
                                f"Delete {partial} to start over.")
    os.replace(partial, output_path)
    return summary


class RowCountError(VlmrError):
    """The partial output has more records than the input has rows."""


def _write_chunk(engine: Any, names: list[str], chunk: list, out: Any, summary: ScoreSummary,
                 on_bad_line: Callable[[int, str], None] | None) -> None:
    samples, slots = [], []
    records: list[dict[str, Any] | None] = []
    for n, row, error in chunk:
        if row is not None:
            try:
                samples.append(sample_from_row(row, index=len(samples), default_task=engine.config.task))
                slots.append(len(records))
                records.append(None)
                continue
            except RowError as exc:
                error = f"invalid row: {exc}"
        assert error is not None
        if on_bad_line:
            on_bad_line(n, error)
        summary.malformed += 1
        if row is None:
            records.append({"_line": n, "rewards": {}, "reward": None, "reasons": {"_input": error}})
        else:
            records.append({**row, "rewards": {k: None for k in names}, "reward": None, "reasons": {k: error for k in names}})
    if samples:
        result = engine.score(samples)
        for i, slot in enumerate(slots):
            n, row, _ = chunk[slot]
            records[slot] = {**row, **result.row(i)}
    lines = []
    for record in records:
        assert record is not None
        summary.add(record)
        lines.append(json.dumps(record, ensure_ascii=False, allow_nan=False, default=str))
    out.write("\n".join(lines) + "\n")
    out.flush()
    os.fsync(out.fileno())
