"""Test helpers for plugin authors: register a plugin for one test, score, check verdicts.

A plugin's tests should exercise it the way a training run does: registered in a
registry (so a malformed hook fails the test, not the run) and scored through the
engine (so the verdict seen in a test is the verdict seen under TRL, isolation
and parameter defaults included). Typical use::

    import pytest
    from vlmr1.testing import registered, score_one, assert_verdict
    import vlmr1_reward_ocr as plugin

    @pytest.fixture(autouse=True)
    def registry():
        with registered(plugin) as reg:
            yield reg

    def test_exact_text_scores_one():
        v = score_one("<answer>HELLO</answer>", "hello", reward="ocr")
        assert_verdict(v, score=1.0, reason="ok")

Nothing heavy is imported here at module level; the engine is imported when
scoring starts.
"""

from __future__ import annotations

import math
import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Sequence

from .errors import VlmrError
from .types import Sample, Verdict

if TYPE_CHECKING:  # pragma: no cover
    from .config import Config, RewardSpec
    from .registry import Registry

__all__ = [
    "ANY",
    "PluginLoadError",
    "registered",
    "make_sample",
    "score",
    "score_one",
    "assert_verdict",
]


class _Any:
    """Matches every value; the default for fields :func:`assert_verdict` should not check."""

    def __repr__(self) -> str:
        return "ANY"


ANY: Any = _Any()


class PluginLoadError(VlmrError, AssertionError):
    """A plugin registered in a test failed to load or clashed with another plugin."""


@contextmanager
def registered(
    *plugins: Any,
    first_party: bool = False,
    name: str | None = None,
) -> Iterator["Registry"]:
    """Register ``plugins`` on a fresh registry and make it the process-wide one.

    Each plugin is a module or object carrying ``@vlmr1.hookimpl`` functions, or a
    ``(name, plugin)`` pair. Its name defaults to the last part of the module name
    (``name=`` overrides it when a single plugin is given). ``first_party=True`` also
    loads vlmr1's own plugins (format, iou, math, ...), for a plugin that builds on
    them. A plugin that fails to load, or registers a name another one already has,
    raises :class:`PluginLoadError` at once with the reason, instead of showing up
    later as an unknown reward. The previous registry is restored on exit.
    """
    from .registry import Registry, load_registry, set_registry

    registry = load_registry(allow=set()) if first_party else Registry()
    if name is not None and len(plugins) != 1:
        raise TypeError("registered(name=...) names one plugin; pass (name, plugin) pairs for several")
    for item in plugins:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            plugin_name, obj = item
        else:
            obj = item
            plugin_name = name or _plugin_name(obj)
        info = registry.add_plugin(obj, plugin_name, distribution="<test>", version="0")
        if not info.ok:
            raise PluginLoadError(f"plugin {plugin_name!r} failed to load: {info.error}")
    problems = registry.errors()
    if problems:
        raise PluginLoadError("; ".join(problems))
    previous = set_registry(registry)
    try:
        yield registry
    finally:
        set_registry(previous)


def _plugin_name(obj: Any) -> str:
    module = getattr(obj, "__name__", None) or type(obj).__name__
    return str(module).rsplit(".", 1)[-1]


def make_sample(
    completion: str | None = None,
    solution: Any = None,
    *,
    answer: Any = None,
    think: str = "I looked carefully.",
    task: str | None = None,
    **fields: Any,
) -> Sample:
    """A :class:`~vlmr1.Sample` with sensible defaults.

    Give either the full ``completion`` text, or ``answer=`` to get the usual
    ``<think>..</think><answer>..</answer>`` completion around it (non-strings are
    written as JSON). Other keyword arguments are Sample fields (``image_size``,
    ``input_size``, ``id``, ...) or, if Sample has no such field, extra columns.
    """
    if (completion is None) == (answer is None):
        raise TypeError("make_sample needs exactly one of completion or answer=")
    if completion is None:
        import json

        text = answer if isinstance(answer, str) else json.dumps(answer)
        completion = f"<think>{think}</think><answer>{text}</answer>"
    known = set(Sample.__dataclass_fields__)
    columns = dict(fields.pop("columns", None) or {})
    columns.update({k: fields.pop(k) for k in list(fields) if k not in known})
    for key in ("image_size", "input_size"):
        if fields.get(key) is not None:
            fields[key] = tuple(fields[key])
    return Sample(completion=completion, solution=solution, task=task, columns=columns, **fields)


def _as_samples(items: Iterable[Sample | Mapping[str, Any] | str]) -> list[Sample]:
    from dataclasses import replace

    samples: list[Sample] = []
    for i, item in enumerate(items):
        if isinstance(item, Sample):
            samples.append(replace(item, index=i))
        elif isinstance(item, Mapping):
            from .rows import sample_from_row

            samples.append(sample_from_row(dict(item), index=i))
        elif isinstance(item, str):
            samples.append(Sample(completion=item, index=i))
        else:
            raise TypeError(f"score() takes Samples, dict rows or completion strings; got {type(item).__name__}")
    return samples


