"""Scoring a JSONL file with the engine: streaming, resumable, atomic.

Record ``k`` of the output belongs to the ``k``-th non-blank input line, always (a
malformed line gets a record too), so a run can resume from the number of whole
records already in ``OUT.partial``. Records are written one chunk at a time, each
chunk flushed and fsynced; a torn last line (killed mid-write) is cut off on resume.
The finished file is moved into place with ``os.replace``, so ``OUT`` either does
not exist or is complete. One run at a time writes an output (``OUT.lock``), and a
full disk or a file-size limit stops the run with a clear error and a resumable
``.partial`` (see :mod:`vlmr1.outfile`).

No row can stop a run: a line that cannot be read, a row that cannot be scored, and a
row on which the engine itself fails each get a record with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import Config
from .documents import iter_jsonl
from .errors import VlmrError
from .metrics import Summary, Tally
from .outfile import PartialWriter, output_lock, partial_of, recover_partial, refuse_same_file
from .rows import bad_row_reason, sample_from_row
from .verdicts import clean_text

__all__ = ["ScoreSummary", "recover_partial", "score_file"]

@dataclass
class ScoreSummary:
    """What a run did: rows written (resumed + new), malformed rows, and a
    :class:`~vlmr1.metrics.Tally` per reward column and for the weighted total.

    Failures are read from each record's ``failures`` (what the engine knew when it
    scored the row), not guessed from reason texts."""

    rows: int = 0
    resumed: int = 0
    malformed: int = 0
    rewards: dict[str, Tally] = field(default_factory=dict)
    total: Tally = field(default_factory=Tally)

    def add(self, record: dict[str, Any]) -> None:
        self.rows += 1
        rewards = record.get("rewards") or {}
        failures = record.get("failures") or {}
        for name, value in rewards.items():
            kind = failures.get(name) if isinstance(failures, dict) else None
            self.rewards.setdefault(name, Tally()).add(_number(value), kind if isinstance(kind, str) else None)
        self.total.add(_number(record.get("reward")))

    def columns(self) -> dict[str, Summary]:
        """Each reward column's :class:`~vlmr1.metrics.Summary`, in the order first seen."""
        return {name: t.summary() for name, t in self.rewards.items()}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


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
    details: bool = False,
) -> ScoreSummary:
    """Score ``input_path`` into ``output_path`` (resuming ``output_path + '.partial'``).

    Raises OutputBusyError when another run writes the same output, OutputWriteError when
    the output cannot be written (the partial file stays resumable), VlmrError when the
    output is the input. ``details`` writes each verdict's answer and details into its
    record (``details: {column: {answer, details}}``).
    """
    input_path, output_path = Path(input_path), Path(output_path)
    refuse_same_file(input_path, output_path, partial_of(output_path))
    with output_lock(output_path):
        return score_locked(config, input_path, output_path, registry=registry, chunk_size=chunk_size,
                            on_bad_line=on_bad_line, on_progress=on_progress, details=details)


def score_locked(config: Config, input_path: Path, output_path: Path, *, registry: Any = None, chunk_size: int = 256,
                 on_bad_line: Callable[[int, str], None] | None = None,
                 on_progress: Callable[[int], None] | None = None,
                 on_chunk: Callable[[list[int]], None] | None = None,
                 engine_options: dict[str, Any] | None = None, details: bool = False) -> ScoreSummary:
    """:func:`score_file` for a caller that already holds the output's lock. ``on_chunk``
    gets the input line of each sample of a chunk before it is scored; ``engine_options``
    go to the Engine (see :func:`vlmr1.supervise.score_supervised`)."""
    from .engine import Engine

    partial = partial_of(output_path)
    summary = ScoreSummary()
    done = recover_partial(partial)
    if done:
        with open(partial, encoding="utf-8") as fh:
            for line in fh:
                summary.add(json.loads(line))
        summary.resumed = done
    with Engine(config, registry=registry, **(engine_options or {})) as engine:
        out = PartialWriter(partial, done)
        try:
            seen = 0
            chunk: list[tuple[int, dict[str, Any] | None, str | None]] = []
            check: Path | None = input_path  # the first chunk's rows are checked before it is scored
            for item in iter_jsonl(input_path):
                seen += 1
                if seen <= done:
                    continue
                chunk.append(item)
                if len(chunk) >= chunk_size:
                    _write_chunk(engine, chunk, out, summary, on_bad_line, on_progress, on_chunk, details, check)
                    chunk, check = [], None
            if chunk:
                _write_chunk(engine, chunk, out, summary, on_bad_line, on_progress, on_chunk, details, check)
        except BaseException:
            out.close()
            raise
        if seen < done:
            out.close()
            raise RowCountError(f"{partial} holds {done} records but {input_path} has only {seen} rows: it was written for another input. "
                                f"Delete {partial} to start over.")
    out.finish(output_path)
    return summary


