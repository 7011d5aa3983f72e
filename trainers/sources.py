"""Reading training rows: VLM-R1 data YAMLs (mixtures), JSON/JSONL files and ``datasets`` datasets.

Every row is converted (:mod:`vlmr1.trainers.conversion`), given a unique ``id`` and a
``source`` (file and line), and checked against ``schemas/row.schema.json``: a question to
ask, a ground truth, images that exist. All problems of one load are reported at once,
each naming the file and line (or dataset index); a missing image is an error that
names the row and the path tried (VLM-R1 silently trains on a random other row instead).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from vlmr1.errors import ConfigError

from .conversion import convert_row
from .sampling import Strategy

MAX_REPORTED = 20


class DataError(ConfigError):
    """Rows that cannot be trained on; the message lists each one with its file and line."""


@dataclass(frozen=True)
class Where:
    """Where a row came from: a file and 1-based line, or a dataset and index."""

    file: str
    line: int | None = None
    index: int | None = None

    def __str__(self) -> str:
        if self.line is not None:
            return f"{self.file}:{self.line}"
        if self.index is not None:
            return f"{self.file}[{self.index}]"
        return self.file


class Problems:
    """Collects every problem so one run of the loader reports them all."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: Where | str, message: str) -> None:
        self.items.append(f"{where}: {message}")

    def raise_if_any(self, what: str) -> None:
        if not self.items:
            return
        shown = self.items[:MAX_REPORTED]
        more = len(self.items) - len(shown)
        tail = f"\n  ... and {more} more" if more else ""
        raise DataError(f"{len(self.items)} problem(s) in {what}:\n  " + "\n  ".join(shown) + tail)



# -- reading files ------------------------------------------------------------------------


def read_records(path: Path) -> Iterator[tuple[Where, Any, str | None]]:
    """``(where, record, error)`` for each record of a ``.jsonl`` file or a ``.json`` array."""
    from vlmr1.documents import iter_jsonl

    if path.suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            yield Where(str(path), exc.lineno), None, f"not valid JSON: {exc.msg}"
            return
        if not isinstance(data, list):
            yield Where(str(path)), None, f"a .json data file must hold a list of rows, not a {type(data).__name__}"
            return
        for i, row in enumerate(data):
            ok = isinstance(row, dict)
            yield Where(str(path), index=i), row if ok else None, None if ok else f"expected an object, got {type(row).__name__}"
        return
    for line, row, err in iter_jsonl(path):
        yield Where(str(path), line), row, err



def check_row(row: Mapping[str, Any], where: Where, problems: Problems) -> None:
    """Schema, a question to ask, a ground truth, images that exist and sizes that match them."""
    from vlmr1.documents import schema_problems

    before = len(problems.items)
    for p in schema_problems(dict(row), "row", where.file, line=where.line):
        problems.add(where, f"{p.path}: {p.message}")
    if len(problems.items) > before:
        return
    rid = row.get("id")
    if not row.get("problem") and not row.get("prompt"):
        problems.add(where, f"row {rid!r} has no `problem` (or `prompt`, or VLM-R1 `conversations`) to ask")
    if "solution" not in row:
        problems.add(where, f"row {rid!r} has no `solution` (or a second `conversations` message)")
    images = row.get("image")
    for path in [images] if isinstance(images, str) else list(images or []):
        if not os.path.exists(path):
            problems.add(where, f"row {rid!r}: image not found: {path} — set `image_root` (in the mixture, its "
                                "dataset entry, or `data:`) to the folder the row's `image` is relative to")


# -- sources ------------------------------------------------------------------------------


def _finish(rows: list[tuple[Where, dict[str, Any]]], problems: Problems, what: str) -> list[dict[str, Any]]:
    """Unique ids, a ``source`` column, and every problem raised at once."""
    seen: set[str] = set()
    out = []
    for where, row in rows:
        rid = str(row["id"]) if row.get("id") is not None else f"{Path(where.file).stem}-{where.line or where.index}"
        if rid in seen:
            rid = f"{Path(where.file).stem}-{rid}"
        k = 2
        base = rid
        while rid in seen:
            rid, k = f"{base}#{k}", k + 1
        seen.add(rid)
        row["id"] = rid
        row.setdefault("source", str(where))
        check_row(row, where, problems)
        out.append(row)
    problems.raise_if_any(what)
    return out


def _load_file(path: Path, strategy: Strategy, rng: random.Random, image_root: Any, task: str | None,
               problems: Problems) -> list[tuple[Where, dict[str, Any]]]:
    if not path.is_file():
        problems.add(str(path), "no such data file")
        return []
    if path.suffix not in (".jsonl", ".json"):
        problems.add(str(path), "data files must be .jsonl (one row per line) or .json (a list of rows)")
        return []
    records = []
    for where, raw, err in read_records(path):
        if err:
            problems.add(where, err)
        else:
            records.append((where, raw))
    out = []
    for where, raw in strategy.apply(records, rng):
        try:
            out.append((where, convert_row(raw, image_root=image_root if image_root else path.parent, task=task)))
        except ValueError as exc:
            problems.add(where, str(exc))
    return out


