"""Training rows from VLM-R1 mixtures, plain JSONL, Hugging Face datasets or shapes drawn in code.

Every source ends as a list of rows in vlmr1's row format (``schemas/row.schema.json``):
``id``, ``task``, ``problem``, ``image`` (an absolute path), ``image_size`` [w, h] of the
file on disk, ``input_size`` [w, h] of the image after the processor's own resize, and
``solution``; other columns are kept. Every row is checked before training starts and
all problems are reported at once, each naming the file and line (or dataset index).

VLM-R1 rows are converted: ``conversations`` [human, gpt] become ``problem`` and
``solution``, ``<image>`` markers are dropped, ``<answer>``-wrapped solutions are
unwrapped (JSON boxes parsed), and ``image`` is resolved against the image root. A
missing image is an error that names the row and the path tried (VLM-R1 silently
trains on a random other row instead).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from vlmr1.errors import ConfigError

MAX_REPORTED = 20
_STRATEGY = re.compile(r"^(?:(all)|(first|end|random):(\d+(?:\.\d+)?)(%?)|(\d+(?:\.\d+)?)%)$")
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


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


# -- sampling strategies -----------------------------------------------------------------


@dataclass(frozen=True)
class Strategy:
    """``all``, ``first:N``, ``end:N``, ``random:N`` (N a count or a percentage) or ``N%`` (random)."""

    kind: str
    number: float | None = None
    percent: bool = False

    @classmethod
    def parse(cls, text: Any) -> Strategy:
        m = _STRATEGY.match(str(text).strip()) if text is not None else None
        if not m:
            raise ValueError(f"sampling_strategy {text!r} is not one of all, first:N, end:N, random:N "
                             "(N a count, or a percentage like first:10%), N%")
        if m.group(1):
            return cls("all")
        if m.group(2):
            number = float(m.group(3))
            if not m.group(4) and not number.is_integer():
                raise ValueError(f"sampling_strategy {text!r}: a count must be a whole number")
            return cls(m.group(2), number, bool(m.group(4)))
        return cls("random", float(m.group(5)), True)

    def count(self, total: int) -> int:
        if self.number is None:
            return total
        n = math.ceil(self.number * total / 100) if self.percent else int(self.number)
        return max(0, min(total, n))

    def apply(self, items: list[Any], rng: random.Random) -> list[Any]:
        """The chosen items; ``random`` keeps the file order of those drawn (a seeded draw)."""
        n = self.count(len(items))
        if self.kind == "all":
            return list(items)
        if self.kind == "first":
            return items[:n]
        if self.kind == "end":
            return items[len(items) - n:]
        picked = sorted(rng.sample(range(len(items)), n))
        return [items[i] for i in picked]


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


# -- converting a row ---------------------------------------------------------------------


def unwrap_solution(value: Any) -> Any:
    """A ground truth as our verifiers read it: ``<answer>`` tags removed, JSON boxes parsed."""
    if not isinstance(value, str):
        return value
    text = value
    found = _ANSWER.findall(text)
    if found:
        text = found[-1]
    text = text.strip()
    if text[:1] in "[{":
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    return text


def _message_text(message: Mapping[str, Any]) -> Any:
    return message.get("value", message.get("content"))


def convert_row(raw: Mapping[str, Any], *, image_root: str | Path | None, task: str | None) -> dict[str, Any]:
    """A VLM-R1 (or already vlmr1) row in vlmr1's form; images become absolute paths."""
    row = dict(raw)
    conv = row.pop("conversations", None)
    if conv is not None:
        if not isinstance(conv, list) or len(conv) < 2 or not all(isinstance(m, dict) for m in conv[:2]):
            raise ValueError("`conversations` must be a list of at least two messages (question, then answer)")
        question, answer = _message_text(conv[0]), _message_text(conv[1])
        if not isinstance(question, str):
            raise ValueError("the first message of `conversations` has no text (`value` or `content`)")
        row.setdefault("problem", question)
        row.setdefault("solution", answer)
    if isinstance(row.get("problem"), str):
        row["problem"] = row["problem"].replace("<image>", "").strip()
    if "solution" in row:
        row["solution"] = unwrap_solution(row["solution"])
    if task and not row.get("task"):
        row["task"] = task
    image = row.get("image")
    if image is None and row.get("image_path") is not None:  # VLM-R1's processed column
        image = row.pop("image_path")
        if isinstance(image, list) and len(image) == 1:
            image = image[0]
    if image is not None:
        root = str(image_root) if image_root else "."
        if isinstance(image, str):
            row["image"] = os.path.abspath(os.path.join(root, image))
        elif isinstance(image, list) and all(isinstance(p, str) for p in image):
            row["image"] = [os.path.abspath(os.path.join(root, p)) for p in image]
        else:
            raise ValueError(f"`image` must be a path or a list of paths, not {type(image).__name__}")
    return row


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


