"""The public records of vlmr1: what a plugin receives, returns and registers.

Everything here is a small frozen dataclass so it can cross a process boundary
(the engine runs heavy verifiers in worker processes) and be hashed for caching.
Callables stored on these records must be module-level functions (or instances of
module-level classes) so that they pickle by reference.
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
    "Verifier",
    "Reward",
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


@dataclass(frozen=True)
class Verifier:
    """Task logic in three pure steps, each picklable so it can run in a worker.

    ``prepare`` turns a ground-truth solution into whatever ``compare`` wants (parsed
    once per distinct solution, not once per generation). ``extract`` pulls the
    answer out of a completion; returning None means no answer was found (score 0).
    """

    name: str
    extract: Callable[[str, Params], Any]
    compare: Callable[[Any, Any, Sample, Params], Verdict]
    prepare: Callable[[Any, Params], Any] | None = None
    doc: str = ""
    provenance: Provenance | None = None

    def verify(self, sample: Sample, gold: Any, params: Params) -> Verdict:
        answer = self.extract(sample.completion, params)
        if answer is None:
            return Verdict(0.0, "no_answer")
        return self.compare(answer, gold, sample, params)


@dataclass(frozen=True)
class Reward:
    """A named scorer the engine runs. Exactly one way of scoring is given:

    - ``score(sample, gold, params)``: per item; run in an isolated worker unless ``cheap``.
    - ``score_batch(samples, golds, params)``: vectorised, always inline (declare ``cheap``).
    - ``ascore_batch(samples, params)``: a coroutine for I/O-bound rewards (an LLM judge);
      it runs in the main process and must bound its own time.
    - ``verifier``: the name of a registered verifier whose ``verify`` does the work.

    ``prepare(solution, params)`` parses the ground truth once per distinct solution. For
    an isolated reward it runs in a worker too, unless ``cheap_prepare`` says it is fast and
    bounded (then it runs in the main process and scoring starts without a round trip).
    ``triage(sample, gold, params)``, for an isolated ``score``: the verdict when it is cheap
    to reach (a bounded scan, no third-party parser), else None. The engine runs it inline
    and sends only the undecided items to the workers: a process hop costs more than an
    easy item. It must give the verdict ``score`` would give.
    ``dedupe_key(sample, params)`` says what the score depends on besides the solution
    (typically the extracted answer): GRPO groups repeat answers under different
    reasoning, and items with equal keys and solutions are then scored once. It runs
    inline, so it must be cheap and bounded; None means "the whole sample".
    ``warmup()``, for an isolated reward, runs once in the main process when the worker
    pool first starts, just before its workers fork, so heavy imports (sympy, a grammar) are
    paid once and inherited by every worker instead of eating the first item's timeout in
    each; an engine whose items are all settled inline (``triage``) never runs it.
    ``check_params(params)`` raises (ideally a ConfigError naming the param) when the
    configured params are wrong; the engine calls it when it is built, so a typo fails the
    run at once instead of turning every row into an error.
    ``tasks`` limits the reward to rows of those tasks (others get None); None: all rows.
    """

    name: str
    doc: str = ""
    score: Callable[[Sample, Any, Params], Verdict] | None = None
    score_batch: Callable[[Sequence[Sample], Sequence[Any], Params], list[Verdict]] | None = None
    ascore_batch: Callable[[Sequence[Sample], Params], Awaitable[list[Verdict]]] | None = None
    verifier: str | None = None
    prepare: Callable[[Any, Params], Any] | None = None
    triage: Callable[[Sample, Any, Params], Verdict | None] | None = None
    dedupe_key: Callable[[Sample, Params], Any] | None = None
    warmup: Callable[[], None] | None = None
    check_params: Callable[[Params], Any] | None = None
    tasks: frozenset[str] | None = None
    cheap: bool = False
    cheap_prepare: bool = False
    defaults: Mapping[str, Any] = field(default_factory=dict)
    provenance: Provenance | None = None

    def __post_init__(self) -> None:
        ways = [w for w in ("score", "score_batch", "ascore_batch", "verifier") if getattr(self, w)]
        if len(ways) != 1:
            raise ValueError(
                f"Reward {self.name!r} must give exactly one of score, score_batch, "
                f"ascore_batch or verifier; it gives {ways or 'none'}"
            )
        if self.score_batch is not None and not self.cheap:
            raise ValueError(f"Reward {self.name!r}: score_batch runs inline, so declare cheap=True")
        if self.tasks is not None and not isinstance(self.tasks, frozenset):
            object.__setattr__(self, "tasks", frozenset(self.tasks))

    @property
    def is_async(self) -> bool:
        return self.ascore_batch is not None

    def applies_to(self, sample: Sample) -> bool:
        return self.tasks is None or sample.task in self.tasks


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
