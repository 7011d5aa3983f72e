"""The judge through the real engine and the real `vlmr1 score` command, pointed at the
misbehaving server in each of its modes: bounded wall time, every row back with a value
or a reason, failures counted in the engine's metrics; and the R1-Reward composite
computed end to end."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import yaml

import judge_server as js
from vlmr1.config import config_from_dict
from vlmr1.engine import Engine
from vlmr1.plugins.judge.presets import preset_dict

LABELS = {"1": "Response 1 is better", "2": "Response 2 is better"}


pytestmark = pytest.mark.usefixtures("fresh_judge")


def rows(n: int = 6) -> list[dict]:
    out = []
    for i in range(n):
        said, answered = (2, 2) if i % 2 == 0 else (2, 1)
        completion = f"<think>Row {i}: Response 1 misreads the image, so Response {said} is better.</think><answer>{answered}</answer>"
        out.append({"id": f"r{i}", "task": "pairwise", "completion": completion, "solution": 2})
    out.append({"id": "bare", "task": "pairwise", "completion": "<answer>2</answer>", "solution": 2})
    return out


def judge_config(url: str, deadline: float = 1.5, async_timeout: float = 10.0, **params) -> dict:
    p = {"base_url": url, "model": "judge", "deadline_s": deadline, "timeout_s": 5.0, "backoff_s": 0.05,
         "answer_labels": LABELS} | params
    return {"rewards": [{"name": "consistency", "params": p}], "engine": {"workers": 1, "async_timeout": async_timeout}}


FAULTS = [
    ("ok", (), None, None),
    ("refuse", (), "judge_error: connect", "errors"),
    ("stall", (), "judge_timeout", "timeouts"),
    ("500", (), "judge_error: 500", "errors"),
    ("429", ("--retry-after", "0.2"), "judge_error: 429", "errors"),
    ("malformed", (), "judge_error: malformed_json", "errors"),
    ("empty", (), "judge_error: empty_choices", "errors"),
    ("unparseable", (), "judge_unparseable", "errors"),
]


@pytest.mark.parametrize("mode, extra, reason, counter", FAULTS, ids=[f[0] for f in FAULTS])
def test_engine_with_each_server_mode(mode, extra, reason, counter):
    data = rows()
    with js.running(mode, *extra) as (url, _):
        with Engine(config_from_dict(judge_config(url))) as engine:
            t = time.monotonic()
            result = engine.score(data)
            took = time.monotonic() - t
    assert took < 1.5 + 1.0
    col, why = result.columns["consistency"], result.reasons["consistency"]
    assert len(col) == len(data)
    assert (col[-1], why[-1]) == (None, "no_reasoning")  # never sent; not a failure
    if reason is None:
        assert col[:6] == [1.0, -1.0] * 3 and why[:6] == ["supported", "not_supported"] * 3
        assert result.metrics["rewards/consistency/mean"] == 0.0
        assert result.metrics["rewards/consistency/errors"] == 0 == result.metrics["rewards/consistency/timeouts"]
    else:
        assert col[:6] == [None] * 6 and why[:6] == [reason] * 6
        assert result.metrics[f"rewards/consistency/{counter}"] == 6
    assert result.metrics["rewards/consistency/none"] == col.count(None)


def test_engine_deadline_shorter_than_the_judges_cancels_cleanly():
    with js.running("stall") as (url, _):
        with Engine(config_from_dict(judge_config(url, deadline=30.0, async_timeout=1.0))) as engine:
            t = time.monotonic()
            result = engine.score(rows(3))
            took = time.monotonic() - t
            assert took < 1.0 + 1.0
            # the engine's own timeout covers the whole call: all four rows, the bare one too
            assert result.reasons["consistency"] == ["timeout"] * 4
            assert result.metrics["rewards/consistency/timeouts"] == 4
    # the engine's loop is closed; a new engine still works against a healthy server
    with js.running("ok") as (url, _):
        with Engine(config_from_dict(judge_config(url))) as engine:
            assert engine.score(rows(2)).columns["consistency"][:2] == [1.0, -1.0]


def test_r1_reward_composite_through_the_engine():
    completions = {
        "right_consistent": ("<think>Response 1 is wrong, so Response 2 is better.</think><answer>2</answer>", 2),
        "right_inconsistent": ("<think>Looking closely, Response 1 is better.</think><answer>2</answer>", 2),
        "wrong_consistent": ("<think>Response 1 is better.</think><answer>1</answer>", 2),
        "bad_format": ("Response 2 is better. <answer>2</answer> trailing", 2),
        "no_label": ("<think>Response 2 is better.</think><answer>2</answer>", None),
    }
    data = [{"id": k, "task": "pairwise", "completion": c, "solution": s} for k, (c, s) in completions.items()]
    with js.running("ok") as (url, _):
        config = config_from_dict(preset_dict("r1_reward", judge={"base_url": url, "model": "judge", "deadline_s": 3}))
        with Engine(config) as engine:
            result = engine.score(data)
    got = {row["id"]: {n: result.columns[n][i] for n in result.columns} for i, row in enumerate(data)}
    assert got["right_consistent"] == {"format": 1.0, "preference": 1.0, "consistency": 1.0, "r1_reward": 2.0}
    assert got["right_inconsistent"] == {"format": 1.0, "preference": 1.0, "consistency": -1.0, "r1_reward": 1.0}
    assert got["wrong_consistent"] == {"format": 1.0, "preference": 0.0, "consistency": 1.0, "r1_reward": 0.5}
    assert got["bad_format"]["format"] == 0.0 and got["bad_format"]["r1_reward"] == got["bad_format"]["preference"] * (1 + 0.5 * got["bad_format"]["consistency"])
    assert got["no_label"]["preference"] is None and got["no_label"]["r1_reward"] is None
    # only the formula column carries weight: the total is r1_reward (rows with a label)
    assert result.total[:4] == result.columns["r1_reward"][:4]


def test_r1_reward_keeps_its_value_when_the_judge_is_down():
    """fallback_score 0, as in R1-Reward: a right answer keeps 1.0 + format, never None."""
    data = [{"id": "a", "task": "pairwise", "solution": 2,
             "completion": "<think>Response 2 is better.</think><answer>2</answer>"}]
    with js.running("500") as (url, _):
        config = config_from_dict(preset_dict("r1_reward", judge={"base_url": url, "model": "judge", "deadline_s": 2, "backoff_s": 0.01}))
        with Engine(config) as engine:
            result = engine.score(data)
    assert result.columns["consistency"] == [0.0] and result.reasons["consistency"] == ["judge_error: 500"]
    assert result.columns["r1_reward"] == [1.5] and result.metrics["rewards/consistency/errors"] == 1


@pytest.mark.parametrize("mode, extra, reason, counter", FAULTS, ids=[f[0] for f in FAULTS])
def test_vlmr1_score_cli_with_each_server_mode(tmp_path, mode, extra, reason, counter):
    data = rows()
    inp, out, cfg = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "judge.yaml"
    inp.write_text("".join(json.dumps(r) + "\n" for r in data))
    with js.running(mode, *extra) as (url, _):
        cfg.write_text(yaml.safe_dump(judge_config(url)))
        t = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "vlmr1", "score", "--config", str(cfg), "--input", str(inp),
                               "--output", str(out), "--no-progress"], capture_output=True, text=True, timeout=60)
        took = time.monotonic() - t
    assert proc.returncode == 0, proc.stderr
    assert took < 1.5 + 15  # the judge's deadline plus interpreter start-up, never the server's 30 s stall
    scored = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in scored] == [r["id"] for r in data]
    for r in scored:
        value, why = r["rewards"]["consistency"], r["reasons"]["consistency"]
        assert (value is None and why) or isinstance(value, float)
    if reason is not None:
        assert [r["reasons"]["consistency"] for r in scored[:6]] == [reason] * 6
    else:
        assert [r["rewards"]["consistency"] for r in scored[:6]] == [1.0, -1.0] * 3
