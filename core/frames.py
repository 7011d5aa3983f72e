"""Coordinate frames: which pixels a box's numbers refer to, and conversion to one frame.

A box is meaningless without its frame. Qwen2.5-VL answers in pixels of the image *as
the processor resized it* (smart_resize: sides rounded to multiples of patch_size *
merge_size, total pixels kept between min_pixels and max_pixels), Qwen2-VL (and InternVL,
Qwen3-VL) in coordinates normalised to [0, 1000), datasets usually in pixels of the
original image. Comparing across frames without converting makes IoU collapse, so the
reward converts every box to original-image pixels first.

Frames: "original" (original pixels), "input" (model-input pixels), "norm1000",
"norm1". "auto" is resolved per row by :func:`resolve_frame` (rules in docs/rewards/iou.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vlmr1.types import Sample

__all__ = ["FAMILIES", "FRAMES", "Frames", "input_size_of", "resolve_frames", "scale_to_original", "smart_resize",
           "to_input", "to_original"]

FRAMES = ("original", "input", "norm1000", "norm1")
# Which frame each model family answers in when frame is "auto".
FAMILIES = {
    "qwen2-vl": "norm1000",
    "qwen2.5-vl": "input",
    "qwen3-vl": "norm1000",
    "internvl": "norm1000",
}
# Defaults of transformers' Qwen2-VL image processor (size.shortest_edge / longest_edge).
DEFAULT_MIN_PIXELS = 56 * 56
DEFAULT_MAX_PIXELS = 28 * 28 * 1280

Size = tuple[int, int]


def smart_resize(
    width: int,
    height: int,
    patch_size: int,
    merge_size: int = 2,
    min_pixels: int = DEFAULT_MIN_PIXELS,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Size:
    """The (width, height) the Qwen2-VL / Qwen2.5-VL image processor resizes an image to.

    The same arithmetic as transformers' ``smart_resize``: each side rounded to a
    multiple of ``factor = patch_size * merge_size``; if the area then exceeds
    ``max_pixels`` (or falls below ``min_pixels``) both sides are scaled by one factor
    and floored (ceiled) to multiples of ``factor``. Raises ValueError for an aspect
    ratio over 200, as the processor does.
    """
    factor = int(patch_size) * int(merge_size)
    if factor <= 0 or width <= 0 or height <= 0:
        raise ValueError(f"smart_resize needs positive sizes, got {width}x{height}, factor {factor}")
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"absolute aspect ratio must be smaller than 200, got {width}x{height}")
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return w_bar, h_bar


@dataclass(frozen=True)
class Frames:
    """The frames of one row, resolved: where the prediction and the gold live, and the
    sizes needed to bring both to original pixels. ``how`` says why (for details)."""

    pred: str
    gold: str
    image_size: Size | None
    input_size: Size | None
    how: str


def _size(v: Any) -> Size | None:
    if isinstance(v, (list, tuple)) and len(v) == 2:
        try:
            w, h = float(v[0]), float(v[1])
        except (TypeError, ValueError):
            return None
        if math.isfinite(w) and math.isfinite(h) and w > 0 and h > 0:
            return round(w), round(h)
    return None


def _setting(sample: Sample, params: Mapping[str, Any], key: str) -> Any:
    """A processor setting from params, else from the row's columns."""
    v = params.get(key)
    return v if v is not None else sample.get(key)


def family_of(sample: Sample, params: Mapping[str, Any]) -> str | None:
    raw = _setting(sample, params, "model_family")
    if not raw:
        return None
    key = str(raw).strip().lower().replace("_", "-").replace(" ", "-")
    key = {"qwen25-vl": "qwen2.5-vl", "qwen2-5-vl": "qwen2.5-vl", "qwen2vl": "qwen2-vl", "qwen2.5vl": "qwen2.5-vl"}.get(key, key)
    if key not in FAMILIES:
        raise ValueError(f"model_family {raw!r} is not one of {', '.join(FAMILIES)}")
    return key