class RowCountError(VlmrError):
    """The partial output has more records than the input has rows."""


def _write_chunk(engine: Any, chunk: list, out: PartialWriter, summary: ScoreSummary,
                 on_bad_line: Callable[[int, str], None] | None, on_progress: Callable[[int], None] | None,
                 on_chunk: Callable[[list[int]], None] | None = None, details: bool = False,
                 check: Path | None = None) -> None:
    """Score one chunk and write its records; ``check``: the input, when this chunk's rows are
    first checked for the columns the rewards need (:meth:`vlmr1.engine.Engine.check_rows`)."""
    names = engine.names
    samples, slots = [], []
    records: list[dict[str, Any] | None] = []
    for n, row, error in chunk:
        if row is not None:
            try:
                samples.append(sample_from_row(row, index=len(samples), default_task=engine.config.task))
                slots.append(len(records))
                records.append(None)
                continue
            except Exception as exc:  # noqa: BLE001 - a row this odd is still only one row
                error = bad_row_reason(exc)
        assert error is not None
        if on_bad_line:
            on_bad_line(n, error)
        summary.malformed += 1
        if row is None:
            records.append({"_line": n, "rewards": {}, "reward": None, "reasons": {"_input": error}})
        else:
            records.append({**row, "rewards": {k: None for k in names}, "reward": None, "reasons": {k: error for k in names},
                            "failures": {}})
    if samples:
        lines = [chunk[slot][0] for slot in slots]
        if check is not None:
            engine.check_rows(samples, source=f"the first {len(samples)} rows of {check}", labels=[f"line {n}" for n in lines])
        if on_chunk:
            on_chunk(lines)
        for slot, scored in zip(slots, _score_rows(engine, samples, lines, on_bad_line, details)):
            records[slot] = {**chunk[slot][1], **scored}
    encoded = []
    for (n, _, _), record in zip(chunk, records):
        assert record is not None
        line, record = _encode(record, n, names)
        summary.add(record)
        encoded.append(line)
    out.write_lines(encoded)
    if on_progress:
        on_progress(len(chunk))


def _score_rows(engine: Any, samples: list, lines: list[int], on_bad_line: Callable[[int, str], None] | None,
                details: bool = False) -> list[dict[str, Any]]:
    """Each sample's ``{"rewards", "reward", "reasons"}``. Should the engine fail on a batch
    (a bug, not a plugin failure: those are verdicts), the batch is halved until the row
    that makes it fail is found, and only that row gets the failure."""
    try:
        result = engine.score(samples)
        rows = [result.row(i, details) for i in range(len(samples))]
        return [{**r, "failures": r.get("failures", {})} for r in rows]  # always: a row's own key is not read as ours
    except VlmrError:  # strict mode, a config problem: the user asked to stop
        raise
    except Exception as exc:  # noqa: BLE001
        if len(samples) > 1:
            mid = len(samples) // 2
            return (_score_rows(engine, samples[:mid], lines[:mid], on_bad_line, details)
                    + _score_rows(engine, samples[mid:], lines[mid:], on_bad_line, details))
        reason = clean_text(f"error: engine: {type(exc).__name__}: {exc}", 300)
        if on_bad_line:
            on_bad_line(lines[0], reason)
        return [{"rewards": {k: None for k in engine.names}, "reward": None, "reasons": {k: reason for k in engine.names},
                 "failures": {k: "error" for k in engine.names}}]


def _encode(record: dict[str, Any], n: int, names: list[str]) -> tuple[bytes, dict[str, Any]]:
    """One output line. The reader keeps unwritable values out of rows and the engine keeps
    them out of verdicts; should one get through anyway, the row's line still gets a record."""
    try:
        line = json.dumps(record, ensure_ascii=False, allow_nan=False, default=str)
        if not line.isascii():  # characters str.splitlines() splits on: escaped, so one record is one line for any reader
            line = line.replace("\x85", "\\u0085").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
        return (line + "\n").encode("utf-8"), record
    except (ValueError, TypeError, RecursionError, UnicodeEncodeError) as exc:
        reason = clean_text(f"record could not be written as JSON: {type(exc).__name__}: {exc}", 300)
        record = {"_line": n, "rewards": {k: None for k in names}, "reward": None, "reasons": {"_output": reason}}
        return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"), record