# -- image sizes --------------------------------------------------------------------------


class InputSizer:
    """The model-input size [w, h] of an image, from the processor's own resize.

    For Qwen-style image processors (``patch_size``, ``merge_size`` and a pixel budget)
    this is their ``smart_resize``, checked once against a real call of the image
    processor (``image_grid_thw * patch_size``); for any other processor with
    ``image_grid_thw``, the image processor is run on a blank image of that size.
    """

    def __init__(self, processor: Any) -> None:
        self.ip = getattr(processor, "image_processor", None)
        self.cache: dict[tuple[int, int], tuple[int, int] | None] = {}
        self.fast = self._fast_params()
        if self.fast is not None and self._fast(97, 61) != self._measured(97, 61):
            self.fast = None

    def __call__(self, width: int, height: int) -> tuple[int, int] | None:
        key = (int(width), int(height))
        if key not in self.cache:
            self.cache[key] = self._fast(*key) if self.fast is not None else self._measured(*key)
        return self.cache[key]

    def _fast_params(self) -> tuple[int, int, int, int] | None:
        ip = self.ip
        patch, merge = getattr(ip, "patch_size", None), getattr(ip, "merge_size", None)
        size = getattr(ip, "size", None)
        size = dict(size) if size is not None else {}
        lo = size.get("shortest_edge", getattr(ip, "min_pixels", None))
        hi = size.get("longest_edge", getattr(ip, "max_pixels", None))
        if not all(isinstance(v, int) for v in (patch, merge, lo, hi)):
            return None
        return patch, merge, lo, hi

    def _fast(self, width: int, height: int) -> tuple[int, int]:
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
            smart_resize,
        )

        patch, merge, lo, hi = self.fast  # type: ignore[misc]
        h, w = smart_resize(height, width, factor=patch * merge, min_pixels=lo, max_pixels=hi)
        return w, h

    def _measured(self, width: int, height: int) -> tuple[int, int] | None:
        if self.ip is None:
            return None
        from PIL import Image

        out = self.ip(images=[Image.new("RGB", (width, height))], return_tensors="np")
        grid = out.get("image_grid_thw")
        patch = getattr(self.ip, "patch_size", None)
        if grid is None or patch is None:
            return None
        _, gh, gw = (int(v) for v in grid[0])
        return gw * patch, gh * patch


def add_image_sizes(rows: list[dict[str, Any]], processor: Any = None) -> list[dict[str, Any]]:
    """Fill ``image_size`` from the file (checking a stated one) and ``input_size`` from the processor.

    For rows with several images the sizes are those of the first (``image_sizes`` and
    ``input_sizes`` hold all of them).
    """
    from PIL import Image

    if processor is not None and getattr(processor, "image_processor", None) is None and any(r.get("image") for r in rows):
        raise ConfigError(
            f"add_image_sizes: the processor ({type(processor).__name__}) has no image processor, so the images' "
            "model-input size (input_size) cannot be computed, and a box reward would read a Qwen2.5-VL answer in "
            "the wrong frame. Pass the model's full processor (for a tiny model saved by vlmr1: "
            "vlmr1.trainers.tiny.load_tiny(path) or load_processor(path); AutoProcessor.from_pretrained returns only "
            "its tokenizer), or processor=None to fill image_size alone.")
    sizer = InputSizer(processor) if processor is not None else None
    problems = Problems()
    known: dict[str, Any] = {}
    for row in rows:
        images = row.get("image")
        if not images:
            continue
        paths = [images] if isinstance(images, str) else list(images)
        sizes = []
        for path in paths:
            if path not in known:  # many rows share an image (several questions per picture)
                try:
                    with Image.open(path) as im:
                        known[path] = list(im.size)
                except OSError as exc:
                    known[path] = f"cannot read image {path}: {exc}"
            if isinstance(known[path], str):
                problems.add(row.get("source", row.get("id")), f"row {row.get('id')!r}: {known[path]}")
            else:
                sizes.append(list(known[path]))
        if len(sizes) != len(paths):
            continue
        stated = row.get("image_size")
        if stated is not None and list(stated) != sizes[0]:
            problems.add(row.get("source", row.get("id")),
                         f"row {row.get('id')!r}: image_size {list(stated)} but {paths[0]} is {sizes[0][0]}x{sizes[0][1]} "
                         "(width x height); fix or drop the column")
            continue
        row["image_size"] = sizes[0]
        if len(sizes) > 1:
            row["image_sizes"] = sizes
        if sizer is not None:
            try:
                inputs = [sizer(w, h) for w, h in sizes]
            except ValueError as exc:  # e.g. an aspect ratio the processor refuses
                problems.add(row.get("source", row.get("id")), f"row {row.get('id')!r}: {exc}")
                continue
            if inputs[0] is not None:
                row["input_size"] = list(inputs[0])
                if len(inputs) > 1:
                    row["input_sizes"] = [list(s) for s in inputs]
    problems.raise_if_any("the images")
    return rows


