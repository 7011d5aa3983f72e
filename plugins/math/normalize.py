"""One spelling for what models and datasets write by hand, before anything reads it.

math-verify reads LaTeX. Real golds and real answers are written in Unicode and in plain
text as often: ``2√{3}``, ``√5``, ``9π``, ``x²``, ``3×4``, ``−2`` (U+2212), fullwidth
``１２``, ``2sqrt(3)``, ``9pi``. math-verify stops at the first character it does not
know and keeps what it read so far (``2√{3}`` is ``2`` to it), so a wrong answer ``2``
would be paid for the gold ``2√{3}``. Here each of these is rewritten into the LaTeX that
means the same thing, on both sides alike, so the parser reads all of it or none of it.

Everything is a fixed number of linear passes; a text with nothing to rewrite (plain
ASCII without ``sqrt``/``pi``) costs one ``str.isascii`` and a few substring tests.
What is *not* rewritten stays as it is and is later refused as unreadable by name
(``∠``, ``△``, emoji): nothing is dropped silently.
"""

from __future__ import annotations

import re

from .extract import matching_brace

__all__ = ["normalize"]

# Fullwidth ASCII (U+FF01..U+FF5E) is ASCII shifted by 0xFEE0: "１２" "（" "，" "：" "％".
_TABLE: dict[int, str] = {cp: chr(cp - 0xFEE0) for cp in range(0xFF01, 0xFF5F)}
_TABLE.update({ord(k): v for k, v in {
    "\u3000": " ", "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u200b": "",
    "\u2212": "-", "\ufe63": "-", "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-",
    "\u00d7": r" \times ", "\u2715": r" \times ", "\u00b7": r" \cdot ", "\u22c5": r" \cdot ", "\u2219": r" \cdot ",
    "\u00f7": r" \div ", "\u2215": "/", "\u2044": "/",
    "\u03c0": r"\pi ", "\u221e": r"\infty ", "\u00b1": r"\pm ", "\u2213": r"\mp ",
    "\u2264": r" \le ", "\u2265": r" \ge ", "\u2260": r" \ne ", "\u2248": r" \approx ",
    "\u2a7d": r" \le ", "\u2a7e": r" \ge ",
    "\u222a": r" \cup ", "\u2229": r" \cap ", "\u2208": r" \in ",
    "\u3002": ".", "\u3001": ",", "\u2032": "'",
    "\u00bd": r"\frac{1}{2}", "\u2153": r"\frac{1}{3}", "\u2154": r"\frac{2}{3}", "\u00bc": r"\frac{1}{4}",
    "\u00be": r"\frac{3}{4}",
}.items()})
_SUPERSCRIPTS = {"⁰": "0", "¹": "1", "²": "2", "³": "3", "⁴": "4", "⁵": "5", "⁶": "6", "⁷": "7", "⁸": "8", "⁹": "9",
                 "⁻": "-", "⁺": "+", "⁽": "(", "⁾": ")", "ⁿ": "n"}
_SUBSCRIPTS = {"₀": "0", "₁": "1", "₂": "2", "₃": "3", "₄": "4", "₅": "5", "₆": "6", "₇": "7", "₈": "8", "₉": "9"}
_SUPER_RUN = re.compile("[" + "".join(_SUPERSCRIPTS) + "]+")
_SUB_RUN = re.compile("[" + "".join(_SUBSCRIPTS) + "]+")
_ROOTS = {"√": "", "∛": "3", "∜": "4"}

_WORD_SQRT = re.compile(r"(?<![\\A-Za-z])sqrt(?![A-Za-z])")
_WORD_CBRT = re.compile(r"(?<![\\A-Za-z])cbrt(?![A-Za-z])")
_WORD_PI = re.compile(r"(?<![\\A-Za-z])pi(?![A-Za-z])")
_PERCENT = re.compile(r"(?<!\\)%")
_THOUSANDS = re.compile(r"(?<=\d)\s*(?:\{\s*,\s*\}\s*|,\\!\s*|\\,(?=\d{3}))(?=\d{3})")
_SPACED_THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?: \d{3})+(?![\d,]|\.\d)")
_RELATIONS = (("<=", r" \le "), (">=", r" \ge "), ("!=", r" \ne "), ("\\lt", "<"), ("\\gt", ">"))
_DOUBLE_SLASH = re.compile(r"\\\\(?=[a-zA-Z])")
_DEGREE_MID = re.compile(r"°(?!\s*[CF]?\s*$)")
_SPACING = re.compile(r"(?<!\\)\\[,;: !]")


