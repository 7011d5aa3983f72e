"""In-process plugins that misbehave on purpose, for the engine's fault-injection tests.

A completion decides what happens to its own item: "raise", "hang", "abort", "segv",
"oom", "nan", "wrongtype" (or "hang:anything", "segv:anything"... for distinct items
that do the same); anything else scores len(completion) % 3 / 2. Every callable is
module-level so it pickles by reference into worker processes.
"""

from __future__ import annotations

import ctypes
import os
import time
from typing import Any

from vlmr1 import Reward, Sample, Verdict, Verifier, hookimpl
from vlmr1.registry import Registry, load_registry

PREPARED: list[Any] = []  # main-process log of inline prepare calls


def behave(text: str) -> None:
    if text.startswith(("hang:", "spin:", "abort:", "segv:")):
        text = text.split(":", 1)[0]
    if text.startswith("orphan:"):  # start a child that would outlive its worker, then hang
        import subprocess

        child = subprocess.Popen(["sleep", "777"])
        with open(text.split(":", 1)[1], "w") as fh:
            fh.write(str(child.pid))
        text = "hang"
    if text == "raise":
        raise ValueError("boom from the plugin")
    if text == "hang":
        while True:
            time.sleep(60)
    if text == "spin":
        while True:
            pass
    if text == "abort":
        os.abort()
    if text == "segv":
        ctypes.string_at(0)
    if text == "oom":
        hoard = []
        while True:
            hoard.append(bytearray(64 * 1024 * 1024))
            hoard[-1][::4096] = b"x" * len(hoard[-1][::4096])


def faulty_score(sample: Sample, gold: Any, params: Any) -> Verdict:
    behave(sample.completion)
    if sample.completion == "nan":
        return Verdict(float("nan"))
    if sample.completion == "wrongtype":
        return 1.0  # type: ignore[return-value]
    if sample.completion.startswith("sleep"):
        time.sleep(float(params.get("sleep", 0.2)))
    return Verdict(len(sample.completion) % 3 / 2, "ok", answer=sample.completion, details={"gold": gold, "pid": os.getpid()})


def faulty_prepare(solution: Any, params: Any) -> Any:
    if solution == "bad-gold":
        raise ValueError("cannot parse gold")
    if solution == "hang-gold":
        while True:
            time.sleep(60)
    return {"parsed": solution, "pid": os.getpid()}


def pid_score(sample: Sample, gold: Any, params: Any) -> Verdict:
    return Verdict(1.0, "ok", details={"pid": os.getpid(), "gold": gold})


def easy_triage(sample: Sample, gold: Any, params: Any) -> Verdict | None:
    """Settles "easy..." items (in whatever process runs it), raises on "boom", passes the rest on."""
    if sample.completion == "boom":
        raise RuntimeError("triage failed")
    return Verdict(0.5, "easy", details={"pid": os.getpid()}) if sample.completion.startswith("easy") else None


def where_score(sample: Sample, gold: Any, params: Any) -> Verdict:
    """1.0 when run in the main process (workers=0), 0.0 in a worker."""
    import multiprocessing

    in_worker = multiprocessing.current_process().name == "vlmr1-worker"
    return Verdict(0.0 if in_worker else 1.0, "worker" if in_worker else "inline")


def exact_extract(text: str, params: Any) -> Any:
    return text.strip() or None


def exact_compare(answer: Any, gold: Any, sample: Sample, params: Any) -> Verdict:
    return Verdict(1.0 if answer == gold else 0.0, "match" if answer == gold else "mismatch", answer)


def cheap_prepare(solution: Any, params: Any) -> Any:
    PREPARED.append(solution)
    return str(solution).strip()


def cheap_batch(samples: list[Sample], golds: list[Any], params: Any) -> list[Verdict]:
    if any(s.completion == "batch-raise" for s in samples):
        raise RuntimeError("vectorised failure")
    if any(s.completion == "batch-short" for s in samples):
        return [Verdict(1.0)] * (len(samples) - 1)
    return [Verdict(1.0 if "<answer>" in s.completion else 0.0, "format") for s in samples]


def cheap_score(sample: Sample, gold: Any, params: Any) -> Verdict:
    behave("raise" if sample.completion == "raise" else "")
    return Verdict(float(params.get("value", 0.5)), "cheap")


def wild_score(sample: Sample, gold: Any, params: Any) -> Verdict:
    """"score:EXPR" scores eval(EXPR) (1e308, 10**400, float('nan')...); "reason:TEXT" gives
    1.0 with TEXT (escapes decoded) as its reason; anything else 0.5."""
    text = sample.completion
    if text.startswith("score:"):
        return Verdict(eval(text[6:], {"__builtins__": {"float": float}}), "wild")  # noqa: S307 - test input
    if text.startswith("reason:"):
        return Verdict(1.0, text[7:].encode("ascii", "backslashreplace").decode("unicode_escape", "surrogatepass"))
    return Verdict(0.5, "tame")


def _inline_behave(text: str) -> None:
    """What the inline hooks below do: "spin" loops in Python (the watchdog can interrupt
    it), "sleep" blocks in C for 4 s (it cannot), "exit" ends the process."""
    if text == "spin":
        while True:
            pass
    if text == "sleep":
        time.sleep(4)
    if text == "exit":
        os._exit(1)


