"""The scored output: one writer at a time (the second run fails at once and names the
first), never the input itself, and a full disk or a file-size limit gives `Error:`,
exit 2 and a partial file that resumes to the complete output."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from fault_plugins import install
from vlmr1.cli import main

HERE = Path(__file__).parent
DRIVER = HERE / "score_driver.py"
ENV = {**os.environ, "VLMR1_PLUGINS": ""}


def setup(tmp_path: Path, n: int, rewards: list, pad: int = 0) -> tuple[Path, Path]:
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"rewards": rewards, "engine": {"workers": 1, "timeout": 10}}))
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps({"id": i, "completion": f"sleep<answer>{i}</answer>", "pad": "p" * pad}) + "\n" for i in range(n)))
    return cfg, inp


def cli(cfg: Path, inp: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, str(DRIVER), "score", "--config", str(cfg), "--input", str(inp), "--output", str(out),
            "--no-progress", *extra]


def test_a_second_run_on_the_same_output_fails_at_once_and_names_the_first(tmp_path):
    cfg, inp = setup(tmp_path, 60, [{"name": "faulty", "params": {"sleep": 0.05}}])
    out = tmp_path / "out.jsonl"
    first = subprocess.Popen(cli(cfg, inp, out, "--chunk", "5"), env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (tmp_path / "out.jsonl.partial").exists():
            time.sleep(0.02)
        t = time.monotonic()
        second = subprocess.run(cli(cfg, inp, out), env=ENV, capture_output=True, text=True, timeout=60)
        assert second.returncode == 2, second.stderr
        assert time.monotonic() - t < 30  # it did not wait for the first run
        assert second.stderr.startswith("Error: ") and f"pid {first.pid}" in second.stderr and "Traceback" not in second.stderr
        assert first.poll() is None  # the first was still running when the second gave up
    finally:
        _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert [g["id"] for g in got] == list(range(60))  # every row once, in order
    assert not (tmp_path / "out.jsonl.lock").exists()


def test_a_run_killed_with_sigkill_leaves_no_lock_behind(tmp_path):
    cfg, inp = setup(tmp_path, 40, [{"name": "faulty", "params": {"sleep": 0.05}}])
    out = tmp_path / "out.jsonl"
    proc = subprocess.Popen(cli(cfg, inp, out, "--chunk", "5"), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (tmp_path / "out.jsonl.partial").exists():
        time.sleep(0.02)
    os.killpg(proc.pid, 9)
    proc.wait()
    done = subprocess.run(cli(cfg, inp, out), env=ENV, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == list(range(40))


def test_a_forked_worker_that_outlives_a_killed_run_does_not_hold_the_output(tmp_path):
    """The run takes the lock, forks a worker (as the scoring pool does) and dies without
    letting go, as under kill -9; while the worker still lives, a rerun gets the output."""
    from vlmr1.outfile import OutputBusyError, output_lock

    out = tmp_path / "out.jsonl"
    code = ("import os, sys, time; from pathlib import Path; from vlmr1.outfile import output_lock\n"
            "with output_lock(Path(sys.argv[1])):\n"
            "    child = os.fork()\n"
            "    if child == 0:\n"
            "        null = os.open(os.devnull, os.O_RDWR); os.dup2(null, 1); os.dup2(null, 2)\n"
            "        time.sleep(30); os._exit(0)\n"
            "    print(child, flush=True); os._exit(0)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    worker = int(proc.stdout.split()[0])
    try:
        os.kill(worker, 0)  # the worker is still alive
        try:
            with output_lock(out):
                pass
        except OutputBusyError as exc:
            pytest.fail(f"the dead run's worker still holds the output: {exc}")
    finally:
        os.kill(worker, 9)


@pytest.mark.parametrize("how", ["same path", "another spelling", "hard link", "its partial"])
def test_the_output_may_not_be_the_input(tmp_path, how):
    install()
    cfg, inp = setup(tmp_path, 3, [{"name": "fmt"}])
    before = inp.read_bytes()
    out = {"same path": inp, "another spelling": tmp_path / "." / "in.jsonl", "hard link": tmp_path / "link.jsonl",
           "its partial": tmp_path / "in"}[how]
    if how == "hard link":
        os.link(inp, out)
    if how == "its partial":
        inp = inp.rename(tmp_path / "in.partial")
        before = inp.read_bytes()
    r = CliRunner().invoke(main, ["score", "--config", str(cfg), "--input", str(inp), "--output", str(out), "--no-progress"])
    assert r.exit_code == 2 and "is the input file" in r.stderr, (r.output, r.exception)
    assert inp.read_bytes() == before


def _run_limited(args: list[str], fsize: int) -> subprocess.CompletedProcess:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return subprocess.run(args, env=ENV, capture_output=True, text=True, timeout=120, preexec_fn=limit)


def _assert_resumable_after_write_error(tmp_path: Path, failed: subprocess.CompletedProcess, partial: Path, code: str) -> int:
    assert failed.returncode == 2, failed.stderr
    assert failed.stderr.startswith("Error: cannot write") and f"({code})" in failed.stderr, failed.stderr
    assert "Traceback" not in failed.stderr and "run the same command again to resume" in failed.stderr
    data = partial.read_bytes()
    assert data.endswith(b"\n")  # cut back to the last whole chunk, not torn
    kept = [json.loads(line) for line in data.splitlines()]
    assert [k["id"] for k in kept] == list(range(len(kept))) and len(kept) % 50 == 0
    assert f"The {len(kept)} records written so far are kept" in failed.stderr
    return len(kept)


def test_a_file_size_limit_gives_error_exit_2_and_a_resumable_partial(tmp_path):
    cfg, inp = setup(tmp_path, 400, [{"name": "fmt"}], pad=200)
    ref = tmp_path / "ref.jsonl"
    subprocess.run(cli(cfg, inp, ref), env=ENV, check=True, capture_output=True, timeout=120)
    out = tmp_path / "out.jsonl"
    failed = _run_limited(cli(cfg, inp, out, "--chunk", "50"), fsize=40_000)
    kept = _assert_resumable_after_write_error(tmp_path, failed, tmp_path / "out.jsonl.partial", "EFBIG")
    assert 0 < kept < 400 and not out.exists()
    done = subprocess.run(cli(cfg, inp, out, "--chunk", "50"), env=ENV, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert out.read_text() == ref.read_text() and f"({kept} resumed" in done.stdout


def _mount_namespace_works() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt && umount /mnt"],
                           capture_output=True, timeout=30)
    return probe.returncode == 0


def test_a_full_disk_gives_error_exit_2_and_a_resumable_partial(tmp_path):
    """A real 48 KiB tmpfs in a private mount namespace where the system allows one;
    elsewhere the driver makes writes to the partial file fail with ENOSPC past 40 kB."""
    cfg, inp = setup(tmp_path, 400, [{"name": "fmt"}], pad=200)
    ref = tmp_path / "ref.jsonl"
    subprocess.run(cli(cfg, inp, ref), env=ENV, check=True, capture_output=True, timeout=120)
    small, keep = tmp_path / "small", tmp_path / "keep"
    small.mkdir()
    keep.mkdir()
    out = small / "out.jsonl"
    first = " ".join(map(_q, cli(cfg, inp, out, "--chunk", "50")))
    second = " ".join(map(_q, cli(cfg, inp, out, "--chunk", "50")))
    if _mount_namespace_works():
        script = (f"mount -t tmpfs -o size=48k tmpfs {small} && "
                  f"{{ {first} > {keep}/1.out 2> {keep}/1.err; echo $? > {keep}/1.rc; cp {small}/out.jsonl.partial {keep}/; "
                  f"mount -o remount,size=16m {small} && {second} > {keep}/2.out 2> {keep}/2.err; echo $? > {keep}/2.rc; "
                  f"cp {out} {keep}/; }}")
        subprocess.run(["unshare", "-rm", "sh", "-c", script], env=ENV, check=True, timeout=300)
    else:
        script = (f"{first} > {keep}/1.out 2> {keep}/1.err; echo $? > {keep}/1.rc; cp {small}/out.jsonl.partial {keep}/; "
                  f"VLMR1_TEST_ENOSPC_AFTER= {second} > {keep}/2.out 2> {keep}/2.err; echo $? > {keep}/2.rc; cp {out} {keep}/")
        subprocess.run(["sh", "-c", script], env={**ENV, "VLMR1_TEST_ENOSPC_AFTER": "40000"}, check=True, timeout=300)
    failed = subprocess.CompletedProcess([], int((keep / "1.rc").read_text()), (keep / "1.out").read_text(), (keep / "1.err").read_text())
    kept = _assert_resumable_after_write_error(tmp_path, failed, keep / "out.jsonl.partial", "ENOSPC")
    assert 0 < kept < 400
    assert (keep / "2.rc").read_text().strip() == "0", (keep / "2.err").read_text()
    assert (keep / "out.jsonl").read_text() == ref.read_text() and f"({kept} resumed" in (keep / "2.out").read_text()


def _q(arg: str) -> str:
    import shlex

    return shlex.quote(arg)
