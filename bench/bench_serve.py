"""`vlmr1 serve` under 8 concurrent clients against the serial R1-V-style reward loop, on the
same rows of a GRPO rollout file, both measured in one run.

The rollout file: math and counting prompts x G generations, written the way a policy
in training writes them (half of a group repeats a short answer, the rest reason in
their own words, some break the format), plus the real Qwen2-VL counting outputs of
``shared/corpora/vlm-r1/`` when present. Solutions are R1-V's ``<answer> N </answer>``.

Baseline (``r1v_loop``): R1-V's reward functions, one completion at a time in one
process: format ``re.match(<think>.*?</think>\\s*<answer>.*?</answer>)``, accuracy
``verify(parse(completion), parse(solution))`` and, if that fails, an exact match of the
``<answer>`` contents.

Service: ``vlmr1 serve`` (format + math accuracy, isolated workers) in its own process;
8 client threads take batches of 64 rows from one queue and POST them to /score.

Both are timed twice, on rows neither has seen (``measure`` rows; the ``warm-up`` rows
are other prompts): cold = a fresh process, start-up and first batch included (for the
service: spawn -> ready -> every measure row scored); warm = after scoring the warm-up
rows (warm-only, labelled so). Prints rows/s, the ratios and per-request latency
percentiles; asserts nothing about time.

    python bench/bench_serve.py [--prompts 96] [--generations 8] [--clients 8] [--batch 64] [--workers 2]
                                [--plain-math] [--no-corpus] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent.parent / "shared" / "corpora" / "vlm-r1"
THINK = ("Let me look carefully. First I restate the question, then I work through it step by step and "
         "check the result against what the question asks. ")
CONFIG = """\
rewards:
  - {{name: format, weight: 0.5}}
  - {{name: accuracy, reward: math, weight: 1.0, tasks: [math, counting]}}
engine: {{workers: {workers}, timeout: 10}}
"""


# ----------------------------------------------------------------- the rows ------
def _math_item(rng: random.Random, k: int) -> tuple[str, list[str]]:
    return rng.choice([
        (f"\\frac{{{k}}}{{4}}", [f"\\frac{{{k}}}{{4}}", str(k / 4), f"\\frac{{{2 * k}}}{{8}}", f"\\frac{{4}}{{{k}}}"]),
        (f"{k}\\sqrt{{3}}", [f"{k}\\sqrt{{3}}", f"\\sqrt{{{3 * k * k}}}", f"{k}\\sqrt{{2}}"]),
        (str(40 + k), [str(40 + k), f"{40 + k}.0", str(39 + k)]),
        (f"-\\frac{{1}}{{{k}}}", [f"-\\frac{{1}}{{{k}}}", f"-1/{k}", f"\\frac{{1}}{{{k}}}"]),
        (f"{k}.5", [f"{k}.5", f"\\frac{{{2 * k + 1}}}{{2}}", str(k)]),
    ])


def rollout(prompts: int, generations: int, seed: int, first: int = 0, delimited: bool = True) -> list[dict]:
    """GRPO rows: half math, half counting; every prompt its own solution. ``delimited``: math
    answers and solutions written as ``$...$``, as math-tuned models and math datasets write
    them; without the delimiters math-verify's ``parse`` of a whole completion finds no LaTeX
    and the R1-V loop falls back to string equality (fast, and wrong for ``0.25`` vs ``1/4``)."""
    rng = random.Random(seed)
    rows = []
    for p in range(first, first + prompts):
        if p % 2:
            gold, variants = _math_item(rng, rng.randint(2, 9) + 10 * p)
            if delimited:
                gold, variants = f"${gold}$", [f"${v}$" for v in variants]
            task = "math"
        else:
            n = rng.randint(1, 12)
            gold, variants = str(n), [str(n), str(n + 1), f"{n} objects", str(max(0, n - 1))]
            task = "counting"
        short = f"<think>{THINK}</think>"
        for g in range(generations):
            ans = variants[min(int(rng.expovariate(1.2)), len(variants) - 1)]
            think = short if rng.random() < 0.5 else f"<think>{THINK}Attempt {g}: another route.</think>"
            text = f"{THINK}So the answer is {ans}." if rng.random() < 0.1 else f"{think}<answer>{ans}</answer>"
            rows.append({"id": f"p{p}", "group": f"p{p}", "task": task, "solution": f"<answer> {gold} </answer>",
                         "completion": text})
    return rows


def corpus_rows() -> list[dict]:
    """The real counting outputs, four models' answers per image, as one group per image."""
    rows = []
    for path in sorted(CORPUS.glob("counting_results_*.json")):
        for i, r in enumerate(json.loads(path.read_text())["results"]):
            rows.append({"id": f"img{i}", "group": f"img{i}", "task": "counting",
                         "solution": f"<answer> {r['ground_truth']} </answer>", "completion": r["model_output"]})
    rows.sort(key=lambda r: int(r["id"][3:]))
    return rows