def inline_score(sample: Sample, gold: Any, params: Any) -> Verdict:
    _inline_behave(sample.completion)
    return Verdict(1.0, "inline-ok")


def inline_batch(samples: list[Sample], golds: list[Any], params: Any) -> list[Verdict]:
    for s in samples:
        _inline_behave(s.completion)
    if any(s.completion == "oom-row" for s in samples):
        raise MemoryError
    return [Verdict(1.0, "batch-ok") for _ in samples]


def hook_key(sample: Sample, params: Any) -> Any:
    if sample.completion.startswith("key-"):
        _inline_behave(sample.completion[4:])
    return sample.completion


def hook_triage(sample: Sample, gold: Any, params: Any) -> Verdict | None:
    if sample.completion.startswith("triage-"):
        _inline_behave(sample.completion[7:])
    return None


def hook_prepare(solution: Any, params: Any) -> Any:
    if str(solution).startswith("gold-"):
        _inline_behave(str(solution)[5:])
    return solution


def spin_warmup() -> None:
    _inline_behave("spin")


def spin_check(params: Any) -> None:
    if params.get("spin"):
        _inline_behave("spin")


def mutating_score(sample: Sample, gold: Any, params: Any) -> Verdict:
    """Tries to change what it was given: the solution list and a nested column."""
    sample.solution.append("injected")
    sample.columns["meta"]["seen"] = True
    return Verdict(1.0, "mutated")


def reading_score(sample: Sample, gold: Any, params: Any) -> Verdict:
    """1.0 when the solution and the nested column are as the row gave them."""
    clean = list(sample.solution) == ["a", "b"] and dict(sample.columns["meta"]) == {"k": 1}
    return Verdict(1.0 if clean else 0.0, "clean" if clean else "tampered")


async def exit_async(samples: list[Sample], params: Any) -> list[Verdict]:
    if any(s.completion == "exit" for s in samples):
        os._exit(3)
    return [Verdict(0.5, "async-ok") for _ in samples]


async def slow_async(samples: list[Sample], params: Any) -> list[Verdict]:
    import asyncio

    await asyncio.sleep(float(params.get("delay", 0.0)))
    return [Verdict(0.25, "judged") for _ in samples]


class FaultPlugin:
    @hookimpl
    def register_verifiers(self, register):
        register(Verifier("exact", extract=exact_extract, compare=exact_compare, prepare=cheap_prepare))

    @hookimpl
    def register_rewards(self, register):
        register(Reward("faulty", score=faulty_score, prepare=faulty_prepare))
        register(Reward("bare", score=faulty_score))  # no prepare: its first pool task scores items
        register(Reward("pids", score=pid_score))
        register(Reward("triaged", score=pid_score, triage=easy_triage))
        register(Reward("pids_cheap_prepare", score=pid_score, prepare=cheap_prepare, cheap_prepare=True))
        register(Reward("where", score=where_score))
        register(Reward("exact_acc", verifier="exact"))
        register(Reward("fmt", score_batch=cheap_batch, cheap=True))
        register(Reward("cheap", score=cheap_score, cheap=True, defaults={"value": 0.5}, prepare=cheap_prepare))
        register(Reward("judge_like", ascore_batch=slow_async))
        register(Reward("exit_async", ascore_batch=exit_async))
        register(Reward("wild", score=wild_score, cheap=True))
        register(Reward("inline_hooks", score=inline_score, cheap=True, dedupe_key=hook_key, prepare=hook_prepare))
        register(Reward("inline_batch", score_batch=inline_batch, cheap=True))
        register(Reward("isolated_hooks", score=pid_score, triage=hook_triage, dedupe_key=hook_key,
                        prepare=hook_prepare, cheap_prepare=True))
        register(Reward("spin_warmup", score=pid_score, warmup=spin_warmup))
        register(Reward("spin_check", score=pid_score, check_params=spin_check))
        register(Reward("mutating", score=mutating_score, cheap=True))
        register(Reward("reading", score=reading_score, cheap=True))
        register(Reward("wild_isolated", score=wild_score))
        register(Reward("math_only", score=pid_score, tasks=frozenset({"math"})))


def install() -> None:
    """Make the fault plugins part of the process-wide registry (for CLI runs)."""
    from vlmr1.registry import set_registry

    set_registry(fault_registry())


def fault_registry() -> Registry:
    """A registry with the first-party plugins and these faulty ones (distribution vlmr1-reward-faulty)."""
    reg = load_registry(allow=set())
    reg.add_plugin(FaultPlugin(), "faulty", "vlmr1-reward-faulty", "0.0.1")
    return reg


class kill_on_unpickle:  # noqa: N801 - used like a function in item tuples
    """An argument that kills the worker while the worker unpickles it (before any item
    of its chunk starts), when ``deadly``."""

    def __init__(self, deadly: bool) -> None:
        self.deadly = deadly

    def __reduce__(self) -> Any:
        return (_die_if, (self.deadly,))


def _die_if(deadly: bool) -> Any:
    if deadly and __import__("multiprocessing").parent_process() is not None:
        os._exit(7)
    return kill_on_unpickle(deadly)
