"""The TRL dataset view (vlmr1.trl) against the JSON-text row store it replaced, in one run.

Both build a dataset of 20,000 rows (box-list and string solutions mixed) and then serve
400 generation batches of 8 prompts x 8 generations, each ending in one Sample per
completion as the reward functions need it: the old store parsed every example's JSON and
built a Sample per completion from the zipped columns; the view builds one Sample per
distinct row and fills in the completion.

    python bench/bench_trl_view.py

In-process and warm-only (imports done before timing); prints seconds and the ratio,
asserts nothing about time.
"""
import json
import time
from datasets import Dataset
from vlmr1.trl import trl_dataset, SAMPLE_COLUMN
from vlmr1.rows import sample_from_row
N, G, B = 20000, 8, 8
class T:
    def render(self, q): return [{"role": "system", "content": "You are a helpful assistant " * 5}, {"role": "user", "content": q}]
rows = [{"id": str(i), "task": "rec", "problem": f"Find the red square number {i}", "image_size": [640, 480],
         "input_size": [644, 476], "solution": [1, 2, 3, i] if i % 2 else f"text {i}"} for i in range(N)]
class OldView:  # the JSON store the trainer used before, with its per-completion sample build
    def __call__(self, batch):
        rs = [json.loads(t) for t in batch["row"]]
        keys = []
        for r in rs: keys.extend(k for k in r if k not in keys)
        return {k: [r.get(k) for r in rs] for k in keys}
def old_dataset():
    recs = []
    for r in rows:
        r = dict(r); r["prompt"] = T().render(r["problem"]); recs.append(json.dumps(r))
    ds = Dataset.from_dict({"row": recs}); ds.set_transform(OldView()); return ds
def read(ds, new):
    n = 0
    for start in range(0, 400 * B, B):
        pos = [p for p in range(start, start + B) for _ in range(G)]
        batch = ds[pos]
        if new:
            from dataclasses import replace
            samples = [replace(s, completion="x", index=i) for i, s in enumerate(batch[SAMPLE_COLUMN])]
        else:  # the reward side zipped the columns back into rows and built a Sample per completion
            keys = [k for k in batch if k != "prompt"]
            samples = [sample_from_row({**{k: batch[k][i] for k in keys}, "completion": "x", "prompt": batch["prompt"][i]}, i) for i in range(len(pos))]
        n += len(samples)
    return n
took = {}
for name, make, new in (("old JSON store", old_dataset, False), ("vlmr1.trl view", lambda: trl_dataset(rows, lambda r: T()), True)):
    t = time.perf_counter(); ds = make(); built = time.perf_counter() - t
    t = time.perf_counter(); n = read(ds, new); reading = time.perf_counter() - t
    took[new] = reading
    print(f"{name:16s} build {built:.2f} s   read {n} completions' samples {reading:.2f} s (warm-only)")
print(f"reading: the view takes {took[True] / took[False]:.2f}x the old store's time")
