"""The pool blames exactly the item a worker was on when it was killed or died, from
the very first chunk of a fresh engine, and takes the worker's children down with it."""

from __future__ import annotations

import time

import pytest
from fault_plugins import fault_registry
from vlmr1 import Sample
from vlmr1.config import Config, EngineConfig, RewardSpec
from vlmr1.engine import Engine


def fresh_engine(timeout: float, workers: int = 2, **kw) -> Engine:
    """A new engine whose pool has not started: its first chunk is the one under test (the
    reward has no ``prepare``, so that first chunk scores items)."""
    cfg = Config((RewardSpec("faulty", reward="bare"),), EngineConfig(workers=workers, timeout=timeout, memory_mb=256, **kw))
    return Engine(cfg, fault_registry())


def rows_with(faults: dict[int, str], n: int) -> list[Sample]:
    # Healthy rows repeat every 50 (dedupe shares their verdicts): a verdict wrongly given to
    # row 0 would spread to rows 50, 100, ...
    return [Sample(faults.get(i, f"x{i % 50}"), solution="gold", index=i) for i in range(n)]


def healthy(i: int) -> float:
    return len(f"x{i % 50}") % 3 / 2


def test_hangs_in_the_first_chunk_of_a_fresh_engine_cost_only_their_rows():
    """2,048 rows, rows 7-14 hang: exactly those time out, in about one timeout."""
    hangs = {i: f"hang:{i}" for i in range(7, 15)}
    with fresh_engine(timeout=1.5) as eng:
        t = time.monotonic()
        result = eng.score(rows_with(hangs, 2048))
        wall = time.monotonic() - t
    reasons, col = result.reasons["faulty"], result.columns["faulty"]
    assert [i for i, r in enumerate(reasons) if r != "ok"] == list(range(7, 15))
    assert all(reasons[i] == "timeout" for i in hangs)
    assert all(col[i] == healthy(i) for i in range(2048) if i not in hangs)
    assert result.metrics["engine/kills"] == 8
    # Per-item watch from the first chunk: not pebble's backstop (timeout x chunk length + 5 s).
    assert wall < 1.5 + 5.0, wall


@pytest.mark.parametrize("fault,reason", [("segv", "crashed: SIGSEGV"), ("abort", "crashed: SIGABRT")])
def test_a_crash_in_the_first_chunk_marks_only_its_row(fault, reason):
    with fresh_engine(timeout=10.0) as eng:
        result = eng.score(rows_with({7: fault}, 2048))
    reasons = result.reasons["faulty"]
    assert [i for i, r in enumerate(reasons) if r != "ok"] == [7]
    assert reasons[7] == reason


def test_a_crash_before_any_item_started_is_not_blamed_on_the_first_item():
    """The blame goes to the item the worker was on; with no item started, no guess: the
    items run again one by one and only the one that kills its worker pays."""
    from vlmr1.pool import WorkerPool

    pool = WorkerPool(workers=1, timeout=10.0, max_tasks=0, memory_mb=None)
    try:
        import asyncio

        from fault_plugins import kill_on_unpickle

        items = [(kill_on_unpickle(False), i) for i in range(6)]
        items[3] = (kill_on_unpickle(True), 3)
        out = asyncio.run(pool.map(echo_second, items))
    finally:
        pool.close()
    from pebble import ProcessExpired

    assert [type(r).__name__ for r in out] == ["int"] * 3 + ["ProcessExpired"] + ["int"] * 2
    assert isinstance(out[3], ProcessExpired) and out[:3] + out[4:] == [0, 1, 2, 4, 5]


def echo_second(_: object, i: int) -> int:
    return i


def test_a_timed_out_worker_takes_its_children_with_it(tmp_path):
    pidfile = tmp_path / "child.pid"
    with fresh_engine(timeout=1.0) as eng:
        result = eng.score([Sample(f"orphan:{pidfile}", index=0), Sample("ok", index=1)])
        assert result.reasons["faulty"] == ["timeout", "ok"]
        child = int(pidfile.read_text())
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _alive(child):
            time.sleep(0.05)
        assert not _alive(child), f"the worker's child {child} (sleep 777) outlived its worker"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
