"""One side of a comparison, read completely or not at all.

A :class:`Reading` is the normalised math of an answer or a gold, with its unit or label
split off, its exact value when it is a plain number, and, when some of it cannot be
read, *what* cannot be read (``unread``). The rule it serves: a verdict never comes from
part of a text. math-verify, given ``2√{3}``, keeps the ``2`` it managed to read; given
``There are 7 items in the image.`` wrapped as LaTeX, it reads a product of letters.
Here the text is first brought to one spelling (:mod:`.normalize`), its unit split off
(:mod:`.units`), and then either all of what is left is mathematics, or it is prose from
which the mathematics is cut out whole (the last number or expression, with the unit that
follows it), or something in it is named as unreadable.

Nothing here imports sympy: readings are made in the engine's main process for every
distinct answer, in microseconds.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from fractions import Fraction

from .extract import strip_delimiters
from .normalize import normalize
from .numbers import plain_number
from .units import UNIT_FIRST_WORDS, Split, Unit, split_unit

__all__ = ["Reading", "read_text", "prose_math", "choice_letter", "fold_words"]


@dataclass(frozen=True)
class Reading:
    """``math``: the LaTeX the readers and math-verify compare; ``unit`` / ``label``: what
    followed the quantity; ``number``: its exact value when it is a plain number;
    ``unread``: what could not be read (None when everything was)."""

    math: str
    unit: Unit | None = None
    label: str | None = None
    number: Fraction | None = None
    unread: str | None = None
    alt: Reading | None = None  # the other reading of an ambiguous unit ("3m": the product)
    words: bool = False  # an answer in words ("Evelyn", "a regular hexagon"): compared as text


_FUNCTION_WORDS = frozenset({
    "sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "log", "ln", "exp",
    "lim", "max", "min", "gcd", "lcm", "det", "mod", "sqrt", "frac", "dfrac", "tfrac", "text", "mathrm", "infty",
    "and", "or", "cup", "cap", "pmod", "bmod",
})
_STOPWORDS = frozenset({"is", "are", "so", "the", "of", "to", "we", "it", "be", "get", "has", "in", "on", "at", "as", "am", "an"})
_WORD = re.compile(r"(?<![\\A-Za-z])[A-Za-z]+")
_TEXT_GROUP = re.compile(r"\\(?:text|textrm|textbf|textit|textnormal|mathrm|mbox|operatorname)\s*\{[^{}]*\}")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_ENV = re.compile(r"\\(?:begin|end)\s*\{[A-Za-z*]*\}")
_ANCHORS = re.compile(r"(?i:final answer is|answer is|answer:|answer =|答案是|答案为|答案：|答案:|答：|答:)")


def _is_prose(math: str) -> bool:
    """A sentence rather than an expression: a real word (four letters or more that no
    command or function spells, or a common short word), or Chinese text."""
    if _CJK.search(math):
        return True
    bare = _ENV.sub(" ", _TEXT_GROUP.sub(" ", math)) if "\\" in math else math
    for m in _WORD.finditer(bare):
        word = m.group().lower()
        if (len(word) >= 4 and word not in _FUNCTION_WORDS) or word in _STOPWORDS:
            return True
    return False


# -- prose: the last number or expression, cut out whole --------------------------------
_SPAN = re.compile(r"\$\$(.+?)\$\$|(?<!\\)\$(.+?)(?<!\\)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)
_TOKEN = re.compile(r"[^\s\u3400-\u4dbf\u4e00-\u9fff]+")
_MATHY = re.compile(r"[\d\\=<>+\-*/^(){}\[\]|]")
_OPERATOR = re.compile(r"^(?:[=<>+\-*/^]|\\(?:times|cdot|div|pm|mp|le|ge|leq|geq|ne|neq|approx|in|leqslant|geqslant))$")
_JOINER = re.compile(r"^\s*(?:,|,?\s*and|,?\s*or)?\s*$")
_TRAIL = ".,;:!?"


def _balanced(s: str) -> str:
    """Drop unmatched brackets at either end: "(the answer is 7)." -> "7"."""
    for _ in range(4):
        s = s.strip().strip(_TRAIL).strip()
        if s.endswith((")", "]")) and s.count("(") + s.count("[") < s.count(")") + s.count("]"):
            s = s[:-1]
        elif s.startswith(("(", "[")) and s.count("(") + s.count("[") > s.count(")") + s.count("]"):
            s = s[1:]
        else:
            break
    return s


def _unit_after(math: str, rest: str) -> Split:
    """``math`` with the unit (preferred) or label that follows it in the sentence."""
    clause = re.split(r"[,;!?\u3002\uff0c]|\.(?:\s|$)", rest, maxsplit=1)[0]
    cjk = re.match(r"\s*([\u3400-\u4dbf\u4e00-\u9fff/]+)", clause)
    if cjk:
        word = cjk.group(1)
        for k in range(min(len(word), 6), 0, -1):
            got = split_unit(math + word[:k])
            if got.unit is not None and got.math == math:
                return got
        return Split(math, None, word)
    words = clause.split()[:3]
    if words and words[0].split("/")[0].split("^")[0].strip(".,").lower() not in UNIT_FIRST_WORDS:
        words = words[:0] if not (words[0].isalpha() and len(words[0]) >= 3) else words  # a label: no unit to try
        return Split(math, None, words[0]) if words else Split(math)
    for k in range(len(words), 0, -1):
        got = split_unit(f"{math} {' '.join(words[:k])}")
        if got.unit is not None and got.math == math:
            return got
    if words and words[0].isalpha() and len(words[0]) >= 3:
        return Split(math, None, words[0])
    return Split(math)


def _runs(text: str) -> list[tuple[int, int]]:
    """Maximal runs of math-looking tokens (digits, commands, operators, brackets)."""
    runs: list[tuple[int, int]] = []
    start = end = -1
    for m in _TOKEN.finditer(text):
        tok = m.group()
        mathy = _MATHY.search(tok) is not None or (len(tok) == 1 and tok.isalpha())
        if mathy and start >= 0 and not _CJK.search(text[end:m.start()]):
            end = m.end()
        elif mathy:
            if start >= 0:
                runs.append((start, end))
            start, end = m.start(), m.end()
        elif start >= 0:
            runs.append((start, end))
            start = -1
    if start >= 0:
        runs.append((start, end))
    return runs


def _trim_letters(run: str) -> str:
    """Single letters at a run's ends belong to it only next to an operator ("x = 5")."""
    toks = run.split()
    while len(toks) > 1 and len(toks[0]) == 1 and toks[0].isalpha() and not _OPERATOR.match(toks[1]):
        toks.pop(0)
    while len(toks) > 1 and len(toks[-1].strip(_TRAIL)) == 1 and toks[-1].strip(_TRAIL).isalpha() and not _OPERATOR.match(toks[-2]):
        toks.pop()
    return " ".join(toks)