def load_mixture(path: str | Path, *, seed: int = 0, image_root: str | Path | None = None,
                 task: str | None = None) -> list[dict[str, Any]]:
    """Rows of a VLM-R1 data YAML: ``datasets: [{json_path, sampling_strategy}]``.

    ``json_path`` and ``image_root`` are relative to the YAML's folder. The image root of a
    row is its dataset entry's ``image_root``, else the mixture's, else ``image_root``
    given here, else the data file's folder. ``random`` draws are seeded by ``seed``.
    """
    from vlmr1.documents import line_of, load_document, schema_problems

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such mixture file")
    data, lines = load_document(path)
    problems = Problems()
    if isinstance(data, dict):
        for i, entry in enumerate(data.get("datasets") or []):
            if isinstance(entry, dict) and "sampling_strategy" in entry:
                try:
                    Strategy.parse(entry["sampling_strategy"])
                except ValueError as exc:
                    problems.add(Where(str(path), line_of(lines, ("datasets", i, "sampling_strategy"))), str(exc))
    for p in schema_problems(data, "mixture", str(path), lines):
        if p.path.endswith(".sampling_strategy"):
            continue  # checked above, with VLM-R1's `first:10%` forms allowed
        problems.add(Where(p.file, p.line), f"{p.path}: {p.message}")
    problems.raise_if_any(f"mixture {path}")
    base = path.parent
    top_root = data.get("image_root")
    rng = random.Random(seed)
    rows: list[tuple[Where, dict[str, Any]]] = []
    for entry in data["datasets"]:
        root = entry.get("image_root") or top_root
        root = base / root if root else (Path(image_root) if image_root else None)
        strategy = Strategy.parse(entry.get("sampling_strategy", "all"))
        rows += _load_file(base / entry["json_path"], strategy, rng, root, entry.get("task") or task, problems)
    return _finish(rows, problems, f"the data of mixture {path}")


def load_jsonl(path: str | Path | Sequence[str | Path], *, image_root: Any = None, task: str | None = None,
               sampling_strategy: str = "all", seed: int = 0) -> list[dict[str, Any]]:
    """Rows of one ``.jsonl`` (or ``.json`` list) file, or of several.

    Images are relative to ``image_root`` or else the file's folder. For several files
    ``image_root`` may be a list of the same length, one folder per file (VLM-R1's
    ``--data_file_paths a:b --image_folders x:y``); the strategy applies to each file.
    """
    paths = [Path(p) for p in ([path] if isinstance(path, (str, Path)) else path)]
    roots = list(image_root) if isinstance(image_root, (list, tuple)) else [image_root] * len(paths)
    if len(roots) != len(paths):
        raise DataError(f"data: {len(paths)} data files but {len(roots)} image folders; give one folder per file, "
                        "or a single `image_root` for all of them.")
    try:
        strategy = Strategy.parse(sampling_strategy)
    except ValueError as exc:
        raise DataError(f"data: {exc}") from None
    problems = Problems()
    rng = random.Random(seed)
    rows = []
    for file, root in zip(paths, roots):
        rows += _load_file(file, strategy, rng, root, task, problems)
    return _finish(rows, problems, ", ".join(map(str, paths)))


def load_dataset_rows(dataset: Any, *, name: str = "dataset", image_root: str | Path | None = None,
                      task: str | None = None, image_cache: str | Path | None = None) -> list[dict[str, Any]]:
    """Rows of a ``datasets.Dataset`` (or any sequence of dicts), converted and checked.

    An ``image`` column of PIL images (or ``{"bytes", "path"}`` dicts, the datasets Image
    feature undecoded) is written once to ``image_cache`` as PNG, so rows carry paths.
    """
    problems = Problems()
    cache = Path(image_cache) if image_cache else Path(tempfile.gettempdir()) / "vlmr1-images"
    rows = []
    for i in range(len(dataset)):
        where = Where(name, index=i)
        raw = dict(dataset[i])
        try:
            raw["image"] = _image_to_path(raw.get("image"), cache)
            if raw["image"] is None:
                raw.pop("image")
            rows.append((where, convert_row(raw, image_root=image_root, task=task)))
        except (ValueError, OSError) as exc:
            problems.add(where, str(exc))
    return _finish(rows, problems, name)


def _image_to_path(value: Any, cache: Path) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        return [_image_to_path(v, cache) for v in value]
    if isinstance(value, dict):
        if value.get("bytes"):
            return _store(bytes(value["bytes"]), cache, ".img")
        if value.get("path"):
            return value["path"]
        raise ValueError("an `image` dict needs `bytes` or `path`")
    if hasattr(value, "save") and hasattr(value, "size"):  # a PIL image
        import io

        buf = io.BytesIO()
        value.save(buf, format="PNG")
        return _store(buf.getvalue(), cache, ".png")
    raise ValueError(f"`image` must be a path, PIL image or datasets Image dict, not {type(value).__name__}")


def _store(data: bytes, cache: Path, suffix: str) -> str:
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / (hashlib.sha256(data).hexdigest()[:24] + suffix)
    if not path.exists():
        tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return str(path)



def load_hf(hf: Any, base: Path, root: Path | None, task: str | None, strategy: str, seed: int) -> list[dict[str, Any]]:
    import datasets

    hf = {"path": hf} if isinstance(hf, str) else dict(hf)
    path = hf.pop("path", None)
    if not path:
        raise ConfigError("data.hf: give `path` (a saved dataset folder, a local data folder, or a hub name).")
    local = base / path
    if (local / "state.json").is_file() or (local / "dataset_dict.json").is_file():
        ds = datasets.load_from_disk(str(local))
        if isinstance(ds, datasets.DatasetDict):
            ds = ds[hf.get("split", "train")]
    else:
        hf.setdefault("split", "train")
        files = hf.get("data_files")
        if isinstance(files, str):
            hf["data_files"] = str(base / files)
        elif isinstance(files, (list, tuple)):
            hf["data_files"] = [str(base / f) for f in files]
        ds = datasets.load_dataset(str(local) if local.exists() else path, **hf)
    try:
        picked = Strategy.parse(strategy).apply(list(range(len(ds))), random.Random(seed))
    except ValueError as exc:
        raise ConfigError(f"data: {exc}") from None
    ds = ds.select(picked)
    return load_dataset_rows(ds, name=f"dataset {path}", image_root=root, task=task)