# ------------------------------------------------------- the R1-V-style baseline ----
def r1v_loop(rows: list[dict]) -> list[float]:
    """R1-V's format and accuracy rewards, serially."""
    from math_verify import parse, verify

    fmt = re.compile(r"<think>.*?</think>\s*<answer>.*?</answer>")
    out = []
    for r in rows:
        content, sol = r["completion"], r["solution"]
        reward = 0.0
        try:
            if float(verify(parse(content), parse(sol))) > 0:
                reward = 1.0
        except Exception:
            pass
        if reward == 0.0:
            try:
                sol_match = re.search(r"<answer>(.*?)</answer>", sol)
                ground_truth = sol_match.group(1).strip() if sol_match else sol.strip()
                content_match = re.search(r"<answer>(.*?)</answer>", content)
                student_answer = content_match.group(1).strip() if content_match else content.strip()
                if student_answer == ground_truth:
                    reward = 1.0
            except Exception:
                pass
        out.append(reward + 0.5 * (1.0 if fmt.match(content) else 0.0))
    return out


def baseline_child(path: str) -> None:
    data = json.loads(Path(path).read_text())
    t = time.perf_counter()
    r1v_loop(data["measure"])
    cold = time.perf_counter() - t
    r1v_loop(data["warmup"])
    t = time.perf_counter()
    scores = r1v_loop(data["measure"])
    warm = time.perf_counter() - t
    print(json.dumps({"cold_loop_s": cold, "warm_s": warm, "scores": scores}))


# ------------------------------------------------------------- the service ------
def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def drive(url: str, rows: list[dict], clients: int, batch: int) -> tuple[float, list[float], list[float]]:
    """Every row once, ``clients`` threads each taking the next batch; (seconds, latencies, totals)."""
    import httpx

    # bodies encoded before the clock starts: a trainer encodes on its own machine
    batches = [json.dumps({"rows": rows[i:i + batch]}).encode() for i in range(0, len(rows), batch)]
    totals: list[list[float]] = [[] for _ in batches]
    latencies: list[float] = []
    lock = threading.Lock()
    nxt = iter(range(len(batches)))

    def client() -> None:
        with httpx.Client(timeout=120) as http:
            while True:
                with lock:
                    i = next(nxt, None)
                if i is None:
                    return
                t = time.perf_counter()
                r = http.post(url + "/score", content=batches[i], headers={"content-type": "application/json"})
                r.raise_for_status()
                elapsed = time.perf_counter() - t
                with lock:
                    latencies.append(elapsed)
                    totals[i] = [x if x is not None else 0.0 for x in r.json()["total"]]

    t = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return time.perf_counter() - t, latencies, [x for b in totals for x in b]


