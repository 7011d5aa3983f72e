"""Text normalisation and edit distance for OCR answers.

Two strings that a reader would call the same transcription should compare equal:
``normalise`` applies Unicode NFKC (so full-width "ＡＢＣ" and the ligature "ﬁ" become
"ABC" and "fi"), optional case folding, optional removal of punctuation, and collapses
every run of white space (line breaks included) to one space.

``levenshtein`` is rapidfuzz's edit distance (bit-parallel, in C++): a page of text
costs microseconds. It works on any sequence of hashable items, so word-level distance
is the same call on lists of words.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Hashable, Sequence

__all__ = ["normalise", "strip_punctuation", "units", "levenshtein", "similarity"]

_SPACE = re.compile(r"\s+")


def strip_punctuation(text: str) -> str:
    """``text`` without Unicode punctuation (categories P*: ``.,;:!?'"()[]{}-`` and the rest)."""
    return "".join(ch for ch in text if not unicodedata.category(ch).startswith("P"))


def normalise(text: str, *, casefold: bool = True, punctuation: bool = True) -> str:
    """NFKC, then (optionally) case fold and drop punctuation, then collapse white space.

    ``punctuation=False`` removes punctuation; the white space it leaves behind is
    collapsed like any other, so "Hello, world!" and "hello world" compare equal.
    """
    text = unicodedata.normalize("NFKC", text)
    if casefold:
        text = text.casefold()
    if not punctuation:
        text = strip_punctuation(text)
    return _SPACE.sub(" ", text).strip()


def units(text: str, unit: str) -> Sequence[Hashable]:
    """The sequence the distance is counted over: characters (``"char"``) or words (``"word"``)."""
    if unit == "char":
        return text
    if unit == "word":
        return text.split()
    raise ValueError(f"unit must be 'char' or 'word', got {unit!r}")


def levenshtein(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """Insertions, deletions and substitutions needed to turn ``a`` into ``b`` (rapidfuzz)."""
    from rapidfuzz.distance import Levenshtein

    return int(Levenshtein.distance(a, b))


def similarity(a: Sequence[Hashable], b: Sequence[Hashable]) -> tuple[float, int]:
    """``1 - levenshtein(a, b) / max(len(a), len(b))`` (1.0 for two empty sequences), and the distance."""
    longest = max(len(a), len(b))
    if longest == 0:
        return 1.0, 0
    distance = levenshtein(a, b)
    return 1.0 - distance / longest, distance
