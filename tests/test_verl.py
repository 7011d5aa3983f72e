"""The verl adapter, called exactly as verl's reward managers call a custom reward
function: the naive manager per response (with the keys verl adds to extra_info),
the batch manager with plural keywords and numpy arrays, reward_kwargs passed through,
and the module loaded by file path as verl's load_module does."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import sys
import textwrap
from collections.abc import Mapping

import numpy as np
import pytest
from vlmr1.errors import ConfigError
from vlmr1.trainers import verl

CONFIG = """\
task: rec
rewards:
  - {name: format, weight: 0.5}
  - {name: iou, weight: 1.0, tasks: [rec], gate: format}
  - {name: count, reward: math, weight: 1.0, tasks: [counting]}
engine: {workers: 0, timeout: 10}
"""

# A 200x100 image that a Qwen2.5-VL processor resized to 112x56: a box in model-input
# pixels [56, 28, 112, 56] is the right half's bottom... in original pixels [100, 50, 200, 100].
IMAGE, INPUT = [200, 100], [112, 56]
GOLD = [100, 50, 200, 100]


def answer(box):
    return f'<think>It is at the bottom right.</think><answer>{{"bbox_2d": {json.dumps(box)}}}</answer>'


@pytest.fixture()
def config_path(tmp_path, monkeypatch):
    path = tmp_path / "rewards.yaml"
    path.write_text(CONFIG)
    monkeypatch.delenv(verl.ENV, raising=False)
    verl.configure(None)
    yield path
    verl.configure(None)


def naive_call(fn, data_source, response, ground_truth, extra_info):
    """What verl's NaiveRewardManager does per response (it adds two keys to extra_info)."""
    extra_info = dict(extra_info)
    extra_info["num_turns"] = None
    extra_info["rollout_reward_scores"] = {}
    score = fn(data_source=data_source, solution_str=response, ground_truth=ground_truth, extra_info=extra_info)
    return score["score"] if isinstance(score, dict) else score, score


def test_naive_manager_call_scores_in_the_right_frame(config_path, monkeypatch):
    monkeypatch.setenv(verl.ENV, str(config_path))
    info = {"image_size": IMAGE, "input_size": INPUT, "id": "r1", "split": "train", "index": 0}
    gt = json.dumps(GOLD)
    reward, full = naive_call(verl.compute_score, "vlmr1/rec", answer([56, 28, 112, 56]), gt, info)
    assert full["format"] == 1.0 and full["iou"] == pytest.approx(1.0)
    assert reward == pytest.approx(0.5 + 1.0)
    assert full["count"] is None  # counting reward does not apply to a rec row: None, which verl skips
    # the same box read as original pixels would be wrong: the frame really is used
    reward, full = naive_call(verl.compute_score, "vlmr1/rec", answer([56, 28, 112, 56]), gt, {"image_size": IMAGE})
    assert full["iou"] < 0.2
    # no answer tags: format 0, and the gated iou counts for nothing
    reward, full = naive_call(verl.compute_score, "vlmr1/rec", "the box is [100, 50, 200, 100]", gt, info)
    assert reward == 0.0 and full["format"] == 0.0
    assert "format:" in full[verl.REASON_KEY]


def test_batch_manager_call_keeps_order_and_reads_reward_kwargs(config_path):
    # BatchRewardManager: numpy object arrays, plural keywords, reward_kwargs merged in.
    extra = np.array([{"task": "counting", "rollout_reward_scores": {}}, {"image_size": IMAGE, "input_size": INPUT},
                      {"task": "counting", "rollout_reward_scores": {}}, {"image_size": IMAGE, "input_size": INPUT}],
                     dtype=object)
    sources = np.array(["clevr", "vlmr1/rec", "clevr", "rec"], dtype=object)
    responses = ["<think>three</think><answer>3</answer>", answer([56, 28, 112, 56]),
                 "<think>two</think><answer>2</answer>", answer([0, 0, 56, 28])]
    truths = ["3", json.dumps(GOLD), "<answer> 3 </answer>", json.dumps(GOLD)]
    scores = verl.compute_score(data_sources=sources, solution_strs=responses, ground_truths=truths,
                                extra_infos=extra, config=str(config_path))
    assert [s["score"] for s in scores] == pytest.approx([1.5, 1.5, 0.5, 0.5])
    assert [s["count"] for s in scores][::2] == [1.0, 0.0]
    assert scores[3]["iou"] == 0.0
    assert all(set(s) == {"score", "format", "iou", "count", verl.REASON_KEY} for s in scores)  # same keys: verl lists them
    same = verl.compute_score_batch(sources, responses, truths, extra, config=str(config_path))
    assert [s["score"] for s in same] == [s["score"] for s in scores]


def test_one_engine_per_process_until_the_config_changes(config_path, tmp_path):
    a = verl.engine(str(config_path))
    assert verl.engine(str(config_path)) is a
    other = tmp_path / "other.yaml"
    other.write_text(CONFIG.replace("weight: 0.5", "weight: 0.25"))
    b = verl.engine(str(other))
    assert b is not a and b.weights["format"] == 0.25
    verl.configure({"rewards": [{"name": "format"}], "task": "rec", "engine": {"workers": 0}})
    reward, _ = naive_call(verl.compute_score, "x", answer([1, 2, 3, 4]), json.dumps(GOLD), {})
    assert reward == 1.0
    with pytest.raises(ConfigError, match="reward config"):
        verl.configure({"rewards": "format"})
        verl.engine()


