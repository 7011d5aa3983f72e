"""Fault injection: a plugin that raises, hangs, aborts, segfaults or eats memory costs
only its own items, the pool recovers, and strict mode names the plugin."""

from __future__ import annotations

import time

import pytest
from fault_plugins import fault_registry
from vlmr1 import Sample
from vlmr1.config import Config, EngineConfig, RewardSpec
from vlmr1.engine import Engine
from vlmr1.errors import PluginFailure

FAULTS = {
    "raise": "error: ValueError: boom from the plugin",
    "hang": "timeout",
    "spin": "timeout",
    "abort": "crashed: SIGABRT",
    "segv": "crashed: SIGSEGV",
    "oom": "memory",
    "nan": "error: non-finite score nan",
    "wrongtype": "error: reward returned float, not a Verdict",
}


def engine(strict: bool = False, workers: int = 2, timeout: float = 1.0, **kw) -> Engine:
    cfg = Config((RewardSpec("faulty"),), EngineConfig(workers=workers, timeout=timeout, memory_mb=256, strict=strict, **kw))
    return Engine(cfg, fault_registry())


def batch(texts: list[str]) -> list[Sample]:
    return [Sample(t, solution="gold", index=i, id=f"r{i}") for i, t in enumerate(texts)]


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_fault_costs_only_its_item_and_the_next_batch_is_healthy(fault):
    healthy = ["a", "bb", "ccc", "dddd"]
    # Only the hangs need a short timeout; the others get slack for a busy machine.
    with engine(timeout=1.0 if fault in ("hang", "spin") else 5.0) as eng:
        result = eng.score(batch(healthy[:2] + [fault] + healthy[2:]))
        col, reasons = result.columns["faulty"], result.reasons["faulty"]
        assert col[2] is None and reasons[2] == FAULTS[fault]
        assert col[:2] + col[3:] == [len(t) % 3 / 2 for t in healthy]
        assert set(reasons[:2] + reasons[3:]) == {"ok"}
        kind = "timeouts" if FAULTS[fault] == "timeout" else "errors"
        assert result.metrics[f"rewards/faulty/{kind}"] == 1.0
        assert result.metrics["rewards/faulty/none"] == 1.0
        # The pool recovered: a following batch is scored completely, by live workers.
        again = eng.score(batch(healthy * 4))
        assert again.columns["faulty"] == [len(t) % 3 / 2 for t in healthy * 4]
        assert again.metrics["rewards/faulty/errors"] == 0 and again.metrics["rewards/faulty/timeouts"] == 0


def test_crash_details_carry_the_signal():
    with engine() as eng:
        v = eng.score(batch(["segv"])).verdicts["faulty"][0]
    assert v.details["failure"] == "crashed" and v.details["signal"] == "SIGSEGV" and v.details["exitcode"] == -11


def test_all_faults_in_one_batch_end_within_about_one_timeout():
    texts = list(FAULTS) + ["x"] * 20
    with engine(workers=2, timeout=2.0) as eng:
        eng.pool.start()
        t = time.monotonic()
        result = eng.score(batch(texts))
        wall = time.monotonic() - t
    assert result.reasons["faulty"][: len(FAULTS)] == list(FAULTS.values())
    assert result.columns["faulty"][len(FAULTS):] == [0.5] * 20
    assert wall < 2.0 + 3.0, wall  # four hang-like items on two workers: spares take over (a bound, not a benchmark)


def test_next_batch_runs_at_full_speed_after_a_hang():
    """After a timeout the killed worker is replaced; a later batch is not slowed by it."""
    with engine(timeout=0.5) as eng:
        eng.score(batch(["warm"] * 4))
        t = time.monotonic()
        eng.score(batch([f"x{i}" for i in range(200)]))
        before = time.monotonic() - t
        eng.score(batch(["hang", "spin"]))
        t = time.monotonic()
        after = eng.score(batch([f"y{i}" for i in range(200)]))
        after_s = time.monotonic() - t
    assert after.metrics["rewards/faulty/none"] == 0
    assert after_s < max(5 * before, 1.0), (before, after_s)


@pytest.mark.parametrize("fault", ["raise", "hang", "segv"])
def test_strict_mode_names_the_plugin_and_distribution(fault):
    with engine(strict=True) as eng, pytest.raises(PluginFailure) as err:
        eng.score(batch(["fine", fault]))
    msg = str(err.value)
    assert "'faulty'" in msg and "vlmr1-reward-faulty" in msg and "0.0.1" in msg
    assert FAULTS[fault].split(":")[0] in msg and "item 1 (id r1)" in msg


