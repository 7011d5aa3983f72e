"""What a user pays to score GRPO rollouts with the `math` reward, against the serial loop
it replaces, both measured in this run as whole processes.

The baseline is the R1-V-style accuracy reward as training scripts write it: for every
completion, ``verify(parse(completion), parse(solution))`` with math-verify, then an exact
match of the ``<answer>`` contents; one completion at a time, in one process.

Three rollout sets:

- **generated**: the shape of a counting task's GRPO rollouts (default 18,256 rows in groups
  of 8, about 4,700 distinct (completion, solution) pairs): most completions are prose
  (``There are 7 items in the image.``) or end ``<think> ... </answer>`` with a closing tag
  only; solutions are ``<answer> 6 </answer>``.
- **geometry**: math rollouts on geometry-style golds (default 4,096 rows in groups of 8):
  radicals, π, units, degrees, Chinese units, intervals and equations, in other spellings
  and wrong; answers only math-verify can judge, so its worker pool starts in the first batch.
- **real**: the counting outputs in ``corpora/vlm-r1/counting_results_*.json`` (four
  checkpoints on the same 200 questions, read as groups of 4).

Measured, each in a fresh process:

- whole process: ``vlmr1 score --config <math only>`` against the serial loop as a script,
  cold (the first run of each in this invocation) and warm (median of the later runs);
- per 512-row batch (one GRPO step), the engine built once: the engine's time for each
  batch (its construction counted in the first) against the serial loop's time for the same
  rows (math-verify imported beforehand).

Then, on rows whose completion has an ``<answer>`` tag and whose serial reward is right
(truth: the tag holds one integer, compared with the gold's integer), how often the two
rewards agree.

    python bench/bench_rollouts.py [--runs 3] [--workers 2] [--rows 18256] [--geometry-rows 4096]
        [--only generated|geometry|real]

Prints seconds and ratios; asserts nothing about time. Internal modes (``serial``,
``batches``) are the processes it times.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from r1v import r1v_accuracy

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpora" / "vlm-r1"
BATCH = 512

# ------------------------------------------------------------ the rollouts ------
COLORS = ("red", "blue", "green", "yellow", "purple", "cyan", "brown", "gray")
SHAPES = ("cube", "sphere", "cylinder", "bus", "bicycle", "car", "airplane", "motorbike", "truck", "scooter")
WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")


def _think(rng: random.Random, n: int) -> str:
    things = ", ".join(f"a {rng.choice(COLORS)} {rng.choice(SHAPES)}" for _ in range(min(n, 6)))
    return f"I look at the image and count the objects one by one: {things}."


def _completion(rng: random.Random, gold: int) -> str:
    n = gold if rng.random() < 0.55 else max(0, gold + rng.choice((-2, -1, -1, 1, 1, 2)))
    k = rng.random()
    if k < 0.55:
        line = rng.choice(("There are {n} items in the image.", "There are {n} objects in the image.",
                           "I can see {n} objects.", "The image contains {n} items.")).format(n=n)
        return f"{_think(rng, n)}\n{line}" if rng.random() < 0.3 else line
    if k < 0.85:
        if rng.random() < 0.5:
            return f"<think>\n{_think(rng, n)}\n</think>\n{n}\n</answer>"
        return f"<think> {_think(rng, n)} So the total is {n}. </answer>"
    if k < 0.97:
        if rng.random() < 0.5:
            return f"<think>{_think(rng, n)}</think>\n<answer>{n}</answer>"
        return f"<think>\n{_think(rng, n)}\n</think>\n<answer>\n{n}\n</answer>"
    return f"There are {WORDS[n] if n < len(WORDS) else n} objects in the image."


def generated_rollouts(rows: int = 18256, group: int = 8, seed: int = 0) -> list[dict]:
    """Counting rollouts in groups: each group's policy repeats one or two completions and
    now and then writes another."""
    rng = random.Random(seed)
    out = []
    for p in range(rows // group):
        gold = rng.randint(2, 10)
        usual = [_completion(rng, gold), _completion(rng, gold)]
        for _ in range(group):
            r = rng.random()
            text = usual[0] if r < 0.57 else usual[1] if r < 0.8 else _completion(rng, gold)
            out.append({"completion": text, "solution": f"<answer> {gold} </answer>", "task": "counting", "group": f"p{p}"})
    return out


def _geometry_item(rng: random.Random) -> tuple[str, list[str]]:
    """A gold as geometry and K-12 datasets write it, and answers a model gives: right in
    another spelling (or without the unit), and wrong (the radical or π dropped, another
    value)."""
    a, b, c = rng.randint(2, 12), rng.choice((2, 3, 5, 6, 7, 10, 13, 15)), rng.randint(1, 9)
    p, q = rng.randint(1, 9), rng.randint(2, 9)
    kind = rng.randrange(9)
    if kind == 7:  # an interval: math-verify reads these, in a worker
        return f"({-c}, {a})", [f"({-c},{a})", f"{-c} < x < {a}", f"[{-c}, {a}]", f"({-c}, {a + 1})"]
    if kind == 8:  # an equation: likewise
        return f"y = {a}x + {c}", [f"y={a}x+{c}", f"{a}x + {c}", f"y = {c} + {a}x", f"y = {a}x - {c}"]
    if kind == 0:
        return f"{a}√{{{b}}}", [f"{a}\\sqrt{{{b}}}", f"{a}√{b}", f"{a}sqrt({b})", f"\\sqrt{{{a * a * b}}}", str(a), f"{a * b ** 0.5:.2f}"]
    if kind == 1:
        return f"{a}√{{{b}}}cm", [f"{a}\\sqrt{{{b}}}", f"{a}\\sqrt{{{b}}} cm", str(a), f"{a}\\sqrt{{{b + 1}}}"]
    if kind == 2:
        return f"{a}πcm^{{2}}", [f"{a}\\pi", f"{a}π", f"{a}pi", str(a), f"{a * 3.14:.2f}"]
    if kind == 3:
        d = rng.randrange(20, 170, 5)
        return f"{d}°", [str(d), f"{d}^\\circ", f"{d + 10}", f"{180 - d}°"]
    if kind == 4:
        return f"\\frac{{{p}}}{{{q}}}√{{{b}}}", [f"\\frac{{{p}\\sqrt{{{b}}}}}{{{q}}}", f"{p}\\sqrt{{{b}}}/{q}", f"\\frac{{{p}}}{{{q}}}", f"{p / q:.1f}"]
    if kind == 5:
        return f"{a}.{c}米", [f"{a}.{c}", f"{a}.{c} m", f"{a}", f"{a}.{c + 1}"]
    return f"{a}√{{{b}}}-{c}", [f"{a}\\sqrt{{{b}}}-{c}", f"-{c}+{a}\\sqrt{{{b}}}", f"{a}", f"{a}\\sqrt{{{b}}}+{c}"]


def geometry_rollouts(rows: int = 4096, group: int = 8, seed: int = 1) -> list[dict]:
    """Math rollouts on geometry-style golds (radicals, π, units, degrees, Chinese units),
    with intervals and equations among them: answers only math-verify can judge, so the
    worker pool starts during the first batch."""
    rng = random.Random(seed)
    out = []
    for p in range(rows // group):
        gold, answers = _geometry_item(rng)
        for _ in range(group):
            ans = answers[min(int(rng.expovariate(0.9)), len(answers) - 1)]
            think = f"<think>{_think(rng, rng.randint(2, 6))} Then I compute the length.</think>"
            text = f"{think}<answer>{ans}</answer>" if rng.random() < 0.8 else f"{think} So the answer is $\\boxed{{{ans}}}$."
            out.append({"completion": text, "solution": gold, "task": "math", "group": f"g{p}"})
    return out


def real_rollouts(corpus: Path = CORPUS) -> list[dict]:
    """The counting outputs of four checkpoints on one set of questions, grouped by question."""
    files = sorted(glob.glob(str(corpus / "counting_results_*.json")))
    runs = [json.load(open(f, encoding="utf-8"))["results"] for f in files]
    out = []
    for q in range(min(len(r) for r in runs) if runs else 0):
        for r in runs:
            item = r[q]
            out.append({"completion": item["model_output"], "solution": f"<answer> {item['ground_truth']} </answer>",
                        "task": "counting", "group": f"q{q}"})
    return out


# ----------------------------------------------------- the serial baseline ------
def serial_main(inp: str, out: str) -> None:
    """The serial loop as a script: import, read, score every row, write the rewards."""
    from math_verify import parse, verify

    rows = [json.loads(line) for line in open(inp, encoding="utf-8")]
    rewards = [r1v_accuracy(r["completion"], r["solution"], parse, verify) for r in rows]
    with open(out, "w", encoding="utf-8") as fh:
        json.dump(rewards, fh)


def batches_main(inp: str, config: str, workers: int) -> None:
    """Per-batch times, one line of JSON: the engine's (built once, first batch included)
    and the serial loop's on the same rows (math-verify imported before timing)."""
    rows = [json.loads(line) for line in open(inp, encoding="utf-8")]
    chunks = [rows[i:i + BATCH] for i in range(0, len(rows), BATCH)]
    mode = os.environ.get("BENCH_SIDE", "engine")
    times = []
    if mode == "engine":
        t0 = time.perf_counter()
        from vlmr1.config import load_config
        from vlmr1.engine import Engine

        eng = Engine(load_config(config).with_engine(workers=workers))
        build = time.perf_counter() - t0
        for c in chunks:
            t = time.perf_counter()
            eng.score(c)
            times.append(time.perf_counter() - t)
        eng.close()
        print(json.dumps({"build": build, "batches": times}))
    else:
        from math_verify import parse, verify

        for c in chunks:
            t = time.perf_counter()
            for r in c:
                r1v_accuracy(r["completion"], r["solution"], parse, verify)
            times.append(time.perf_counter() - t)
        print(json.dumps({"build": 0.0, "batches": times}))