def serve(config: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "VLMR1_PLUGINS": ""}
    return subprocess.Popen([sys.executable, "-m", "vlmr1.cli", "serve", "--config", str(config), "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_ready(url: str, proc: subprocess.Popen) -> None:
    import httpx

    while True:
        if proc.poll() is not None:
            raise SystemExit(f"vlmr1 serve exited with {proc.returncode}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def service_run(config: Path, data: dict, clients: int, batch: int) -> dict:
    out = {}
    # cold: a fresh server, spawn -> ready -> every measure row scored
    port = free_port()
    t = time.perf_counter()
    proc = serve(config, port)
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc)
        out["ready_s"] = time.perf_counter() - t
        _, _, _ = drive(f"http://127.0.0.1:{port}", data["measure"], clients, batch)
        out["cold_s"] = time.perf_counter() - t
    finally:
        proc.terminate()
        proc.wait(30)
    # warm: another fresh server, warmed on other prompts, then the measure rows
    port = free_port()
    proc = serve(config, port)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, proc)
        drive(url, data["warmup"], clients, batch)
        out["warm_s"], out["latencies"], out["totals"] = drive(url, data["measure"], clients, batch)
    finally:
        proc.terminate()
        proc.wait(30)
    return out


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--baseline-child":
        baseline_child(sys.argv[2])
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompts", type=int, default=96, help="generated prompts in the measured rows")
    ap.add_argument("--generations", type=int, default=8)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-corpus", action="store_true", help="generated rows only")
    ap.add_argument("--plain-math", action="store_true", help="math answers without $...$ (see rollout())")
    ap.add_argument("--out", help="also write the measured rows here as a JSONL rollout file")
    args = ap.parse_args()

    delimited = not args.plain_math
    measure = rollout(args.prompts, args.generations, seed=1, delimited=delimited)
    warmup = rollout(max(8, args.prompts // 4), args.generations, seed=2, first=10_000, delimited=delimited)
    real = [] if args.no_corpus or not CORPUS.is_dir() else corpus_rows()
    if real:  # the real outputs split by image: some warm the service, the rest are measured
        warmup += [r for r in real if int(r["id"][3:]) < 50]
        measure += [r for r in real if int(r["id"][3:]) >= 50]
    if args.out:
        Path(args.out).write_text("".join(json.dumps(r) + "\n" for r in measure))
    with tempfile.TemporaryDirectory() as tmp:
        rows_path = Path(tmp) / "rows.json"
        rows_path.write_text(json.dumps({"measure": measure, "warmup": warmup}))
        config = Path(tmp) / "rewards.yaml"
        config.write_text(CONFIG.format(workers=args.workers))
        print(f"rows: {len(measure)} measured ({sum(r['id'].startswith('img') for r in measure)} real counting outputs), "
              f"{len(warmup)} warm-up; {args.clients} clients x batches of {args.batch}; {os.cpu_count()} CPUs (shared)")

        t = time.perf_counter()
        child = subprocess.run([sys.executable, __file__, "--baseline-child", str(rows_path)], capture_output=True,
                               text=True, check=True)
        base_process = time.perf_counter() - t
        base = json.loads(child.stdout.strip().splitlines()[-1])
        svc = service_run(config, json.loads(rows_path.read_text()), args.clients, args.batch)

    n = len(measure)
    lat = [x * 1000 for x in svc["latencies"]]
    print(f"R1-V-style serial loop : cold {n / base_process:8.0f} rows/s (whole process {base_process:.2f}s)  "
          f"warm-only {n / base['warm_s']:8.0f} rows/s ({base['warm_s']:.2f}s)")
    print(f"vlmr1 serve, {args.clients} clients : cold {n / svc['cold_s']:8.0f} rows/s (spawn->ready {svc['ready_s']:.2f}s, "
          f"all rows {svc['cold_s']:.2f}s)  warm-only {n / svc['warm_s']:8.0f} rows/s ({svc['warm_s']:.2f}s)")
    print(f"ratio warm (service / loop): {base['warm_s'] / svc['warm_s']:.1f}x   "
          f"cold (whole processes): {base_process / svc['cold_s']:.1f}x")
    print(f"request latency (warm, {len(lat)} requests of {args.batch} rows): p50 {_percentile(lat, 50):.0f} ms  "
          f"p90 {_percentile(lat, 90):.0f} ms  p99 {_percentile(lat, 99):.0f} ms")
    agree = sum(abs(a - b) < 1e-9 for a, b in zip(base["scores"], svc["totals"])) / n
    print(f"same total as the loop on {agree:.0%} of rows (the engine reads answers the loop misses, e.g. "
          f"'{{n}} objects', and the loop's parse of a whole completion can pick up a number from the reasoning)")


if __name__ == "__main__":
    main()
