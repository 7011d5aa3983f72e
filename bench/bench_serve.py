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
8 client processes (as 8 rollout workers would) each POST their share of the 64-row batches
to /score, one after another.

Cold: fresh processes on the first measured set, start-up and first batch included (the
loop: the whole process; the service: spawn -> ready -> every row scored). Warm (labelled
warm-only): a loop process and a service, each warmed up on other prompts, score
``--repeat`` sets of fresh prompts, taking turns, so both meet the same load on this
shared machine; the ratio of each set and their median are printed, with per-request
latency percentiles. Asserts nothing about time.

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


def baseline_child(path: str, mode: str) -> None:
    """``cold``: score set 0 and exit (the parent times the whole process). ``warm``: warm up,
    then score the set named on each stdin line, answering with its time and scores."""
    data = json.loads(Path(path).read_text())
    if mode == "cold":
        print(json.dumps({"scores": r1v_loop(data["sets"][0])}))
        return
    r1v_loop(data["warmup"])
    print("ready", flush=True)
    for line in sys.stdin:
        rows = data["sets"][int(line)]
        t = time.perf_counter()
        scores = r1v_loop(rows)
        print(json.dumps({"seconds": time.perf_counter() - t, "scores": scores}), flush=True)


# ------------------------------------------------------------- the service ------
def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def _client(url: str, bodies: list[tuple[int, bytes]], go, out) -> None:
    """One client process: its share of the batches, one request after another."""
    import httpx

    got = []
    with httpx.Client(timeout=120) as http:
        http.get(url + "/health")  # connection open before the clock starts
        go.wait()
        for i, body in bodies:
            t = time.perf_counter()
            r = http.post(url + "/score", content=body, headers={"content-type": "application/json"})
            r.raise_for_status()
            got.append((i, time.perf_counter() - t, [x if x is not None else 0.0 for x in r.json()["total"]]))
    out.put(got)


