"""rapidfuzz's edit distance (what the plugin uses) against the textbook table, both timed in this run.

    python examples/vlmr1-reward-ocr/bench/bench_distance.py

Prints, for transcriptions of several lengths with about 5 % of characters wrong,
the time of each and the ratio. Both must agree on every distance (checked).
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from vlmr1_reward_ocr.text import levenshtein  # noqa: E402


def table(a: str, b: str) -> int:
    """The O(len(a) * len(b)) dynamic-programming table, one row at a time."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def noisy(text: str, rng: random.Random, rate: float = 0.05) -> str:
    out = []
    for ch in text:
        r = rng.random()
        if r < rate / 3:
            continue  # deletion
        if r < 2 * rate / 3:
            out.append(rng.choice("abcdefghij "))  # substitution
        elif r < rate:
            out.append(ch + rng.choice("abcdefghij "))  # insertion
        else:
            out.append(ch)
    return "".join(out)


def best_of(fn, *args, repeat: int = 3) -> tuple[float, int]:
    best, value = float("inf"), -1
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn(*args)
        best = min(best, time.perf_counter() - start)
    return best, value


def main() -> None:
    rng = random.Random(0)
    print(f"{'chars':>6} {'table s':>10} {'rapidfuzz s':>15} {'ratio':>8}")
    for n in (100, 500, 2000, 5000):
        gold = "".join(rng.choice("abcdefghij ") for _ in range(n))
        answer = noisy(gold, rng)
        t_table, d_table = best_of(table, answer, gold, repeat=1 if n > 1000 else 3)
        t_bits, d_bits = best_of(levenshtein, answer, gold)
        assert d_table == d_bits, (n, d_table, d_bits)
        print(f"{n:>6} {t_table:>10.4f} {t_bits:>15.5f} {t_table / t_bits:>7.0f}x")


if __name__ == "__main__":
    main()
