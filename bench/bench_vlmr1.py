"""Each VLM-R1 reward method: vlmr1 (the preset's case, through the engine) against a
faithful re-implementation of VLM-R1's function (tests/vlmr1_reference.py), on the same
generated rows, each contender in a fresh process.

``cold`` is the whole process: interpreter start, imports, engine start (worker processes
included) and the first batch; ``warm`` is a second batch of new rows in that process.
The ratio is VLM-R1's time over vlmr1's (above 1: vlmr1 is faster). A last table
compares the two COCO libraries on one batch of detection rows (one COCO evaluation for
the batch) and VLM-R1's way (one COCOeval per row).

    python bench/bench_vlmr1.py [--rows 256]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.join(HERE, "..", "tests")
METHODS = ["mcq", "yes_no", "all_match", "map", "od_ap", "od_ap50", "odLength", "weighted_sum", "default", "format",
           "repetition", "fuzzy"]


def rows_for(method: str, n: int, seed: int) -> list[dict]:
    sys.path.insert(0, TESTS)
    import vlmr1_rows as g

    rng = random.Random(seed)
    make = {"mcq": g.mcq_row, "yes_no": g.yes_no_row, "all_match": g.all_match_row, "default": g.default_row,
            "format": g.mcq_row, "repetition": g.all_match_row, "fuzzy": g.all_match_row}
    if method in make:
        rows = [make[method](rng) for _ in range(n)]
    else:
        rows = [g.detection_row(rng, method) for _ in range(n)]
    if method == "repetition":
        for r in rows:
            r["completion"] = " ".join(rng.choice(["a", "b", "the", "cat", "box"]) for _ in range(300))
    return rows


def _vlmr1_side(method: str, batches: list[list[dict]]) -> list[float]:
    from vlmr1 import Sample
    from vlmr1.config import config_from_dict, load_config
    from vlmr1.engine import Engine

    if method == "format":
        cfg = config_from_dict({"rewards": [{"name": "format", "params": {"compat": "vlm-r1"}}], "engine": {"workers": 2}})
    elif method == "repetition":
        cfg = config_from_dict({"rewards": [{"name": "repetition"}], "engine": {"workers": 2}})
    elif method == "fuzzy":
        cfg = config_from_dict({"rewards": [{"name": "fuzzy", "params": {"compat": "vlm-r1"}}], "engine": {"workers": 2}})
    else:
        full = load_config(os.path.join(HERE, "..", "examples", "configs", "vlm-r1.yaml"))
        case = "accuracy." + ("default" if method == "default" else method)
        spec = next(s for s in full.rewards if s.name == case)
        cfg = config_from_dict({"rewards": [{"name": "r", "reward": spec.target, "params": dict(spec.params)}],
                                "engine": {"workers": 2}})
    times = []
    with Engine(cfg) as eng:
        for batch in batches:
            t = time.perf_counter()
            eng.score([Sample(r["completion"], r["solution"], columns={"accu_reward_method": r["accu_reward_method"]}) for r in batch])
            times.append(time.perf_counter() - t)
            _ENDS.append(time.time())
    return times


def _reference_side(method: str, batches: list[list[dict]]) -> list[float]:
    sys.path.insert(0, TESTS)
    import vlmr1_reference as ref
    from vlmr1_rows import vlmr1_solution

    times = []
    for batch in batches:
        t = time.perf_counter()
        for r in batch:
            if method == "format":
                ref.format_reward(r["completion"])
            elif method == "repetition":
                ref.repetition_reward_text(r["completion"])
            elif method == "fuzzy":
                from Levenshtein import ratio

                ratio(ref.clean_text(r["completion"]), ref.clean_text(vlmr1_solution(r["solution"])))
            else:
                try:
                    ref.accuracy_reward(r["completion"], vlmr1_solution(r["solution"]), r["accu_reward_method"])
                except Exception:  # noqa: BLE001 - VLM-R1 raises on some rows; the time still counts
                    pass
        times.append(time.perf_counter() - t)
        _ENDS.append(time.time())
    return times


_ENDS: list[float] = []


def one(side: str, method: str, n: int, start: float) -> None:
    batches = [rows_for(method, n, 1), rows_for(method, n, 2)]  # made before the clock matters less than imports
    fn = _vlmr1_side if side == "vlmr1" else _reference_side
    times = fn(method, batches)
    print(json.dumps({"cold": _ENDS[0] - start, "warm": times[1]}))


def run(side: str, method: str, n: int) -> dict:
    start = time.time()
    code = f"import sys; sys.path.insert(0, {HERE!r}); import bench_vlmr1 as b; b.one({side!r}, {method!r}, {n}, {start!r})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def coco_table(n: int) -> None:
    sys.path.insert(0, TESTS)
    import vlmr1_reference as ref
    from vlmr1 import Sample
    from vlmr1.plugins.iou.detection import ap_score_batch, check_ap_params
    from vlmr1_rows import vlmr1_solution

    rows = rows_for("od_ap", n, 3)
    samples = [Sample(r["completion"], r["solution"]) for r in rows]
    print(f"\nCOCO AP on one batch of {n} detection rows (od_ap, VLM-R1 semantics), warm, best of 3:")
    print("| how | seconds | rows/s |")
    print("|---|---|---|")
    for lib in ("faster", "pycocotools"):
        p = check_ap_params({"compat": "vlm-r1", "coco": lib})
        ap_score_batch(samples, [None] * n, p)
        best = min(_timed(lambda: ap_score_batch(samples, [None] * n, p)) for _ in range(3))
        print(f"| {lib}, one evaluation per batch | {best:.3f} | {n / best:.0f} |")
    best = min(_timed(lambda: [_safe(ref.od_reward, r["completion"], vlmr1_solution(r["solution"])) for r in rows]) for _ in range(3))
    print(f"| pycocotools, one COCOeval per row (VLM-R1) | {best:.3f} | {n / best:.0f} |")


def _timed(fn) -> float:  # noqa: ANN001
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _safe(fn, *args):  # noqa: ANN001, ANN002
    try:
        return fn(*args)
    except Exception:  # noqa: BLE001
        return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=256)
    ap.add_argument("--methods", default=",".join(METHODS))
    args = ap.parse_args()
    print(f"{args.rows} rows per batch; each contender in a fresh process (cold: whole process incl. first batch)")
    print("| method | VLM-R1 cold s | vlmr1 cold s | cold ratio | VLM-R1 warm s | vlmr1 warm s | warm ratio |")
    print("|---|---|---|---|---|---|---|")
    for m in args.methods.split(","):
        a, b = run("reference", m, args.rows), run("vlmr1", m, args.rows)
        print(f"| {m} | {a['cold']:.3f} | {b['cold']:.3f} | {a['cold'] / b['cold']:.2f} | {a['warm']:.4f} | "
              f"{b['warm']:.4f} | {a['warm'] / b['warm']:.2f} |")
    coco_table(args.rows)


if __name__ == "__main__":
    main()
