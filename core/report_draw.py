"""The pictures of `vlmr1 inspect`: box panels and histograms, from a file it should not trust.

A scored file names its images and their sizes; both come from whoever wrote the file.
So an image is read only from inside an image root (an absolute path or ``../`` that
leaves every root is refused before the file system is asked anything, so the note is
the same whether such a file exists or not; a link that leads out of a root is refused
too); an image with more pixels than :data:`MAX_PIXELS` is not decoded (a PNG of a few
hundred kB can hold 1.2 GB of pixels); and every panel is drawn at display size (at most
:data:`MAX_SIDE` a side), whatever ``image_size`` the row claims. Scores that are not
finite, or too large to bin, are left out of a histogram and counted in its title.

Pillow and matplotlib are imported inside the functions that draw.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

if TYPE_CHECKING:
    from .report import Box, BoxView, Column

GT_COLOUR = (0, 170, 0)  # green: ground truth
PRED_COLOUR = (220, 0, 0)  # red: prediction in this panel's frame
RAW_COLOUR = (255, 140, 0)  # orange: prediction drawn without any conversion
GREY = (128, 128, 128)
MAX_SIDE = 1600  # panels are drawn at most this large, boxes scaled with them
MAX_PIXELS = 40_000_000  # larger images are not decoded (about 120 MB as RGB)
MAX_SCORE = 1e12  # scores beyond this are not binned: no reward lives there, and matplotlib cannot bin ±1e308


def display_size(size: tuple[int, int]) -> tuple[tuple[int, int], float]:
    """The size a panel is drawn at, and the factor from the row's pixels to it."""
    scale = min(1.0, MAX_SIDE / max(size))
    return (max(1, round(size[0] * scale)), max(1, round(size[1] * scale))), scale


def image_path(ref: Any, roots: Sequence[Path]) -> tuple[Path | None, str]:
    """Where the row's image is, inside one of ``roots``; or None and a note saying why not.

    Containment is decided on the path's text first, so a path outside every root is
    refused without touching it: the note cannot tell whether it exists.
    """
    if isinstance(ref, list):
        ref = ref[0] if ref else None
    if ref is None or ref == "":
        return None, "the row names no image; boxes drawn on a blank canvas"
    if not isinstance(ref, str) or "\x00" in ref:
        return None, f"the row's image {ref!r} is not a file path; boxes drawn on a blank canvas"
    inside = []
    for root in roots:
        base = os.path.abspath(root)
        candidate = os.path.normpath(os.path.join(base, ref))  # an absolute ref replaces base
        if os.path.commonpath([base, candidate]) == base:
            inside.append((base, candidate))
    where = ", ".join(str(r) for r in roots)
    if not inside:
        return None, f"image {ref!r} is outside the image roots ({where}) and was not read; pass --image-root DIR for the folder that holds it"
    for base, candidate in inside:
        real = os.path.realpath(candidate)
        if os.path.commonpath([os.path.realpath(base), real]) != os.path.realpath(base):
            return None, f"image {ref!r} is a link that leads outside the image roots ({where}) and was not read"
        if os.path.isfile(real):
            return Path(real), ""
    return None, f"image {ref!r} not found under {where}; pass --image-root DIR"