def input_size_of(sample: Sample, params: Mapping[str, Any], image_size: Size | None) -> tuple[Size | None, str]:
    """The model-input size: given, from ``image_grid_thw`` x patch_size, or smart_resize."""
    given = _size(sample.input_size) or _size(sample.get("input_size"))
    if given is not None:
        return given, "input_size"
    patch = _setting(sample, params, "patch_size")
    grid = sample.get("image_grid_thw")
    if patch and isinstance(grid, (list, tuple)) and grid and isinstance(grid[0], (list, tuple)):
        grid = grid[0]  # one image per row: [[t, h, w]]
    if patch and isinstance(grid, (list, tuple)) and len(grid) == 3:
        size = _size((int(grid[2]) * int(patch), int(grid[1]) * int(patch)))
        if size is None:
            raise ValueError(f"image_grid_thw {list(grid)} x patch_size {patch} is not a positive size")
        return size, "image_grid_thw"
    if patch and image_size is not None:
        merge = _setting(sample, params, "merge_size") or 2
        lo = _setting(sample, params, "min_pixels") or DEFAULT_MIN_PIXELS
        hi = _setting(sample, params, "max_pixels") or DEFAULT_MAX_PIXELS
        return smart_resize(image_size[0], image_size[1], int(patch), int(merge), int(lo), int(hi)), "smart_resize"
    return None, ""


def resolve_frames(sample: Sample, params: Mapping[str, Any]) -> Frames | str:
    """Resolve ``frame`` / ``gold_frame`` for one row; a reason string when impossible.

    ``frame: auto`` (the default): the row's ``frame`` column if it names a frame; else
    the frame of ``model_family`` (param or column); else "input" when the model-input
    size is known and differs from the original size; else "original".
    """
    image_size = _size(sample.image_size) or _size(sample.get("image_size"))
    try:
        input_size, source = input_size_of(sample, params, image_size)
        family = family_of(sample, params)
    except (ValueError, TypeError) as exc:
        return f"bad_frame_settings: {exc}"[:120]
    pred = str(params.get("frame") or "auto")
    how = f"frame={pred}"
    if pred == "auto":
        column = sample.get("frame")
        if column in FRAMES:
            pred, how = column, "row frame column"
        elif family is not None:
            pred, how = FAMILIES[family], f"model_family {family}"
        elif input_size is not None and image_size is not None and input_size != image_size:
            pred, how = "input", f"input size {input_size} ({source}) differs from image size {image_size}"
        else:
            pred, how = "original", "no resize known"
    gold = str(params.get("gt_frame") or "original")
    for f in (pred, gold):
        if f not in FRAMES:
            return f"bad_frame: {f!r}"
        if f != "original" and image_size is None:
            return f"no_image_size: frame {f} needs image_size"
        if f == "input" and input_size is None:
            return "no_input_size: frame input needs input_size, image_grid_thw or patch_size"
    return Frames(pred, gold, image_size, input_size, how)


def scale_to_original(frame: str, image_size: Size | None, input_size: Size | None) -> tuple[float, float]:
    """Factors (sx, sy) that take x and y coordinates of ``frame`` to original pixels."""
    if frame == "original":
        return 1.0, 1.0
    assert image_size is not None
    w, h = image_size
    if frame == "norm1000":
        return w / 1000.0, h / 1000.0
    if frame == "norm1":
        return float(w), float(h)
    assert input_size is not None
    return w / input_size[0], h / input_size[1]


def to_original(coords: Sequence[float], frame: str, image_size: Size | None, input_size: Size | None) -> tuple[float, ...]:
    """Flat x, y coordinates in ``frame`` (a box x1, y1, x2, y2; a point; a polygon's
    vertices) as pixels of the original image. A rotated box (cx, cy, w, h, angle) is
    not flat x, y: turn it into its corner polygon first, since unequal x and y factors
    make it a parallelogram."""
    sx, sy = scale_to_original(frame, image_size, input_size)
    return tuple(c * (sy if i % 2 else sx) for i, c in enumerate(coords))


def to_input(coords: Sequence[float], image_size: Size, input_size: Size) -> tuple[float, ...]:
    """Flat x, y coordinates in original pixels as pixels of the model-input image."""
    sx, sy = input_size[0] / image_size[0], input_size[1] / image_size[1]
    return tuple(c * (sy if i % 2 else sx) for i, c in enumerate(coords))