# ----------------------------------------------------------- measuring ------
def _run(cmd: list[str], env: dict | None = None) -> tuple[float, str]:
    t = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=ROOT)
    took = time.perf_counter() - t
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    return took, done.stdout


def whole_process(name: str, inp: Path, config: Path, tmp: Path, runs: int) -> dict:
    vlmr1 = [str(Path(sys.executable).with_name("vlmr1")), "score", "--config", str(config), "--input", str(inp),
             "--output", str(tmp / f"{name}.scored.jsonl"), "--no-progress"]
    serial = [sys.executable, str(Path(__file__).resolve()), "serial", str(inp), str(tmp / f"{name}.serial.json")]
    got: dict[str, list[float]] = {"vlmr1": [], "serial": []}
    for _ in range(runs):  # alternate, so drift on a shared machine hits both alike
        for key, cmd in (("vlmr1", vlmr1), ("serial", serial)):
            if key == "vlmr1":
                (tmp / f"{name}.scored.jsonl").unlink(missing_ok=True)  # or the next run only resumes it
            got[key].append(_run(cmd)[0])
    return got


def per_batch(name: str, inp: Path, config: Path, workers: int) -> dict:
    me = [sys.executable, str(Path(__file__).resolve()), "batches", str(inp), str(config), str(workers)]
    engine = json.loads(_run(me, {"BENCH_SIDE": "engine"})[1].strip().splitlines()[-1])
    serial = json.loads(_run(me, {"BENCH_SIDE": "serial"})[1].strip().splitlines()[-1])
    return {"engine": engine, "serial": serial}


