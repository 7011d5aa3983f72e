"""Multiple-choice letters and yes/no answers, read the way a person would read them.

Shared by every reward that reads an option letter (``mcq``, ``yes_no``, the ``format``
check of a choice template, the math reward's lettered answers), so they agree on what
"the answer is B" means.

Both readers work on tokens (one linear ``re.finditer`` pass over a bounded tail of the
text), never on backtracking patterns, and both prefer saying "no answer" over guessing:

- a letter counts when it stands as a letter: ``B``, ``(b)``, ``B.``, ``Answer: B``,
  ``The answer is (C)``, ``B. The red cup``; the article in "a cat" or the pronoun in
  "I think" is not an answer;
- several letters (``AC``, ``A, C``, ``A and C``) are a multi-select answer, compared as
  a set (order does not matter);
- ``yes``/``no`` are whole words: "I know" is not "no", "nothing" is not "no", and
  "not sure" or "I don't know" is no answer at all.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from .answers import answer_text

__all__ = [
    "LETTERS",
    "option_letters",
    "option_texts",
    "parse_letters_strict",
    "extract_letters",
    "extract_yes_no",
    "gold_letters",
    "gold_yes_no",
]

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_TOKEN = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?|\S")
_SEPARATORS = frozenset({",", ";", "&", "+", "and", "And", "AND"})
_HEDGES = frozenset({"or", "Or", "OR", "/"})
_PUNCT_AFTER = frozenset({".", ")", ",", ":", ";", "]", "!", "?", "*", "'", '"'})
_ANSWER_WORDS = (frozenset({"answer", "answers"}), frozenset({"option", "options", "choice", "choices"}))
_FILLER = frozenset({"is", "are", "would", "be", "should", "will", "must", ":", "-", "=", "*", "correct", "final", "the"})
_OPTION_LINE = re.compile(r"^\s*\(?([A-Za-z])[\.\):]\s*(.*)$")


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def option_letters(options: Any) -> str | None:
    """The letters a row's ``options`` allow, or None when the row gives none.

    A list of option texts gives ``A``, ``B``, ... by position; a mapping gives its
    single-letter keys; a string is read line by line ("A. cat", "(B) dog").
    """
    texts = option_texts(options)
    return "".join(texts) if texts else None


def option_texts(options: Any) -> dict[str, str] | None:
    """``{letter: option text}`` from a row's ``options`` column, or None."""
    if options is None:
        return None
    if isinstance(options, Mapping):
        out = {str(k).strip().upper(): str(v) for k, v in options.items() if len(str(k).strip()) == 1 and str(k).strip().isalpha()}
        return out or None
    if isinstance(options, str):
        out = {}
        for line in options.splitlines()[:26]:
            m = _OPTION_LINE.match(line[:1000])
            if m:
                out[m.group(1).upper()] = m.group(2).strip()
        return out or None
    if isinstance(options, (list, tuple)) and 0 < len(options) <= 26:
        out = {}
        for letter, text in zip(LETTERS, options):
            m = _OPTION_LINE.match(str(text)[:1000])
            out[letter] = m.group(2).strip() if m and m.group(1).upper() == letter else str(text).strip()
        return out
    return None


def parse_letters_strict(text: str, max_chars: int = 64) -> str | None:
    """The answer is letters and nothing else: ``B``, ``(B)``, ``b.``, ``AC``, ``A, C``,
    ``(A) and (C)``. Returns the sorted distinct uppercase letters, or None."""
    if not isinstance(text, str) or len(text) > max_chars:
        return None
    letters: set[str] = set()
    for tok in _tokens(text):
        if tok in _SEPARATORS or tok in "()[].:*":
            continue
        if len(tok) == 1 and tok.isalpha():
            letters.add(tok.upper())
        elif tok.isalpha() and tok.isupper() and len(set(tok)) == len(tok):
            letters.update(tok)  # "AC": distinct capitals run together
        else:
            return None
    return "".join(sorted(letters)) or None


def _ok(letter: str, allowed: str | None) -> bool:
    return allowed is None or letter.upper() in allowed


def _letter_at(toks: list[str], j: int, allowed: str | None) -> tuple[str | None, int]:
    """A letter answer starting at token ``j``: ``(c)``, ``C``, ``c.``; (letter, next index)."""
    n = len(toks)
    if j < n and toks[j] in "([" and j + 2 < n and len(toks[j + 1]) == 1 and toks[j + 1].isalpha() and toks[j + 2] in ")]":
        letter = toks[j + 1].upper()
        return (letter if _ok(letter, allowed) else None), j + 3
    if j >= n or len(toks[j]) != 1 or not toks[j].isalpha():
        return None, j
    tok = toks[j]
    nxt = toks[j + 1] if j + 1 < n else None
    ends = nxt is None or nxt in _PUNCT_AFTER or nxt in _SEPARATORS or nxt in _HEDGES
    if tok.islower() and not ends:
        return None, j  # "the answer is a cat"
    if tok in "IA" and allowed is None and not ends and nxt is not None and nxt[:1].islower():
        return None, j  # "I think", "A cat"
    return (tok.upper() if _ok(tok, allowed) else None), j + 1