def _specs(rewards: Sequence[Any], params: Mapping[str, Any] | None) -> tuple["RewardSpec", ...]:
    from .config import RewardSpec

    specs = []
    for r in rewards:
        if isinstance(r, RewardSpec):
            specs.append(r)
        elif isinstance(r, str):
            specs.append(RewardSpec(name=r, params=dict(params or {})))
        elif isinstance(r, Mapping):
            entry = dict(r)
            entry.setdefault("params", dict(params or {}))
            if entry.get("tasks") is not None:
                entry["tasks"] = frozenset(entry["tasks"])
            specs.append(RewardSpec(**entry))
        else:
            raise TypeError(f"rewards= takes names, dicts or RewardSpec; got {type(r).__name__}")
    if not specs:
        raise TypeError("score() needs at least one reward: rewards=['<name>']")
    return tuple(specs)


def score(
    samples: Iterable[Sample | Mapping[str, Any] | str],
    rewards: Sequence[Any] = (),
    params: Mapping[str, Any] | None = None,
    *,
    config: "Config | None" = None,
    registry: "Registry | None" = None,
    workers: int = 1,
    timeout: float = 10.0,
    strict: bool = False,
) -> Any:
    """Score samples through the engine, exactly as training and `vlmr1 score` do.

    ``samples`` are Samples, dict rows (as in a JSONL file) or bare completion
    strings. ``rewards`` are reward names (each gets ``params``), config-style dicts
    (``{"name": "acc", "reward": "ocr", "weight": 1, "params": {...}}``) or
    RewardSpecs; ``config`` replaces both. Returns the engine's ``BatchResult``:
    ``.columns[name]`` floats or None, ``.reasons[name]``, ``.verdicts[name]``,
    ``.total``. One worker by default keeps a test suite light on small machines.
    """
    from .config import Config, EngineConfig
    from .engine import Engine

    batch = _as_samples(samples)
    if config is None:
        config = Config(_specs(rewards, params), EngineConfig(workers=workers, timeout=timeout, strict=strict))
    with Engine(config, registry=registry) as engine:
        return engine.score(batch)


def score_one(
    completion: str | None = None,
    solution: Any = None,
    *,
    reward: str,
    params: Mapping[str, Any] | None = None,
    answer: Any = None,
    **fields: Any,
) -> Verdict:
    """The verdict of one reward on one completion (see :func:`make_sample` for fields)."""
    sample = make_sample(completion, solution, answer=answer, **fields)
    result = score([sample], rewards=[reward], params=params)
    return result.verdicts[reward][0]


@dataclass(frozen=True)
class _Mismatch:
    field: str
    expected: Any
    got: Any


def assert_verdict(
    verdict: Verdict,
    score: Any = ANY,
    reason: Any = ANY,
    answer: Any = ANY,
    *,
    abs_tol: float = 1e-6,
) -> Verdict:
    """Fail with a readable message unless ``verdict`` matches.

    ``score`` is a number (compared within ``abs_tol``), None ("does not apply") or
    anything that compares with ``==`` (``pytest.approx(0.9, abs=0.01)``).
    ``reason`` is an exact string or a compiled regex searched in the reason.
    ``answer`` is compared with ``==``. Fields left as ``ANY`` are not checked.
    Returns the verdict so a test can go on looking at it.
    """
    if not isinstance(verdict, Verdict):
        raise AssertionError(f"expected a vlmr1.Verdict, got {type(verdict).__name__}: {verdict!r}")
    wrong: list[_Mismatch] = []
    if score is not ANY:
        got = verdict.score
        if score is None or got is None:
            ok = score is None and got is None
        elif not isinstance(score, (int, float)):  # pytest.approx(...) or any object with __eq__
            ok = score == got
        else:
            ok = not (isinstance(got, float) and math.isnan(got)) and math.isclose(float(got), float(score), rel_tol=0.0, abs_tol=abs_tol)
        if not ok:
            wrong.append(_Mismatch("score", score, got))
    if reason is not ANY:
        ok = bool(reason.search(verdict.reason)) if isinstance(reason, re.Pattern) else verdict.reason == reason
        if not ok:
            wrong.append(_Mismatch("reason", reason.pattern if isinstance(reason, re.Pattern) else reason, verdict.reason))
    if answer is not ANY and verdict.answer != answer:
        wrong.append(_Mismatch("answer", answer, verdict.answer))
    if wrong:
        lines = [f"  {m.field}: expected {m.expected!r}, got {m.got!r}" for m in wrong]
        raise AssertionError(
            "verdict does not match:\n" + "\n".join(lines) + f"\n  (full verdict: score={verdict.score!r}, "
            f"reason={verdict.reason!r}, answer={verdict.answer!r})"
        )
    return verdict
