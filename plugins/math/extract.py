"""Where a math answer is in a completion: ``<answer>``, then ``\\boxed{}``, then the last line.

``\\boxed{\\frac{1}{2}}`` cannot be found with a regular expression (the braces nest), so
the box is read by a brace-balancing scan from its opening brace; escaped braces (``\\{``)
do not count. Every step is a bounded number of linear scans.
"""

from __future__ import annotations

from vlmr1.answers import answer_text

__all__ = ["matching_brace", "last_boxed", "clean_answer", "extract_math_answer"]

_BOX_COMMANDS = ("\\boxed", "\\fbox")
_MAX_BOX_TRIES = 4
_PREFIXES = ("final answer is", "final answer:", "answer is", "answer:", "answer =")


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


def last_boxed(text: str) -> str | None:
    """The content of the last complete ``\\boxed{...}`` (or ``\\fbox{...}``), or None.

    A box that never closes (a truncated completion) is skipped for the one before it.
    ``\\boxed 5`` (no braces) gives ``5``.
    """
    end = len(text)
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
                return text[i + 1:close]
        elif i < len(text) and i > at + len(command):
            stop = i
            while stop < len(text) and not text[stop].isspace() and text[stop] not in "$,":
                stop += 1
            return text[i:stop] or None
        end = at
    return None


def _strip_delimiters(s: str) -> str:
    s = s.strip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if len(s) >= len(left) + len(right) and s.startswith(left) and s.endswith(right):
            s = s[len(left):len(s) - len(right)].strip()
            break
    return s


def clean_answer(text: str) -> str:
    """Trim what surrounds a final answer: math delimiters, a trailing full stop,
    and a leading "The final answer is" / "Answer:"."""
    s = text.strip()
    low = s.lower()
    for p in _PREFIXES:
        k = low.rfind(p)
        if k >= 0:
            s = s[k + len(p):]
            break
    s = _strip_delimiters(s.strip().rstrip(".").strip())
    if s.startswith("\\text{") and s.endswith("}") and matching_brace(s, 5) == len(s) - 1:
        s = s[6:-1].strip()
    return s


def extract_math_answer(completion: str, answer_tags: tuple[str, str] = ("<answer>", "</answer>")) -> tuple[str | None, str]:
    """(answer, where it came from): "answer_tag", "boxed" or "last_line"; (None, "no_answer")."""
    if not isinstance(completion, str):
        return None, "no_answer"
    inner = answer_text(completion, answer_tags)
    if inner is not None:
        boxed = last_boxed(inner) if "\\boxed" in inner or "\\fbox" in inner else None
        got = clean_answer(boxed if boxed is not None else inner)
        return (got, "answer_tag") if got else (None, "empty_answer")
    boxed = last_boxed(completion)
    if boxed is not None:
        got = clean_answer(boxed)
        return (got, "boxed") if got else (None, "empty_answer")
    end = len(completion)
    while end > 0:
        start = completion.rfind("\n", 0, end) + 1
        line = completion[start:end].strip()
        if line:
            got = clean_answer(line)
            return (got, "last_line") if got else (None, "no_answer")
        end = start - 1
    return None, "no_answer"
