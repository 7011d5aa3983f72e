"""The public records of vlmr1: what a plugin receives, returns and registers.

Everything here is a small frozen dataclass so it can cross a process boundary
(the engine runs heavy rewards in worker processes). Callables stored on these records
must be module-level functions (or instances of module-level classes) so that they pickle
by reference, or ``"package.module:attr"`` text naming one (see :mod:`vlmr1.lazy`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping, Sequence

Params = Mapping[str, Any]

__all__ = [
    "Params",
    "Provenance",
    "Sample",
    "Verdict",
    "Reward",
    "verify",
    "PromptTemplate",
]


@dataclass(frozen=True)
class Provenance:
    """Who registered an item: the plugin (entry-point name), its distribution and version."""

    plugin: str
    distribution: str
    version: str

    def __str__(self) -> str:
        return f"{self.plugin} ({self.distribution} {self.version})"


@dataclass(frozen=True)
class Sample:
    """One completion with everything a reward may need to judge it.

    ``image_size`` and ``input_size`` are ``(width, height)``: the original image and
    the image as the model saw it after the processor's resize. Box rewards need both
    to compare boxes in one coordinate frame.
    ``group`` ties the generations of one prompt together; ``index`` is the
    position in the batch, so an alignment check can prove which row was scored.
    """

    completion: str
    solution: Any = None
    prompt: Any = None
    task: str | None = None
    id: str | None = None
    group: str | None = None
    index: int = 0
    image: str | None = None
    image_size: tuple[int, int] | None = None
    input_size: tuple[int, int] | None = None
    columns: Mapping[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        """A dataset column by name, whether it is a field or an extra column."""
        if key in _SAMPLE_FIELDS:
            return getattr(self, key)
        return self.columns.get(key, default)


@dataclass(frozen=True)
class Verdict:
    """What checking one sample gives.

    ``score`` None means "does not apply" (TRL leaves it out of the group baseline);
    a model that simply got it wrong gets 0.0, never None. ``reason`` is short and
    machine-readable ("ok", "no_answer_tag", "iou=0.43", "timeout", "error: ...").
    """

    score: float | None
    reason: str = "ok"
    answer: Any = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def skip(cls, reason: str) -> "Verdict":
        """The sample is out of this reward's scope."""
        return cls(None, reason)

    @classmethod
    def fail(cls, reason: str, answer: Any = None) -> "Verdict":
        return cls(0.0, reason, answer)


_CALLABLES = ("score", "score_batch", "ascore_batch", "extract", "compare", "prepare", "triage", "dedupe_key",
              "warmup", "check_params")


