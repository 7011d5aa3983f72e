"""One summary of a reward column: the engine's metrics, `vlmr1 score`'s table and the
report compute it with one function, and agree with numbers computed here by hand;
`vlmr1 score --details` writes what each verdict found."""

from __future__ import annotations

import json
import math
import random
import statistics
import types

import pytest
from click.testing import CliRunner

from vlmr1 import Reward, Verdict, hookimpl
from vlmr1.cli import main
from vlmr1.config import config_from_dict
from vlmr1.documents import schema_problems
from vlmr1.engine import Engine
from vlmr1.metrics import column_metrics, summarize
from vlmr1.registry import load_registry, set_registry
from vlmr1.report import columns_of
from vlmr1.scorefile import score_file


def scripted(samples, golds, params):
    """The completion says what to return: "s:0.7", a judge-like timeout with a fallback
    score, a failure whose reason has no engine prefix, a plain None."""
    out = []
    for s in samples:
        text = s.completion
        if text.startswith("s:"):
            out.append(Verdict(float(text[2:]), "ok", answer=text[2:]))
        elif text == "late":
            out.append(Verdict(0.5, "judge_timeout", details={"failure": "timeout"}))
        elif text == "oops":
            out.append(Verdict(None, "backend_said_no", details={"failure": "error", "status": 503}))
        else:
            out.append(Verdict(None, "not_mine"))
    return out


@hookimpl
def register_rewards(register):
    register(Reward("scripted", score_batch=scripted, cheap=True))


TEXTS = ["s:0.7", "s:0.1", "late", "oops", "other", "s:1.0", "oops", "s:0.25"]


def _registry():
    reg = load_registry(allow=set())
    assert reg.add_plugin(types.SimpleNamespace(register_rewards=register_rewards), "scripted").ok
    return reg


def test_summarize_agrees_with_the_statistics_module():
    rng = random.Random(7)
    for _ in range(300):
        xs = [rng.uniform(-1, 1) * 10 ** rng.randint(-6, 6) for _ in range(rng.randint(2, 60))]
        s = summarize(xs + [None, float("nan")])
        assert s.n == len(xs) + 2 and s.count == len(xs) and s.none == 2
        assert s.mean == pytest.approx(statistics.fmean(xs), rel=1e-9, abs=1e-12)
        assert s.std == pytest.approx(statistics.stdev(xs), rel=1e-9)  # the sample std (n - 1)
        assert (s.min, s.max) == (min(xs), max(xs))
    assert summarize([0.5]).std == 0.0 and summarize([]).mean is None
    assert summarize([1.0, -1.0] * 3).mean == 0.0  # the sum is exact: no 3e-17 left over
    xs = [rng.uniform(-1, 1) for _ in range(1000)]
    assert summarize(xs).mean == math.fsum(xs) / len(xs)  # correctly rounded, as fsum
    huge = summarize([1e300, -1e300, 1e308])  # a plain sum of squares is inf here
    assert huge.std == pytest.approx(statistics.stdev([1e-8, -1e-8, 1.0]) * 1e308, rel=1e-12)


def test_engine_score_and_report_give_the_same_numbers(tmp_path):
    rows = [{"id": str(i), "completion": t} for i, t in enumerate(TEXTS)]
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = config_from_dict({"rewards": [{"name": "r", "reward": "scripted"}], "engine": {"workers": 0}})
    reg = _registry()
    with Engine(config, reg) as engine:
        metrics = engine.score(rows).metrics
    summary = score_file(config, inp, tmp_path / "out.jsonl", registry=reg).columns()["r"]
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    report = next(c for c in columns_of(records) if c.name == "r").summary()
    # by hand: scores 0.7, 0.1, 0.5 (a timeout with a fallback score), 1.0, 0.25; two failures
    # that are errors (their reason names no engine failure), one timeout, three None
    scores = [0.7, 0.1, 0.5, 1.0, 0.25]
    mean, std = statistics.fmean(scores), statistics.stdev(scores)
    assert metrics["rewards/r/mean"] == pytest.approx(mean) and metrics["rewards/r/std"] == pytest.approx(std)
    assert (metrics["rewards/r/none"], metrics["rewards/r/errors"], metrics["rewards/r/timeouts"]) == (3, 2, 1)
    assert (summary.mean, summary.std, summary.none, summary.errors, summary.timeouts) == pytest.approx((mean, std, 3, 2, 1))
    assert (report["mean"], report["std"], report["null"], report["errors"], report["timeouts"]) == pytest.approx((mean, std, 3, 2, 1))
    assert [r["failures"] for r in records] == [{}, {}, {"r": "timeout"}, {"r": "error"}, {}, {}, {"r": "error"}, {}]


