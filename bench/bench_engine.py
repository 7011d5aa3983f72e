"""Engine throughput against a serial loop of reward functions written the way VLM-R1
writes them, on a realistic GRPO batch, both measured in one run.

The baseline (``vlmr1_style_rewards``) follows VLM-R1's reward code: for every
completion, math accuracy calls ``math_verify.parse`` on the answer AND on the gold
(re-parsed for each of the G generations) and ``verify``, falling back to numeric /
string comparison; REC accuracy is its regex box extraction and pixel-inclusive IoU
> 0.5; format is its think/answer ``re.fullmatch``. Everything runs in one process,
one item at a time, as TRL calls a sync reward function.

The engine runs the first-party ``format``, ``math`` and ``iou`` rewards with its
worker pool (gold parsed once per prompt, duplicate completions scored once, cheap
rewards inline and vectorised).

    python bench/bench_engine.py [--prompts 64] [--generations 8] [--batches 3] [--workers 2] [--math-share 0.75] [--delimited] [--repeat 3]

Prints throughputs and ratios; asserts nothing about time.

**Warm-only.** Every contender runs in a forked child of a parent that has already imported
math-verify and read the usual answer shapes, and the engine's first batch (pool start
included) is left out of the timed batches: these figures say nothing about start-up or a
first batch. ``bench/bench_rollouts.py`` times whole processes, cold and warm, and every
512-row batch from the first.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import time
from difflib import SequenceMatcher


# ---------------------------------------------------------------- the batch ------
def math_item(kind: int, k: int) -> tuple[str, list[str]]:
    """A gold answer (unique per prompt through ``k``) and answers a model gives, right and wrong."""
    return [
        (f"\\frac{{{k}}}{{4}}", [f"\\frac{{{k}}}{{4}}", str(k / 4), f"\\frac{{{2 * k}}}{{8}}", f"\\frac{{4}}{{{k}}}"]),
        (f"{k}\\sqrt{{3}}", [f"{k}\\sqrt{{3}}", f"\\sqrt{{{3 * k * k}}}", f"{k}\\sqrt{{2}}"]),
        (f"x^2 + {2 * k}x + {k * k}", [f"(x+{k})^2", f"x^2+{2 * k}x+{k * k}", f"x^2+{k * k}"]),
        (f"\\frac{{\\pi}}{{{k}}}", [f"\\frac{{\\pi}}{{{k}}}", f"\\pi/{k}", "\\pi"]),
        (str(40 + k), [str(40 + k), f"{40 + k}.0", str(39 + k)]),
        (f"-\\frac{{1}}{{{k}}}", [f"-\\frac{{1}}{{{k}}}", f"-1/{k}", f"\\frac{{1}}{{{k}}}"]),
        (f"{15 * k}^\\circ", [f"{15 * k}^\\circ", str(15 * k), f"{30 * k}^\\circ"]),
        (f"{k}.5", [f"{k}.5", f"\\frac{{{2 * k + 1}}}{{2}}", str(k)]),
    ][kind]


THINK = ("Let me work through this carefully. First I restate the problem, then I set up the equation, "
         "simplify both sides, and check the result against the constraints given in the question. ")


def make_batch(prompts: int, generations: int, math_share: float, seed: int, delimited: bool = False) -> list[dict]:
    """GRPO rows: ``prompts`` x ``generations`` completions, each row with its own solution
    (unique per prompt). About half the generations of a group give the short, identical
    completion a converging policy repeats; the rest reason in their own words. Some
    completions break the format. ``delimited``: math answers and solutions written as
    ``$...$`` (as math-tuned models and many datasets write them), which is where VLM-R1's
    ``parse`` finds an expression and really verifies instead of falling back to a
    string-similarity score."""
    rng = random.Random(seed)
    rows = []
    for p in range(prompts):
        if rng.random() < math_share:
            gold, variants = math_item(rng.randrange(8), rng.randint(2, 9) + 10 * p)
            if delimited:
                gold, variants = f"${gold}$", [f"${v}$" for v in variants]
            short = f"<think>{THINK}</think>"
            for g in range(generations):
                ans = variants[min(int(rng.expovariate(1.2)), len(variants) - 1)]
                think = short if rng.random() < 0.5 else f"<think>{THINK}Attempt {g}: I try another route.</think>"
                text = f"{THINK} So the answer is {ans}." if rng.random() < 0.1 else f"{think}<answer>{ans}</answer>"
                rows.append({"task": "math", "solution": gold, "completion": text, "id": f"p{p}", "group": f"p{p}"})
        else:
            w, h = rng.choice([(640, 480), (1024, 768), (800, 600)])
            x1, y1 = rng.randint(0, w // 2), rng.randint(0, h // 2)
            box = [x1, y1, x1 + rng.randint(40, w // 2), y1 + rng.randint(40, h // 2)]
            for g in range(generations):
                jitter = rng.choice([0, 0, 0, 2, 5, 60])
                pred = [c + (rng.randint(-jitter, jitter) if jitter else 0) for c in box]
                body = '{"bbox_2d": [%d, %d, %d, %d], "label": "object"}' % tuple(pred)
                text = f"<think>The object is near the described place.</think><answer>{body}</answer>"
                rows.append({"task": "rec", "solution": box, "completion": text, "image_size": [w, h],
                             "input_size": [w, h], "id": f"p{p}", "group": f"p{p}"})
    return rows


# ------------------------------------------------- VLM-R1-style serial baseline ----
def _vlmr1_math_accuracy(content: str, sol: str) -> float:
    from math_verify import parse, verify

    reward = 0.0
    sol_match = re.search(r"<answer>(.*?)</answer>", sol)
    ground_truth = sol_match.group(1).strip() if sol_match else sol.strip()
    content_matches = re.findall(r"<answer>(.*?)</answer>", content, re.DOTALL)
    student_answer = content_matches[-1].strip() if content_matches else content.strip()
    try:
        answer = parse(student_answer)
        if float(verify(answer, parse(ground_truth))) > 0:  # gold parsed again for every generation
            reward = 1.0
    except Exception:
        pass
    if reward == 0.0:
        try:
            if re.search(r"\d", ground_truth):
                try:
                    reward = 1.0 if float(student_answer) == float(ground_truth) else 0.0
                except ValueError:
                    reward = SequenceMatcher(None, student_answer.lower(), ground_truth.lower()).ratio()
            else:
                reward = SequenceMatcher(None, student_answer.lower(), ground_truth.lower()).ratio()
        except Exception:
            pass
    return reward


def _vlmr1_iou(box1: list, box2: list) -> float:
    inter_x1, inter_y1 = max(box1[0], box2[0]), max(box1[1], box2[1])
    inter_x2, inter_y2 = min(box1[2] - 1, box2[2] - 1), min(box1[3] - 1, box2[3] - 1)
    if inter_x1 < inter_x2 and inter_y1 < inter_y2:
        inter = (inter_x2 - inter_x1 + 1) * (inter_y2 - inter_y1 + 1)
    else:
        inter = 0
    union = (box1[2] - box1[0]) * (box1[3] - box1[1]) + (box2[2] - box2[0]) * (box2[3] - box2[1]) - inter
    return float(inter) / union


_BBOX = r"\[(\d+),\s*(\d+),\s*(\d+),\s*(\d+)]"


def _vlmr1_rec_accuracy(content: str, sol: list) -> float:
    reward = 0.0
    try:
        m = re.search(r"<answer>(.*?)</answer>", content, re.DOTALL)
        if m:
            b = re.search(_BBOX, m.group(1).strip())
            if b:
                bbox = [int(b.group(i)) for i in range(1, 5)]
                if _vlmr1_iou(bbox, sol) > 0.5:
                    reward = 1.0
    except Exception:
        pass
    return reward


def vlmr1_style_rewards(rows: list[dict]) -> list[float]:
    """accuracy + format per completion, serially, as VLM-R1's reward functions compute them."""
    out = []
    fmt = re.compile(r"<think>.*?</think>\s*<answer>.*?</answer>", re.DOTALL)
    for r in rows:
        c = r["completion"]
        acc = _vlmr1_math_accuracy(c, r["solution"]) if r["task"] == "math" else _vlmr1_rec_accuracy(c, r["solution"])
        out.append(acc + (1.0 if fmt.fullmatch(c) else 0.0))
    return out


