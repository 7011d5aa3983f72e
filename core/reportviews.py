"""Report views: how a plugin shows its own answers in `vlmr1 inspect`'s report.

The report itself knows rewards only as columns of numbers and reasons. What an answer
*means* — boxes on an image, points, polygons, a set of labelled detections — belongs to
the plugin that parses it, so a plugin registers a :class:`ReportView` through the
``register_report_views`` hook:

- ``applies(row)``: whether the view has something to draw for a scored row;
- ``shapes(row, options)``: what to draw, as :class:`Shape` records in pixels of the
  original image (the report scales them onto a picture of the original image and one
  of the model-input size);
- ``notes(row, options)`` (optional): lines of text shown under that row's pictures;
- ``checks(rows, options)`` (optional): :class:`Notice` records about the whole file,
  shown at the top of the page (the iou plugin's frame check is one).

``options`` holds the report's own settings that a view may honour: ``frame`` (the
``--frame`` flag: which frame the model's coordinates are in, ``auto`` per row).
Rows are the scored records as ``vlmr1 score`` wrote them (plain dicts, untrusted).
A view's callables may be given as ``"module:attr"`` strings, imported on first use.
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .types import Provenance

__all__ = ["KINDS", "LEVELS", "ROLES", "Notice", "ReportView", "Shape", "detections", "resolve"]

Row = Mapping[str, Any]
KINDS = ("box", "point", "polygon")
ROLES = ("gold", "prediction", "as_given")
LEVELS = ("info", "warning")
_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,60}$")


@dataclass(frozen=True)
class Shape:
    """One thing to draw, in pixels of the original image.

    ``kind``: "box" (x1, y1, x2, y2), "point" (x, y) or "polygon" (x0, y0, x1, y1, ...).
    ``role``: "gold" (green), "prediction" (red: converted to original pixels) or
    "as_given" (orange: the model's numbers read as original pixels without any
    conversion, drawn only on the original-image picture, so a wrong frame shows).
    ``label`` is written beside the shape (a detection's class).
    """

    kind: str
    coords: tuple[float, ...]
    role: str = "prediction"
    label: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Shape kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.role not in ROLES:
            raise ValueError(f"Shape role {self.role!r} is not one of {', '.join(ROLES)}")
        coords = tuple(float(c) for c in self.coords)
        need = {"box": 4, "point": 2}.get(self.kind)
        if (need is not None and len(coords) != need) or (self.kind == "polygon" and (len(coords) < 6 or len(coords) % 2)):
            raise ValueError(f"a {self.kind} Shape needs {need or 'an even number (at least 6) of'} coordinates, got {len(coords)}")
        object.__setattr__(self, "coords", coords)

    @property
    def finite(self) -> bool:
        return all(math.isfinite(c) for c in self.coords)


def detections(items: Iterable[tuple[str | None, Sequence[float]]], role: str = "prediction") -> list[Shape]:
    """A labelled detection set, ``[(label, (x1, y1, x2, y2)), ...]``, as box Shapes."""
    return [Shape("box", tuple(box), role, label) for label, box in items]


@dataclass(frozen=True)
class Notice:
    """A message about the file as a whole: a ``title``, the ``message`` (plain text;
    `backticks` are shown as code), ``level`` "info" or "warning" (highlighted), and
    ``key``, the HTML anchor of the message on the page."""

    title: str
    message: str
    level: str = "info"
    key: str = "notice"

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"Notice level {self.level!r} is not one of {', '.join(LEVELS)}")
        if not _KEY.match(self.key):
            raise ValueError(f"Notice key {self.key!r}: use a letter, then letters, digits, '-' or '_'")


@dataclass(frozen=True)
class ReportView:
    """What a plugin draws and checks in the report (see the module docstring)."""

    name: str
    applies: Callable[[Row], bool] | str
    shapes: Callable[[Row, Mapping[str, Any]], Sequence[Shape]] | str
    notes: Callable[[Row, Mapping[str, Any]], Sequence[str]] | str | None = None
    checks: Callable[[Sequence[Row], Mapping[str, Any]], Sequence[Notice]] | str | None = None
    doc: str = ""
    provenance: Provenance | None = None
    _cache: dict[str, Callable[..., Any]] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_cache", {})
        if not isinstance(self.name, str) or not _KEY.match(self.name):
            raise ValueError(f"ReportView name {self.name!r}: use a letter, then letters, digits, '-' or '_'")

    def call(self, what: str, *args: Any) -> Any:
        """``applies``, ``shapes``, ``notes`` or ``checks``, imported on first use when given as text."""
        fn = self._cache.get(what)
        if fn is None:
            fn = self._cache[what] = resolve(getattr(self, what))
        return fn(*args)

    def has(self, what: str) -> bool:
        return getattr(self, what) is not None


def resolve(ref: Callable[..., Any] | str) -> Callable[..., Any]:
    """A callable, or the callable a ``"package.module:attr"`` string names."""
    if callable(ref):
        return ref
    module, sep, attr = str(ref).partition(":")
    if not sep or not module or not attr:
        raise ValueError(f"{ref!r} is neither a callable nor a 'module:attr' reference")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj
