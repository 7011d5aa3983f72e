"""The pictures of `vlmr1 inspect`: the shapes report views return, drawn on a row's image,
and histograms, from a file it should not trust.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from .errors import ReportError
from .frames import to_input
from .reportviews import Shape

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


@dataclass
class Panel:
    """What one view draws for one row: its shapes (original pixels) on a picture of the
    original image and one of the model-input size, the view's notes, and, once drawn,
    a note about the image and the names of the two PNGs."""

    view: str
    image_size: tuple[int, int] | None  # None: nothing can be drawn, only the notes shown
    input_size: tuple[int, int] | None
    shapes: list[Shape]
    notes: list[str] = field(default_factory=list)
    image_note: str = ""
    files: dict[str, str] = field(default_factory=dict)

    @property
    def roles(self) -> set[str]:
        return {s.role for s in self.shapes}


_COLOURS = {"gold": GT_COLOUR, "prediction": PRED_COLOUR, "as_given": RAW_COLOUR}


def _draw(img: Any, shapes: Sequence[Shape], scale: float, width: int) -> None:
    """Each shape, its coordinates times ``scale``, clipped near the canvas (a wild
    coordinate must not make Pillow allocate or loop)."""
    from PIL import ImageDraw

    draw = ImageDraw.Draw(img)
    side = float(max(img.size))
    for s in shapes:
        if not s.finite:
            continue
        colour = _COLOURS[s.role]
        w = 2 * width if s.role == "gold" else width
        pts = [(round(_clip(x * scale, side)), round(_clip(y * scale, side))) for x, y in zip(s.coords[0::2], s.coords[1::2])]
        if s.kind == "box":
            (x1, y1), (x2, y2) = pts
            draw.rectangle([min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)], outline=colour, width=w)
            corner = (min(x1, x2), min(y1, y2))
        elif s.kind == "point":
            (x, y), r = pts[0], 3 * w
            draw.line([(x - r, y), (x + r, y)], fill=colour, width=w)
            draw.line([(x, y - r), (x, y + r)], fill=colour, width=w)
            corner = (x + r, y - r)
        else:
            draw.line(pts + pts[:1], fill=colour, width=w, joint="curve")
            corner = min(pts)
        if s.label:
            try:
                draw.text((corner[0] + w, max(0, corner[1] - 12 - w)), s.label[:60], fill=colour)
            except (UnicodeError, ValueError, OSError):  # a label Pillow's fallback font cannot draw: the shape stays
                pass


_ORDER = {"as_given": 0, "gold": 1, "prediction": 2}  # drawn bottom to top


def draw_panels(panel: Panel, row: dict[str, Any], roots: Sequence[Path], out: Path, stem: str) -> Panel:
    """Write ``<stem>_input.png`` and ``<stem>_original.png``; record their names on ``panel``.

    Ground truth is drawn twice as thick and before the predictions, so where a
    prediction coincides with it both stay visible (green around red). Shapes "as given"
    go only on the original image, under everything else.
    """
    assert panel.image_size is not None
    image_size, input_size = panel.image_size, panel.input_size or panel.image_size
    orig_size, s_orig = display_size(image_size)
    in_size, s_in = display_size(input_size)
    original, panel.image_note = open_image(row, roots, orig_size)
    w = max(2, round(min(max(image_size), MAX_SIDE) / 300))
    layered = sorted(panel.shapes, key=lambda s: _ORDER[s.role])
    moved = [Shape(s.kind, to_input(s.coords, image_size, input_size), s.role, s.label)
             for s in layered if s.role != "as_given"]
    inp = original.resize(in_size)
    _draw(inp, moved, s_in, w)
    _draw(original, layered, s_orig, w)
    for key, img in (("input", inp), ("original", original)):
        name = f"{stem}_{key}.png"
        img.save(out / name)
        panel.files[key] = name
    return panel


def histogram_png(name: str, values: Sequence[float | None], path: Path) -> None:
    """A histogram of one column, nulls and off-scale values counted in the title."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ReportError("vlmr1 inspect draws histograms with matplotlib: pip install matplotlib (or vlmr1[train]).") from None
    scores = [v for v in values if v is not None and math.isfinite(v)]
    s = [v for v in scores if abs(v) <= MAX_SCORE]
    off = len(scores) - len(s)
    title = f"{name}  (n={len(s)}, null={len(values) - len(scores)}" + (f", {off} beyond ±{MAX_SCORE:g} not drawn)" if off else ")")
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