def drive(url: str, rows: list[dict], clients: int, batch: int) -> tuple[float, list[float], list[float]]:
    """Every row once, sent by ``clients`` processes (as rollout workers would), batches dealt
    round-robin; (seconds, per-request latencies, totals in row order)."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    # bodies encoded before the clock starts: a trainer encodes on its own machine
    bodies = [(i // batch, json.dumps({"rows": rows[i:i + batch]}).encode()) for i in range(0, len(rows), batch)]
    go, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_client, args=(url, bodies[k::clients], go, out)) for k in range(clients)]
    for p in procs:
        p.start()
    time.sleep(0.5)  # every client connected and waiting
    t = time.perf_counter()
    go.set()
    results = [out.get() for _ in procs]
    seconds = time.perf_counter() - t
    for p in procs:
        p.join()
    flat = sorted(x for r in results for x in r)
    return seconds, [x[1] for x in flat], [v for x in flat for v in x[2]]


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


def cold_runs(config: Path, rows_path: Path, clients: int, batch: int) -> dict:
    """Fresh processes, start-up and first batch included, on set 0."""
    t = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--baseline-child", str(rows_path), "cold"], capture_output=True,
                   check=True)
    out = {"loop_s": time.perf_counter() - t}
    data = json.loads(rows_path.read_text())
    port = free_port()
    t = time.perf_counter()
    proc = serve(config, port)
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc)
        out["ready_s"] = time.perf_counter() - t
        drive(f"http://127.0.0.1:{port}", data["sets"][0], clients, batch)
        out["serve_s"] = time.perf_counter() - t
    finally:
        proc.terminate()
        proc.wait(30)
    return out


def warm_runs(config: Path, rows_path: Path, clients: int, batch: int) -> list[dict]:
    """A warmed-up loop process and a warmed-up service, each set scored by both, turn about."""
    data = json.loads(rows_path.read_text())
    loop = subprocess.Popen([sys.executable, __file__, "--baseline-child", str(rows_path), "warm"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    port = free_port()
    proc = serve(config, port)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc)
        drive(url, data["warmup"], clients, batch)
        assert loop.stdout.readline().strip() == "ready"
        runs = []
        for k, rows in enumerate(data["sets"]):
            run: dict = {"rows": len(rows)}
            for who in (("loop", "serve") if k % 2 == 0 else ("serve", "loop")):
                if who == "loop":
                    loop.stdin.write(f"{k}\n")
                    loop.stdin.flush()
                    answer = json.loads(loop.stdout.readline())
                    run["loop_s"], run["loop_scores"] = answer["seconds"], answer["scores"]
                else:
                    run["serve_s"], run["latencies"], run["totals"] = drive(url, rows, clients, batch)
            runs.append(run)
        return runs
    finally:
        loop.stdin.close()
        loop.wait(30)
        proc.terminate()
        proc.wait(30)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--baseline-child":
        baseline_child(sys.argv[2], sys.argv[3])
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompts", type=int, default=96, help="generated prompts in each measured set")
    ap.add_argument("--generations", type=int, default=8)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3, help="measured sets (fresh prompts each), loop and service in turn")
    ap.add_argument("--no-corpus", action="store_true", help="generated rows only")
    ap.add_argument("--plain-math", action="store_true", help="math answers without $...$ (see rollout())")
    ap.add_argument("--out", help="also write the first measured set here as a JSONL rollout file")
    args = ap.parse_args()

    delimited = not args.plain_math
    warmup = rollout(max(8, args.prompts // 4), args.generations, seed=2, first=100_000, delimited=delimited)
    sets = [rollout(args.prompts, args.generations, seed=10 + k, first=1000 * k, delimited=delimited)
            for k in range(args.repeat)]
    real = [] if args.no_corpus or not CORPUS.is_dir() else corpus_rows()
    if real:  # the real outputs split by image: the first 50 images warm up, the rest are dealt to the sets
        warmup += [r for r in real if int(r["id"][3:]) < 50]
        for r in real:
            if int(r["id"][3:]) >= 50:
                sets[int(r["id"][3:]) % args.repeat].append(r)
    if args.out:
        Path(args.out).write_text("".join(json.dumps(r) + "\n" for r in sets[0]))
    with tempfile.TemporaryDirectory() as tmp:
        rows_path = Path(tmp) / "rows.json"
        rows_path.write_text(json.dumps({"sets": sets, "warmup": warmup}))
        config = Path(tmp) / "rewards.yaml"
        config.write_text(CONFIG.format(workers=args.workers))
        n_real = sum(r["id"].startswith("img") for s in sets for r in s)
        print(f"rows: {args.repeat} measured sets of ~{len(sets[0])} ({n_real} real counting outputs in all), "
              f"{len(warmup)} warm-up; {args.clients} client processes x batches of {args.batch}; "
              f"service workers {args.workers}; {os.cpu_count()} CPUs (shared machine)")
        cold = cold_runs(config, rows_path, args.clients, args.batch)
        warm = warm_runs(config, rows_path, args.clients, args.batch)

    n0 = len(sets[0])
    print(f"cold (fresh processes, start-up included, set 0): loop {cold['loop_s']:.2f}s, service {cold['serve_s']:.2f}s "
          f"(spawn->ready {cold['ready_s']:.2f}s)  ratio {cold['loop_s'] / cold['serve_s']:.1f}x  "
          f"[{n0 / cold['loop_s']:.0f} vs {n0 / cold['serve_s']:.0f} rows/s]")
    ratios = []
    for k, run in enumerate(warm):
        ratio = run["loop_s"] / run["serve_s"]
        ratios.append(ratio)
        print(f"warm-only set {k}: loop {run['rows'] / run['loop_s']:6.0f} rows/s, service {run['rows'] / run['serve_s']:6.0f} "
              f"rows/s  ratio {ratio:.1f}x")
    lat = [x * 1000 for run in warm for x in run["latencies"]]
    print(f"warm-only ratio, median of {len(ratios)}: {sorted(ratios)[len(ratios) // 2]:.1f}x")
    print(f"request latency (warm, {len(lat)} requests of {args.batch} rows): p50 {_percentile(lat, 50):.0f} ms  "
          f"p90 {_percentile(lat, 90):.0f} ms  p99 {_percentile(lat, 99):.0f} ms")
    same = sum(abs(a - b) < 1e-9 for run in warm for a, b in zip(run["loop_scores"], run["totals"]))
    print(f"same total as the loop on {same / sum(run['rows'] for run in warm):.0%} of rows (the engine reads answers "
          f"the loop misses, e.g. '{{n}} objects', and the loop's parse of a whole completion can pick up a number "
          f"from the reasoning)")


if __name__ == "__main__":
    main()