def test_gold_failure_costs_only_the_items_with_that_solution():
    samples = [Sample("a", solution="bad-gold"), Sample("bb", solution="good"), Sample("c", solution="bad-gold"), Sample("d", solution="hang-gold")]
    with engine(timeout=0.5) as eng:
        result = eng.score(samples)
    reasons = result.reasons["faulty"]
    assert reasons[0] == reasons[2] == "gold_error: error: ValueError: cannot parse gold"
    assert reasons[3] == "gold_error: timeout"
    assert result.columns["faulty"] == [None, 1.0, None, None]
    assert result.verdicts["faulty"][1].details["gold"]["parsed"] == "good"


def test_inline_mode_catches_exceptions_but_cannot_stop_hangs():
    """workers=0 runs isolated rewards in the main process: exceptions are still caught."""
    with engine(workers=0) as eng:
        result = eng.score(batch(["raise", "abc", "nan"]))
    assert result.reasons["faulty"] == [FAULTS["raise"], "ok", FAULTS["nan"]]


def test_workers_are_recycled_after_max_tasks():
    cfg = Config((RewardSpec("pids"),), EngineConfig(workers=1, max_tasks_per_worker=3, dedupe=False))
    with Engine(cfg, fault_registry()) as eng:  # one-item batches: one pebble task each
        pids = [eng.score(batch(["x"])).verdicts["pids"][0].details["pid"] for _ in range(9)]
    assert len(set(pids)) == 3, pids


@pytest.mark.parametrize("fault", ["hang", "segv", "abort"])
def test_a_fault_inside_a_chunk_costs_only_its_item(fault):
    """Items travel in chunks; a kill or crash blames the item the worker was on and
    the chunk's other items are run again."""
    texts = [f"item{i:02d}" for i in range(40)]
    texts[17] = fault
    with engine(workers=1, timeout=1.0) as eng:
        result = eng.score(batch(texts))
    col = result.columns["faulty"]
    assert result.reasons["faulty"][17] == FAULTS[fault]
    assert [c for i, c in enumerate(col) if i != 17] == [len(t) % 3 / 2 for i, t in enumerate(texts) if i != 17]


def test_the_timeout_is_per_item_not_per_chunk():
    """Ten items of 0.3 s each share a chunk on one worker; none of them is over 0.8 s."""
    cfg = Config((RewardSpec("faulty", params={"sleep": 0.3}),), EngineConfig(workers=1, timeout=0.8, dedupe=False))
    with Engine(cfg, fault_registry()) as eng:
        eng.pool._item_s = 0.001  # as if earlier items were fast: the chunk is large
        result = eng.score(batch([f"sleep{i}" for i in range(10)]))
    assert result.metrics["rewards/faulty/timeouts"] == 0, result.reasons["faulty"]


def test_stalled_chunks_hand_over_to_spare_workers_and_it_shows_in_metrics():
    with engine(workers=1, timeout=1.5, dedupe=False) as eng:
        result = eng.score(batch(["hang", "hang"] + [f"ok{i}" for i in range(10)]))
    m = result.metrics
    assert result.reasons["faulty"][:2] == ["timeout", "timeout"]
    assert m["engine/stalls"] >= 1 and m["engine/spare_chunks"] >= 1 and m["engine/kills"] == 2
    assert m["engine/batch_s"] < 1.5 * 2  # the two hangs overlapped instead of queueing on one worker


def test_hangs_next_to_each_other_overlap():
    """A prompt whose generations all hang: they sit in one chunk, yet cost about one
    timeout, not one each (the chunk's tail is split off when the first one stalls)."""
    texts = ["hang", "spin", "hang ", "spin "] + [f"ok{i}" for i in range(20)]
    with engine(workers=2, timeout=1.0, dedupe=False) as eng:
        eng.pool.start()
        result = eng.score(batch([t.strip() for t in texts]))
    assert result.reasons["faulty"][:4] == ["timeout"] * 4
    assert result.columns["faulty"][4:] == [len(f"ok{i}") % 3 / 2 for i in range(20)]
    assert result.metrics["engine/batch_s"] < 2 * 1.0 + 1.0, result.metrics
