"""Where the answer is in a completion: think/answer tags, Markdown code fences, and
``\\boxed{}`` answers.

Every reward that reads an answer starts here, so a task's format check and its accuracy
reward agree on what "the answer" is.

Tag checking and box reading run in linear time.

``\\boxed{\\frac{1}{2}}`` cannot be found with a regular expression (the braces nest), so
a box is read by a brace-balancing scan from its opening brace; escaped braces (``\\{``)
do not count. Several boxes for one answer (``\\boxed{(1, 2)}, \\boxed{(2, 1)}``,
``\\boxed{k = 45} \\quad\\text{and}\\quad \\boxed{n = 2}``) are read together, as a list,
when only commas, "and"/"or" and spacing separate them; a box after other words
(``\\boxed{10} at first, but correcting: \\boxed{12}``) replaces the ones before it.

A format check runs on every completion of every training step, and completions are
written by a model that is being optimised against it: any input it can produce, it
will. Regular expressions such as ``<think>.*?</think>\\s*<answer>.*?\\{.*\\[...\\].*\\}``
backtrack polynomially on inputs like ``"<think>" * 20000``. Everything here is a
fixed number of ``str.count`` / ``str.find`` passes, so the cost is linear in the
length of the completion whatever it contains.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["TagCheck", "answer_span", "answer_text", "box_before", "check_tags", "final_boxes", "last_boxed",
           "matching_brace", "strip_fence"]

_BOX_COMMANDS = ("\\boxed", "\\fbox")
_MAX_BOX_TRIES = 4
_MAX_BOXES = 12


@dataclass(frozen=True)
class TagCheck:
    """The outcome of :func:`check_tags`: ``ok`` and a machine-readable ``reason``,
    plus the text inside the tags when they were found in order."""

    ok: bool
    reason: str
    think: str | None = None
    answer: str | None = None


def _count_reason(n_open: int, n_close: int, kind: str) -> str | None:
    if n_open == 0 and n_close == 0:
        return f"no_{kind}_tag"
    if n_open > 1 or n_close > 1:
        return f"multiple_{kind}_tags"
    if n_open == 0:
        return f"no_{kind}_open_tag"
    if n_close == 0:
        return f"unclosed_{kind}_tag"
    return None


def check_tags(
    text: str,
    think_tags: tuple[str, str] | None = ("<think>", "</think>"),
    answer_tags: tuple[str, str] = ("<answer>", "</answer>"),
    strict: bool = True,
    think_prefilled: bool = False,
) -> TagCheck:
    """Check that ``text`` is ``<think>...</think>`` then ``<answer>...</answer>``.

    Each tag must appear exactly once and in that order. With ``strict`` nothing but
    whitespace may stand outside the tags (before the first, between the blocks, after
    the last); without it, text outside is tolerated. ``think_tags=None`` means the
    template asks for an answer block only. ``think_prefilled``: the opening think tag
    was part of the prompt (chat templates that open the reasoning block for the
    model), so the completion starts inside it and may omit it.
    """
    if not isinstance(text, str):
        return TagCheck(False, "not_text")
    a_open, a_close = answer_tags
    start = lead = 0
    think = None
    if think_tags is not None:
        t_open, t_close = think_tags
        n_open, n_close = text.count(t_open), text.count(t_close)
        if think_prefilled and n_open == 0 and n_close >= 1:
            n_open = 1  # the opening tag sits in the prompt, just before the completion
            i_open, body_start = 0, 0
        else:
            i_open = text.find(t_open)
            body_start = i_open + len(t_open)
        reason = _count_reason(n_open, n_close, "think")
        if reason:
            return TagCheck(False, reason)
        i_close = text.find(t_close)
        if i_close < body_start:
            return TagCheck(False, "tags_out_of_order")
        think = text[body_start:i_close]
        lead = i_open
        start = i_close + len(t_close)
    n_open, n_close = text.count(a_open), text.count(a_close)
    reason = _count_reason(n_open, n_close, "answer")
    if reason:
        return TagCheck(False, reason)
    j_open, j_close = text.find(a_open), text.find(a_close)
    if j_open < start or j_close < j_open + len(a_open):
        return TagCheck(False, "tags_out_of_order")
    if think_tags is None:
        lead = j_open
    if strict and (text[:lead].strip() or text[start:j_open].strip() or text[j_close + len(a_close):].strip()):
        return TagCheck(False, "text_outside_tags")
    return TagCheck(True, "ok", think, text[j_open + len(a_open):j_close])


def answer_span(text: str, answer_tags: tuple[str, str] = ("<answer>", "</answer>")) -> tuple[int, int] | None:
    """Start and end of the content of the LAST complete answer block, or None.

    The last block wins: a model that mentions ``<answer>`` while reasoning and then
    answers is judged on its final answer. Two ``rfind`` passes: linear.
    """
    if not isinstance(text, str):
        return None
    a_open, a_close = answer_tags
    end = text.rfind(a_close)
    if end < 0:
        return None
    begin = text.rfind(a_open, 0, end)
    if begin < 0:
        return None
    return begin + len(a_open), end


def answer_text(text: str, answer_tags: tuple[str, str] = ("<answer>", "</answer>")) -> str | None:
    """The content of the last complete answer block (unstripped), or None."""
    span = answer_span(text, answer_tags)
    return None if span is None else text[span[0]:span[1]]


def strip_fence(text: str, widest: bool = False) -> str:
    """The body of the first Markdown code fence (```json ... ``` or ``` ... ```), or
    the stripped text when there is no complete fence. A few ``find`` calls.
    ``widest``: close the fence at the last ``` instead of the next one (a JSON string
    that itself contains three backticks)."""
    begin = text.find("```")
    if begin < 0:
        return text.strip()
    end = text.rfind("```") if widest else text.find("```", begin + 3)
    if end <= begin:
        return text.strip()
    body = text[begin + 3:end]
    newline = body.find("\n")
    first = body[:newline] if newline >= 0 else body
    word = first.strip()
    if word and word.isalnum():  # a language label on the opening line ("json")
        body = body[newline + 1:] if newline >= 0 else ""
    elif word.lower().startswith("json") and word[4:5] in ("{", "[", " "):
        body = body.lstrip()[4:]  # ```json{"a": 1}``` on one line
    return body.strip()


