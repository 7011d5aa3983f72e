"""Failures a user can meet outside scoring: a YAML file with Python tags, a full disk, a
file-size limit. Each is one `Error: ...` line and exit status 2, from the real `vlmr1`
command in its own process; a real bug still shows its traceback."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from vlmr1.cli import main

VLMR1 = str(Path(sys.executable).with_name("vlmr1"))


def _run(*args: str, cwd: Path, fsize: int | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    def limit() -> None:
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return subprocess.run([VLMR1, *args], cwd=cwd, capture_output=True, text=True, timeout=120, preexec_fn=limit,
                          env={**os.environ, **(env or {})})


def _expected_failure(out: subprocess.CompletedProcess, *words: str) -> None:
    assert out.returncode == 2, (out.returncode, out.stderr[-2000:])
    assert out.stderr.startswith("Error: "), out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    for word in words:
        assert word in out.stderr, out.stderr


# -- YAML -------------------------------------------------------------------------------------
TAGS = [
    '!!python/object/apply:os.system ["touch pwned"]',
    "!!python/name:os.system",
    '!!python/object/new:subprocess.Popen [["touch", "pwned"]]',
    "!!python/module:os",
]


@pytest.mark.parametrize("tag", TAGS, ids=["apply", "name", "new", "module"])
def test_python_yaml_tags_are_an_error_with_the_line(tmp_path, tag):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"rewards:\n  - name: format\n    params: {tag}\n")
    out = _run("validate", str(cfg), cwd=tmp_path)
    _expected_failure(out, "c.yaml:3", "python/")
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"completion": "<answer>1</answer>"}) + "\n")
    result = CliRunner().invoke(main, ["score", "--config", str(cfg), "--input", str(rows), "--output", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 2 and "Error: " in result.output and "c.yaml:3" in result.output, result.output
    assert not (tmp_path / "pwned").exists()


# -- disk full, file too large ------------------------------------------------------------------
def _scored(tmp_path: Path) -> Path:
    path = tmp_path / "scored.jsonl"
    rows = [{"id": i, "completion": "x" * 10_000, "rewards": {"a": i / 10}, "reward": i / 10, "reasons": {"a": "ok"}} for i in range(10)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_inspect_on_a_full_disk_is_an_error(tmp_path):
    scored = _scored(tmp_path)
    out = tmp_path / "report"
    out.mkdir()
    (out / "hist_0.png").symlink_to("/dev/full")  # writes there fail with ENOSPC, as on a full disk
    got = _run("inspect", str(scored), "--out", str(out), cwd=tmp_path)
    _expected_failure(got, "No space left on device", "could not write the report into")


def test_inspect_past_a_file_size_limit_is_an_error_and_leaves_no_half_page(tmp_path):
    scored = _scored(tmp_path)
    got = _run("inspect", str(scored), "--out", str(tmp_path / "report"), cwd=tmp_path, fsize=30_000)
    _expected_failure(got, "File too large", "could not write")
    assert not (tmp_path / "report" / "index.html").exists()


def test_new_plugin_past_a_file_size_limit_is_an_error_and_leaves_nothing(tmp_path):
    got = _run("new-plugin", "ocr_lines", "--dir", str(tmp_path), cwd=tmp_path, fsize=1500)
    _expected_failure(got, "File too large", "could not write")
    assert list(tmp_path.iterdir()) == []


def test_debug_shows_the_traceback(tmp_path):
    got = _run("new-plugin", "ocr_lines", "--dir", str(tmp_path), cwd=tmp_path, fsize=1500, env={"VLMR1_DEBUG": "1"})
    assert got.returncode != 0 and "Traceback" in got.stderr and "OSError" in got.stderr


def test_a_real_bug_is_not_dressed_up_as_a_user_error(monkeypatch, tmp_path):
    from vlmr1 import report

    def broken(*a, **k):
        return 1 / 0

    monkeypatch.setattr(report, "read_scored", broken)
    result = CliRunner().invoke(main, ["inspect", str(_scored(tmp_path))])
    assert isinstance(result.exception, ZeroDivisionError)
    assert not result.output.startswith("Error: ")


def test_a_reader_that_leaves_early_is_not_an_error(tmp_path):
    """`vlmr1 rewards --json | head -c 10`: the pipe closes under the command."""
    proc = subprocess.Popen([VLMR1, "rewards", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # before the command writes anything
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert "Traceback" not in err and "Error" not in err, err
