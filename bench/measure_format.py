"""Accept rates of the ``format`` reward, strict and ``lenient``, and of VLM-R1's format
check (``compat: vlm-r1``), on the real outputs of the VLM-R1 evaluation logs.

The logs hold bare answers (REC: JSON boxes without tags; counting: some with
``<answer>`` tags), so each output is measured as written and wrapped as
``<think>...</think><answer>{output}</answer>`` (what the answer check sees). A last
block runs the debris the REC rows of real training runs show (escape debris after the
object, markdown-link wrapping) to show what ``lenient`` changes.

    python bench/measure_format.py [CORPUS_DIR]
"""

from __future__ import annotations

import glob
import json
import os
import sys

from vlmr1 import Sample
from vlmr1.config import config_from_dict
from vlmr1.engine import Engine

BOX = '{"bbox_2d": [0, 1, 153, 78], "label": "cup"}'
DEBRIS = [BOX + "\\n", BOX + "\\n\\n", f'["{BOX}](["{BOX}])', f"[{BOX}]\\n", f"```json\n[{BOX}]\n```\\n", BOX, f"[{BOX}]",
          f"The cup is at {BOX}.", "no box here"]


def load(corpus: str, pattern: str) -> list[str]:
    out = []
    for path in sorted(glob.glob(os.path.join(corpus, pattern))):
        data = json.load(open(path))
        out += [r["model_output"] for r in (data["results"] if isinstance(data, dict) else data)]
    return out


def rates(texts: list[str], task: str) -> dict[str, float]:
    cfg = config_from_dict({"rewards": [{"name": "strict", "reward": "format"},
                                        {"name": "lenient", "reward": "format", "params": {"lenient": True}},
                                        {"name": "vlm_r1", "reward": "format", "params": {"compat": "vlm-r1"}}],
                            "task": task, "engine": {"workers": 0}})
    with Engine(cfg) as eng:
        res = eng.score([Sample(t, task=task) for t in texts])
    return {k: sum(v == 1.0 for v in col) / len(col) for k, col in res.columns.items()}


def main(corpus: str) -> None:
    print("| outputs | rows | as | strict | lenient | VLM-R1 |")
    print("|---|---|---|---|---|---|")
    for name, pattern, task in (("REC", "rec_results_*.json", "rec"), ("counting", "counting_results_*.json", "counting")):
        texts = load(corpus, pattern)
        for how, batch in (("written", texts), ("wrapped", [f"<think>t</think><answer>{t}</answer>" for t in texts])):
            r = rates(batch, task)
            print(f"| {name} | {len(texts)} | {how} | {r['strict']:.2%} | {r['lenient']:.2%} | {r['vlm_r1']:.2%} |")
    r = rates([f"<think>t</think><answer>{t}</answer>" for t in DEBRIS], "rec")
    print(f"| debris set | {len(DEBRIS)} | wrapped | {r['strict']:.2%} | {r['lenient']:.2%} | {r['vlm_r1']:.2%} |")


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "shared", "corpora", "vlm-r1"))