def test_task_from_extra_info_then_data_source_then_config(config_path):
    known = {"rec", "counting", "math"}
    assert verl.task_for("vlmr1/counting", {"task": "math"}, known) == "math"
    assert verl.task_for("vlmr1/counting", {}, known) == "counting"
    assert verl.task_for("counting", None, known) == "counting"
    assert verl.task_for("openai/gsm8k", {}, known) is None  # the engine then uses the config's task
    row = verl.row_for("rec", "x", "<answer>[1, 2, 3, 4]</answer>", {"image_size": np.array([20, 10])}, known)
    assert row["solution"] == [1, 2, 3, 4] and row["image_size"] == [20, 10] and row["task"] == "rec"


def test_no_config_is_a_clear_error(config_path):
    with pytest.raises(ConfigError, match="VLMR1_CONFIG"):
        verl.compute_score("rec", "x", "[1, 2, 3, 4]", {})


def test_loaded_by_file_path_as_verl_does(config_path):
    """verl.utils.import_utils.load_module: spec_from_file_location under a made-up name."""
    path = verl.__file__
    spec = importlib.util.spec_from_file_location(f"custom_module_{hash(os.path.abspath(path))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        fn = module.compute_score
        score = fn(data_source="vlmr1/rec", solution_str=answer([56, 28, 112, 56]), ground_truth=json.dumps(GOLD),
                   extra_info={"image_size": IMAGE, "input_size": INPUT}, config=str(config_path))
        assert score["score"] == pytest.approx(1.5)
    finally:
        module.close()


def test_verl_record_round_trips_through_compute_score(config_path):
    row = {"id": "s1", "task": "rec", "problem": "Find the red square.", "image": "/data/a.png",
           "image_size": IMAGE, "input_size": INPUT, "solution": GOLD}
    record = verl.verl_record(row)
    assert record["data_source"] == "vlmr1/rec" and record["images"] == [{"image": "/data/a.png"}]
    assert record["prompt"][0]["content"] == "<image>Find the red square."
    assert isinstance(record["reward_model"]["ground_truth"], str)  # parquet-friendly
    score = verl.compute_score(record["data_source"], answer([56, 28, 112, 56]), record["reward_model"]["ground_truth"],
                               record["extra_info"], config=str(config_path))
    assert score["score"] == pytest.approx(1.5)


def test_engine_is_closed_at_exit(tmp_path):
    """A process that used the adapter exits promptly (the worker pool is stopped at exit)."""
    import subprocess

    cfg = tmp_path / "r.yaml"
    cfg.write_text(CONFIG.replace("workers: 0", "workers: 1"))
    code = textwrap.dedent(f"""
        from vlmr1.trainers import verl
        s = verl.compute_score("vlmr1/counting", "<think>x</think><answer>3</answer>", "3", {{}}, config={str(cfg)!r})
        print(s["score"])
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False,
                         env={**os.environ, "VLMR1_PLUGINS": ""})
    assert out.returncode == 0, out.stderr
    assert float(out.stdout.strip().splitlines()[-1]) == 1.5


def _mixed_items(n=24):
    """Responses whose right score differs item by item (a box right or wrong, a count right or wrong)."""
    items = []
    for i in range(n):
        if i % 2:
            box = [56, 28, 112, 56] if i % 3 else [0, 0, 56, 28]
            items.append(("vlmr1/rec", answer(box), json.dumps(GOLD), {"image_size": IMAGE, "input_size": INPUT},
                          1.5 if i % 3 else 0.5))
        else:
            items.append(("vlmr1/counting", f"<think>n</think><answer>{i % 5}</answer>", str(i % 4), {},
                          1.5 if i % 5 == i % 4 else 0.5))
    return items


def test_reward_loop_thread_pool_calls_each_get_their_own_score(config_path, monkeypatch):
    """verl's reward-loop managers run a plain compute_score in a thread pool, many at once."""
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setenv(verl.ENV, str(config_path))
    items = _mixed_items()
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(lambda it=it: verl.compute_score(data_source=it[0], solution_str=it[1], ground_truth=it[2],
                                                                  extra_info=it[3], reward_router_address=None))
                   for it in items]
        got = [f.result()["score"] for f in futures]
    assert got == pytest.approx([it[4] for it in items])


def test_async_variant_awaited_concurrently(config_path):
    import asyncio
    import inspect

    assert inspect.iscoroutinefunction(verl.compute_score_async)  # what verl checks to await it
    verl.configure(str(config_path))
    items = _mixed_items()

    async def run():
        return await asyncio.gather(*[verl.compute_score_async(data_source=d, solution_str=s, ground_truth=g, extra_info=e)
                                      for d, s, g, e, _ in items])

    got = asyncio.run(run())
    assert [r["score"] for r in got] == pytest.approx([it[4] for it in items])


class _Container(Mapping):
    """Stands in for the OmegaConf DictConfig verl passes (a Mapping that is not a dict)."""

    def __init__(self, data):
        self._data = {k: _Container(v) if isinstance(v, dict) else tuple(_Container(i) if isinstance(i, dict) else i
                                                                            for i in v) if isinstance(v, list) else v
                      for k, v in data.items()}

    def __getitem__(self, key):
        return self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)


def test_mapping_config_from_reward_kwargs_is_keyed_by_content(config_path):
    """verl passes reward_kwargs as config containers; equal content means the same engine."""
    cfg = {"task": "rec", "rewards": [{"name": "format", "weight": 2.0}], "engine": {"workers": 0}}
    a = verl.engine(_Container(cfg))
    assert verl.engine(dict(cfg)) is a and a.weights == {"format": 2.0}
    score = verl.compute_score("vlmr1/rec", answer([1, 2, 3, 4]), "[1, 2, 3, 4]", {}, config=_Container(cfg))
    assert score["score"] == 2.0 and verl.engine(dict(cfg)) is a
