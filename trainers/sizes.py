"""Image sizes of training rows: the file's own, and the model input's after the processor's resize.

Box rewards compare answers and ground truth in one frame only if every row says how
large its image is (``image_size``) and how large the model saw it (``input_size``);
Qwen2.5-VL answers in pixels of the latter.
"""

from __future__ import annotations

from typing import Any

from vlmr1.errors import ConfigError

from .sources import Problems


class InputSizer:
    """The model-input size [w, h] of an image, from the processor's own resize.

    For Qwen-style image processors (``patch_size``, ``merge_size`` and a pixel budget)
    this is :func:`vlmr1.frames.smart_resize` (the processor's arithmetic), checked once
    against a real call of the image processor (``image_grid_thw * patch_size``); for any
    other processor with
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
        from vlmr1.frames import smart_resize

        patch, merge, lo, hi = self.fast  # type: ignore[misc]
        return smart_resize(width, height, patch, merge, min_pixels=lo, max_pixels=hi)

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
