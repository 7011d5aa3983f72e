"""VLM-R1 rows in vlmr1's row format.

``conversations`` [human, gpt] become ``problem`` and ``solution``, ``<image>`` markers
are dropped, ``<answer>``-wrapped solutions are unwrapped (JSON boxes parsed), and
``image`` (or VLM-R1's processed ``image_path``) is resolved against the image root.
A row already in vlmr1's form passes through unchanged but for the image path.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from vlmr1.rows import solution_from_text as unwrap_solution


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
        if isinstance(answer, str):  # as written: rewards in VLM-R1 compat mode read this text
            row.setdefault("solution_text", answer)
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
