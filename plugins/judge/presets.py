"""Named reward configs that ship with the judge plugin.

``r1_reward`` is R1-Reward's training reward for a multimodal reward model (the policy
compares two responses and answers ``1`` or ``2``)::

    r1_reward = 0.5 * format + preference * (1 + 0.5 * consistency)

``format`` (1 if the reply is ``<think>…</think><answer>…</answer>``), ``preference`` (1 if
the choice matches the human label) and ``consistency`` (+1 / -1 from a judge: does the
reasoning support the choice?) are computed as columns with weight 0, and the formula
column carries weight 1. A wrong choice earns only the format half-point whatever the judge
says; a right choice earns 1.5 with consistent reasoning and 0.5 without. As in R1-Reward, a
judge that cannot answer counts as 0 (``fallback_score: 0``), which leaves the right answer
its plain 1.0 instead of dropping the row.

``examples/configs/r1_reward.yaml`` is the same config as a file::

    from vlmr1.plugins.judge.presets import preset
    config = preset("r1_reward", judge={"base_url": "http://127.0.0.1:8000/v1", "model": "Qwen/Qwen2.5-7B-Instruct"})
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

from vlmr1.config import Config, config_from_dict
from vlmr1.errors import ConfigError, UnknownNameError

R1_REWARD_FORMULA = "0.5*format + preference*(1 + 0.5*consistency)"

PRESETS: dict[str, dict[str, Any]] = {
    "r1_reward": {
        "task": "pairwise",
        "rewards": [
            {"name": "format", "weight": 0.0},
            {"name": "preference", "weight": 0.0},
            {
                "name": "consistency",
                "weight": 0.0,
                "params": {
                    "base_url": "http://127.0.0.1:8000/v1",
                    "model": "Qwen/Qwen2.5-7B-Instruct",
                    "answer_labels": {"1": "Response 1 is better", "2": "Response 2 is better"},
                    "fallback_score": 0.0,
                    "temperature": 0.0,
                    "deadline_s": 45.0,
                },
            },
            {"name": "r1_reward", "weight": 1.0, "formula": R1_REWARD_FORMULA},
        ],
        "engine": {"async_timeout": 60.0},
    },
}


def names() -> list[str]:
    return sorted(PRESETS)


def preset_dict(name: str, judge: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The preset as config data (a fresh copy); ``judge`` params override the consistency
    reward's (``base_url``, ``model``, ``backend``/``model_path``, ``deadline_s`` …)."""
    if name not in PRESETS:
        raise UnknownNameError("preset", name, PRESETS)
    data = copy.deepcopy(PRESETS[name])
    for spec in data["rewards"]:
        if spec.get("name") == "consistency" and judge:
            spec["params"] = {**spec.get("params", {}), **dict(judge)}
    return data


def preset(name: str, judge: Mapping[str, Any] | None = None) -> Config:
    """The preset as a validated :class:`vlmr1.config.Config`."""
    from vlmr1.documents import schema_problems

    data = preset_dict(name, judge)
    problems = schema_problems(data, "config", f"<preset {name}>")
    if problems:
        raise ConfigError("invalid preset:\n  " + "\n  ".join(map(str, problems)))
    return config_from_dict(data, f"<preset {name}>")
