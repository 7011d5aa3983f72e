"""`vlmr1 score`: rows out = rows in, malformed lines, TRL messages, overrides, and
resume after a real kill matching an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner
from fault_plugins import install
from vlmr1.cli import main
from vlmr1.documents import schema_problems
from vlmr1.scorefile import recover_partial, score_file

HERE = Path(__file__).parent
DRIVER = "import sys; sys.path.insert(0, {tests!r}); import fault_plugins; fault_plugins.install(); from vlmr1.cli import main; main()"


def write_config(path: Path, rewards: list, engine: dict | None = None) -> Path:
    path.write_text(json.dumps({"rewards": rewards, "engine": engine or {"workers": 2, "timeout": 5}}))
    return path


def write_rows(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def invoke(*args: str):
    install()
    return CliRunner().invoke(main, ["score", *args])  # click >= 8.2 keeps stderr apart


def test_rows_out_equal_rows_in_with_malformed_lines(tmp_path):
    cfg = write_config(tmp_path / "c.json", [{"name": "acc", "reward": "exact_acc"}, {"name": "fmt", "weight": 0.5}])
    rows = [
        {"id": 1, "completion": "<answer>", "solution": "<answer>", "extra": [1, 2]},
        "{not json",
        "",
        "[1, 2]",
        {"id": 4, "solution": "no completion here"},
        {"id": 5, "completion": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "yes"}], "solution": "yes"},
        {"id": 6, "completion": "x", "solution": "x", "image_size": [3]},
    ]
    inp = write_rows(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    r = invoke("--config", str(cfg), "--input", str(inp), "--output", str(out), "--no-progress")
    assert r.exit_code == 0, r.output
    err = r.stderr
    assert f"{inp}:2: not valid JSON" in err and f"{inp}:4: expected a JSON object" in err
    assert f"{inp}:5: invalid row: the row has no `completion`" in err and f"{inp}:7: invalid row: `image_size`" in err
    got = read(out)
    assert len(got) == 6  # every non-blank line has a record
    for rec in got:
        assert schema_problems(rec, "scored", str(out)) == []
        assert rec["reward"] is None or (isinstance(rec["reward"], float) and 0.0 <= rec["reward"] <= 1.5), rec  # format 0.5 + one task reward 1.0
    assert got[0]["rewards"] == {"acc": 1.0, "fmt": 1.0} and got[0]["reward"] == 1.5 and got[0]["extra"] == [1, 2]
    assert got[1] == {"_line": 2, "rewards": {}, "reward": None, "reasons": {"_input": got[1]["reasons"]["_input"]}}
    assert got[3]["id"] == 4 and got[3]["reward"] is None and got[3]["rewards"] == {"acc": None, "fmt": None}
    assert got[4]["rewards"] == {"acc": 1.0, "fmt": 0.0} and got[4]["completion"][1]["content"] == "yes"
    assert not (tmp_path / "out.jsonl.partial").exists()
    assert "4 malformed" in r.output and "acc" in r.output and "timeouts" in r.output


def test_workers_and_timeout_override_the_config(tmp_path):
    cfg = write_config(tmp_path / "c.json", [{"name": "faulty"}, {"name": "where"}], {"workers": 2, "timeout": 60})
    inp = write_rows(tmp_path / "in.jsonl", [{"completion": "hang"}] + [{"completion": f"x{i}"} for i in range(6)])
    out = tmp_path / "out.jsonl"
    t = time.monotonic()
    r = invoke("--config", str(cfg), "--input", str(inp), "--output", str(out), "--timeout", "0.5", "--workers", "1", "--no-progress")
    assert r.exit_code == 0, r.output
    assert time.monotonic() - t < 30
    got = read(out)
    assert got[0]["reasons"]["faulty"] == "timeout" and got[0]["rewards"]["faulty"] is None
    assert [g["rewards"]["faulty"] for g in got[1:]] == [1.0] * 6
    assert {g["reasons"]["where"] for g in got} == {"worker"}
    # --workers 0 runs inline: the same config now scores in this process.
    inp2 = write_rows(tmp_path / "in2.jsonl", [{"completion": "x"}])
    r = invoke("--config", str(cfg), "--input", str(inp2), "--output", str(out), "--workers", "0", "--no-progress")
    assert r.exit_code == 0, r.output
    assert read(out)[0]["reasons"]["where"] == "inline"


def test_partial_with_a_torn_line_resumes_without_loss_or_duplicates(tmp_path):
    from fault_plugins import fault_registry
    from vlmr1.config import config_from_dict

    config = config_from_dict({"rewards": [{"name": "faulty"}], "engine": {"workers": 1}})
    rows = [{"id": i, "completion": "x" * i} for i in range(1, 40)]
    inp = write_rows(tmp_path / "in.jsonl", rows)
    full = tmp_path / "full.jsonl"
    score_file(config, inp, full, registry=fault_registry(), chunk_size=7)
    expected = full.read_text()
    out = tmp_path / "out.jsonl"
    partial = tmp_path / "out.jsonl.partial"
    lines = expected.splitlines(keepends=True)
    partial.write_text("".join(lines[:11]) + lines[11][:15])  # 11 whole records and a torn one
    assert recover_partial(partial) == 11 and partial.read_text() == "".join(lines[:11])
    partial.write_text("".join(lines[:11]) + lines[11][:15])
    summary = score_file(config, inp, out, registry=fault_registry(), chunk_size=7)
    assert out.read_text() == expected and summary.resumed == 11 and summary.rows == 39


def test_resume_after_a_real_kill_matches_an_uninterrupted_run(tmp_path):
    cfg = write_config(tmp_path / "c.json", [{"name": "faulty", "params": {"sleep": 0.05}}, {"name": "fmt"}], {"workers": 1, "timeout": 10})
    rows = [{"id": i, "completion": f"sleep{'y' * (i % 5)}<answer>{i}", "solution": i} for i in range(80)]
    inp = write_rows(tmp_path / "in.jsonl", rows)
    driver = DRIVER.format(tests=str(HERE))
    env = {**os.environ, "VLMR1_PLUGINS": ""}

    def cmd(out: Path) -> list[str]:
        return [sys.executable, "-c", driver, "score", "--config", str(cfg), "--input", str(inp), "--output", str(out), "--chunk", "5", "--no-progress"]

    reference = tmp_path / "ref.jsonl"
    subprocess.run(cmd(reference), check=True, env=env, capture_output=True, timeout=120)
    out = tmp_path / "out.jsonl"
    partial = tmp_path / "out.jsonl.partial"
    proc = subprocess.Popen(cmd(out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not partial.exists() or partial.read_text().count("\n") < 20):
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert partial.exists() and not out.exists()
    kept = partial.read_text().count("\n")
    assert 20 <= kept < 80
    with open(partial, "a") as fh:
        fh.write('{"id": 99, "compl')  # as if killed in the middle of a write
    done = subprocess.run(cmd(out), env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert out.read_text() == reference.read_text()
    assert f"({kept} resumed" in done.stdout


def test_a_partial_longer_than_the_input_is_refused(tmp_path):
    cfg = write_config(tmp_path / "c.json", [{"name": "fmt"}])
    inp = write_rows(tmp_path / "in.jsonl", [{"completion": "a"}])
    out = tmp_path / "out.jsonl"
    (tmp_path / "out.jsonl.partial").write_text('{"a": 1}\n{"a": 2}\n')
    r = invoke("--config", str(cfg), "--input", str(inp), "--output", str(out), "--no-progress")
    assert r.exit_code == 2 and "only 1 rows" in r.stderr
    assert not out.exists()


def test_progress_bar_only_on_a_terminal(tmp_path):
    import pty

    cfg = write_config(tmp_path / "c.json", [{"name": "fmt"}])
    inp = write_rows(tmp_path / "in.jsonl", [{"completion": f"<answer>{i}"} for i in range(30)])
    driver = DRIVER.format(tests=str(HERE))
    args = [sys.executable, "-c", driver, "score", "--config", str(cfg), "--input", str(inp), "--chunk", "10"]
    env = {**os.environ, "VLMR1_PLUGINS": "", "COLUMNS": "100"}
    primary, secondary = pty.openpty()
    seen = bytearray()

    def drain() -> None:  # read while it runs: a pty's buffer is lost once the child is gone
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:
                return
            if not chunk:
                return
            seen.extend(chunk)

    import threading

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    proc = subprocess.run([*args, "--output", str(tmp_path / "a.jsonl")], stdout=subprocess.PIPE, stderr=secondary, env=env, timeout=120)
    os.close(secondary)
    reader.join(timeout=5)
    os.close(primary)
    assert proc.returncode == 0 and b"scoring" in seen
    plain = subprocess.run([*args, "--output", str(tmp_path / "b.jsonl")], capture_output=True, env=env, timeout=120)
    assert plain.returncode == 0 and b"scoring" not in plain.stderr and b"30 rows" in plain.stdout
    assert (tmp_path / "a.jsonl").read_text() == (tmp_path / "b.jsonl").read_text()


HOSTILE_ANSWERS = [
    "\\frac{1}{0}", "9^9^9^9", "10^{10^{10}}", "x^{999999}", "(" * 3000 + "1" + ")" * 3000, "1e400", "nan",
    "\\infty", "\\sqrt[1000]{2}", "100!", "\\binom{1000}{500}", "2^{2^{2^{2^{2}}}}", "\\boxed{}", "\x00\x01", "😀",
    "", "a" * 100_000, "1" * 5000, "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "\\int_0^1 x dx",
]
HOSTILE_BOXES = ['{"bbox_2d": [1e308, -1e308, 0, 5]}', '{"bbox_2d": [10, 10, 5, 5]}', "[[1,2,3,4],[5,6,7,8]]", '{"bbox_2d": "x"}']


def test_hostile_rows_through_the_shipped_mixed_config(tmp_path):
    """Every row comes back, every value is a finite number or null with a reason, and the run ends."""
    rows: list = []
    for i, ans in enumerate(HOSTILE_ANSWERS):
        for gold in ("3", "\\frac{1}{2}", "10^{100}", "", 5, [1, 2], None):
            rows.append({"id": len(rows), "task": "math", "completion": f"<think>t</think><answer>${ans}$</answer>", "solution": gold})
        rows.append({"id": len(rows), "task": ("mcq", "counting", "unknown", 7)[i % 4], "completion": ans, "solution": "A"})
    for box in HOSTILE_BOXES:
        for gold, size in (([0, 0, 100, 100], [640, 480]), ("[0,0,100,100]", None), ([0, 0, "a", 1], [640, 480]), ([0, 0, 1, 1], [1e9, 1e9])):
            row = {"id": len(rows), "task": "rec", "completion": f"<think>t</think><answer>{box}</answer>", "solution": gold}
            rows.append(row if size is None else {**row, "image_size": size})
    broken = ["{not json", "[1, 2]", '"text"', {"id": "x", "completion": {"a": 1}}, {"id": "y", "completion": [{"role": "assistant"}]}]
    with_ids = len(rows)
    rows += broken
    inp = write_rows(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    config = Path(__file__).parents[1] / "examples" / "configs" / "mixed.yaml"
    r = invoke("--config", str(config), "--input", str(inp), "--output", str(out), "--no-progress")
    assert r.exit_code == 0, r.output
    got = read(out)
    assert len(got) == len(rows)
    assert [g.get("id") for g in got[:with_ids]] == list(range(with_ids))
    for rec in got:
        assert schema_problems(rec, "scored", str(out)) == []
        assert rec["reward"] is None or (isinstance(rec["reward"], float) and 0.0 <= rec["reward"] <= 1.5), rec  # format 0.5 + one task reward 1.0
        for name, value in rec["rewards"].items():
            if value is None:
                assert rec["reasons"][name], rec
            else:
                assert isinstance(value, float) and 0.0 <= value <= 1.0, rec
    scored_math = [g for g in got if g.get("task") == "math" and g["rewards"].get("math") is not None]
    accepted = {(g["completion"], g["solution"]) for g in scored_math if g["rewards"]["math"] == 1.0}
    assert len(scored_math) > 50 and accepted == {("<think>t</think><answer>$\\int_0^1 x dx$</answer>", "\\frac{1}{2}")}
