"""vlmr1 rewards in EasyR1, as its reward function file.

EasyR1 (``worker.reward.reward_function=/path/to/easyr1.py:compute_score``) loads this
file by path, reads ``REWARD_TYPE`` and calls ``compute_score(reward_inputs, **kwargs)``
with ``{"response", "response_length", "ground_truth"}`` dicts (a list for ``batch``,
one dict for ``sequential``); ``worker.reward.reward_function_kwargs`` arrive as the
keywords. It puts ``overall`` on the last response token and averages every other key
into its metrics with numpy, so every value here is a number: a reward that does not
apply to a row is left out of that row's dict (the mean then covers the rows it
applies to), and ``overall`` is 0.0 when no reward applies.

``ground_truth`` is the solution, or a JSON object text with a ``solution`` key that
carries the row's other fields (``task``, ``image_size``, ``input_size``...). The
config comes from the ``config`` keyword or ``VLMR1_CONFIG``. Imports are absolute,
so loading by path works; nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

REWARD_NAME = "vlmr1"
REWARD_TYPE = "batch"


def _rows(reward_inputs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    from vlmr1.rows import response_from_query, row_from_label

    rows = []
    for item in reward_inputs:
        response = response_from_query(str(item.get("response", "")), None)
        rows.append(row_from_label(response, item.get("ground_truth")))
    return rows


def compute_score(reward_inputs: Sequence[Mapping[str, Any]] | Mapping[str, Any], config: Any = None,
                  **_: Any) -> list[dict[str, float]] | dict[str, float]:
    """``[{"overall": total, <reward>: value, ...}]`` for a batch; one dict for one input."""
    from vlmr1.plain import OMIT, item_dicts
    from vlmr1.trainers.verl import engine

    single = isinstance(reward_inputs, Mapping)
    inputs = [reward_inputs] if single else list(reward_inputs)
    result = engine(config).score(_rows(inputs))  # type: ignore[arg-type]
    items = item_dicts(result, total_key="overall", missing=OMIT)
    return items[0] if single else items