@dataclass(frozen=True)
class Reward:
    """A named scorer the engine runs. It scores in exactly one of four ways:

    - ``score(sample, gold, params)``: per item; run in an isolated worker unless ``cheap``.
    - ``score_batch(samples, golds, params)``: vectorised, always inline (declare ``cheap``).
    - ``ascore_batch(samples, params)``: a coroutine for I/O-bound rewards (an LLM judge);
      it runs in the main process and must bound its own time.
    - ``extract(completion, params)`` then ``compare(answer, gold, sample, params)``, the
      verifier style: ``extract`` pulls the answer out of a completion (None: no answer,
      the verdict is 0.0 "no_answer" without calling ``compare``); ``compare`` judges it
      against the prepared gold. Run per item, like ``score``.

    Every callable may be given as ``"package.module:attr"`` text instead of the function:
    it is imported when the engine first builds a column with this reward, never when the
    reward is registered or listed, so registering costs no import of the implementation.

    ``prepare(solution, params)`` parses the ground truth once per distinct solution. For
    an isolated reward it runs in a worker too, unless ``cheap_prepare`` says it is fast and
    bounded (then it runs in the main process and scoring starts without a round trip).
    ``triage(sample, gold, params)``, for an isolated per-item reward: the verdict when it is
    cheap to reach (a bounded scan, no third-party parser), else None. The engine runs it
    inline and sends only the undecided items to the workers: a process hop costs more
    than an easy item. It must give the verdict the reward would give.
    ``dedupe_key(sample, params)`` says what the score depends on besides the solution
    (typically the extracted answer): GRPO groups repeat answers under different
    reasoning, and items with equal keys and solutions are then scored once. It runs
    inline, so it must be cheap and bounded; None means "the whole sample".
    ``warmup()``, for an isolated reward, runs once in the main process when the worker
    pool first starts, just before its workers fork, so heavy imports (sympy, a grammar) are
    paid once and inherited by every worker instead of eating the first item's timeout in
    each; an engine whose items are all settled inline (``triage``) never runs it.

    Params: a config's ``params`` are merged over ``defaults``. The keys a reward takes are
    its ``defaults`` keys plus the names in ``params`` (those without a default); any other
    key is refused when the engine is built, with the nearest known key suggested, so
    ``treshold`` never silently falls back to the default. ``params=None`` takes any key
    (the reward checks them itself); so does a reward that declares neither ``defaults``
    nor ``params``, as rewards written before declarations existed do. ``check_params(params)`` then raises (ideally a
    ConfigError naming the param) when a value is wrong; the engine calls it when it is
    built, so a typo fails the run at once instead of turning every row into an error.
    ``needs``: the dataset columns the reward reads (``"solution"``; ``"a|b"`` for either);
    a dataset in which no row has one is refused before anything is scored.
    ``tasks`` limits the reward to rows of those tasks (others get None); None: all rows.
    """

    name: str
    doc: str = ""
    score: Callable[[Sample, Any, Params], Verdict] | str | None = None
    score_batch: Callable[[Sequence[Sample], Sequence[Any], Params], list[Verdict]] | str | None = None
    ascore_batch: Callable[[Sequence[Sample], Params], Awaitable[list[Verdict]]] | str | None = None
    extract: Callable[[str, Params], Any] | str | None = None
    compare: Callable[[Any, Any, Sample, Params], Verdict] | str | None = None
    prepare: Callable[[Any, Params], Any] | str | None = None
    triage: Callable[[Sample, Any, Params], Verdict | None] | str | None = None
    dedupe_key: Callable[[Sample, Params], Any] | str | None = None
    warmup: Callable[[], None] | str | None = None
    check_params: Callable[[Params], Any] | str | None = None
    tasks: frozenset[str] | None = None
    cheap: bool = False
    cheap_prepare: bool = False
    defaults: Mapping[str, Any] = field(default_factory=dict)
    params: tuple[str, ...] | None = ()
    needs: tuple[str, ...] = ()
    provenance: Provenance | None = None

    def __post_init__(self) -> None:
        from .lazy import check_ref

        ways = [w for w in ("score", "score_batch", "ascore_batch") if getattr(self, w) is not None]
        if self.extract is not None or self.compare is not None:
            if self.extract is None or self.compare is None:
                raise ValueError(f"Reward {self.name!r}: the verifier style needs both extract and compare")
            ways.append("extract+compare")
        if len(ways) != 1:
            raise ValueError(
                f"Reward {self.name!r} must give exactly one of score, score_batch, ascore_batch, "
                f"or extract with compare; it gives {' and '.join(ways) or 'none'}"
            )
        if self.score_batch is not None and not self.cheap:
            raise ValueError(f"Reward {self.name!r}: score_batch runs inline, so declare cheap=True")
        for name in _CALLABLES:
            check_ref(getattr(self, name), f"Reward {self.name!r}: {name}")
        if self.tasks is not None and not isinstance(self.tasks, frozenset):
            object.__setattr__(self, "tasks", frozenset(self.tasks))
        for name in ("params", "needs"):
            value = getattr(self, name)
            if value is None and name == "params":
                continue
            if isinstance(value, str) or not all(isinstance(v, str) and v for v in value):
                raise ValueError(f"Reward {self.name!r}: {name} must be a list of names, got {value!r}")
            object.__setattr__(self, name, tuple(value))

    @property
    def is_async(self) -> bool:
        return self.ascore_batch is not None

    @property
    def way(self) -> str:
        """How the reward scores: "score", "score_batch", "ascore_batch" or "extract"."""
        return next(w for w in ("score", "score_batch", "ascore_batch", "extract") if getattr(self, w) is not None)

    def applies_to(self, sample: Sample) -> bool:
        return self.tasks is None or sample.task in self.tasks

    def known_params(self) -> frozenset[str] | None:
        """The param keys this reward takes; None when it takes any (``params=None``, or
        nothing declared at all)."""
        if self.params is None or (not self.params and not self.defaults):
            return None
        return frozenset(self.defaults) | frozenset(self.params)

    def resolved(self) -> Reward:
        """This reward with every ``"module:attr"`` callable imported (once; remembered)."""
        done = self.__dict__.get("_resolved")
        if done is None:
            from .lazy import resolve

            who = f"reward {self.name!r}" + (f" of plugin {self.provenance.plugin!r}" if self.provenance else "")
            refs = {n: resolve(getattr(self, n), f"{who}: {n}") for n in _CALLABLES if isinstance(getattr(self, n), str)}
            done = dataclasses.replace(self, **refs) if refs else self
            object.__setattr__(done, "_resolved", done)
            object.__setattr__(self, "_resolved", done)
        return done

    def verify(self, sample: Sample, gold: Any, params: Params) -> Verdict:
        """The verifier style on one item, exactly as the engine runs it (after ``prepare``)."""
        r = self.resolved()
        if r.extract is None:
            raise TypeError(f"Reward {self.name!r} scores with {self.way}, not extract and compare")
        return verify(r.extract, r.compare, sample, gold, params)  # type: ignore[arg-type]


