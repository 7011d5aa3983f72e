"""Where the `iou` reward's default mode and `compat: vlm-r1` disagree on real REC outputs.

Reads every ``rec_results_*.json`` of the VLM-R1 evaluation logs (default
``../shared/corpora/vlm-r1``), wraps each ``model_output`` in ``<answer>`` tags (the logs
hold the bare answers; VLM-R1's training reward reads only inside the tags), scores it
with both modes against ``ground_truth`` and sorts every row where the scores differ into
a class by what each mode read. The rows carry no image size, so both modes compare the
numbers as written (original-pixel frame).

    python bench/measure_rec_modes.py [CORPUS_DIR]
"""

from __future__ import annotations

import collections
import glob
import json
import os
import sys

from vlmr1 import Sample
from vlmr1.config import config_from_dict
from vlmr1.engine import Engine
from vlmr1.plugins.iou.compat import train_box
from vlmr1.plugins.iou.parse import parse_answer


def load(corpus: str) -> list[dict]:
    rows = []
    for path in sorted(glob.glob(os.path.join(corpus, "rec_results_*.json"))):
        data = json.load(open(path))
        rows += data["results"] if isinstance(data, dict) else data
    return rows


def classify(text: str, d: float, c: float) -> str:
    parsed = parse_answer(text)
    box = train_box(text)
    boxes = [s.coords for s in parsed.shapes]
    if box is None and boxes:
        return "compat reads no box (regex: integers only, no space after '[')"
    if box is not None and not boxes:
        return f"default reads no box ({parsed.reason})"
    if box is None and not boxes:
        return "neither reads a box"
    if len(boxes) > 1:
        return "several boxes: default matches one to one (extra boxes are false alarms), compat takes the first"
    if [float(v) for v in box] == list(boxes[0]):
        if c == 0.0 and d > 0.0:
            return "same box, compat IoU 0 (pixel-inclusive: overlap of 1 px or less counts nothing)"
        return "same box, IoU differs (pixel-inclusive intersection in compat)"
    return "different box read"


def main(corpus: str) -> None:
    rows = load(corpus)
    samples = [Sample(f"<answer>{r['model_output']}</answer>", r["ground_truth"]) for r in rows]
    cfg = config_from_dict({"rewards": [{"name": "default", "reward": "iou"},
                                        {"name": "compat", "reward": "iou", "params": {"compat": "vlm-r1"}},
                                        {"name": "keep_repeats", "reward": "iou", "params": {"duplicate_iou": None}}],
                            "engine": {"workers": 0}})
    with Engine(cfg) as eng:
        res = eng.score(samples)
    classes: dict[str, list[float]] = collections.defaultdict(list)
    same = 0
    for s, d, c in zip(samples, res.columns["default"], res.columns["compat"]):
        if d is not None and c is not None and abs(d - c) <= 1e-9:
            same += 1
            continue
        classes[classify(s.completion, d or 0.0, c or 0.0)].append((d or 0.0) - (c or 0.0))
    print(f"{len(rows)} REC rows from {corpus}; equal scores: {same}; different: {len(rows) - same}")
    print("| class | rows | mean default - compat | max abs difference |")
    print("|---|---|---|---|")
    for name, diffs in sorted(classes.items(), key=lambda kv: -len(kv[1])):
        print(f"| {name} | {len(diffs)} | {sum(diffs) / len(diffs):+.4f} | {max(abs(x) for x in diffs):.4f} |")
    collapsed = sum(1 for a, b in zip(res.columns["default"], res.columns["keep_repeats"]) if a != b)
    print(f"rows whose default score changes when repeated boxes are kept (duplicate_iou: null): {collapsed}")
    ok = [v for v in res.columns["default"] if v is not None]
    okc = [v for v in res.columns["compat"] if v is not None]
    print(f"mean score: default {sum(ok) / len(ok):.4f}, compat {sum(okc) / len(okc):.4f}")


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "shared", "corpora", "vlm-r1"))
