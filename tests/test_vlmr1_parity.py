"""`vlmr1 score` with examples/configs/vlm-r1.yaml gives VLM-R1's values (to 1e-6) for every
accuracy method and for format, on generated rows, against faithful re-implementations of
VLM-R1's functions (tests/vlmr1_reference.py). Where VLM-R1 raises, the row is None with
the reason `vlm-r1_raises: ...`."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import vlmr1_reference as ref
from click.testing import CliRunner
from vlmr1.cli import main
from vlmr1_rows import all_match_row, default_row, detection_row, mcq_row, vlmr1_solution, yes_no_row

PRESET = Path(__file__).parents[1] / "examples" / "configs" / "vlm-r1.yaml"
DETECTION = ("map", "od_ap", "od_ap50", "odLength", "weighted_sum")


def _rows(n_detection: int = 120, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    rows = [detection_row(rng, m) for m in DETECTION for _ in range(n_detection)]
    rows += [mcq_row(rng) for _ in range(150)] + [yes_no_row(rng) for _ in range(100)]
    rows += [all_match_row(rng) for _ in range(100)]
    for i, row in enumerate(rows):
        row["id"] = i
    return rows


def _score(tmp_path: Path, rows: list[dict]) -> list[dict]:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = CliRunner().invoke(main, ["score", "--config", str(PRESET), "--input", str(inp), "--output", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return [json.loads(line) for line in out.read_text().splitlines()]


def _reference(row: dict) -> float | Exception:
    try:
        return float(ref.accuracy_reward(row["completion"], vlmr1_solution(row["solution"]), row["accu_reward_method"]))
    except Exception as exc:  # noqa: BLE001 - VLM-R1 raises here; the training step would stop
        return exc


def test_preset_reproduces_vlmr1_accuracy_and_format(tmp_path):
    rows = _rows()
    got = _score(tmp_path, rows)
    assert len(got) == len(rows)
    worst: dict[str, float] = {}
    counts: dict[str, int] = {}
    raises: dict[str, int] = {}
    for row, rec in zip(rows, got):
        method = row["accu_reward_method"]
        want = _reference(row)
        value, reason = rec["rewards"]["accuracy"], rec["reasons"]["accuracy"]
        counts[method] = counts.get(method, 0) + 1
        if isinstance(want, Exception):
            assert value is None and reason.startswith("vlm-r1_raises"), (row, want, rec)
            raises[method] = raises.get(method, 0) + 1
            continue
        assert value is not None, (row, want, rec)
        diff = abs(value - want)
        worst[method] = max(worst.get(method, 0.0), diff)
        assert diff <= 1e-6, (row, want, value, reason)
        assert rec["rewards"]["format"] == ref.format_reward(row["completion"]), row
    # the generators reach every method, and most rows of each give a value
    assert set(counts) == {*DETECTION, "mcq", "yes_no", "all_match"}
    for method, n in counts.items():
        assert n - raises.get(method, 0) >= 0.7 * n, (method, n, raises)
    # the detection rows are not all trivial: AP values strictly between 0 and 1 occur
    partial = [r["rewards"]["accuracy"] for row, r in zip(rows, got) if row["accu_reward_method"] == "od_ap"]
    assert any(v is not None and 0 < v < 1 for v in partial)
    print("parity", {m: (counts[m], raises.get(m, 0), worst.get(m)) for m in sorted(counts)})


@pytest.mark.slow
def test_preset_default_chain_matches_vlmr1(tmp_path):
    """VLM-R1's `default` chain (math-verify first, isolated in a worker) and the `otherwise` case."""
    rng = random.Random(3)
    rows = [default_row(rng) for _ in range(60)]
    for i, row in enumerate(rows):
        row["id"] = i
    got = _score(tmp_path, rows)
    for row, rec in zip(rows, got):
        want = _reference(row)
        assert not isinstance(want, Exception)
        assert rec["rewards"]["accuracy"] == pytest.approx(want, abs=1e-6), (row, rec)


def test_hostile_rows_through_the_preset(tmp_path):
    """20,000 boxes, broken JSON, NaN coordinates, huge strings, for every method: every row
    back, every value finite (or None with a reason), in bounded time."""
    import time

    boxes = json.dumps([{"bbox_2d": [i, i, i + 5, i + 5], "label": "dog"} for i in range(20_000)])
    gold = "```json\n" + json.dumps([{"bbox_2d": [0, 0, 10, 10], "label": "dog"}]) + "\n```"
    answers = [f"<answer>```json\n{boxes}\n```</answer>", f"<answer>{boxes}</answer>", "<answer>```json\n[{\"bbox_2d\": [1, 2</answer>",
               '<answer>```json\n[{"bbox_2d": [NaN, 0, 10, 10], "label": "dog"}]\n```</answer>', "<answer>" * 20_000,
               "x" * 500_000, "<think>" + "</think>" * 3000 + "<answer>" * 3000, "\x00\x01"]
    methods = [*DETECTION, "mcq", "yes_no", "all_match"]
    rows = [{"id": i, "completion": a, "solution": gold if m in DETECTION else "A", "accu_reward_method": m}
            for i, (m, a) in enumerate((m, a) for m in methods for a in answers)]
    t = time.monotonic()
    got = _score(tmp_path, rows)
    assert time.monotonic() - t < 120
    assert [g["id"] for g in got] == [r["id"] for r in rows]
    for rec in got:
        for name, value in rec["rewards"].items():
            assert value is None and rec["reasons"][name] or isinstance(value, float) and 0.0 <= value <= 1.0, rec
