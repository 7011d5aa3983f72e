"""``format`` with ``compat: vlm-r1``: VLM-R1's ``format_reward`` in linear time.

VLM-R1 scores 1.0 when ``re.fullmatch(r"<think>.*?</think>\\s*<answer>.*?</answer>",
completion, re.DOTALL)`` matches: the completion starts with ``<think>``, ends with
``</answer>``, and somewhere a ``</think>`` followed by whitespace and ``<answer>`` fits
between them (the think and answer bodies may hold anything, tags included). The regex
backtracks: it takes seconds on a few kilobytes of repeated tags. This is the same test
with ``str`` operations and one linear ``finditer``.
"""

from __future__ import annotations

import re
from typing import Any

from vlmr1.types import Verdict

__all__ = ["vlmr1_format", "vlmr1_format_ok"]

_OPEN, _CLOSE = "<think>", "</answer>"
_MIDDLE = re.compile(r"</think>\s*<answer>")


def vlmr1_format_ok(text: str) -> bool:
    if not (text.startswith(_OPEN) and text.endswith(_CLOSE)):
        return False
    end = len(text) - len(_CLOSE)
    for m in _MIDDLE.finditer(text, len(_OPEN)):
        if m.end() <= end:
            return True
        break  # later matches end later still
    return False


def vlmr1_format(completion: Any) -> Verdict:
    if not isinstance(completion, str):
        return Verdict.fail("not_text")
    if vlmr1_format_ok(completion):
        return Verdict(1.0, "ok")
    return Verdict(0.0, "vlm-r1_format: not <think>...</think> <answer>...</answer>")
