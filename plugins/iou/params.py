"""The params of the box rewards and their defaults: plain data, so that registering the
plugin (and listing it) imports none of the implementation (numpy, shapely, scipy)."""

from __future__ import annotations

from typing import Any

from vlmr1.frames import FRAME_DEFAULTS

__all__ = ["AP_DEFAULTS", "DEFAULTS", "LIMITS", "WEIGHTED_DEFAULTS"]

# Bounds that keep parsing cheap on any input (parse.Limits; docs/rewards/iou.md).
LIMITS: dict[str, Any] = {"max_chars": 100_000, "max_boxes": 500, "max_vertices": 1_000, "max_coord": 1e9}

DEFAULTS: dict[str, Any] = {
    **FRAME_DEFAULTS,
    "metric": "iou",
    "threshold": None,
    "match": "hungarian",
    "labels": False,
    "order": "normalise",
    "compat": None,
    **LIMITS,
    "max_shape_pairs": 2_500,
    "duplicate_iou": 0.95,
}

_COMMON = {**FRAME_DEFAULTS, "max_chars": 100_000, "max_boxes": 500}
AP_DEFAULTS: dict[str, Any] = {**_COMMON, "metric": "ap", "length_penalty": False, "compat": None, "coco": "faster"}
WEIGHTED_DEFAULTS: dict[str, Any] = {**_COMMON, "iou_threshold": 0.5, "alpha": 0.7, "beta": 0.0, "gamma": 0.3,
                                     "compat": None, "max_pairs": 250_000}