_INT = re.compile(r"-?\d+")


def truth(completion: str, solution: str) -> bool | None:
    """Right or wrong by an independent reading: the answer region (the last answer block,
    or the text before a closing tag without its opening) holds exactly one integer; None
    when it does not."""
    close = completion.rfind("</answer>")
    if close < 0:
        return None
    start = completion.rfind("<answer>", 0, close)
    region = completion[start + len("<answer>"):close] if start >= 0 else completion[completion.rfind("</think>", 0, close) + 8:close]
    found = _INT.findall(region)
    gold = _INT.findall(solution)
    return (int(found[0]) == int(gold[0])) if len(found) == 1 and len(gold) == 1 else None


def agreement(rows: list[dict], scored: Path, serial: Path) -> str:
    ours = [json.loads(line)["rewards"]["accuracy"] for line in open(scored, encoding="utf-8")]
    theirs = json.load(open(serial, encoding="utf-8"))
    lines = []
    for label, keep in (("with an <answer> tag", lambda c: "<answer>" in c and "</answer>" in c),
                        ("with a closing </answer> only", lambda c: "</answer>" in c and "<answer>" not in c)):
        idx = [i for i, r in enumerate(rows) if keep(r["completion"])]
        judged = [(i, truth(rows[i]["completion"], rows[i]["solution"])) for i in idx]
        right = [i for i, t in judged if t is not None and (theirs[i] == 1.0) == t]
        agree = sum(1 for i in right if (ours[i] or 0.0) == theirs[i])
        ours_right = sum(1 for i, t in judged if t is not None and ((ours[i] or 0.0) == 1.0) == t)
        known = sum(1 for _, t in judged if t is not None)
        if idx:
            lines.append(f"  rows {label}: {len(idx)}; truth known for {known}; serial reward right on {len(right)}; "
                         f"vlmr1 agrees there on {agree} ({100.0 * agree / max(1, len(right)):.2f} %); "
                         f"vlmr1 right on {ours_right}/{known}")
    total_ours = sum(1 for x in ours if x == 1.0)
    lines.append(f"  mean reward: vlmr1 {total_ours / len(ours):.4f}, serial {sum(theirs) / len(theirs):.4f}")
    return "\n".join(lines)