def _radicand(text: str, i: int) -> tuple[str, int] | None:
    """The radicand starting at ``i`` (after a root sign or ``sqrt``): a braced or
    parenthesised group, a number, one letter, or one command; (content, end)."""
    n = len(text)
    while i < n and text[i] == " ":
        i += 1
    if i >= n:
        return None
    ch = text[i]
    if ch == "{":
        close = matching_brace(text, i)
        return (text[i + 1:close], close + 1) if close > i + 1 else None
    if ch == "(":
        depth, j = 0, i
        while j < n:
            depth += (text[j] == "(") - (text[j] == ")")
            if depth == 0:
                return (text[i + 1:j], j + 1) if j > i + 1 else None
            j += 1
        return None
    if ch.isdigit() or (ch == "." and i + 1 < n and text[i + 1].isdigit()):
        j = i
        while j < n and (text[j].isdigit() or (text[j] == "." and j + 1 < n and text[j + 1].isdigit())):
            j += 1
        return text[i:j], j
    if ch == "\\":
        j = i + 1
        while j < n and text[j].isalpha():
            j += 1
        if j == i + 1:
            return None
        while j < n and text[j] == "{" and matching_brace(text, j) > j:  # \sqrt{2}, \frac{1}{2}
            j = matching_brace(text, j) + 1
        return text[i:j], j
    if ch.isascii() and ch.isalpha():
        return ch, i + 1
    return None


def _roots(text: str, pattern: re.Pattern[str] | None, index: str) -> str:
    """Rewrite each root (a root sign, or the word matched by ``pattern``) into
    ``\\sqrt{...}`` / ``\\sqrt[index]{...}``, right to left so that inner roots are
    rewritten before the roots around them. A root with nothing it can take as its
    radicand is left as it is (and later refused as unreadable, by name)."""
    limit = len(text)
    for _ in range(64):  # bounded: each pass rewrites or skips one root
        if pattern is None:
            at = max(text.rfind(sign, 0, limit) for sign in _ROOTS)
            if at < 0:
                return text
            sign_len, idx = 1, _ROOTS[text[at]]
        else:
            found = [m for m in pattern.finditer(text, 0, limit)]
            if not found:
                return text
            at, sign_len, idx = found[-1].start(), len(found[-1].group()), index
        got = _radicand(text, at + sign_len)
        if got is None:
            limit = at
            continue
        body, end = got
        head = f"\\sqrt[{idx}]" if idx else "\\sqrt"
        text = f"{text[:at]}{head}{{{body}}}{text[end:]}"
        limit = at
    return text


def _scripts(text: str) -> str:
    text = _SUPER_RUN.sub(lambda m: "^{" + "".join(_SUPERSCRIPTS[c] for c in m.group()) + "}", text)
    return _SUB_RUN.sub(lambda m: "_{" + "".join(_SUBSCRIPTS[c] for c in m.group()) + "}", text)


def normalize(text: str) -> str:
    """``text`` in the LaTeX spelling math-verify reads, meaning the same thing.

    Rewritten: fullwidth forms, Unicode minus/dashes, ``× · ÷``, ``π``/``pi``, ``∞ ± ≤ ≥ ≠ ≈``,
    superscripts (``x²`` -> ``x^{2}``) and subscripts, root signs with or without braces
    (``2√{15}``, ``√3``, ``∛{8}``) and the words ``sqrt``/``cbrt`` (``2sqrt(3)``), a bare
    ``%`` (``\\%``), thousands separators inside a number (``14{,}916``, ``10,\\!000``),
    and ``°`` before more text (``^{\\circ}``; a trailing ``°`` is a unit, see :mod:`.units`).
    """
    s = text
    if not s.isascii():
        s = s.translate(_TABLE)
        if not s.isascii():
            s = _scripts(s)
            if any(sign in s for sign in _ROOTS):
                s = _roots(s, None, "")
            if "°" in s:
                s = _DEGREE_MID.sub(r"^{\\circ}", s)
    if "sqrt" in s:
        s = _roots(s, _WORD_SQRT, "")
    if "cbrt" in s:
        s = _roots(s, _WORD_CBRT, "3")
    if "pi" in s:
        s = _WORD_PI.sub(r"\\pi ", s)
    if "%" in s:
        s = _PERCENT.sub(r"\\%", s)
    if "," in s or "{" in s:
        s = _THOUSANDS.sub("", s)
    if " " in s and _SPACED_THOUSANDS.search(s):
        s = _SPACED_THOUSANDS.sub(lambda m: m.group().replace(" ", ""), s)
    for ascii_form, latex_form in _RELATIONS:
        if ascii_form in s:
            s = s.replace(ascii_form, latex_form) if ascii_form[0] != "\\" else re.sub(re.escape(ascii_form) + r"(?![A-Za-z])", latex_form, s)
    if "\\\\" in s and "matrix" not in s and "array" not in s:
        s = _DOUBLE_SLASH.sub(r"\\", s)  # "\\le" written with an escaped backslash
    if "\\" in s:
        s = _SPACING.sub(lambda m: "" if m.group() == "\\!" else " ", s)
    return " ".join(s.split()) if ("  " in s or "\t" in s or "\n" in s) else s.strip()
