"""Where a math answer is in a completion: ``<answer>``, then ``\\boxed{}``, then the last line.

``\\boxed{\\frac{1}{2}}`` cannot be found with a regular expression (the braces nest), so
the box is read by a brace-balancing scan from its opening brace; escaped braces (``\\{``)
do not count. Every step is a bounded number of linear scans.

What real completions add to that order:

- generation that ran past the end of the turn: the completion is cut at the first
  chat-template marker (``... is $(7, 6)$. <|im_start|>user ...``);
- a closing ``</answer>`` without its opening tag (``<think> ... </think> 6 </answer>``):
  the answer is what stands between the end of the reasoning and that tag;
- several boxes for one answer (``\\boxed{(1, 2)}, \\boxed{(2, 1)}``, ``\\boxed{k = 45}
  \\quad\\text{and}\\quad \\boxed{n = 2}``): boxes separated only by commas, "and"/"or"
  and spacing are read together, as a list; a box after other words (``\\boxed{10} at
  first, but correcting: \\boxed{12}``) replaces the ones before it.
"""

from __future__ import annotations

import functools
import re

from vlmr1.answers import answer_text

__all__ = ["CHAT_MARKERS", "matching_brace", "last_boxed", "final_boxes", "clean_answer", "extract_math_answer", "cut_chat_debris"]

_BOX_COMMANDS = ("\\boxed", "\\fbox")
_MAX_BOX_TRIES = 4
_MAX_BOXES = 12
_PREFIXES = ("final answer is", "final answer:", "answer is", "answer:", "answer =")
_SHORT = 200
CHAT_MARKERS = ("<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end|>", "<|start_header_id|>",
                "<\uff5cend\u2581of\u2581sentence\uff5c>", "</s>")


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


def _box_before(text: str, end: int) -> tuple[int, int, str] | None:
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
    got = _box_before(text, len(text))
    return got[2] if got is not None else None


_GAP_NOISE = re.compile(r"\\(?:text|mathrm|textrm)\s*\{\s*(?:and|or)\s*\}|\\q?quad|\\[,;:! ]|\\[()\[\]]|\$")
_GAP_OK = re.compile(r"^[\s,;]*(?:(?:and|or)[\s,;]*)*$")


def final_boxes(text: str) -> str | None:
    """The last box, together with the boxes just before it that only commas, "and",
    "or" and spacing separate from it, joined as a list (``1, 2``); None without a box."""
    last = _box_before(text, len(text))
    if last is None:
        return None
    start, _, content = last
    parts = [content.strip()]
    for _ in range(_MAX_BOXES):
        prev = _box_before(text, start)
        if prev is None:
            break
        gap = text[prev[1]:start]
        if len(gap) >= 70 or not _GAP_OK.match(_GAP_NOISE.sub(" ", gap)):
            break
        if prev[2].strip() != parts[0]:
            parts.insert(0, prev[2].strip())
        start = prev[0]
    return ", ".join(p for p in parts if p) or parts[-1]


def _strip_delimiters(s: str) -> str:
    s = s.strip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if len(s) >= len(left) + len(right) and s.startswith(left) and s.endswith(right):
            s = s[len(left):len(s) - len(right)].strip()
            break
    return s


def clean_answer(text: str) -> str:
    """Trim what surrounds a final answer: math delimiters, a trailing full stop,
    and a leading "The final answer is" / "Answer:". When a long text follows the phrase
    (``... is $14{,}916$. I hope it is correct. Note: ...``), the phrase is kept, so
    that the reader takes what follows it rather than the text's last number."""
    s = text.strip()
    low = s.lower()
    for p in _PREFIXES:
        k = low.rfind(p)
        if k >= 0:
            s = s[k + len(p):] if len(s) - k - len(p) <= _SHORT else s[k:]
            break
    s = _strip_delimiters(s.strip().rstrip(".").strip())
    if s.startswith("\\text{") and s.endswith("}") and matching_brace(s, 5) == len(s) - 1:
        s = s[6:-1].strip()
    return s


