"""R1-V's accuracy reward, one completion at a time, as its training script writes it: the
serial baseline that bench_rollouts.py and bench_serve.py measure the engine against.

The benchmarks run as scripts (``python bench/bench_X.py``), so this folder is on their
``sys.path`` and they import it as ``r1v``."""

from __future__ import annotations

import re
from typing import Any, Callable

__all__ = ["r1v_accuracy"]


def r1v_accuracy(content: str, sol: str, parse: Callable[..., Any], verify: Callable[..., Any]) -> float:
    """1.0 if math-verify finds ``content`` equal to ``sol``, else if their ``<answer>``
    contents (or whole texts) are equal, else 0.0. math-verify's functions are passed in so
    that the caller decides when their import is paid."""
    reward = 0.0
    try:
        answer = parse(content)
        if float(verify(answer, parse(sol))) > 0:
            reward = 1.0
    except Exception:  # noqa: BLE001 - the loop being reproduced swallows everything
        pass
    if reward == 0.0:
        try:
            sol_match = re.search(r"<answer>(.*?)</answer>", sol)
            ground_truth = sol_match.group(1).strip() if sol_match else sol.strip()
            content_match = re.search(r"<answer>(.*?)</answer>", content)
            student_answer = content_match.group(1).strip() if content_match else content.strip()
            if student_answer == ground_truth:
                reward = 1.0
        except Exception:  # noqa: BLE001
            pass
    return reward
