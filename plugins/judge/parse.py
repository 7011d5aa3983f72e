"""Deterministic reading of model replies: the judge's verdict and a pairwise choice.

Both parsers are linear in the reply's length and never guess: a reply that does not
say clearly what it means is "unparseable", which the rewards turn into None with a
reason, never into a score. (R1-Reward's own judge parser falls back to "is there a 0
anywhere in the reply", which scores an explanation such as "both 0.5 and 1 ..." as a
mismatch.)
"""

from __future__ import annotations

import re

# no ">" before the word: a quoted line ("> VERDICT: 1") is someone else's verdict
_VERDICT = re.compile(r"^[\s*_`#]*verdict[\s*_`]*[:=][\s*_`]*([01])[\s*_`.]*$", re.IGNORECASE)
_CHOICE = re.compile(r"^[\s*_`\[(\"'#]*(?:(?:response|answer|option)\s*#?\s*:?\s*)?([12])[\s*_`\])\"'.!]*$", re.IGNORECASE)

MAX_REPLY_CHARS = 200_000


def parse_verdict(reply: str | None) -> int | None:
    """1 or 0 from the judge's reply, or None when it cannot be read.

    The verdict is the judge's own last non-empty line, which must be exactly
    ``VERDICT: 1`` or ``VERDICT: 0`` (case, markdown emphasis or a heading mark, and a
    trailing period tolerated). Nothing else counts: not a verdict earlier in the reply,
    not a quoted line (``> VERDICT: 1``), not one inside a sentence. A judge that quotes
    the completion, or argues itself out of an earlier verdict without writing a new one,
    gives no verdict at all.
    """
    if not isinstance(reply, str) or not reply.strip():
        return None
    lines = reply[-MAX_REPLY_CHARS:].strip().splitlines()
    last = lines[-1] if lines else ""
    match = _VERDICT.match(last) if len(last) <= 200 else None
    return int(match.group(1)) if match else None


def extract_answer(completion: str | None, tags: tuple[str, str] = ("<answer>", "</answer>")) -> str | None:
    """The text of the last complete ``<answer>...</answer>``; None if there is none."""
    if not isinstance(completion, str):
        return None
    start = completion.rfind(tags[0])
    if start < 0:
        return None
    start += len(tags[0])
    end = completion.find(tags[1], start)
    return completion[start:end].strip() if end >= 0 else None


def parse_choice(text: object) -> int | None:
    """1 or 2 from a pairwise answer or label: ``2``, ``"2"``, ``"Response 2"``, ``"[1]"``,
    ``"<answer>1</answer>"``. Anything else (``"1 or 2"``, ``"3"``, prose) is None."""
    if isinstance(text, bool):
        return None
    if isinstance(text, (int, float)):
        return int(text) if text in (1, 2) else None
    if not isinstance(text, str):
        return None
    inner = extract_answer(text)
    if inner is not None:
        text = inner
    text = text.strip()
    if len(text) > 64:
        return None
    m = _CHOICE.match(text)
    return int(m.group(1)) if m else None