def _letters_from(toks: list[str], j: int, allowed: str | None) -> str | None:
    """One letter at ``j`` and any more joined by separators ("A, C and D")."""
    letter, k = _letter_at(toks, j, allowed)
    if letter is None:
        if j < len(toks) and toks[j].isupper() and 1 < len(toks[j]) <= 26 and len(set(toks[j])) == len(toks[j]):
            run = toks[j]
            if (allowed is None and len(run) <= 4) or (allowed is not None and all(c in allowed for c in run)):
                return "".join(sorted(run))  # "AC" after "answer is"
        return None
    found = {letter}
    for _ in range(len(LETTERS)):
        if not (k + 1 < len(toks) and toks[k] in _SEPARATORS):
            break
        more, k2 = _letter_at(toks, k + 1, allowed)
        if more is None:
            break
        found.add(more)
        k = k2
    if k < len(toks) and toks[k] in _HEDGES:
        return None  # "B or C" is a hedge, not a multi-select answer
    return "".join(sorted(found))


def extract_letters(text: str, options: Any = None, max_chars: int = 4000) -> str | None:
    """The option letter(s) a free-text answer gives, sorted, or None.

    Order of evidence: the whole answer is letters; the last "answer is X" / "Answer: X" /
    "option X"; an answer that starts with an option ("B. The red cup"); the answer is
    exactly one option's text; exactly one distinct letter standing alone.
    """
    if not isinstance(text, str):
        return None
    text = text[-max_chars:]
    allowed = option_letters(options)
    strict = parse_letters_strict(text.strip())
    if strict and all(_ok(c, allowed) for c in strict):
        return strict
    toks = _tokens(text)
    for words in _ANSWER_WORDS:  # "answer is X" outranks "option X is wrong"
        for i in range(len(toks) - 1, -1, -1):
            if toks[i].lower() in words:
                j, skipped = i + 1, 0
                while j < len(toks) and toks[j].lower() in _FILLER and skipped < 4:
                    j, skipped = j + 1, skipped + 1
                got = _letters_from(toks, j, allowed)
                if got:
                    return got
    if toks:
        got, k = _letter_at(toks, 0, allowed)
        if got and (k >= len(toks) or toks[k - 1] in ")]" or toks[k] in ".):"):
            return got
    texts = option_texts(options)
    if texts:
        norm = " ".join(text.lower().strip().rstrip(".").split())
        hits = [k for k, v in texts.items() if " ".join(v.lower().split()) == norm]
        if len(hits) == 1:
            return hits[0]
    alone = set()
    for j, tok in enumerate(toks):
        if len(tok) == 1 and tok.isupper() and tok != "I":
            nxt = toks[j + 1] if j + 1 < len(toks) else None
            if tok == "A" and nxt is not None and nxt[:1].islower():
                continue  # "A cat"
            if _ok(tok, allowed):
                alone.add(tok)
    return alone.pop() if len(alone) == 1 else None


_UNSURE = (
    ("not", "sure"), ("unsure",), ("don't", "know"), ("do", "not", "know"), ("no", "idea"),
    ("cannot", "determine"), ("can't", "determine"), ("cannot", "be", "determined"), ("cannot", "tell"),
    ("can't", "tell"), ("unclear",), ("uncertain",), ("not", "possible", "to", "determine"),
    ("unknown",), ("not", "enough", "information"), ("impossible", "to", "tell"),
)
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def _has_phrase(words: list[str], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    first = phrase[0]
    return any(w == first and tuple(words[i:i + n]) == phrase for i, w in enumerate(words))


def extract_yes_no(text: str, max_chars: int = 4000, max_fallback_words: int = 8) -> str | None:
    """"yes", "no", or None (no answer, unsure, or both said).

    The answer's first word decides ("No, there is no cat." -> no); then "not sure"-like
    phrases mean no answer; then the last "answer is yes/no"; then, in a short answer
    only, a lone yes or no word.
    """
    if not isinstance(text, str):
        return None
    words = _WORD.findall(text[-max_chars:].lower().replace("\u2019", "'"))
    if not words:
        return None
    # the first word of the answer itself, even when only its tail is searched below
    head = words if len(text) <= max_chars else _WORD.findall(text[:64].lower())
    first = head[0] if head else ""
    if len(words) <= 3 and "yes" in words and "no" in words:
        return None  # "yes and no", "yes or no": a hedge, not an answer
    if first in ("yes", "yeah", "yep", "yup") or (first in ("true", "correct") and len(words) == 1):
        return "yes"
    if (first in ("no", "nope", "nah") and head[1:2] != ["idea"]) or (first in ("false", "incorrect") and len(words) == 1):
        return "no"
    if any(_has_phrase(words, p) for p in _UNSURE):
        return None
    for i in range(len(words) - 1, -1, -1):
        if words[i] == "answer":
            for w in words[i + 1:i + 4]:
                if w in ("yes", "no"):
                    return w
                if w not in ("is", "would", "be", "should", "final", "my", "the"):
                    break
    if len(words) <= max_fallback_words:
        said = {w for w in words if w in ("yes", "no")}
        if len(said) == 1:
            return said.pop()
    return None


def _gold_text(solution: Any) -> str:
    text = solution if isinstance(solution, str) else str(solution)
    inner = answer_text(text)
    return (inner if inner is not None else text).strip()


def gold_letters(solution: Any, options: Any = None) -> str | None:
    """The correct letter(s) from a solution: ``B``, ``(B)``, ``AC``, ``["A", "C"]``,
    ``<answer>B</answer>``, or an option's text when the row gives its options."""
    if isinstance(solution, (list, tuple)):
        got = {g for item in solution for g in (gold_letters(item, options) or "")}
        return "".join(sorted(got)) or None
    if solution is None:
        return None
    return extract_letters(_gold_text(solution), options)


def gold_yes_no(solution: Any) -> str | None:
    if isinstance(solution, bool):
        return "yes" if solution else "no"
    if solution is None:
        return None
    return extract_yes_no(_gold_text(solution))
