"""Two engine costs, each against a baseline measured in the same run:

1. Hangs: a batch of 1,024 items of which 1 % hang forever (a reward stuck in a
   loop), scored with a per-item timeout. Reports the wall time against the timeout
   (target: within one timeout plus a second) and how many items were lost (target:
   only the hanging ones), with the spare-worker takeover on and off.
2. Isolation overhead: a trivial reward run isolated (worker pool) against the same
   reward run inline, per item (target: under 0.2 ms).

    python bench/bench_hang.py [--items 1024] [--hang-share 0.01] [--timeout 2] [--workers 2]

Prints numbers and ratios; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=1024)
    ap.add_argument("--hang-share", type=float, default=0.01)
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--overhead-items", type=int, default=4000)
    args = ap.parse_args()
    os.environ.setdefault("VLMR1_PLUGINS", "")

    from fault_plugins import (
        fault_registry,  # in-process plugins: "hang" sleeps forever
    )
    from vlmr1 import Sample
    from vlmr1.config import Config, EngineConfig, RewardSpec
    from vlmr1.engine import Engine

    reg = fault_registry()
    step = max(1, round(1 / args.hang_share)) if args.hang_share > 0 else args.items + 1
    texts = ["hang" if i % step == step // 2 else f"item-{i}" for i in range(args.items)]
    hangs = texts.count("hang")
    samples = [Sample(t, index=i) for i, t in enumerate(texts)]
    print(f"{args.items} items, {hangs} hang forever, timeout {args.timeout} s, workers {args.workers}, {os.cpu_count()} CPUs")
    for label, spare in (("spare workers take over (default)", None), ("no spare workers", 0)):
        cfg = Config((RewardSpec("faulty"),), EngineConfig(workers=args.workers, timeout=args.timeout, dedupe=False))
        with Engine(cfg, reg) as eng:
            if spare is not None:
                eng.pool.spare = spare
            eng.pool.start()
            t = time.perf_counter()
            result = eng.score(samples)
            wall = time.perf_counter() - t
        timeouts = int(result.metrics["rewards/faulty/timeouts"])
        lost = sum(1 for v, s in zip(result.columns["faulty"], texts) if v is None and s != "hang")
        print(f"  {label:34s} wall {wall:6.2f} s = {wall / args.timeout:4.2f} x timeout "
              f"(target <= timeout + 1 s = {args.timeout + 1:.1f} s); timeouts {timeouts}/{hangs}, healthy items lost {lost}")

    n = args.overhead_items
    plain = [Sample(f"x{i}", index=i) for i in range(n)]
    times = {}
    for label, workers in (("isolated", args.workers), ("inline", 0)):
        cfg = Config((RewardSpec("pids"),), EngineConfig(workers=workers, dedupe=False))
        with Engine(cfg, reg) as eng:
            eng.score(plain[:64])
            best = float("inf")
            for _ in range(3):
                t = time.perf_counter()
                eng.score(plain)
                best = min(best, time.perf_counter() - t)
        times[label] = best
    per = (times["isolated"] - times["inline"]) / n * 1e3
    print(f"isolation overhead: {per:.3f} ms per item (isolated {times['isolated'] / n * 1e3:.3f} ms/item, "
          f"inline {times['inline'] / n * 1e3:.3f} ms/item; target < 0.2 ms)")


if __name__ == "__main__":
    sys.exit(main())
