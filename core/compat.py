"""VLM-R1's answer extraction, reproduced exactly and in linear time.

Rewards that offer a ``compat: vlm-r1`` mode must read answers the way VLM-R1's
``grpo_jsonl.py`` does, quirks included, so that a run can be compared number for
number. VLM-R1 uses lazy regexes such as ``<answer>(.*?)</answer>`` and
```` ```json(.*?)``` ````; on a completion with many opening tags and no closing one
they rescan the rest of the text from every opening tag (quadratic). The functions
here give the same groups with ``str.find`` passes; tests compare them with ``re`` on
generated text.

What VLM-R1 reads where (its solution is always ``"<answer> {solution} </answer>"``):

- ``first(text, "<answer>", "</answer>", dotall=False)``: ``re.search`` without DOTALL,
  as VLM-R1 reads most solutions;
- ``first(..., dotall=True)`` / ``last(...)``: ``re.search`` / ``re.findall(...)[-1]``
  with DOTALL, as it reads most completions;
- :func:`clean_text`: its ``clean_text`` (last answer block, newlines folded, stripped,
  one trailing run of dots removed, lower-cased).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["ANSWER_TAGS", "clean_text", "extract_choice", "first", "last", "solution_text"]

ANSWER_TAGS = ("<answer>", "</answer>")
_NL_AFTER_SPACE = {c: re.compile(r"(?<=\s)" + re.escape(c)) for c in "\n\r"}
_NL_AFTER_OTHER = {c: re.compile(r"(?<!\s)" + re.escape(c)) for c in "\n\r"}


def first(text: str, open_: str, close: str, dotall: bool = True) -> str | None:
    """``re.search(open(.*?)close, text[, re.DOTALL]).group(1)``, or None."""
    lo = len(open_)
    if dotall:
        i = text.find(open_)
        if i < 0:
            return None
        j = text.find(close, i + lo)
        return None if j < 0 else text[i + lo:j]
    # Without DOTALL a match lies within one line; in a line, if the first opening tag
    # has no closing tag after it, no later one has either.
    for line in text.split("\n"):
        i = line.find(open_)
        if i >= 0:
            j = line.find(close, i + lo)
            if j >= 0:
                return line[i + lo:j]
    return None


def last(text: str, open_: str, close: str) -> str | None:
    """``re.findall(open(.*?)close, text, re.DOTALL)[-1]``, or None when there is no match."""
    lo, lc = len(open_), len(close)
    pos, found = 0, None
    while True:
        i = text.find(open_, pos)
        if i < 0:
            return found
        j = text.find(close, i + lo)
        if j < 0:
            return found
        found = text[i + lo:j]
        pos = j + lc


def clean_text(text: str) -> str:
    """VLM-R1's ``clean_text``: the last answer block if any, a newline after whitespace
    dropped and any other newline made a space (then the same for ``\\r``), stripped, one
    trailing run of dots removed, lower-cased."""
    found = last(text, *ANSWER_TAGS)
    if found is not None:
        text = found
    for char in ("\n", "\r"):
        text = _NL_AFTER_SPACE[char].sub("", text)
        text = _NL_AFTER_OTHER[char].sub(" ", text)
    return text.strip().rstrip(".").lower()


def solution_text(sample: Any) -> str:
    """The solution string VLM-R1's rewards receive for a row: the dataset answer's text
    with its ``<answer>`` tags removed, stripped, and wrapped as ``<answer> ... </answer>``
    (a non-string answer goes through ``str()`` first, as in VLM-R1).

    The dataset answer is the row's ``solution_text`` column when it has one (the loader
    keeps the answer exactly as the file wrote it there when it parses ``solution``),
    else its ``solution``."""
    raw = sample.get("solution_text") if hasattr(sample, "get") else None
    value = raw if isinstance(raw, str) else getattr(sample, "solution", sample)
    if isinstance(value, str):
        text = value.replace("<answer>", "").replace("</answer>", "").strip()
    else:
        text = str(value)
    return f"<answer> {text} </answer>"


_CHOICE = re.compile(r"(?<![A-Z])([A-Z])(?=[\.\,\?\!\:\;]|$)")
_SPACES = re.compile(r"\s+")
_KEYWORDS = ("答案", "选择", "正确", "是", "对", "ANSWER", "CORRECT", "CHOOSE", "SELECT", "RIGHT",
             "认为", "应该", "觉得", "THINK", "BELIEVE", "SHOULD")


def extract_choice(text: str) -> str | None:
    """VLM-R1's ``extract_choice``: an upper-case letter standing alone before punctuation or
    the end; among several, the one scoring most on its heuristics (keywords within 20
    characters of the letter's *first* occurrence, a late position, punctuation after it),
    each occurrence adding its letter's points again. The points of a letter are computed
    once per distinct letter (VLM-R1 recomputes them per occurrence: the same numbers, in
    quadratic time)."""
    text = _SPACES.sub(" ", text.upper())
    choices = _CHOICE.findall(text)
    if not choices:
        return None
    if len(choices) == 1:
        return choices[0]
    counts: dict[str, int] = {}
    for c in choices:
        counts[c] = counts.get(c, 0) + 1
    scores = {}
    n = len(text)
    for c, k in counts.items():
        pos = text.find(c)
        context = text[max(0, pos - 20):min(n, pos + 20)]
        points = sum(1 for kw in _KEYWORDS if kw in context)
        if pos > n * 0.7:
            points += 2
        if pos < n - 1 and text[pos + 1] in "。.!！,，":
            points += 1
        scores[c] = points * k
    return max(scores.items(), key=lambda x: x[1])[0]
