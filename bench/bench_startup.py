"""How much `vlmr1 plugins` adds to a bare interpreter's start, both measured in this run.

    python bench/bench_startup.py [--repeat 10]

The goal: well under half a second more than `python -c pass`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def timed(cmd: list[str], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    bare = timed([sys.executable, "-c", "pass"], args.repeat)
    imp = timed([sys.executable, "-c", "import vlmr1"], args.repeat)
    plugins = timed([sys.executable, "-m", "vlmr1", "plugins", "--json"], args.repeat)
    print(f"bare interpreter        {bare * 1000:7.1f} ms")
    print(f"import vlmr1            {imp * 1000:7.1f} ms  (+{(imp - bare) * 1000:.1f} ms, {imp / bare:.2f}x)")
    print(f"vlmr1 plugins --json    {plugins * 1000:7.1f} ms  (+{(plugins - bare) * 1000:.1f} ms, {plugins / bare:.2f}x)")


if __name__ == "__main__":
    main()
