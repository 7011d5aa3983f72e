"""The reward config and completions every trainer-adapter check scores: in this process
(tests/test_adapters.py), through `vlmr1 serve` (tests/test_remote.py, tests/test_serve.py)
and inside the throwaway environments of EasyR1, ms-swift, OpenRLHF and verl
(tests/*_env_checks.py), so that their expectations, worked out by hand, rest on one set.

With ``reward_config()`` (format 0.5, math accuracy 1.0 on math rows, box IoU 1.0 on rec
rows): RIGHT against "4" scores 1.5, WRONG 0.5, BOX against REC_LABEL (the same box) 1.5.

Standard library only: the env checks import it (PYTHONPATH=tests) in environments that
hold just their trainer and vlmr1."""

from __future__ import annotations

import json
import os
from pathlib import Path

RIGHT = "<think>2 and 2</think><answer>4</answer>"
WRONG = "<think>2 and 2</think><answer>5</answer>"
BOX = '<think>there</think><answer>{"bbox_2d": [10, 10, 50, 50]}</answer>'
REC_LABEL = json.dumps({"solution": [10, 10, 50, 50], "task": "rec", "image_size": [100, 100]})


def reward_config(workers: int = 1, timeout: int = 10) -> str:
    """format + math accuracy (math rows) + box IoU (rec rows), as YAML."""
    return (
        "task: math\n"
        "rewards:\n"
        "  - {name: format, weight: 0.5}\n"
        "  - {name: accuracy, reward: math, weight: 1.0, tasks: [math]}\n"
        "  - {name: box, reward: iou, weight: 1.0, tasks: [rec]}\n"
        f"engine: {{workers: {workers}, timeout: {timeout}}}\n"
    )


CONFIG = reward_config()


def write_config(directory: os.PathLike | str, text: str = CONFIG) -> Path:
    """``directory/rewards.yaml`` holding ``text``."""
    path = Path(directory) / "rewards.yaml"
    path.write_text(text)
    return path


def use_config(directory: os.PathLike | str, monkeypatch, text: str = CONFIG) -> Path:  # noqa: ANN001 - pytest's fixture
    """Write the config and point ``VLMR1_CONFIG`` at it, as a trainer's launcher would."""
    path = write_config(directory, text)
    monkeypatch.setenv("VLMR1_CONFIG", str(path))
    return path