# -- one entry point for `data:` in a config ------------------------------------------------

SOURCES = ("mixture", "jsonl", "hf", "synthetic")


def load_rows(spec: Mapping[str, Any], processor: Any = None, base_dir: str | Path = ".") -> list[dict[str, Any]]:
    """The rows of a config's ``data:`` block, with image sizes from ``processor``.

    Exactly one source: ``mixture`` (a VLM-R1 data YAML), ``jsonl`` (a file or a list),
    ``hf`` (``{path, split, name, data_files}`` for ``datasets``) or ``synthetic``
    (see :class:`vlmr1.trainers.synthetic.SyntheticSpec`; ``dir`` keeps the images).
    Also ``image_root`` (alias ``image_folder``; for a list of ``jsonl`` files, a list
    of folders, one per file), ``task``, ``seed`` and, for ``jsonl``/``hf``, ``sampling_strategy``.
    Paths are relative to ``base_dir`` (the config file's folder).
    """
    spec = dict(spec or {})
    given = [k for k in SOURCES if spec.get(k)]
    if len(given) != 1:
        raise ConfigError(f"data: give exactly one of {', '.join(SOURCES)} (got {', '.join(given) or 'none'}).")
    base = Path(base_dir)
    source = given[0]
    seed = int(spec.get("seed", 0))
    task = spec.get("task")
    root_spec = spec.get("image_root") or spec.get("image_folder") or spec.get("image_folders")
    if isinstance(root_spec, (list, tuple)):
        roots: Any = [base / r for r in root_spec]
        root = None
    else:
        root = roots = base / root_spec if root_spec else None
    if source == "mixture":
        rows = load_mixture(base / spec["mixture"], seed=seed, image_root=root, task=task)
    elif source == "jsonl":
        files = spec["jsonl"]
        files = [base / f for f in files] if isinstance(files, (list, tuple)) else base / files
        rows = load_jsonl(files, image_root=roots, task=task,
                          sampling_strategy=spec.get("sampling_strategy", "all"), seed=seed)
    elif source == "hf":
        rows = _load_hf(spec["hf"], base, root, task, spec.get("sampling_strategy", "all"), seed)
    else:
        return _load_synthetic(spec["synthetic"], base, processor)
    return add_image_sizes(rows, processor)


def _load_hf(hf: Any, base: Path, root: Path | None, task: str | None, strategy: str, seed: int) -> list[dict[str, Any]]:
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


def _load_synthetic(params: Any, base: Path, processor: Any) -> list[dict[str, Any]]:
    from . import synthetic

    params = dict(params) if isinstance(params, Mapping) else {}
    spec = synthetic.SyntheticSpec.from_mapping(params)
    key = hashlib.sha256(json.dumps(sorted({**params, "dir": None}.items()), default=str).encode()).hexdigest()[:16]
    out = base / params["dir"] if params.get("dir") else Path(tempfile.gettempdir()) / "vlmr1-synthetic" / key
    rows = synthetic.make_rows(spec, out)
    rows = add_image_sizes(rows, processor)
    frame = spec.answer_frame if processor is not None or spec.answer_frame != "input" else "original"
    return synthetic.with_answers(rows, frame)