def report(name: str, rows: list[dict], whole: dict, batches: dict) -> None:
    distinct = len({(r["completion"], r["solution"]) for r in rows})
    v, s = whole["vlmr1"], whole["serial"]
    cold_v, cold_s = v[0], s[0]
    warm_v, warm_s = statistics.median(v[1:] or v), statistics.median(s[1:] or s)
    print(f"\n== {name}: {len(rows)} rows, {distinct} distinct (completion, solution) pairs ==")
    print("whole process   vlmr1 score      serial loop      ratio")
    print(f"  cold          {cold_v:8.2f} s      {cold_s:8.2f} s      {cold_s / cold_v:5.1f} x")
    print(f"  warm (median) {warm_v:8.2f} s      {warm_s:8.2f} s      {warm_s / warm_v:5.1f} x   (runs: vlmr1 "
          f"{', '.join(f'{x:.2f}' for x in v)}; serial {', '.join(f'{x:.2f}' for x in s)})")
    e, b = batches["engine"], batches["serial"]["batches"]
    first = e["build"] + e["batches"][0]
    ratios = [sb / eb for sb, eb in zip(b, e["batches"])]
    print(f"per {BATCH}-row batch, engine built once ({e['build']:.2f} s to build):")
    print(f"  first batch   engine {e['batches'][0]:.3f} s (+ build = {first:.3f} s)   serial {b[0]:.3f} s   "
          f"ratio {b[0] / e['batches'][0]:.1f} x ({b[0] / first:.1f} x counting the build)")
    if len(b) > 1:
        print(f"  later batches engine median {statistics.median(e['batches'][1:]):.3f} s   serial median "
              f"{statistics.median(b[1:]):.3f} s   ratio min {min(ratios[1:]):.1f} x, median {statistics.median(ratios[1:]):.1f} x")
    print(f"  total         engine {e['build'] + sum(e['batches']):.2f} s   serial {sum(b):.2f} s   "
          f"ratio {sum(b) / (e['build'] + sum(e['batches'])):.1f} x")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "serial":
        return serial_main(sys.argv[2], sys.argv[3])
    if len(sys.argv) > 1 and sys.argv[1] == "batches":
        return batches_main(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="whole-process runs of each contender (the first is the cold one)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rows", type=int, default=18256)
    ap.add_argument("--only", choices=("generated", "real", "geometry"))
    ap.add_argument("--geometry-rows", type=int, default=4096)
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    args = ap.parse_args()
    sets = []
    if args.only in (None, "generated"):
        sets.append(("generated", generated_rollouts(args.rows)))
    if args.only in (None, "geometry"):
        sets.append(("geometry (generated math golds: radicals, π, units, degrees)", geometry_rollouts(args.geometry_rows)))
    if args.only in (None, "real"):
        real = real_rollouts(args.corpus)
        if real:
            sets.append(("real (corpora/vlm-r1 counting)", real))
        else:
            print(f"no counting_results_*.json under {args.corpus}: real rollouts skipped")
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}, workers={args.workers}, runs={args.runs}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        config = tmp / "math.yaml"
        config.write_text(f"rewards:\n  - name: accuracy\n    reward: math\nengine:\n  workers: {args.workers}\n  timeout: 10\n")
        for name, rows in sets:
            key = name.split()[0]
            inp = tmp / f"{key}.jsonl"
            with open(inp, "w", encoding="utf-8") as fh:
                fh.writelines(json.dumps(r) + "\n" for r in rows)
            whole = whole_process(key, inp, config, tmp, args.runs)
            batches = per_batch(key, inp, config, args.workers)
            report(name, rows, whole, batches)
            print("agreement on the same rows (the last whole-process outputs):")
            print(agreement(rows, tmp / f"{key}.scored.jsonl", tmp / f"{key}.serial.json"))


if __name__ == "__main__":
    sys.exit(main())
