"""vlmr1-reward-ocr: reward OCR transcriptions by normalised edit distance.

A vlmr1 plugin found through the ``vlmr1`` entry point in this package's
pyproject.toml. It registers:

- reward ``ocr``: the text of the last ``<answer>`` block against the ground truth,
  scored ``1 - levenshtein / max(len)`` after Unicode NFKC, case folding and white-space
  collapsing (see :mod:`vlmr1_reward_ocr.text`);
- reward ``ocr_strict``: the same steps, 1.0 only for a transcription equal after
  normalisation;
- prompt template ``ocr_lines``: "read all the text in the image". vlmr1's own ``json``
  plugin owns the template name ``ocr``, and names are unique across plugins, so this
  one takes a name of its own.

Both rewards score in the verifier style: ``extract`` (the answer), ``prepare`` (the
ground truth, once per distinct solution), ``compare`` (one against the other). They are
module-level functions on purpose: the vlmr1 engine may run them in worker processes and
sends them there by reference.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Mapping

import vlmr1

from .text import levenshtein, normalise, similarity, units

__all__ = [
    "DEFAULTS",
    "Options",
    "PreparedText",
    "extract",
    "prepare",
    "compare",
    "levenshtein",
    "normalise",
]

__version__ = "0.1.0"

DEFAULTS: dict[str, Any] = {
    "casefold": True,  # "Hello" == "hello"
    "punctuation": True,  # False: punctuation is dropped before comparing
    "unit": "char",  # "word": distance over words (a word error rate)
    "exact": False,  # True: 1.0 for equal normalised text, else 0.0
    "threshold": 0.0,  # similarity below this scores 0.0
    "answer_tag": True,  # False: the whole completion (less any <think> block) is the answer
    "max_length": 20000,  # longer answers or solutions fail fast instead of stalling a batch
}

_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True)
class Options:
    """Validated parameters; a wrong type or range is a ValueError that names the parameter."""

    casefold: bool
    punctuation: bool
    unit: str
    exact: bool
    threshold: float
    answer_tag: bool
    max_length: int

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None) -> "Options":
        merged = {**DEFAULTS, **dict(params or {})}
        for key in ("casefold", "punctuation", "exact", "answer_tag"):
            if not isinstance(merged[key], bool):
                raise ValueError(f"ocr: param {key!r} must be true or false, got {merged[key]!r}")
        if merged["unit"] not in ("char", "word"):
            raise ValueError(f"ocr: param 'unit' must be 'char' or 'word', got {merged['unit']!r}")
        threshold = merged["threshold"]
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0.0 <= threshold <= 1.0:
            raise ValueError(f"ocr: param 'threshold' must be a number from 0 to 1, got {threshold!r}")
        max_length = merged["max_length"]
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
            raise ValueError(f"ocr: param 'max_length' must be a positive integer, got {max_length!r}")
        return cls(
            casefold=merged["casefold"],
            punctuation=merged["punctuation"],
            unit=merged["unit"],
            exact=merged["exact"],
            threshold=float(threshold),
            answer_tag=merged["answer_tag"],
            max_length=max_length,
        )

    def normalise(self, text: str) -> str:
        return normalise(text, casefold=self.casefold, punctuation=self.punctuation)


@dataclass(frozen=True)
class PreparedText:
    """A ground truth after :func:`prepare`: normalised text, or why there is none."""

    text: str | None
    problem: str | None = None


def extract(completion: str, params: vlmr1.Params) -> str | None:
    """The text of the last ``<answer>`` block (None when there is none).

    With ``answer_tag: false`` the whole completion is the answer, less a ``<think>`` block.
    """
    if not isinstance(completion, str):
        return None
    if Options.from_params(params).answer_tag:
        found = _ANSWER.findall(completion)
        return found[-1] if found else None
    return _THINK.sub(" ", completion)


def prepare(solution: Any, params: vlmr1.Params) -> PreparedText:
    """Normalise the ground truth once per distinct solution.

    A string is the transcription; a list of strings is its lines. Anything else
    (None, a dict, a number that is NaN) is not an OCR ground truth: the row is
    skipped with a reason rather than scored against garbage.
    """
    opts = Options.from_params(params)
    if isinstance(solution, (list, tuple)) and all(isinstance(line, str) for line in solution):
        solution = "\n".join(solution)
    elif isinstance(solution, (int, float)) and not isinstance(solution, bool):
        if isinstance(solution, float) and not math.isfinite(solution):
            return PreparedText(None, "bad_solution")
        solution = str(solution)
    if solution is None:
        return PreparedText(None, "no_solution")
    if not isinstance(solution, str):
        return PreparedText(None, f"bad_solution: {type(solution).__name__}")
    return PreparedText(opts.normalise(solution))


def compare(answer: str, gold: Any, sample: vlmr1.Sample, params: vlmr1.Params) -> vlmr1.Verdict:
    """Score a transcription: graded similarity, or exact match when ``exact`` is set."""
    opts = Options.from_params(params)
    if not isinstance(gold, PreparedText):  # a raw solution, when the caller did not prepare it
        gold = prepare(gold, params)
    if gold.text is None:
        return vlmr1.Verdict.skip(gold.problem or "no_solution")
    got = opts.normalise(answer)
    if got == gold.text:
        return vlmr1.Verdict(1.0, "ok", answer, {"distance": 0})
    if opts.exact:
        return vlmr1.Verdict(0.0, "mismatch", answer)
    a, b = units(got, opts.unit), units(gold.text, opts.unit)
    if max(len(a), len(b)) > opts.max_length:
        return vlmr1.Verdict(0.0, f"too_long: over max_length={opts.max_length} {opts.unit}s", answer)
    sim, distance = similarity(a, b)
    sim = round(sim, 6)
    details = {"distance": distance, "length": max(len(a), len(b)), "unit": opts.unit}
    if sim < opts.threshold:
        return vlmr1.Verdict(0.0, f"below_threshold: sim={sim:.3f}", answer, details)
    return vlmr1.Verdict(sim, f"sim={sim:.3f}", answer, details)


_PARAMS_DOC = (
    " Params: casefold, punctuation (false drops it), unit (char|word), threshold, answer_tag, max_length."
)


@vlmr1.hookimpl
def register_rewards(register):  # noqa: ANN001, ANN201 - the core's callback
    # cheap: the bit-parallel distance of two pages takes milliseconds and max_length
    # bounds the worst case, so a worker process would cost more than it protects.
    register(
        vlmr1.Reward(
            "ocr",
            extract=extract,
            compare=compare,
            prepare=prepare,
            cheap=True,
            needs=("solution",),
            defaults=dict(DEFAULTS),
            doc="OCR accuracy: 1 - edit distance / length of the longer text, after normalisation." + _PARAMS_DOC,
        )
    )
    register(
        vlmr1.Reward(
            "ocr_strict",
            extract=extract,
            compare=compare,
            prepare=prepare,
            cheap=True,
            needs=("solution",),
            defaults={**DEFAULTS, "exact": True},
            doc="OCR exact match: 1.0 only if the normalised transcription equals the solution." + _PARAMS_DOC,
        )
    )


@vlmr1.hookimpl
def register_prompt_templates(register):  # noqa: ANN001, ANN201 - the core's callback
    register(
        vlmr1.PromptTemplate(
            "ocr_lines",
            system=(
                "You are a careful transcriber. Think inside <think> </think> tags, then write every "
                "line of text you see in the image, in reading order, inside <answer> </answer> tags."
            ),
            question="{question}",
            answer_format="<think> where the text is </think><answer> the text, one line per line </answer>",
            answer_kind="text",
            doc="Transcribe all text in an image, line by line; scored by the ocr reward.",
        )
    )