def open_image(row: dict[str, Any], roots: Sequence[Path], size: tuple[int, int]) -> tuple[Any, str]:
    """The row's image at ``size`` (display size), or a grey canvas and a note saying why."""
    from PIL import Image

    canvas = Image.new("RGB", size, GREY)
    path, note = image_path(row.get("image"), roots)
    if path is None:
        return canvas, note
    ref = row.get("image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
            w, h = img.size
            if w * h > MAX_PIXELS:
                return canvas, f"image {ref!r} is {w}x{h} ({w * h / 1e6:.0f} Mpx), more pixels than the report decodes ({MAX_PIXELS / 1e6:.0f} Mpx); boxes drawn on a blank canvas"
            img.draft("RGB", size)  # JPEG decodes at a reduced scale when it can
            img = img.convert("RGB")
    except Image.DecompressionBombError:  # Pillow's own limit, above ours
        return canvas, f"image {ref!r} has more pixels than the report decodes ({MAX_PIXELS / 1e6:.0f} Mpx); boxes drawn on a blank canvas"
    except Exception as exc:  # noqa: BLE001 - any decoder failure on an untrusted file is a note
        return canvas, f"could not read image {ref!r}: {type(exc).__name__}: {str(exc)[:200]}"
    return img.resize(size), ""


def _clip(v: float, side: float) -> float:
    return min(max(v, -side), 2 * side)


def _draw(img: Any, boxes: Iterable[tuple[Box, tuple[int, int, int]]], width: int) -> Any:
    from PIL import ImageDraw

    draw = ImageDraw.Draw(img)
    side = float(max(img.size))
    for box, colour in boxes:
        if not all(math.isfinite(c) for c in box):
            continue
        x1, y1, x2, y2 = (round(_clip(c, side)) for c in box)
        draw.rectangle([min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)], outline=colour, width=width)
    return img


def _panel(img: Any, scale: float, layers: Sequence[tuple[Sequence[Box], tuple[int, int, int], int]]) -> Any:
    """Draw layers of boxes (first layer lowest) on ``img``, their coordinates times ``scale``."""
    for boxes, colour, width in layers:
        _draw(img, [(tuple(c * scale for c in b), colour) for b in boxes], width)  # type: ignore[misc]
    return img


def draw_box_panels(view: BoxView, row: dict[str, Any], roots: Sequence[Path], out: Path, stem: str) -> BoxView:
    """Write ``<stem>_input.png`` and ``<stem>_original.png``; record their names on ``view``.

    Ground truth is drawn twice as thick and first, so where a prediction coincides with
    it both stay visible (green around red).
    """
    from .report import to_input, to_original

    orig_size, s_orig = display_size(view.image_size)
    in_size, s_in = display_size(view.input_size)
    original, view.image_note = open_image(row, roots, orig_size)
    w = max(2, round(min(max(view.image_size), MAX_SIDE) / 300))
    conv = [to_original(b, view.frame, view.image_size, view.input_size) for b in view.pred_raw]
    gold_in = [to_input(g, view.image_size, view.input_size) for g in view.gold]
    pred_in = [to_input(b, view.image_size, view.input_size) for b in conv]
    inp = _panel(original.resize(in_size), s_in, [(gold_in, GT_COLOUR, 2 * w), (pred_in, PRED_COLOUR, w)])
    raw = [(view.pred_raw, RAW_COLOUR, w)] if view.frame != "original" else []
    orig = _panel(original, s_orig, raw + [(view.gold, GT_COLOUR, 2 * w), (conv, PRED_COLOUR, w)])
    for key, img in (("input", inp), ("original", orig)):
        name = f"{stem}_{key}.png"
        img.save(out / name)
        view.files[key] = name
    return view


def histogram_png(col: Column, path: Path) -> None:
    """A histogram of one column, nulls and off-scale values counted in the title."""
    from .report import ReportError

    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ReportError("vlmr1 inspect draws histograms with matplotlib: pip install matplotlib (or vlmr1[train]).") from None
    s = [v for v in col.scores if abs(v) <= MAX_SCORE]
    off = len(col.scores) - len(s)
    title = f"{col.name}  (n={len(s)}, null={len(col.values) - len(col.scores)}" + (f", {off} beyond ±{MAX_SCORE:g} not drawn)" if off else ")")
    fig = Figure(figsize=(4, 2.6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if s:
        lo, hi = min(min(s), 0.0), max(max(s), 1.0)  # rewards mostly live in [0, 1]: keep that axis
        ax.hist(s, bins=20, range=(lo, hi), color="#4a78b5")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("score", fontsize=8)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    fig.savefig(path)
