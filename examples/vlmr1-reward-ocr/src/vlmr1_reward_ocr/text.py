"""Text normalisation and edit distance for OCR answers.

Two strings that a reader would call the same transcription should compare equal:
``normalise`` applies Unicode NFKC (so full-width "ＡＢＣ" and the ligature "ﬁ" become
"ABC" and "fi"), optional case folding, optional removal of punctuation, and collapses
every run of white space (line breaks included) to one space.

``levenshtein`` is the bit-parallel algorithm of Myers (1999) in Hyyrö's form for the
global edit distance: one pass over the longer sequence with the shorter one packed
into the bits of a Python integer, so a page of text (thousands of characters) costs
milliseconds rather than the seconds a row-by-row table would take in pure Python.
It works on any sequence of hashable items, so word-level distance is the same call
on lists of words.
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
    """Insertions, deletions and substitutions needed to turn ``a`` into ``b``."""
    # A shared prefix or suffix never costs anything; trimming it is the common case
    # for near-correct transcriptions and shrinks the bit vectors.
    start = 0
    limit = min(len(a), len(b))
    while start < limit and a[start] == b[start]:
        start += 1
    end_a, end_b = len(a), len(b)
    while end_a > start and end_b > start and a[end_a - 1] == b[end_b - 1]:
        end_a -= 1
        end_b -= 1
    a, b = a[start:end_a], b[start:end_b]
    if len(a) > len(b):  # pack the shorter sequence into the bit vectors
        a, b = b, a
    m = len(a)
    if m == 0:
        return len(b)

    peq: dict[Hashable, int] = {}
    for i, item in enumerate(a):
        peq[item] = peq.get(item, 0) | (1 << i)
    mask = (1 << m) - 1
    top = 1 << (m - 1)
    vp, vn, distance = mask, 0, m  # column 0 of the table: 0, 1, ..., m
    for item in b:
        eq = peq.get(item, 0)
        x = eq | vn
        d0 = ((((x & vp) + vp) & mask) ^ vp) | x
        hn = vp & d0
        hp = (vn | ~(vp | d0)) & mask
        if hp & top:
            distance += 1
        elif hn & top:
            distance -= 1
        hp = ((hp << 1) | 1) & mask  # row 0 grows by one per column: a carry of +1
        hn = (hn << 1) & mask
        vp = hn | (~(d0 | hp) & mask)
        vn = hp & d0
    return distance


def similarity(a: Sequence[Hashable], b: Sequence[Hashable]) -> tuple[float, int]:
    """``1 - levenshtein(a, b) / max(len(a), len(b))`` (1.0 for two empty sequences), and the distance."""
    longest = max(len(a), len(b))
    if longest == 0:
        return 1.0, 0
    distance = levenshtein(a, b)
    return 1.0 - distance / longest, distance
