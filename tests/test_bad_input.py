"""One bad row never stops a run: lines Python's json reads but a scored row must not
carry, plugin scores no float sum survives, and reasons no UTF-8 writer can write each
cost their own row (a record with the reason) and nothing else, offline and under TRL."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner
from fault_plugins import fault_registry, install
from vlmr1.cli import main
from vlmr1.config import Config, EngineConfig, RewardSpec, config_from_dict
from vlmr1.documents import iter_jsonl
from vlmr1.engine import Engine
from vlmr1.metrics import column_metrics
from vlmr1.types import Sample, Verdict

DEEP = '{"completion": "a", "v": ' + "[" * 2000 + "]" * 2000 + "}"
MID_DEEP = '{"completion": "a", "v": ' + "[" * 500 + "]" * 500 + "}"  # json reads it; pickle and dumps would not
HOSTILE_LINES = {
    "lone surrogate in a value": ('{"completion": "a\\ud800b"}', "lone surrogate"),
    "lone surrogate in a nested value": ('{"completion": "a", "prompt": [{"content": "x\\udfff"}]}', "lone surrogate"),
    "lone surrogate in a key": ('{"completion": "a", "k\\udc00": 1}', "lone surrogate"),
    "NaN literal": ('{"completion": "a", "solution": NaN}', "NaN is not a number"),
    "Infinity literal": ('{"completion": "a", "solution": -Infinity}', "Infinity is not a number"),
    "float past 64 bits": ('{"completion": "a", "solution": 1e400}', "out of range"),
    "integer over 4300 digits": ('{"completion": "a", "solution": 1' + "0" * 4400 + "}", "more than 4300 digits"),
    "very deep nesting": (DEEP, "nested deeper than 100"),
    "deep nesting json can read": (MID_DEEP, "nested deeper than 100"),
}


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def score_cli(tmp_path: Path, lines: list[str], rewards: list, out: str = "out.jsonl", chunk: int = 256):
    install()
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"rewards": rewards, "engine": {"workers": 1, "timeout": 10}}))
    inp = write(tmp_path / "in.jsonl", lines)
    r = CliRunner().invoke(main, ["score", "--config", str(cfg), "--input", str(inp), "--output", str(tmp_path / out),
                                  "--chunk", str(chunk), "--no-progress"])
    return r, inp


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("case", sorted(HOSTILE_LINES))
def test_a_hostile_line_becomes_a_record_with_a_reason_and_the_run_goes_on(tmp_path, case):
    line, why = HOSTILE_LINES[case]
    r, inp = score_cli(tmp_path, ['{"completion": "<answer>1</answer>"}', line, '{"completion": "x"}'], [{"name": "fmt"}])
    assert r.exit_code == 0, (r.output, r.exception)
    got = records(tmp_path / "out.jsonl")
    assert len(got) == 3
    assert got[0]["rewards"] == {"fmt": 1.0} and got[2]["rewards"] == {"fmt": 0.0}
    assert got[1]["_line"] == 2 and got[1]["reward"] is None and why in got[1]["reasons"]["_input"]
    assert f"{inp}:2: " in r.stderr and why in r.stderr
    (tmp_path / "out.jsonl").read_bytes().decode("utf-8")  # the whole output is UTF-8


def test_a_bom_at_the_start_of_the_input_is_not_a_malformed_row(tmp_path):
    inp = tmp_path / "in.jsonl"
    inp.write_bytes(b'\xef\xbb\xbf{"id": 1, "completion": "<answer>1</answer>"}\n{"id": 2, "completion": "x"}\n')
    assert [(n, row, err) for n, row, err in iter_jsonl(inp)] == [
        (1, {"id": 1, "completion": "<answer>1</answer>"}, None), (2, {"id": 2, "completion": "x"}, None)]


def test_a_bad_row_deep_in_a_long_file_does_not_stop_it_and_a_stuck_partial_resumes_past_it(tmp_path):
    """20,000 rows with a bad one at line 15,000; and a partial of 14,848 records (where a run
    that died on that row's chunk would have left it) resumes to the same complete output."""
    lines = [json.dumps({"id": i, "completion": f"<answer>{i}</answer>" if i % 3 else "no"}) for i in range(1, 20_001)]
    lines[14_999] = '{"id": 15000, "completion": "\\ud800", "solution": NaN}'
    r, _ = score_cli(tmp_path, lines, [{"name": "fmt"}], out="full.jsonl")
    assert r.exit_code == 0, (r.output, r.exception)
    full = (tmp_path / "full.jsonl").read_text(encoding="utf-8")
    got = [json.loads(x) for x in full.splitlines()]
    assert len(got) == 20_000 and got[14_999]["_line"] == 15_000
    assert [g["id"] for g in got[:14_999] + got[15_000:]] == [i for i in range(1, 20_001) if i != 15_000]
    (tmp_path / "out.jsonl.partial").write_text("".join(full.splitlines(keepends=True)[:14_848]), encoding="utf-8")
    r, _ = score_cli(tmp_path, lines, [{"name": "fmt"}])
    assert r.exit_code == 0, (r.output, r.exception)
    assert (tmp_path / "out.jsonl").read_text(encoding="utf-8") == full and "14848 resumed" in r.output


WILD = {
    "score:1e308": "error: score 1e+308 out of range",
    "score:-1e300": "error: score -1e+300 out of range",
    "score:10**400": "error: score out of range (too large for a float)",
    "score:float('nan')": "error: non-finite score nan",
    "score:float('inf')": "error: non-finite score inf",
    "score:'1.0'": "error: score '1.0' is not a number",
}


@pytest.mark.parametrize("reward", ["wild", "wild_isolated"])
def test_out_of_range_scores_cost_only_their_item_and_metrics_stay_finite(reward):
    texts = list(WILD) + ["tame", "reason:lone \\ud800 surrogate"]
    cfg = Config((RewardSpec("w", reward=reward),), EngineConfig(workers=1, timeout=10))
    with Engine(cfg, fault_registry()) as eng:
        result = eng.score([Sample(t, index=i) for i, t in enumerate(texts)])
    reasons = result.reasons["w"]
    for i, text in enumerate(WILD):
        assert result.columns["w"][i] is None and reasons[i].startswith(WILD[text]), (text, reasons[i])
    assert result.columns["w"][-2:] == [0.5, 1.0] and result.total[-2:] == [0.5, 1.0]
    assert reasons[-1] == "lone \\ud800 surrogate"  # escaped text: it encodes to UTF-8
    reasons[-1].encode("utf-8")
    assert result.metrics["rewards/w/errors"] == len(WILD)
    assert all(math.isfinite(v) for v in result.metrics.values())


def test_std_metric_does_not_overflow_for_any_finite_scores():
    m = column_metrics("r", [Verdict(1e300), Verdict(-1e300), Verdict(1e308)], None)
    assert all(math.isfinite(v) for v in m.values()) and m["rewards/r/std"] > 1e300


def test_wild_scores_and_reasons_through_vlmr1_score(tmp_path):
    lines = [json.dumps({"completion": t}) for t in [*WILD, "tame", "reason:lone \\ud800 surrogate"]]
    r, _ = score_cli(tmp_path, lines, [{"name": "w", "reward": "wild"}, {"name": "v", "reward": "wild_isolated"}])
    assert r.exit_code == 0, (r.output, r.exception)
    got = records(tmp_path / "out.jsonl")
    assert len(got) == len(lines)
    for rec in got[: len(WILD)]:
        assert rec["rewards"] == {"w": None, "v": None} and rec["reasons"]["w"].startswith("error: ")
    assert got[-1]["reasons"] == {"w": "lone \\ud800 surrogate", "v": "lone \\ud800 surrogate"}


def test_nothing_raises_into_the_trainer():
    """Wild scores, a surrogate reason and a malformed row through the TRL functions: None
    with a reason for those items, real scores for the rest."""
    pytest.importorskip("trl")
    from test_trl_rewards import FakeTrainer
    from vlmr1.trl_rewards import trl_reward_functions

    cfg = config_from_dict({"rewards": [{"name": "w", "reward": "wild"}, {"name": "v", "reward": "wild_isolated"}],
                            "engine": {"workers": 1, "timeout": 10}})
    completions = [*WILD, "tame", "reason:\\udc80", "tame"]
    inputs = [{"prompt": "q", "image_size": [4, 4]} for _ in completions]
    inputs[-1] = {"prompt": "q", "image_size": "not a size"}
    with Engine(cfg, fault_registry()) as eng:
        funcs, _ = trl_reward_functions(cfg, engine=eng)
        trainer = FakeTrainer(funcs)
        try:
            per_func = trainer.calculate(inputs, ["q"] * len(completions), completions)
        finally:
            trainer.close()
    for j in range(2):
        col = per_func[:, j].tolist()
        assert all(math.isnan(x) for x in col[: len(WILD)]) and col[len(WILD):-1] == [0.5, 1.0] and math.isnan(col[-1])
    reasons = trainer._pending_extra_logs["reason/w"]
    assert reasons[len(WILD) + 1] == "\\udc80" and reasons[-1].startswith("invalid row: `image_size`")
    assert trainer._pending_metrics["rewards/w/errors"] == [len(WILD) + 1.0]
