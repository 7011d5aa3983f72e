"""Training rows from VLM-R1 mixtures, plain JSONL, Hugging Face datasets or shapes drawn in code.

Every source ends as a list of rows in vlmr1's row format (``schemas/row.schema.json``):
``id``, ``task``, ``problem``, ``image`` (an absolute path), ``image_size`` [w, h] of the
file on disk, ``input_size`` [w, h] of the image after the processor's own resize, and
``solution``; other columns are kept. Every row is checked before training starts and
all problems are reported at once, each naming the file and line (or dataset index).

The work is split by concern: :mod:`~vlmr1.trainers.sampling` (``sampling_strategy``),
:mod:`~vlmr1.trainers.conversion` (VLM-R1 rows), :mod:`~vlmr1.trainers.sources`
(files, mixtures, datasets) and :mod:`~vlmr1.trainers.sizes` (image sizes). This module
reads a config's ``data:`` block in two steps, so that ``vlmr1 train`` finds every data
problem before it loads a model: :func:`read_rows` (no processor needed) and
:func:`size_rows` (the processor's resize).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from .conversion import convert_row, unwrap_solution
from .sampling import Strategy
from .settings import SOURCES, DataSettings
from .sizes import InputSizer, add_image_sizes
from .sources import (
    MAX_REPORTED,
    DataError,
    Problems,
    Where,
    check_row,
    load_dataset_rows,
    load_jsonl,
    load_mixture,
    read_records,
)

__all__ = ["MAX_REPORTED", "SOURCES", "DataError", "InputSizer", "LoadedRows", "Problems", "Strategy", "Where",
           "add_image_sizes", "check_row", "convert_row", "load_dataset_rows", "load_jsonl", "load_mixture",
           "load_rows", "read_records", "read_rows", "size_rows", "unwrap_solution"]


@dataclass
class LoadedRows:
    """Rows read and checked, before the processor's sizes; synthetic rows remember their spec
    because their reference answers are written in the model's frame once sizes are known."""

    rows: list[dict[str, Any]]
    synthetic: Any = None  # a synthetic.SyntheticSpec


def load_rows(spec: Mapping[str, Any] | DataSettings, processor: Any = None, base_dir: str | Path = ".") -> list[dict[str, Any]]:
    """The rows of a config's ``data:`` block, with image sizes from ``processor``.

    Exactly one source: ``mixture`` (a VLM-R1 data YAML), ``jsonl`` (a file or a list),
    ``hf`` (``{path, split, name, data_files}`` for ``datasets``) or ``synthetic``
    (see :class:`vlmr1.trainers.synthetic.SyntheticSpec`; ``dir`` keeps the images).
    Also ``image_root`` (alias ``image_folder``; for a list of ``jsonl`` files, a list
    of folders, one per file), ``task``, ``seed`` and, for ``jsonl``/``hf``, ``sampling_strategy``.
    Paths are relative to ``base_dir`` (the config file's folder).
    """
    return size_rows(read_rows(spec, base_dir), processor)


def read_rows(spec: Mapping[str, Any] | DataSettings, base_dir: str | Path = ".") -> LoadedRows:
    """The rows of ``data:``, read, converted and checked; image sizes are :func:`size_rows`' job."""
    from .sources import load_hf

    data = DataSettings.parse(spec)
    base = Path(base_dir)
    if isinstance(data.image_root, (list, tuple)):
        roots: Any = [base / r for r in data.image_root]
        root = None
    else:
        root = roots = base / data.image_root if data.image_root else None
    if data.source == "mixture":
        rows = load_mixture(base / data.mixture, seed=data.seed, image_root=root, task=data.task)
    elif data.source == "jsonl":
        files = data.jsonl
        files = [base / f for f in files] if isinstance(files, (list, tuple)) else base / files
        rows = load_jsonl(files, image_root=roots, task=data.task, sampling_strategy=data.sampling_strategy, seed=data.seed)
    elif data.source == "hf":
        rows = load_hf(data.hf, base, root, data.task, data.sampling_strategy, data.seed)
    else:
        return _draw_synthetic(data.synthetic, base)
    return LoadedRows(rows)


def size_rows(loaded: LoadedRows, processor: Any = None) -> list[dict[str, Any]]:
    """The rows with ``image_size`` (from the files) and ``input_size`` (from ``processor``)."""
    rows = add_image_sizes(loaded.rows, processor)
    spec = loaded.synthetic
    if spec is None:
        return rows
    from . import synthetic

    frame = spec.answer_frame if processor is not None or spec.answer_frame != "input" else "original"
    return synthetic.with_answers(rows, frame)


def _draw_synthetic(params: Any, base: Path) -> LoadedRows:
    from . import synthetic

    params = dict(params) if isinstance(params, Mapping) else {}
    spec = synthetic.SyntheticSpec.from_mapping(params)
    key = hashlib.sha256(json.dumps(sorted({**params, "dir": None}.items()), default=str).encode()).hexdigest()[:16]
    out = base / params["dir"] if params.get("dir") else Path(tempfile.gettempdir()) / "vlmr1-synthetic" / key
    return LoadedRows(synthetic.make_rows(spec, out), spec)
