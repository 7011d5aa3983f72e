"""How much vlmr1 adds to a bare interpreter's start, every figure measured in this run.

    python bench/bench_startup.py [--repeat 15]

Whole processes, each started fresh (cold in the sense that matters here: nothing is
imported yet; the file cache is warm after the first run, as it is for a user):

- ``python -c pass``: the baseline;
- ``python -c "import vlmr1"``;
- ``vlmr1 plugins --json``: every installed plugin loaded and listed;
- ``vlmr1 rewards``: every reward listed, as a table (rich included).

Each command runs ``--repeat`` times, interleaved (bare, import, plugins, rewards, bare,
...) so that a noisy neighbour slows all of them alike; the median is reported, with the
difference from bare Python and the ratio. The goal: ``vlmr1 plugins`` within 0.3 s of
bare Python, because registering a reward imports none of its implementation.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

GOAL_S = 0.3


def commands() -> dict[str, list[str]]:
    script = shutil.which("vlmr1", path=os.path.dirname(sys.executable)) or shutil.which("vlmr1")
    cli = [script] if script else [sys.executable, "-m", "vlmr1"]
    return {
        "bare python (-c pass)": [sys.executable, "-c", "pass"],
        "import vlmr1": [sys.executable, "-c", "import vlmr1"],
        "vlmr1 plugins --json": [*cli, "plugins", "--json"],
        "vlmr1 rewards": [*cli, "rewards"],
    }


def once(cmd: list[str]) -> float:
    env = {**os.environ, "COLUMNS": "200"}
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    cmds = commands()
    runs: dict[str, list[float]] = {name: [] for name in cmds}
    for name, cmd in cmds.items():  # one unmeasured run each: the file cache, .pyc files
        once(cmd)
    for _ in range(args.repeat):
        for name, cmd in cmds.items():
            runs[name].append(once(cmd))
    med = {name: statistics.median(times) for name, times in runs.items()}
    bare = med["bare python (-c pass)"]
    print(f"{'command':<24} {'median':>9} {'over bare':>10} {'ratio':>7}   (n={args.repeat}, whole processes)")
    for name, value in med.items():
        print(f"{name:<24} {value * 1000:7.1f} ms {(value - bare) * 1000:+8.1f} ms {value / bare:6.2f}x")
    over = med["vlmr1 plugins --json"] - bare
    verdict = "within" if over <= GOAL_S else "over"
    print(f"vlmr1 plugins is {over * 1000:.0f} ms over bare Python: {verdict} the {GOAL_S * 1000:.0f} ms goal")


if __name__ == "__main__":
    main()
