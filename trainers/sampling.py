"""Which rows of a data file to train on: VLM-R1's ``sampling_strategy``.

``all``, ``first:N``, ``end:N``, ``random:N`` (N a count, or a percentage like
``first:10%``) and ``N%`` (a random share). Random draws are seeded and keep file order,
so the same seed picks the same rows on every process of a multi-GPU run.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from typing import Any

_STRATEGY = re.compile(r"^(?:(all)|(first|end|random):(\d+(?:\.\d+)?)(%?)|(\d+(?:\.\d+)?)%)$")


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