def verify(extract: Callable[[str, Params], Any], compare: Callable[[Any, Any, Sample, Params], Verdict],
           sample: Sample, gold: Any, params: Params) -> Verdict:
    """Extract the answer, then compare it with the gold; no answer scores 0.0 "no_answer".

    Module level (the engine binds it with ``functools.partial``) so that it pickles by
    reference into a worker process."""
    answer = extract(sample.completion, params)
    if answer is None:
        return Verdict(0.0, "no_answer")
    return compare(answer, gold, sample, params)


@dataclass(frozen=True)
class PromptTemplate:
    """How a task is asked and how it must be answered.

    The ``format`` reward of a row is derived from its task's template (tags, answer
    kind, schema), so the prompt and the format check cannot disagree.
    ``answer_kind`` is one of "json", "number", "choice", "text".
    ``answer_schema`` is the JSON Schema of the answer when ``answer_kind`` is "json".
    """

    name: str
    system: str
    question: str = "{question}"
    answer_format: str = ""
    answer_kind: str = "text"
    answer_schema: Mapping[str, Any] | None = None
    think_tags: tuple[str, str] | None = ("<think>", "</think>")
    answer_tags: tuple[str, str] = ("<answer>", "</answer>")
    doc: str = ""
    provenance: Provenance | None = None

    def render(self, question: str, **fields: Any) -> list[dict[str, Any]]:
        """Chat messages for one row: the system prompt and the templated question."""
        text = self.question.format(question=question, **fields)
        return [
            {"role": "system", "content": self.system},
            {"role": "user", "content": text},
        ]


_SAMPLE_FIELDS = frozenset(f.name for f in dataclasses.fields(Sample))


def __getattr__(name: str) -> Any:
    if name == "Verifier":
        raise ImportError(VERIFIER_GONE)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


VERIFIER_GONE = (
    "vlmr1.Verifier and the register_verifiers hook are gone: a verifier is now a Reward. Register "
    "Reward(name, extract=..., compare=..., prepare=...) through register_rewards (the reward that "
    "used verifier=NAME takes those functions itself); see docs/plugin-guide.md."
)