def cut_chat_debris(completion: str) -> str:
    """The completion up to the first chat-template marker that follows some text."""
    if "<" not in completion:
        return completion
    cut = len(completion)
    for marker in CHAT_MARKERS:
        k = completion.find(marker)
        while 0 <= k < cut and not completion[:k].strip():
            k = completion.find(marker, k + len(marker))
        if 0 <= k < cut:
            cut = k
    return completion[:cut]


def _closing_tag_only(completion: str, answer_tags: tuple[str, str]) -> str | None:
    """``... </think> 6 </answer>``: the text between the end of the reasoning (or the
    start) and the last closing tag, when no opening tag is there."""
    close = completion.rfind(answer_tags[1])
    if close < 0 or answer_tags[0] in completion:
        return None
    think_end = completion.rfind("</think>", 0, close)
    return completion[think_end + len("</think>") if think_end >= 0 else 0:close]


def _answer_phrase(completion: str, after: int) -> str | None:
    """The text from the last "final answer is" / "answer:" on, when it comes after
    position ``after`` (the end of the last box) and some text follows it."""
    low = completion.lower()
    for p in _PREFIXES[:2]:
        k = low.rfind(p)
        if k >= after and k >= 0 and completion[k + len(p):].strip():
            line_end = completion.find("\n", k)
            return completion[k:line_end if line_end >= 0 else len(completion)]
    return None


def _final_display(completion: str) -> str | None:
    """A completion that ends on a display over several lines (``\\[ ... \\]``, ``$$ ... $$``):
    the display, not its closing line."""
    tail = completion.rstrip().rstrip(".").rstrip()
    for left, right in (("\\[", "\\]"), ("$$", "$$")):
        if tail.endswith(right):
            start = tail.rfind(left, 0, len(tail) - len(right))
            if start >= 0 and "\n" in tail[start:]:
                return tail[start:]
    return None


def extract_math_answer(completion: str, answer_tags: tuple[str, str] = ("<answer>", "</answer>")) -> tuple[str | None, str]:
    """(answer, where it came from): "answer_tag", "answer_phrase" ("The final answer is
    ..." after any box), "boxed" or "last_line"; (None, "no_answer").

    Remembered per completion text: a GRPO group repeats completions, and the engine asks
    for the answer twice (to dedupe, then to score)."""
    if not isinstance(completion, str):
        return None, "no_answer"
    if answer_tags == ("<answer>", "</answer>") and len(completion) <= _CACHED_LEN:
        return _extract_cached(completion)
    return _extract(completion, answer_tags)


_CACHED_LEN = 65536


@functools.lru_cache(maxsize=16384)
def _extract_cached(completion: str) -> tuple[str | None, str]:
    return _extract(completion, ("<answer>", "</answer>"))


def _extract(completion: str, answer_tags: tuple[str, str]) -> tuple[str | None, str]:
    completion = cut_chat_debris(completion)
    inner = answer_text(completion, answer_tags)
    if inner is None:
        inner = _closing_tag_only(completion, answer_tags)
    if inner is not None:
        boxed = final_boxes(inner) if "\\boxed" in inner or "\\fbox" in inner else None
        got = clean_answer(boxed if boxed is not None else inner)
        return (got, "answer_tag") if got else (None, "empty_answer")
    box = _box_before(completion, len(completion)) if "\\boxed" in completion or "\\fbox" in completion else None
    phrase = _answer_phrase(completion, box[1] if box is not None else 0)
    if phrase is not None:  # "... \\boxed{255} ... The final answer is $10,455$.": the later word
        got = clean_answer(phrase)
        return (got, "answer_phrase") if got else (None, "empty_answer")
    if box is not None:
        got = clean_answer(final_boxes(completion) or "")
        return (got, "boxed") if got else (None, "empty_answer")
    display = _final_display(completion)
    if display is not None:
        got = clean_answer(display)
        return (got, "last_line") if got else (None, "no_answer")
    end = len(completion)
    while end > 0:
        start = completion.rfind("\n", 0, end) + 1
        line = completion[start:end].strip()
        if line:
            got = clean_answer(line)
            return (got, "last_line") if got else (None, "no_answer")
        end = start - 1
    return None, "no_answer"
