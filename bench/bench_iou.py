"""IoU of axis-aligned box pairs: the numpy fast path against vectorised shapely.

Both are measured in the same run on the same random pairs (this machine is noisy, so
only the ratio means anything). Shapely is timed twice: with the geometries built inside
the timed region (what a reward has to do for boxes parsed from text) and with them
prebuilt (set operations alone). Also prints the end-to-end cost of the ``iou`` reward's
``score_batch`` per completion (parsing included).

    python bench/bench_iou.py [--pairs 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import shapely
from vlmr1.plugins.iou import geometry
from vlmr1.plugins.iou.reward import prepare_gold, score_batch
from vlmr1.types import Sample


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _loop_iou(a: list[float], b: list[float]) -> float:
    """The per-pair pure-Python IoU most reward scripts call in a loop."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    xy = rng.uniform(0, 1000, size=(n, 2))
    wh = rng.uniform(1, 300, size=(n, 2))
    return np.concatenate([xy, xy + wh], axis=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--completions", type=int, default=20_000)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    a, b = _boxes(rng, args.pairs), _boxes(rng, args.pairs)

    fast = geometry.box_iou_pairs(a, b)

    def shapely_with_build() -> np.ndarray:
        ga = shapely.box(a[:, 0], a[:, 1], a[:, 2], a[:, 3])
        gb = shapely.box(b[:, 0], b[:, 1], b[:, 2], b[:, 3])
        return geometry.shapely_iou_pairs(ga, gb)

    ga = shapely.box(a[:, 0], a[:, 1], a[:, 2], a[:, 3])
    gb = shapely.box(b[:, 0], b[:, 1], b[:, 2], b[:, 3])
    slow = shapely_with_build()
    worst = float(np.max(np.abs(fast - slow)))

    t_np = _best(lambda: geometry.box_iou_pairs(a, b), args.repeat)
    t_np_giou = _best(lambda: geometry.box_iou_pairs(a, b, giou=True), args.repeat)
    t_sh = _best(shapely_with_build, args.repeat)
    t_sh_ops = _best(lambda: geometry.shapely_iou_pairs(ga, gb), args.repeat)
    al, bl = a.tolist(), b.tolist()
    t_loop = _best(lambda: [_loop_iou(x, y) for x, y in zip(al, bl)], args.repeat)

    n = args.completions
    completions = [f'<answer>{{"bbox_2d": [{x1:.0f}, {y1:.0f}, {x2:.0f}, {y2:.0f}], "label": "obj"}}</answer>' for x1, y1, x2, y2 in a[:n]]
    samples = [Sample(c) for c in completions]
    golds = [prepare_gold([float(v) for v in g], {}) for g in b[:n]]
    t_reward = _best(lambda: score_batch(samples, golds, {}), args.repeat)

    print(f"pairs: {args.pairs}  (best of {args.repeat})")
    print(f"numpy IoU                      {t_np * 1e3:9.2f} ms")
    print(f"numpy GIoU                     {t_np_giou * 1e3:9.2f} ms")
    print(f"shapely IoU, building boxes    {t_sh * 1e3:9.2f} ms   ratio shapely/numpy = {t_sh / t_np:7.1f}x")
    print(f"shapely IoU, prebuilt boxes    {t_sh_ops * 1e3:9.2f} ms   ratio shapely/numpy = {t_sh_ops / t_np:7.1f}x")
    print(f"python loop, one pair a call   {t_loop * 1e3:9.2f} ms   ratio loop/numpy    = {t_loop / t_np:7.1f}x")
    print(f"max |numpy - shapely|          {worst:.2e}")
    print(f"iou reward score_batch: {n} JSON completions in {t_reward * 1e3:.1f} ms = {t_reward / n * 1e6:.1f} us/completion")


if __name__ == "__main__":
    main()