_PROSE_TAIL = 4000  # a sentence's mathematics is looked for in its last characters only
_ANCHOR_REACH = 100  # "answer is" then, within this many characters, the answer
_HAS_MATH = re.compile(r"[\d\\<>=]")


def _candidates(body: str) -> list[tuple[int, str, str, bool]]:
    """Every ``$...$`` span holding mathematics (spans just before it joined to it when
    only a comma or "and" separates them) and every run of math tokens outside spans, as
    (end, text, what follows it, is a span), rightmost first."""
    out: list[tuple[int, str, str, bool]] = []
    spans = [(m.start(), m.end(), next(g for g in m.groups() if g is not None)) for m in _SPAN.finditer(body)]
    masked = body
    for i, (start, end, inner) in enumerate(spans):
        masked = masked[:start] + " " * (end - start) + masked[end:]
        if not _HAS_MATH.search(inner):
            continue
        parts, first = [inner.strip()], start
        for prev_start, prev_end, prev_inner in reversed(spans[:i]):
            if not _JOINER.match(body[prev_end:first]) or len(parts) >= 6 or not _HAS_MATH.search(prev_inner):
                break
            parts.insert(0, prev_inner.strip())
            first = prev_start
        out.append((end, ", ".join(parts), body[end:], True))
    out.extend((end, body[start:end], body[end:], False) for start, end in _runs(masked))
    out.sort(key=lambda c: -c[0])
    return out


def prose_math(text: str) -> tuple[str, Split] | None:
    """The mathematics a sentence gives as its answer, as math-verify's own extraction finds
    it: the first after the last "answer is" (when one follows it closely), else the
    rightmost ``$...$`` span or run of numbers, operators and commands that is mathematics;
    with the unit or label in the words after it. (math text, split) or None."""
    anchor = None
    for anchor in _ANCHORS.finditer(text):
        pass
    if anchor is not None:  # "the final answer is $14{,}916$. I hope ...": what follows the anchor
        after = text[anchor.end():anchor.end() + _ANCHOR_REACH + 400]
        for end, raw, rest, is_span in reversed(_candidates(after)):
            if end - len(raw) > _ANCHOR_REACH:
                break
            got = _math_cut(raw, rest, is_span)
            if got is not None:
                return got
    for _, raw, rest, is_span in _candidates(text[-_PROSE_TAIL:]):
        got = _math_cut(raw, rest, is_span)
        if got is not None:
            return got
    return None