def test_a_resumed_run_counts_failures_from_what_it_wrote(tmp_path):
    rows = [{"completion": t} for t in TEXTS]
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = config_from_dict({"rewards": [{"name": "r", "reward": "scripted"}], "engine": {"workers": 0}})
    score_file(config, inp, out, registry=_registry())
    whole = out.read_text().splitlines()
    (tmp_path / "out.jsonl.partial").write_text("\n".join(whole[:4]) + "\n")
    out.unlink()
    summary = score_file(config, inp, out, registry=_registry())
    assert summary.resumed == 4 and out.read_text().splitlines() == whole
    got = summary.columns()["r"]
    assert (got.count, got.none, got.errors, got.timeouts) == (5, 3, 2, 1)


def test_column_metrics_leave_out_a_mean_no_float_holds():
    m = column_metrics("r", [Verdict(1.7e308), Verdict(-1.7e308)], None)
    assert "rewards/r/std" not in m and m["rewards/r/none"] == 0.0
    assert all(math.isfinite(v) for v in m.values())


def test_score_details_writes_each_verdicts_answer_and_details(tmp_path):
    rows = [
        {"id": "gated", "task": "rec", "image_size": [100, 100], "solution": [10, 10, 50, 50],
         "completion": "[10, 10, 50, 50]"},  # a right box without the answer tags: gated by format
        {"id": "ok", "task": "rec", "image_size": [100, 100], "solution": [10, 10, 50, 50],
         "completion": "<think>t</think><answer>[10, 10, 50, 50]</answer>"},
    ]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "c.yaml").write_text("rewards:\n  - {name: format}\n  - {name: iou, gate: format, params: {frame: original}}\n"
                                     "engine: {workers: 0}\n")
    runner = CliRunner()
    args = ["score", "--config", str(tmp_path / "c.yaml"), "--input", str(tmp_path / "in.jsonl"), "--no-progress"]
    plain = runner.invoke(main, [*args, "--output", str(tmp_path / "plain.jsonl")])
    result = runner.invoke(main, [*args, "--output", str(tmp_path / "out.jsonl"), "--details"])
    assert plain.exit_code == 0 and result.exit_code == 0, result.output
    assert "details" not in json.loads((tmp_path / "plain.jsonl").read_text().splitlines()[0])
    gated, ok = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert schema_problems(gated, "scored", "out.jsonl") == [] == schema_problems(ok, "scored", "out.jsonl")
    assert gated["reasons"]["iou"] == "gated_by:format" and gated["rewards"]["iou"] == 0.0
    iou = gated["details"]["iou"]
    assert iou["answer"] == [[10.0, 10.0, 50.0, 50.0]]  # what the reward read, though the gate zeroed it
    assert iou["details"]["ungated_score"] == pytest.approx(1.0) and iou["details"]["frame"] == "original"
    assert set(gated["details"]) == {"format", "iou"} and gated["details"]["format"]["details"] == {}
    assert ok["details"]["iou"]["details"]["iou"] == pytest.approx(1.0)


def test_details_of_any_shape_become_plain_json():
    from vlmr1.verdicts import verdict_details

    class Odd:
        def __repr__(self):
            return "Odd()"

    got = verdict_details(Verdict(1.0, "ok", answer=(1, 2), details={"nan": float("nan"), "obj": Odd(), "big": 10**30,
                                                                      "deep": [[[[[[[[[[[[[[1]]]]]]]]]]]]]], 3: {1, 2}}))
    text = json.dumps(got, allow_nan=False)  # writable as strict JSON
    assert got["answer"] == [1, 2] and got["details"]["nan"] == "nan" and got["details"]["obj"] == "Odd()"
    assert got["details"]["big"] == str(10**30) and got["details"]["3"] == [1, 2] and "deep" in text
