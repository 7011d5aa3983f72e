"""The loud warning of a box reward that is given no frame information.

With ``frame: auto`` and rows that carry neither a model-input size (``input_size``, or
``image_grid_thw`` with ``patch_size``), nor ``model_family``, nor a ``frame`` column,
boxes are compared as original-image pixels. That is right for a model that answers in
original pixels and silently wrong for the common case: Qwen2.5-VL answers in pixels of
its resized input, Qwen2-VL in [0, 1000), and a right box then scores IoU near 0 — a
training run that looks like a model that cannot learn. So the first such row of a run
raises a warning naming the reward, what is missing and what to add; it is said once
per reward per process, not per row.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Mapping
from typing import Any

from vlmr1.frames import FRAMES, Frames
from vlmr1.types import Sample

__all__ = ["FrameWarning", "warn_unframed"]


class FrameWarning(UserWarning):
    """A box reward compared boxes without knowing which frame the model answers in."""


_warned: set[str] = set()
_lock = threading.Lock()


def unframed(sample: Sample, frames: Frames, params: Mapping[str, Any]) -> bool:
    """Whether ``frames`` were resolved by ``auto`` with nothing to go on."""
    return (str(params.get("frame") or "auto") == "auto" and frames.input_size is None
            and sample.get("frame") not in FRAMES and not (params.get("model_family") or sample.get("model_family")))


def warn_unframed(reward: str, sample: Sample, frames: Frames, params: Mapping[str, Any]) -> None:
    """Warn (once per reward per process) when this row's boxes are compared without frame information."""
    if reward in _warned or not unframed(sample, frames, params):
        return
    with _lock:
        if reward in _warned:
            return
        _warned.add(reward)
    missing = ["input_size (or image_grid_thw with the patch_size param)", "model_family", "frame"]
    if frames.image_size is None:
        missing.insert(0, "image_size")
    warnings.warn(
        f"{reward} reward (frame: auto): the rows carry no frame information (no {', '.join(missing)} column), so "
        f"predicted boxes are compared as original-image pixels. Qwen2.5-VL answers in pixels of its resized input "
        f"and Qwen2-VL in [0, 1000): scored this way, right boxes get an IoU near 0. Add image_size and input_size "
        f"to the rows (vlmr1.trainers.data.add_image_sizes does it from the processor), or set the reward's "
        f"model_family param; if the model really answers in original pixels, set `frame: original` to say so. "
        f"(Said once per run.)",
        FrameWarning,
        stacklevel=3,
    )
