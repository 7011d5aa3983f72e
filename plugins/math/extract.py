"""Where a math answer is in a completion: ``<answer>``, then ``\\boxed{}``, then the last line.

Boxes are read by :mod:`vlmr1.answers` (``final_boxes``: nested braces, several boxes
read together), as every reward reads them. Every step is a bounded number of linear scans.

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

from vlmr1.answers import answer_text, box_before, final_boxes, matching_brace

__all__ = ["CHAT_MARKERS", "clean_answer", "extract_math_answer", "cut_chat_debris", "strip_delimiters"]

_PREFIXES = ("final answer is", "final answer:", "answer is", "answer:", "answer =")
_SHORT = 200
CHAT_MARKERS = ("<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end|>", "<|start_header_id|>",
                "<\uff5cend\u2581of\u2581sentence\uff5c>", "</s>")


def strip_delimiters(s: str) -> str:
    """``s`` without one pair of math delimiters around it (``$$``, ``$``, ``\\(\\)``, ``\\[\\]``);
    an empty pair leaves an empty answer, which readers then call empty."""
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
    s = strip_delimiters(s.strip().rstrip(".").strip())
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
    box = box_before(completion, len(completion)) if "\\boxed" in completion or "\\fbox" in completion else None
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