def same_rewards_serially(rows: list[dict]) -> list[float]:
    """The first-party rewards the engine runs, called the VLM-R1 way: one completion at a
    time, in this process, ground truth prepared again for every completion, no dedupe.
    Same verification quality as the engine, so the ratio is the engine's own doing."""
    from vlmr1.registry import get_registry
    from vlmr1.rows import sample_from_row

    reg = get_registry()
    fmt, acc, iou = reg.reward("format"), reg.reward("math"), reg.reward("iou")
    iou_params = {**iou.defaults, "threshold": 0.5}
    out = []
    for i, r in enumerate(rows):
        s = sample_from_row(r, index=i)
        f = fmt.score_batch([s], [s.solution], fmt.defaults)[0].score or 0.0
        if r["task"] == "math":
            a = acc.score(s, acc.prepare(s.solution, acc.defaults), acc.defaults).score
        else:
            a = iou.score_batch([s], [iou.prepare(s.solution, iou_params)], iou_params)[0].score
        out.append(f + (a or 0.0))
    return out


# ---------------------------------------------------------------- the engine ------
def fresh(measure, repeat: int = 1):
    """The median of ``repeat`` runs of :func:`fresh_once` (by seconds)."""
    runs = sorted((fresh_once(measure) for _ in range(repeat)), key=lambda r: r[0])
    return runs[len(runs) // 2]


def fresh_once(measure):
    """Run ``measure`` in a forked child of the warmed-up parent and return its result.

    Every contender starts from the same process state: math-verify and sympy keep
    caches (parsed LaTeX, ANTLR's DFA), and a contender measured after another on the
    same batches would otherwise find their answers already parsed."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)

    def target():
        child.send(measure())
        child.close()

    proc = ctx.Process(target=target)
    proc.start()
    result = parent.recv()
    proc.join()
    return result


def engine_config(workers: int, dedupe: bool = True):
    from vlmr1.config import config_from_dict

    return config_from_dict({
        "rewards": [
            {"name": "format", "weight": 1.0},
            {"name": "accuracy", "reward": "math", "tasks": ["math"]},
            {"name": "iou", "tasks": ["rec"], "params": {"threshold": 0.5}},
        ],
        "engine": {"workers": workers, "timeout": 10, "dedupe": dedupe},
    })


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--generations", type=int, default=8)
    ap.add_argument("--batches", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--math-share", type=float, default=0.75)
    ap.add_argument("--repeat", type=int, default=3, help="runs per contender, each in a fresh fork; the median is shown")
    ap.add_argument("--delimited", action="store_true", help="math answers and solutions in $...$ (VLM-R1's parse then really verifies)")
    args = ap.parse_args()
    os.environ.setdefault("VLMR1_PLUGINS", "")

    import math_verify  # noqa: F401 - import cost is not part of either measurement
    from vlmr1.engine import Engine
    from vlmr1.rows import sample_from_row

    batches = [make_batch(args.prompts, args.generations, args.math_share, seed=1000 + b, delimited=args.delimited) for b in range(args.batches)]
    warm = make_batch(8, args.generations, args.math_share, seed=7, delimited=args.delimited)
    n = sum(len(b) for b in batches)
    distinct = sum(len({(r["completion"], str(r["solution"])) for r in b}) for b in batches)
    print(f"batch: {args.prompts} prompts x {args.generations} generations, math share {args.math_share:.0%}, "
          f"{'$-delimited' if args.delimited else 'bare'} math answers, "
          f"{args.batches} batches = {n} completions ({distinct} distinct), {os.cpu_count()} CPUs, workers={args.workers}")

    # Warm math-verify's grammar and caches in the parent, on other data, once for every
    # contender (each is then measured in its own forked child of this state).
    from vlmr1.plugins.math.verify import math_warmup

    math_warmup()
    vlmr1_style_rewards(warm)
    same_rewards_serially(warm)

    def serial(fn):
        def run():
            t = time.perf_counter()
            for b in batches:
                fn(b)
            return time.perf_counter() - t, None
        return run

    def engine(workers, dedupe):
        def run():
            with Engine(engine_config(workers, dedupe)) as eng:
                t0 = time.perf_counter()
                eng.score([sample_from_row(r, index=i) for i, r in enumerate(warm)])  # starts the pool
                cold = time.perf_counter() - t0
                t = time.perf_counter()
                for b in batches:
                    res = eng.score([sample_from_row(r, index=i) for i, r in enumerate(b)])
                s = time.perf_counter() - t
            errs = {k: v for k, v in res.metrics.items() if k.endswith(("/errors", "/timeouts")) and v}
            return s, (cold, errs, res.columns["accuracy"])
        return run

    base_s, _ = fresh(serial(vlmr1_style_rewards), args.repeat)
    print("warm-only: each contender forked from a warmed-up parent; start-up and the engine's first batch not timed")
    print(f"serial VLM-R1-style rewards: {base_s:8.3f} s  {n / base_s:9.1f} items/s")
    same_s, _ = fresh(serial(same_rewards_serially), args.repeat)
    print(f"serial loop, same first-party rewards: {same_s:8.3f} s  {n / same_s:9.1f} items/s")

    results = {}
    variants = (("engine", args.workers, True), ("engine, dedupe off", args.workers, False), ("engine, inline (workers=0)", 0, True))
    for label, workers, dedupe in variants:
        s, (cold, errs, accuracy) = fresh(engine(workers, dedupe), args.repeat)
        if label == "engine":
            eng_accuracy = accuracy
        results[label] = s
        print(f"{label + ':':28s} {s:8.3f} s  {n / s:9.1f} items/s  ({base_s / s:5.1f}x VLM-R1-style, {same_s / s:5.1f}x same rewards serially; "
              f"first batch incl. pool start {cold:.2f} s)")
        if errs:
            print(f"   failures in last batch: {errs}")
    print(f"ratio engine / VLM-R1-style serial (warm-only): {base_s / results['engine']:.1f}x; "
          f"engine / same rewards serially: {same_s / results['engine']:.1f}x")
    # How often the two disagree on math accuracy (the baseline's parse misses LaTeX without $...$
    # and then hands out fuzzy partial credit; the first-party reward verifies symbolically).
    last = batches[-1]
    base_acc = [_vlmr1_math_accuracy(r["completion"], r["solution"]) for r in last if r["task"] == "math"]
    eng_acc = [a for a, r in zip(eng_accuracy, last) if r["task"] == "math"]
    differ = sum(1 for a, b in zip(base_acc, eng_acc) if (a or 0.0) != (b or 0.0))
    print(f"math accuracy differs from the baseline on {differ}/{len(base_acc)} items of the last batch")


if __name__ == "__main__":
    sys.exit(main())
