"""bench/gpu_check.sh: its CPU dry run goes through the whole plumbing (config, a real
training process, its metrics, the table), and a check that fails is reported as failed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("trl")

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "gpu_check.sh"


def _run(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": sys.executable, "HF_HOME": str(tmp_path / "hf"), "MPLCONFIGDIR": str(tmp_path / "mpl"),
           "VLMR1_PLUGINS": ""}
    return subprocess.run(["bash", str(SCRIPT), "--dry-run", "--out", str(tmp_path / "out"), *extra],
                          capture_output=True, text=True, env=env, timeout=300)


def _table(stdout: str) -> list[list[str]]:
    lines = [line for line in stdout.splitlines() if line.startswith("| ") and not line.startswith("| check")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


@pytest.mark.slow
def test_dry_run_trains_one_step_and_prints_the_table(tmp_path):
    proc = _run(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = _table(proc.stdout)
    assert [r[0] for r in rows] == ["fp32 GRPO on CPU (dry run)", "bf16 GRPO (flash-attn 2)", "DeepSpeed ZeRO-2",
                                    "DeepSpeed ZeRO-3"]
    first = rows[0]
    assert first[1] == "ok" and first[2] == "1"
    assert float(first[4]) > 0 and 0 < float(first[6].rstrip("%")) <= 100
    assert first[7] == "-"  # no GPU memory on a CPU
    for row in rows[1:]:
        assert row[1].startswith("skipped: ") and len(row[1]) > len("skipped: ") and row[2:] == ["-"] * 6
    # the numbers came from a real run with all three rewards
    metrics = next((tmp_path / "out").rglob("metrics.jsonl"))
    step = next(json.loads(x) for x in metrics.read_text().splitlines() if '"reward"' in x)
    for name in ("format", "iou", "math"):
        assert f"rewards/{name}/mean" in step
    assert step["timing/rewards_s"] > 0


@pytest.mark.slow
def test_a_failing_check_is_reported_and_fails_the_script(tmp_path):
    proc = _run(tmp_path, "--model", str(tmp_path / "no-such-model"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    first = _table(proc.stdout)[0]
    assert first[1].startswith("failed (exit "), first
    assert "(log: " in proc.stdout
