"""``compat: vlm-r1`` for ``mcq`` and ``yes_no``: VLM-R1's ``mcq_reward`` and
``yes_no_reward``, number for number.

VLM-R1 reads the solution's first ``<answer>`` block on one line (no DOTALL) and the
completion's first block (DOTALL), else the whole stripped text. ``mcq`` takes a letter
with :func:`vlmr1.compat.extract_choice` on both sides (a solution without one is
compared as its whole text); ``yes_no`` lower-cases both and takes the first ``yes`` or
``no`` *substring* (so "I know" reads "no", and "not sure" reads "no"), two answers
without either being equal. The default modes of these rewards fix exactly those
readings (docs/rewards/choice.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vlmr1.compat import ANSWER_TAGS, extract_choice, first, solution_text
from vlmr1.types import Sample, Verdict

__all__ = ["mcq_compat", "yes_no_compat", "compat_batch"]


def _inner(text: str, dotall: bool) -> str:
    found = first(text, *ANSWER_TAGS, dotall=dotall)
    return found.strip() if found is not None else text.strip()


def mcq_compat(content: str, sol: str) -> Verdict:
    has = extract_choice(_inner(sol, dotall=False))
    correct = has.upper() if has else sol.strip()
    got = extract_choice(_inner(content, dotall=True))
    if not got:
        return Verdict(0.0, "no_answer")
    return Verdict(1.0 if got == correct else 0.0, "ok" if got == correct else "wrong", got)


def _yes_no(text: str) -> str:
    i, j = text.find("yes"), text.find("no")
    hits = [k for k in (i, j) if k >= 0]
    if not hits:
        return ""
    k = min(hits)
    return "yes" if k == i else "no"


def yes_no_compat(content: str, sol: str) -> Verdict:
    want = _yes_no(_inner(sol.lower(), dotall=False))
    got = _yes_no(_inner(content.lower(), dotall=True))
    return Verdict(1.0 if got == want else 0.0, "ok" if got == want else "wrong", got)


def compat_batch(samples: Sequence[Sample], fn: Any) -> list[Verdict]:
    out = []
    for s in samples:
        if not isinstance(s.completion, str):
            out.append(Verdict.fail("not_text"))
        else:
            out.append(fn(s.completion, solution_text(s)))
    return out
