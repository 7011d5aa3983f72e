"""vlmr1 rewards in OpenRLHF, as a ``reward_func`` file.

OpenRLHF takes either a reward service (``--remote_rm_url http://host:8000/get_reward``,
which ``vlmr1 serve`` answers) or a Python file (``--remote_rm_url /path/to/openrlhf.py``)
whose ``reward_func(queries, prompts, labels, **kwargs)`` it calls in a thread, one
sample at a time. This is that file: it answers exactly as the service's /get_reward
does, from an engine in the trainer's own process. For many rollout workers, the
service scores faster (it gathers their requests into engine batches).

``queries`` are prompt + response decoded with special tokens; the response is what
follows the prompt, without trailing end-of-turn tokens. A label is the solution, or
a JSON object text with a ``solution`` key that carries the row's fields. The config
comes from the ``config`` keyword or ``VLMR1_CONFIG``; imports are absolute, so loading
by path works.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

NA_ENV = "VLMR1_NA_REWARD"


def rows(queries: Sequence[str], prompts: Sequence[Any] | None, labels: Sequence[Any] | None) -> list[dict[str, Any]]:
    """The vlmr1 rows OpenRLHF's queries, prompts and labels stand for."""
    from vlmr1.rows import response_from_query, row_from_label

    out = []
    for i, query in enumerate(queries):
        prompt = prompts[i] if prompts is not None else None
        completion = response_from_query(str(query), prompt if isinstance(prompt, str) else None)
        out.append(row_from_label(completion, labels[i] if labels is not None else None, prompt))
    return out


def reward_func(queries: Sequence[str], prompts: Sequence[Any] | None = None, labels: Sequence[Any] | None = None,
                config: Any = None, **_: Any) -> dict[str, Any]:
    """``{"rewards": [...], "scores": [...], "extra_logs": {<reward>: [...]}}``, numbers only.

    A reward that does not apply to a row adds nothing to its total; a row no reward
    applies to gets ``VLMR1_NA_REWARD`` (0.0 unless set), as do the per-reward logs.
    """
    from vlmr1.trainers.verl import engine

    na = float(os.environ.get(NA_ENV, "0") or 0)
    result = engine(config).score(rows(queries, prompts, labels))
    totals = [t if t is not None else na for t in result.total]
    logs = {name: [v if v is not None else na for v in col] for name, col in result.columns.items()}
    return {"rewards": totals, "scores": list(totals), "extra_logs": logs}
