"""Format check on adversarial completions: vlmr1's linear scan against VLM-R1's REC
format regex, same inputs, same run.

VLM-R1 checks the REC format with
``<think>.*?</think>\\s*<answer>.*?\\{.*\\[\\d+,\\s*\\d+,\\s*\\d+,\\s*\\d+\\].*\\}.*?</answer>``
(re.DOTALL, re.search). On a completion that repeats ``<think></think><answer>{[1,2,3,4]}``
without ever closing the answer, every start position, every ``</think>``, every ``{``
and every ``[`` combine, and the time grows with a high power of the length. The baseline
runs in a child process with a time limit so this script always ends.

    python bench/bench_format.py            # sizes up to the baseline's limit, then 100 kB
    python bench/bench_format.py --limit 60
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import re
import statistics
import time

VLMR1_REC_FORMAT = r"<think>.*?</think>\s*<answer>.*?\{.*\[\d+,\s*\d+,\s*\d+,\s*\d+\].*\}.*?</answer>"
UNIT = "<think></think><answer>{[1,2,3,4]}"


def adversarial(n: int) -> str:
    return UNIT * n


def _baseline(text: str, out: "mp.Queue[float]") -> None:
    pattern = re.compile(VLMR1_REC_FORMAT, re.DOTALL)
    start = time.perf_counter()
    pattern.search(text)
    out.put(time.perf_counter() - start)


def baseline_seconds(text: str, limit: float) -> float | None:
    """VLM-R1's regex on ``text`` in a child process; None if it ran past ``limit``."""
    queue: mp.Queue[float] = mp.Queue()
    proc = mp.Process(target=_baseline, args=(text, queue))
    proc.start()
    proc.join(limit)
    if proc.is_alive():
        proc.kill()
        proc.join()
        return None
    return queue.get()


def ours_seconds(text: str, repeat: int = 7) -> tuple[float, object]:
    from vlmr1.plugins.json.rewards import FORMAT_DEFAULTS, format_score_batch
    from vlmr1.types import Sample

    sample = [Sample(text, task="rec")]
    format_score_batch(sample, [None], FORMAT_DEFAULTS)  # registry loaded, validator compiled
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        verdict = format_score_batch(sample, [None], FORMAT_DEFAULTS)[0]
        times.append(time.perf_counter() - start)
    return statistics.median(times), verdict


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=float, default=30.0, help="seconds the baseline may take per input")
    ap.add_argument("--sizes", default="10,20,30,40,60,150", help="repetitions of the adversarial unit")
    args = ap.parse_args()
    print(f"{'chars':>8} {'vlmr1 ms':>10} {'VLM-R1 regex ms':>16} {'ratio':>10}")
    gave_up = False
    for n in (int(x) for x in args.sizes.split(",")):
        text = adversarial(n)
        ours, verdict = ours_seconds(text)
        assert verdict.score == 0.0, verdict
        base = None if gave_up else baseline_seconds(text, args.limit)
        if base is None:
            gave_up = True
            shown, ratio = f">{args.limit * 1000:.0f}", f">{args.limit / ours:,.0f}x"
        else:
            shown, ratio = f"{base * 1000:.1f}", f"{base / ours:,.0f}x"
        print(f"{len(text):>8} {ours * 1000:>10.3f} {shown:>16} {ratio:>10}")
    for label, text in (
        ("100 kB adversarial", adversarial(100_000 // len(UNIT))),
        ("100 kB '<think>'*N", "<think>" * (100_000 // 7)),
        ("100 kB valid", "<think>" + "the cup " * 12_500 + '</think><answer>{"bbox_2d": [1, 2, 3, 4]}</answer>'),
    ):
        seconds, verdict = ours_seconds(text)
        print(f"{label:>24}: {len(text)} chars, vlmr1 {seconds * 1000:.3f} ms ({verdict.reason})")
    schema_check()


def schema_check(n: int = 300) -> None:
    """The compiled-once validator against ``jsonschema.validate`` (which checks and
    compiles the schema on every call), on one REC answer."""
    import jsonschema

    from vlmr1.plugins.json.jsonanswer import schema_error
    from vlmr1.plugins.json.templates import REC_SCHEMA

    value = {"bbox_2d": [135, 82, 310, 398], "label": "red cup"}
    schema_error(value, REC_SCHEMA)
    start = time.perf_counter()
    for _ in range(n):
        schema_error(value, REC_SCHEMA)
    cached = (time.perf_counter() - start) / n
    start = time.perf_counter()
    for _ in range(n):
        jsonschema.validate(value, REC_SCHEMA)
    plain = (time.perf_counter() - start) / n
    print(f"schema check per answer: cached validator {cached * 1e6:.1f} us, jsonschema.validate "
          f"{plain * 1e6:.1f} us ({plain / cached:.0f}x)")


if __name__ == "__main__":
    main()