# -- \boxed{} ----------------------------------------------------------------------------
def matching_brace(text: str, open_at: int) -> int:
    """Index of the ``}`` closing the ``{`` at ``open_at``, or -1 if it never closes."""
    depth = 0
    i, n = open_at, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2  # \{ and \} are literal braces
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def box_before(text: str, end: int) -> tuple[int, int, str] | None:
    """The last complete box starting before ``end``: (start, end, content), or None.

    A box that never closes (a truncated completion) is skipped for the one before it.
    ``\\boxed 5`` (no braces) gives ``5``."""
    for _ in range(_MAX_BOX_TRIES):
        at, command = max((text.rfind(c, 0, end), c) for c in _BOX_COMMANDS)
        if at < 0:
            return None
        i = at + len(command)
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] == "{":
            close = matching_brace(text, i)
            if close >= 0:
                return at, close + 1, text[i + 1:close]
        elif i < len(text) and i > at + len(command):
            stop = i
            while stop < len(text) and not text[stop].isspace() and text[stop] not in "$,":
                stop += 1
            return (at, stop, text[i:stop]) if stop > i else None
        end = at
    return None


def last_boxed(text: str) -> str | None:
    """The content of the last complete ``\\boxed{...}`` (or ``\\fbox{...}``), or None."""
    got = box_before(text, len(text))
    return got[2] if got is not None else None


_GAP_NOISE = re.compile(r"\\(?:text|mathrm|textrm)\s*\{\s*(?:and|or)\s*\}|\\q?quad|\\[,;:! ]|\\[()\[\]]|\$")
_GAP_OK = re.compile(r"^[\s,;]*(?:(?:and|or)[\s,;]*)*$")


def final_boxes(text: str) -> str | None:
    """The last box, together with the boxes just before it that only commas, "and",
    "or" and spacing separate from it, joined as a list (``1, 2``); None without a box."""
    last = box_before(text, len(text))
    if last is None:
        return None
    start, _, content = last
    parts = [content.strip()]
    for _ in range(_MAX_BOXES):
        prev = box_before(text, start)
        if prev is None:
            break
        gap = text[prev[1]:start]
        if len(gap) >= 70 or not _GAP_OK.match(_GAP_NOISE.sub(" ", gap)):
            break
        if prev[2].strip() != parts[0]:
            parts.insert(0, prev[2].strip())
        start = prev[0]
    return ", ".join(p for p in parts if p) or parts[-1]