def _math_cut(raw: str, rest: str, is_span: bool = False) -> tuple[str, Split] | None:
    run = raw.strip() if is_span else _balanced(_trim_letters(raw))
    if "=" in run and "," not in run and not is_span:  # "3 + 4 = 7": a chain of equalities ends on its value
        run = run.rsplit("=", 1)[1].strip()
    if not run or not re.search(r"[\d\\]", run):
        return None
    split = split_unit(run)
    if split.unit is None and split.label is None:
        split = _unit_after(split.math, rest)
    return run, split


# -- whole texts -----------------------------------------------------------------------
_CHOICE = re.compile(r"^\(?([A-J])\)?\.?$")


def choice_letter(text: str) -> str | None:
    """A gold that is an option letter ("C", "(C)", "C."), or None."""
    m = _CHOICE.match(text.strip())
    return m.group(1) if m else None


def _unread(math: str) -> str | None:
    """What in ``math`` no reader can take: characters outside ASCII (after
    normalisation, only symbols nothing means, such as ``∠`` or ``△``), or nothing at all."""
    if not math.strip():
        return "empty"
    if math.isascii():
        return None
    m = re.search(r"[^\x00-\x7f]+", math)
    return m.group()[:16] if m else None


_OPTION_LABEL = re.compile(r"^\(?[A-J]\)?[.:)]\s+(?=[^\s]*[\d\\])")
_WRAPPER = re.compile(r"\\(?:text|textrm|textbf|textit|textnormal|mathrm|mbox)\s*\{([^{}]*)\}")
_WORDS_ONLY = re.compile(r"[^\W\d_]+(?:[\s'\-,]+[^\W\d_]+)*")


def fold_words(s: str) -> str | None:
    """The text of an answer made of words only (``\\text{Evelyn}``, "a regular hexagon"),
    folded to one spelling for comparison; None if anything else is in it."""
    bare = _WRAPPER.sub(lambda m: m.group(1), s).strip().rstrip(".!").strip()
    if len(bare) > 200 or not _WORDS_ONLY.fullmatch(bare):
        return None
    return " ".join(bare.casefold().replace(",", " ").split())


def read_text(text: str, several: str = "last") -> Reading:
    """``text`` (an answer already cut out of its completion, or a gold) read completely:
    normalised, its unit split off, cut out of a sentence if it is one, and its exact
    value when it is a plain number.

    A sentence with several numbers or expressions is read on its last one, as a reader
    takes a model's final statement; ``several="refuse"`` (for golds) calls it
    unreadable instead, since a gold that says two things says neither for sure."""
    if len(text) <= _CACHED_LEN:
        return _read_cached(text, several)
    return _read(text, several)


_CACHED_LEN = 512


@functools.lru_cache(maxsize=16384)  # a group's answers recur across batches; a reading is pure
def _read_cached(text: str, several: str) -> Reading:
    return _read(text, several)


def _read(text: str, several: str) -> Reading:
    s = strip_delimiters(normalize(text))
    s = _OPTION_LABEL.sub("", s, count=1)  # "A. 8", "(C) 12 cm": the value an option gives
    words = fold_words(s)
    if words is not None and (_WRAPPER.match(s) or (
            (len(words) >= 4 or " " in words) and not all(len(w) == 1 for w in words.split()))):
        # "Evelyn", "\\text{odd}" are words; short letter runs ("odd" bare) and single letters
        # apart ("m r s", a product in LaTeX) stay algebra
        return Reading(words, words=True)
    split = split_unit(s)
    prose = False
    if _is_prose(split.math):
        got = prose_math(s)
        if got is None:
            return Reading("", unread="no mathematics in the text")
        if several == "refuse" and len(_runs(s)) > 1 and not _SPAN.search(s):
            return Reading("", unread="several numbers in the text")
        _, split = got
        prose = True
    math = split.math.strip()
    why = _unread(math)
    number = plain_number(math) if why is None else None
    alt = None
    if split.ambiguous and not prose and why is None:
        whole = s.rstrip().rstrip(".").rstrip()
        alt = Reading(whole, number=plain_number(whole), unread=_unread(whole))
    return Reading(math, split.unit, split.label, number, why, alt)
